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
    Storage(#[from] wasmvisor_storage::StorageError),
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
}
