//! The stable error taxonomy.
//!
//! Kinds: unexpected, common, core, runtime, service, each with codes in
//! documented ranges. Only the kind and the code are part of consensus (they
//! enter the block's error root); the description is for people.
//!
//! Panic policy: a failure that is a deterministic consequence of the state
//! and the call (a bad argument, a forbidden transition, a trap in a guest)
//! is an [`ExecutionError`] recorded in the block, and the block goes on. A
//! failure that is local to the node (the disk, a runtime unable to load an
//! artifact every other node loaded) is a [`crate::NodeError`]: the node
//! logs it and stops cleanly rather than diverge.
//!
//! Calls that may meet either return a [`CallError`], which keeps the two
//! apart by type: only its `Execution` half can reach a block.

use std::fmt;

/// The kind of an execution error, with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A panic or trap; code 0.
    Unexpected,
    /// A [`CommonError`].
    Common(u8),
    /// A [`CoreError`] of the dispatcher.
    Core(u8),
    /// An error of a runtime (codes defined by each runtime).
    Runtime(u8),
    /// An error defined by the service.
    Service(u8),
}

impl ErrorKind {
    /// The stable (kind, code) pair: kind 0 unexpected, 1 common, 2 core,
    /// 3 runtime, 4 service.
    pub fn to_pair(self) -> (u8, u8) {
        match self {
            ErrorKind::Unexpected => (0, 0),
            ErrorKind::Common(code) => (1, code),
            ErrorKind::Core(code) => (2, code),
            ErrorKind::Runtime(code) => (3, code),
            ErrorKind::Service(code) => (4, code),
        }
    }
}

/// A failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExecutionError {
    /// Kind and code (consensus).
    pub kind: ErrorKind,
    /// Text for people (not consensus).
    pub description: String,
}

impl fmt::Display for ExecutionError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}: {}", self.kind, self.description)
    }
}

impl ExecutionError {
    /// An error of `kind` with `description`.
    pub fn new(kind: ErrorKind, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
        }
    }

    /// A service error.
    pub fn service(code: u8, description: impl Into<String>) -> Self {
        Self::new(ErrorKind::Service(code), description)
    }

    /// The error with its description cut to
    /// [`wasmvisor_limits::ERROR_DESCRIPTION_BYTES_MAX`] bytes (at a
    /// character boundary): what the host keeps and records of it.
    pub fn bounded(mut self) -> Self {
        let max = wasmvisor_limits::ERROR_DESCRIPTION_BYTES_MAX;
        if self.description.len() > max {
            let mut end = max;
            while !self.description.is_char_boundary(end) {
                end -= 1;
            }
            self.description.truncate(end);
        }
        self
    }
}

/// Errors any service may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CommonError {
    /// The service has no such interface.
    NoSuchInterface = 0,
    /// The interface has no such method.
    NoSuchMethod = 1,
    /// The caller may not call this.
    UnauthorizedCaller = 2,
    /// The arguments do not decode.
    MalformedArguments = 3,
    /// The method was removed.
    MethodRemoved = 4,
    /// The feature is not supported.
    FeatureNotSupported = 5,
}

impl CommonError {
    /// This error with a description.
    pub fn with_description(self, description: impl Into<String>) -> ExecutionError {
        ExecutionError::new(ErrorKind::Common(self as u8), description)
    }
}

impl From<CommonError> for ExecutionError {
    fn from(error: CommonError) -> Self {
        error.with_description(format!("{error:?}"))
    }
}

/// Errors of the dispatcher (the core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CoreError {
    /// No runtime with this id is enabled.
    IncorrectRuntime = 0,
    /// No such artifact.
    UnknownArtifactId = 1,
    /// The artifact is already registered.
    ArtifactAlreadyDeployed = 2,
    /// The artifact is not Active.
    ArtifactNotDeployed = 3,
    /// An instance with this name exists.
    ServiceNameExists = 4,
    /// An instance with this id exists.
    ServiceIdExists = 5,
    /// The instance is not Active.
    ServiceNotActive = 6,
    /// No instance with this id.
    IncorrectInstanceId = 7,
    /// The call depth limit was exceeded.
    StackOverflow = 8,
    /// The instance already has a transition pending in this block.
    ServicePending = 9,
    /// The transition is not allowed from the current status.
    InvalidServiceTransition = 10,
    /// The service cannot be upgraded to this artifact.
    CannotUpgradeService = 11,
    /// The artifact has no migration from the instance's data version.
    NoMigration = 12,
    /// The service cannot be resumed (data version mismatch).
    CannotResumeService = 13,
    /// The call is not allowed here (e.g. a privileged call by a
    /// non-supervisor, or a malformed request to the dispatcher).
    IncorrectCall = 14,
    /// The artifact is in use or not Active.
    CannotUnloadArtifact = 15,
    /// The call wrote more than one transaction, or all calls of the block
    /// together wrote more than one block, may (bytes or keys); its writes
    /// are rolled back.
    WriteBudgetExceeded = 16,
}

impl CoreError {
    /// This error with a description.
    pub fn with_description(self, description: impl Into<String>) -> ExecutionError {
        ExecutionError::new(ErrorKind::Core(self as u8), description)
    }
}

/// The deterministic error a storage refusal met by a call is recorded as,
/// if it is one a service cannot be blamed for handling — a spent write
/// budget; `None` for every other error.
pub fn write_budget_error(error: &wasmvisor_storage::StorageError) -> Option<ExecutionError> {
    match error {
        wasmvisor_storage::StorageError::WriteBudgetExceeded { .. } => {
            Some(CoreError::WriteBudgetExceeded.with_description(error.to_string()))
        }
        _ => None,
    }
}

impl From<CoreError> for ExecutionError {
    fn from(error: CoreError) -> Self {
        error.with_description(format!("{error:?}"))
    }
}

/// A failure local to this node: it must not be recorded in a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Storage failed.
    #[error("storage: {0}")]
    Storage(wasmvisor_storage::StorageError),
    /// A runtime failed locally (e.g. cannot load an artifact).
    #[error("runtime {runtime_id}: {description}")]
    Runtime {
        /// The runtime.
        runtime_id: u32,
        /// What went wrong.
        description: String,
    },
    /// The lifecycle contract was violated (a bug in the host).
    #[error("lifecycle ordering violated: {0}")]
    Lifecycle(String),
    /// A stored record does not decode.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// An artifact the chain uses cannot be deployed on this node (a
    /// compile failure, a failed cache write, a panicked deploy task).
    #[error("{artifact} cannot be deployed on this node: {description}")]
    Deploy {
        /// The artifact.
        artifact: String,
        /// Why.
        description: String,
    },
    /// This node disagrees with an outcome every validator agreed on (its
    /// own data migration's result).
    #[error("{0}")]
    Divergence(String),
}

impl From<wasmvisor_storage::StorageError> for NodeError {
    fn from(error: wasmvisor_storage::StorageError) -> Self {
        NodeError::Storage(error)
    }
}

/// Why a call into a service, a runtime or the lifecycle did not succeed:
/// a deterministic outcome the block records, or a failure of this node
/// that the block must never record (the node stops instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The same on every node: recorded against the call's position.
    #[error(transparent)]
    Execution(#[from] ExecutionError),
    /// Local to this node: ends the block's execution, and the node.
    #[error(transparent)]
    Node(NodeError),
}

impl From<NodeError> for CallError {
    /// A node error is a `Node` failure — but for a storage refusal that is
    /// the same on every node (a key past its limit, a spent write budget),
    /// which is a call's outcome like any other: an attacker who can make
    /// every validator meet one must not stop them all.
    fn from(error: NodeError) -> Self {
        match error {
            NodeError::Storage(storage) if !storage.is_node_local() => CallError::from(storage),
            other => CallError::Node(other),
        }
    }
}

impl NodeError {
    /// Whether this is truly this node's own failure: every kind is, but a
    /// storage refusal that every node meets alike (see
    /// [`wasmvisor_storage::StorageError::is_node_local`]).
    pub fn is_node_local(&self) -> bool {
        match self {
            NodeError::Storage(error) => error.is_node_local(),
            _ => true,
        }
    }
}

impl From<CommonError> for CallError {
    fn from(error: CommonError) -> Self {
        CallError::Execution(error.into())
    }
}

impl From<CoreError> for CallError {
    fn from(error: CoreError) -> Self {
        CallError::Execution(error.into())
    }
}

impl From<wasmvisor_storage::StorageError> for CallError {
    /// A node-local storage failure (the database, its contents) is a
    /// [`NodeError`]; a spent write budget is WriteBudgetExceeded; any other
    /// refusal is a deterministic consequence of the call's arguments, an
    /// Unexpected outcome of the service that made it.
    fn from(error: wasmvisor_storage::StorageError) -> Self {
        if error.is_node_local() {
            return CallError::Node(NodeError::Storage(error));
        }
        match write_budget_error(&error) {
            Some(recorded) => CallError::Execution(recorded),
            None => CallError::Execution(ExecutionError::new(ErrorKind::Unexpected, error.to_string())),
        }
    }
}

impl CallError {
    /// The recorded outcome, or `None` for a node-local failure.
    pub fn execution(&self) -> Option<&ExecutionError> {
        match self {
            CallError::Execution(error) => Some(error),
            CallError::Node(_) => None,
        }
    }
}

thread_local! {
    /// How many [`catching_panics`] calls this thread is inside.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs a native service's `work`, turning a panic in it into the
/// Unexpected outcome the runtime contract asks for (recorded like any
/// other; the description is the panic's message, which the same code
/// panics with on every node). The node's panic hook lets such a panic
/// unwind to here instead of stopping the process: see [`panic_is_caught`].
pub fn catching_panics<T>(work: impl FnOnce() -> Result<T, CallError>) -> Result<T, CallError> {
    CATCHING.with(|depth| depth.set(depth.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CATCHING.with(|depth| depth.set(depth.get() - 1));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|message| (*message).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        Err(
            ExecutionError::new(ErrorKind::Unexpected, format!("the service panicked: {message}"))
                .bounded()
                .into(),
        )
    })
}

/// Runs `work` — the host's own, called from inside a native service (a
/// call it routes to another service) — with no panic caught: a panic of
/// the host is the node's, never the calling service's outcome.
pub fn outside_services<T>(work: impl FnOnce() -> T) -> T {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            CATCHING.with(|depth| depth.set(self.0));
        }
    }
    let _restore = Restore(CATCHING.with(|depth| depth.replace(0)));
    work()
}

/// Whether a panic on this thread will be caught by [`catching_panics`] (a
/// native service's panic), rather than being a panic of the node, which
/// must stop it.
pub fn panic_is_caught() -> bool {
    CATCHING.with(|depth| depth.get() > 0)
}
