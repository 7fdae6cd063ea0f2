//! The `Runtime` trait and what the dispatcher hands a runtime for a call.

use std::sync::Arc;

use wasmvisor_storage::{Fork, IndexAddress, Namespace, Snapshot, StorageError};

use crate::errors::{CallError, CoreError, ExecutionError, NodeError};
use crate::interface::ServiceInterface;
use crate::meter::Meter;
use crate::types::{
    ArtifactId, ArtifactView, Caller, InstanceId, InstanceSpec, InstanceStatus, InstanceView, MigrationKind,
};

/// Work that deploys an artifact; the dispatcher runs it in the background
/// and never on the block path, and waits for it only when a block needs
/// the artifact.
pub type DeployTask = Box<dyn FnOnce() -> Result<(), ExecutionError> + Send>;

/// Routes a call from one service to another (implemented by the
/// dispatcher). A failed call leaves no changes behind: the router undoes
/// the callee's writes, while the caller's stay.
pub trait CallRouter: Send + Sync {
    /// Executes `method_id` of `interface` on `target` as a call from
    /// `caller`, at nesting depth `depth`, on what is left of `meter`.
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        fork: &mut Fork,
        height: u64,
        caller: InstanceId,
        depth: u32,
        meter: &Meter,
        target: InstanceId,
        interface: &str,
        method_id: u32,
        arguments: &[u8],
    ) -> Result<(), CallError>;

    /// The id of the instance called `name`, if there is one.
    fn instance_id_by_name(&self, fork: &mut Fork, name: &str) -> Result<Option<InstanceId>, NodeError>;
}

/// Everything needed to make calls on behalf of one executing instance,
/// detached from the context's borrows (a wasm store keeps it).
#[derive(Clone)]
pub struct CallSite {
    /// The router.
    pub router: Arc<dyn CallRouter>,
    /// The calling instance.
    pub caller: InstanceId,
    /// The caller's own nesting depth.
    pub depth: u32,
    /// Height of the block being executed.
    pub height: u64,
    /// The budget the caller runs on, which a callee shares.
    pub meter: Meter,
}

impl std::fmt::Debug for CallSite {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CallSite")
            .field("caller", &self.caller)
            .field("depth", &self.depth)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

impl CallSite {
    /// Calls `method_id` of `interface` on `target`, one level deeper, on
    /// what is left of the caller's budget.
    pub fn call(
        &self,
        fork: &mut Fork,
        target: InstanceId,
        interface: &str,
        method_id: u32,
        arguments: &[u8],
    ) -> Result<(), CallError> {
        self.router.call(
            fork,
            self.height,
            self.caller,
            self.depth + 1,
            &self.meter,
            target,
            interface,
            method_id,
            arguments,
        )
    }
}

/// The privileged lifecycle mechanism, handed only to the supervisor's
/// calls. Every transition is staged in the fork and takes effect when the
/// block commits; an error stages nothing.
pub trait LifecycleControl: Send + Sync {
    /// Every artifact in the registry.
    fn artifacts(&self, fork: &mut Fork) -> Result<Vec<ArtifactView>, CallError>;
    /// Every instance in the registry, by id.
    fn instances(&self, fork: &mut Fork) -> Result<Vec<InstanceView>, CallError>;
    /// The committed consensus configuration (protobuf `ConsensusConfig`).
    fn consensus_config(&self, fork: &mut Fork) -> Result<Vec<u8>, CallError>;
    /// This node's outcome of deploying `artifact` (node-local: only for
    /// after-commit, never for consensus calls).
    fn local_deploy_status(&self, artifact: &ArtifactId) -> LocalDeployStatus;
    /// Registers an artifact every validator deployed: Active from the end
    /// of the block.
    fn register_artifact(&self, fork: &mut Fork, artifact: &ArtifactId, spec: &[u8]) -> Result<(), CallError>;
    /// Removes an Active artifact no instance uses, at the end of the block.
    fn unload_artifact(&self, fork: &mut Fork, artifact: &ArtifactId) -> Result<(), CallError>;
    /// Starts a new instance: runs its constructor now, on what is left of
    /// the supervisor's `meter`; Active from the end of the block.
    fn add_instance(
        &self,
        fork: &mut Fork,
        height: u64,
        spec: &InstanceSpec,
        params: &[u8],
        meter: &Meter,
    ) -> Result<(), CallError>;
    /// Active|Frozen -> Stopped at the end of the block.
    fn stop_instance(&self, fork: &mut Fork, instance_id: InstanceId) -> Result<(), CallError>;
    /// Active -> Frozen at the end of the block.
    fn freeze_instance(&self, fork: &mut Fork, instance_id: InstanceId) -> Result<(), CallError>;
    /// Stopped|Frozen -> Active at the end of the block, running the
    /// instance's resume with `params` now, on what is left of `meter`.
    fn resume_instance(
        &self,
        fork: &mut Fork,
        height: u64,
        instance_id: InstanceId,
        params: &[u8],
        meter: &Meter,
    ) -> Result<(), CallError>;
    /// Starts migrating a Stopped or Frozen instance to `new_artifact`: a
    /// fast-forward swaps the artifact; a data migration makes the instance
    /// Migrating (its script writes to the `Migration(id)` namespace).
    /// The new artifact's answer (its `plan-migration`) runs on what is
    /// left of the supervisor's `meter`.
    fn initiate_migration(
        &self,
        fork: &mut Fork,
        new_artifact: &ArtifactId,
        instance_name: &str,
        meter: &Meter,
    ) -> Result<MigrationKind, CallError>;
    /// Records the agreed state hash of a Migrating instance's data.
    fn commit_migration(&self, fork: &mut Fork, instance_name: &str, state_hash: [u8; 32]) -> Result<(), CallError>;
    /// Abandons a migration: Migrating -> Stopped, shadow data discarded.
    fn rollback_migration(&self, fork: &mut Fork, instance_name: &str) -> Result<(), CallError>;
    /// Replaces the instance's data with the committed migration's:
    /// Migrating (committed) -> Stopped with the new data version.
    fn flush_migration(&self, fork: &mut Fork, instance_name: &str) -> Result<(), CallError>;
    /// Verifies or applies a configuration of an Active instance through
    /// its runtime (see [`Runtime::configure`]), on what is left of `meter`.
    fn configure_service(
        &self,
        fork: &mut Fork,
        height: u64,
        instance_id: InstanceId,
        params: &[u8],
        stage: ConfigStage,
        meter: &Meter,
    ) -> Result<(), CallError>;
    /// Replaces the consensus configuration (protobuf `ConsensusConfig`)
    /// from the next block on; IncorrectCall if it is malformed or invalid.
    fn set_consensus_config(&self, fork: &mut Fork, config: &[u8]) -> Result<(), CallError>;
    /// This node's outcome of the data migration of the instance called
    /// `instance_name` (node-local: only for after-commit).
    fn local_migration_status(&self, fork: &mut Fork, instance_name: &str) -> LocalMigrationStatus;
}

/// Which half of a service configuration change a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigStage {
    /// The proposal is being made: check the parameters, change nothing.
    Verify,
    /// The approved proposal is being enacted: apply them.
    Apply,
}

/// Node-local outcome of a data migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalMigrationStatus {
    /// No migration of this instance runs or ran on this node.
    Unknown,
    /// Running in the background.
    Pending,
    /// Finished: the root of the migrated data.
    Succeeded([u8; 32]),
    /// Failed, with the reason.
    Failed(String),
}

/// Everything a runtime may use while serving one consensus call.
pub struct ExecutionContext<'a> {
    /// The block's fork (already checkpointed around this call).
    pub fork: &'a mut Fork,
    /// The instance being called.
    pub instance: &'a InstanceSpec,
    /// Who initiated the call.
    pub caller: Caller,
    /// Height of the block being executed.
    pub height: u64,
    /// Interface name ("" = the service's own).
    pub interface: &'a str,
    /// The budget of the top-level call this one belongs to (its fuel comes
    /// from the consensus configuration).
    pub meter: Meter,
    call_depth: u32,
    router: Arc<dyn CallRouter>,
    lifecycle: Option<Arc<dyn LifecycleControl>>,
}

impl<'a> ExecutionContext<'a> {
    /// A context (built by the dispatcher). `lifecycle` is given only for
    /// the supervisor's instance.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        fork: &'a mut Fork,
        instance: &'a InstanceSpec,
        caller: Caller,
        height: u64,
        interface: &'a str,
        call_depth: u32,
        router: Arc<dyn CallRouter>,
        lifecycle: Option<Arc<dyn LifecycleControl>>,
    ) -> Self {
        Self {
            fork,
            instance,
            caller,
            height,
            interface,
            meter: Meter::new(wasmvisor_limits::FUEL_PER_TRANSACTION_DEFAULT),
            call_depth,
            router,
            lifecycle,
        }
    }

    /// Runs the call on `meter` (a new one for a top-level call, the
    /// caller's for a nested one).
    pub fn with_meter(mut self, meter: Meter) -> Self {
        self.meter = meter;
        self
    }

    /// Address of index `name` in this instance's namespace.
    pub fn service_index(&self, name: &str) -> Result<IndexAddress, StorageError> {
        IndexAddress::new(Namespace::Service(self.instance.id), name)
    }

    /// Calls another service; the callee sees this instance as its caller.
    pub fn call(
        &mut self,
        target: InstanceId,
        interface: &str,
        method_id: u32,
        arguments: &[u8],
    ) -> Result<(), CallError> {
        self.call_site()
            .call(self.fork, target, interface, method_id, arguments)
    }

    /// The means to make calls for this instance, detached from the
    /// context (e.g. to keep in a wasm store during the call).
    pub fn call_site(&self) -> CallSite {
        CallSite {
            router: Arc::clone(&self.router),
            caller: self.instance.id,
            depth: self.call_depth,
            height: self.height,
            meter: self.meter.clone(),
        }
    }

    /// The lifecycle mechanism, if this call may use it (the supervisor);
    /// anyone else gets IncorrectCall.
    pub fn lifecycle(&mut self) -> Result<(&mut Fork, Arc<dyn LifecycleControl>), CallError> {
        match &self.lifecycle {
            Some(lifecycle) => Ok((&mut *self.fork, Arc::clone(lifecycle))),
            None => Err(CoreError::IncorrectCall
                .with_description("only the supervisor may change the lifecycle")
                .into()),
        }
    }

    /// The lifecycle mechanism detached from the context (e.g. to keep in
    /// a wasm store during the call); `None` for anyone but the supervisor.
    pub fn lifecycle_handle(&self) -> Option<Arc<dyn LifecycleControl>> {
        self.lifecycle.clone()
    }
}

/// What a read query may use: a fork over committed state that is never
/// merged, so anything written to it is discarded.
pub struct QueryContext<'a> {
    /// A throw-away fork over the committed state.
    pub fork: &'a mut Fork,
    /// The instance queried.
    pub instance: &'a InstanceSpec,
    /// Height of the latest committed block.
    pub height: u64,
    /// The lifecycle mechanism, for the supervisor's reads of the
    /// registries (transitions are refused in queries).
    pub lifecycle: Option<Arc<dyn LifecycleControl>>,
    /// The query's budget (its fuel comes from the consensus
    /// configuration's `fuel_per_query_max`).
    pub meter: Meter,
}

impl QueryContext<'_> {
    /// Address of index `name` in this instance's namespace.
    pub fn service_index(&self, name: &str) -> Result<IndexAddress, StorageError> {
        IndexAddress::new(Namespace::Service(self.instance.id), name)
    }
}

/// Why a read query failed (maps to HTTP 404, 400, 500).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing to answer with (unknown query, instance or key).
    #[error("not found: {0}")]
    NotFound(String),
    /// The arguments are invalid.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The service failed to answer.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Node-local outcome of deploying an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDeployStatus {
    /// Never requested on this node.
    Unknown,
    /// Running in the background.
    Pending,
    /// Finished successfully.
    Succeeded,
    /// Failed, with the reason.
    Failed(String),
}

/// What `after_commit` gets.
pub struct AfterCommitContext<'a> {
    /// The committed state.
    pub snapshot: &'a Arc<dyn Snapshot>,
    /// Height of the block just committed.
    pub height: u64,
    /// Where to queue asynchronous commands for the dispatcher.
    pub mailbox: &'a mut Mailbox,
    /// The lifecycle mechanism, for the supervisor's registry reads and
    /// local deploy statuses (its transitions are refused: the state is
    /// read-only here).
    pub supervisor_lifecycle: Option<Arc<dyn LifecycleControl>>,
    /// This node's service key, if it is a validator.
    pub node_service_key: Option<[u8; 32]>,
    /// This node's settings for its services, by instance name (node-local:
    /// given to services only here).
    pub service_settings: &'a ServiceSettings,
}

/// A node's settings for its services: instance name → key → value, from
/// the node's configuration; a service reads its own in `after_commit`
/// only.
pub type ServiceSettings = std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>;

/// Asynchronous commands a runtime sends the dispatcher from `after_commit`.
#[derive(Debug, Default)]
pub struct Mailbox {
    requests: Vec<MailboxRequest>,
}

/// One command in a [`Mailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxRequest {
    /// Sign a transaction to a service with this node's service key and
    /// submit it (e.g. the supervisor's deploy results).
    Broadcast {
        /// The service: the instance that asked (a service broadcasts
        /// only to itself).
        instance_id: InstanceId,
        /// Its method.
        method_id: u32,
        /// Encoded arguments.
        arguments: Vec<u8>,
    },
    /// Start deploying an artifact on this node in the background.
    DeployArtifact {
        /// The artifact.
        artifact: ArtifactId,
        /// Its deploy spec.
        spec: Vec<u8>,
    },
}

impl Mailbox {
    /// Queues a request.
    pub fn push(&mut self, request: MailboxRequest) {
        self.requests.push(request);
    }

    /// Takes every queued request.
    pub fn drain(&mut self) -> Vec<MailboxRequest> {
        std::mem::take(&mut self.requests)
    }
}

/// A runtime: runs the services of the artifacts with its runtime id.
///
/// # Call ordering
///
/// The dispatcher calls a runtime in exactly this order (the seed's
/// grammar, with this project's extensions in the same places), and checks
/// it on every call:
///
/// ```text
/// LIFE     ::= initialize (GENESIS | RESUME) BLOCK* shutdown
/// GENESIS  ::= (deploy_artifact | start_adding_service commit_service)* after_commit
/// RESUME   ::= (deploy_artifact | commit_service)* on_resume
/// BLOCK    ::= PROPOSAL+ COMMIT
/// PROPOSAL ::= before_transactions* (execute | start_adding_service | start_resuming_service)* after_transactions*
/// COMMIT   ::= deploy_artifact* commit_service* unload_artifact* after_commit
/// ```
///
/// Extensions: `before_transactions` (the hook before a block's
/// transactions), `start_resuming_service` (a resume's consensus part,
/// beside `start_adding_service`), `commit_service` carrying any status
/// change that takes effect at commit (new, stopped, frozen, resumed,
/// migrating, or an artifact swapped by a fast-forward migration), and
/// `unload_artifact` after the commit's status changes. `migrate` is a pure
/// question about artifacts, asked inside a proposal when a migration is
/// requested, like `is_artifact_deployed` outside the ordering. Consensus methods
/// (`execute`, the hooks, `start_*`) must give the same result and the same
/// storage changes on every node; the others may do node-local work.
/// `is_artifact_deployed` may be called at any time.
pub trait Runtime: Send + Sync {
    /// This runtime's id (see [`crate::runtime_id`]).
    fn id(&self) -> u32;

    /// Called once, before anything else.
    fn initialize(&self) {}

    /// Returns the work that deploys `artifact` from `spec` (run in the
    /// background by the dispatcher). Called once per artifact per life:
    /// when the supervisor asks for it, and for every known artifact on
    /// restart.
    fn deploy_artifact(&self, artifact: ArtifactId, spec: Vec<u8>) -> DeployTask;

    /// Whether `artifact` is deployed in this runtime.
    fn is_artifact_deployed(&self, artifact: &ArtifactId) -> bool;

    /// Whether this runtime can freeze its services (a Frozen instance
    /// keeps answering read queries and takes no transactions or hooks).
    /// The dispatcher refuses Freeze with FeatureNotSupported for a
    /// runtime that cannot (the seed's rule).
    fn supports_freezing(&self) -> bool {
        false
    }

    /// Runs the constructor of a new instance (`context.instance`). The
    /// instance is discarded if the block is not committed.
    fn start_adding_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError>;

    /// Runs the resume of a Stopped or Frozen instance with `params`.
    fn start_resuming_service(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError>;

    /// How data of `data_version` can become data of `new_artifact` (an
    /// artifact of this runtime): fast-forward, a data migration, or
    /// NoMigration (core 12) if this artifact cannot take it over. Guest
    /// code asked runs on `meter` (the supervisor transaction's).
    fn migrate(
        &self,
        new_artifact: &ArtifactId,
        data_version: &semver::Version,
        meter: &Meter,
    ) -> Result<MigrationKind, CallError> {
        let _ = (data_version, meter);
        Err(crate::CoreError::NoMigration
            .with_description(format!("{new_artifact} supports no migration"))
            .into())
    }

    /// Verifies (when a proposal is made) or applies (when it is enacted)
    /// a new configuration of `context.instance`. Runtimes whose services
    /// take no configuration keep the default: FeatureNotSupported.
    fn configure(&self, context: ExecutionContext<'_>, params: &[u8], stage: ConfigStage) -> Result<(), CallError> {
        let _ = (params, stage);
        Err(crate::CommonError::FeatureNotSupported
            .with_description(format!("{} takes no configuration", context.instance.artifact))
            .into())
    }

    /// Runs the data migration of `instance` (whose spec names the *new*
    /// artifact) from data of `data_version`, on a background fork: the
    /// service's reads and writes go to the `Migration(instance.id)`
    /// namespace, which the dispatcher filled with a copy of its data.
    /// Must be deterministic: every validator compares the result's hash.
    fn migrate_data(
        &self,
        fork: &mut Fork,
        instance: &InstanceSpec,
        data_version: &semver::Version,
    ) -> Result<(), CallError> {
        let _ = (fork, data_version);
        Err(crate::CoreError::NoMigration
            .with_description(format!("{} runs no data migrations", instance.artifact))
            .into())
    }

    /// Records that `spec` now has `status` (a new instance, a status
    /// change, or every instance on restart). An error is node-local.
    fn commit_service(
        &self,
        snapshot: &dyn Snapshot,
        spec: &InstanceSpec,
        status: &InstanceStatus,
    ) -> Result<(), NodeError>;

    /// Frees an artifact the blockchain unloaded.
    fn unload_artifact(&self, artifact: &ArtifactId);

    /// Executes a transaction or a service call.
    fn execute(&self, context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError>;

    /// The hook before the block's transactions.
    fn before_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError>;

    /// The hook after the block's transactions (the seed's `before_commit`;
    /// named `after_transactions` in every layer here: the native service,
    /// the guest's WIT export, the block's error locations).
    fn after_transactions(&self, context: ExecutionContext<'_>) -> Result<(), CallError>;

    /// Answers the read query `method` of `context.instance`. Not part of
    /// consensus and outside the call ordering: queries run on committed
    /// state at any time.
    fn query(&self, context: QueryContext<'_>, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        let _ = (context, arguments);
        Err(QueryError::NotFound(format!("no query named {method:?}")))
    }

    /// The interface `artifact` declares (see [`crate::interface`]), if
    /// it is deployed here and declares one. Node-local and never part of
    /// consensus: clients use it to call the service with JSON.
    fn interface(&self, artifact: &ArtifactId) -> Option<Arc<ServiceInterface>> {
        let _ = artifact;
        None
    }

    /// A block was committed (`context.snapshot` holds it). Node-local: the
    /// runtime may notify its services and queue mailbox requests. A
    /// service's failure here is its own and changes nothing; an error is
    /// a failure of this node, which stops it.
    fn after_commit(&self, context: AfterCommitContext<'_>) -> Result<(), NodeError>;

    /// The dispatcher finished re-initializing after a restart.
    fn on_resume(&self) {}

    /// The last call of the runtime's life.
    fn shutdown(&self) {}

    /// Counters for monitoring since the runtime was created (node-local,
    /// never part of consensus).
    fn metrics(&self) -> RuntimeMetrics {
        RuntimeMetrics::default()
    }
}

/// A runtime's monitoring counters (`Runtime::metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeMetrics {
    /// Calls into services (transactions, hooks, queries, lifecycle).
    pub calls: u64,
    /// Fuel those calls burned (runtimes that meter).
    pub fuel_consumed: u64,
    /// Artifacts compiled from their bytes.
    pub compilations: u64,
    /// Artifacts loaded from a compiled cache instead.
    pub cache_hits: u64,
}
