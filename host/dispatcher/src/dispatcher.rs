//! Driving runtimes through blocks in the contract's call ordering.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmvisor_proto::dispatcher::ArtifactState;
use wasmvisor_runtime::interface::ServiceInterface;
use wasmvisor_runtime::{
    AfterCommitContext, ArtifactId, CallError, CallInfo, CallLocation, Caller, CoreError, ExecutionContext,
    ExecutionError, InstanceId, InstanceSpec, InstanceStatus, LocalDeployStatus, Mailbox, MailboxRequest, Meter,
    NodeError, QueryContext, QueryError, Runtime, ServiceSettings,
};
use wasmvisor_storage::hash::hash_bytes;
use wasmvisor_storage::{Database, Fork, Hash, WriteLimits, smt_root_from_scratch};

use crate::core::Core;
use crate::limits::{BLOCK_TRANSACTIONS_ITEMS_MAX, QUERY_ANSWER_BYTES_MAX};
use crate::schema::{InstanceState, Schema};
use wasmvisor_proto::blockchain::ConsensusConfig;

/// A transaction whose signature the caller has already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Ed25519 public key of the author.
    pub author: [u8; 32],
    /// Hash of the signed transaction.
    pub hash: [u8; 32],
    /// Target instance and method.
    pub call: CallInfo,
    /// Encoded arguments.
    pub arguments: Vec<u8>,
}

/// What the genesis block contains.
#[derive(Debug, Clone, Default)]
pub struct GenesisConfig {
    /// Artifacts deployed at genesis, with their specs.
    pub artifacts: Vec<(ArtifactId, Vec<u8>)>,
    /// Instances started at genesis, with constructor parameters.
    pub instances: Vec<(InstanceSpec, Vec<u8>)>,
    /// The consensus configuration (stored in the committed state; among
    /// other things it sets the fuel one guest call may burn).
    pub consensus: ConsensusConfig,
}

/// An executed, not yet committed block. Dropping it discards it.
#[derive(Debug)]
pub struct Proposal {
    /// Height of the block.
    pub height: u64,
    /// The state root after the block.
    pub state_root: Hash,
    /// Merkle root over the errors recorded in the block (kind and code).
    pub error_root: Hash,
    /// Errors, by where they happened.
    pub errors: BTreeMap<CallLocation, ExecutionError>,
    fork: Fork,
    registered: Vec<(ArtifactId, Vec<u8>)>,
    unloaded: Vec<ArtifactId>,
    status_changes: Vec<(InstanceSpec, InstanceStatus)>,
}

impl Proposal {
    /// Adds records of the block itself (its transactions, its header) to
    /// the proposal, to be committed atomically with it. Only indexes that
    /// are not committed to (non-proof indexes) may be written: a change to
    /// the state root makes the commit fail.
    pub fn record(
        &mut self,
        write: impl FnOnce(&mut Fork) -> Result<(), wasmvisor_storage::StorageError>,
    ) -> Result<(), NodeError> {
        write(&mut self.fork)?;
        self.fork.flush();
        Ok(())
    }
}

/// What a committed block left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedBlock {
    /// Its height.
    pub height: u64,
    /// The state root after it.
    pub state_root: Hash,
    /// The Merkle root over its errors.
    pub error_root: Hash,
    /// Its errors, by location.
    pub errors: BTreeMap<CallLocation, ExecutionError>,
}

/// Where the dispatcher is in the lifecycle (its checked call ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Runtimes initialized; genesis or resume next.
    Initialized,
    /// Between blocks.
    Ready,
    /// At least one proposal executed for the next height.
    Proposing,
    /// Shut down; nothing else may happen.
    ShutDown,
}

/// A transaction to a service that the service asked this node to sign
/// and submit (from `after_commit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// The service (the instance that asked).
    pub instance_id: InstanceId,
    /// Its method.
    pub method_id: u32,
    /// Encoded arguments.
    pub arguments: Vec<u8>,
}

/// Reads of the committed state that need no access to the dispatcher
/// itself: cheap to clone and usable from any thread while a block is being
/// executed (each read takes a fresh snapshot).
#[derive(Clone)]
pub struct StateReader {
    database: Arc<dyn Database>,
    core: Arc<Core>,
}

impl std::fmt::Debug for StateReader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("StateReader").finish_non_exhaustive()
    }
}

impl StateReader {
    /// A fork over the committed state, for reads.
    pub fn read_fork(&self) -> Fork {
        Fork::new(self.database.snapshot())
    }

    /// The consensus configuration of the committed state.
    pub fn consensus_config(&self) -> Result<ConsensusConfig, NodeError> {
        Schema::new(&mut self.read_fork()).consensus_config()
    }

    /// The registry's view of an instance.
    pub fn instance(&self, instance_id: u32) -> Result<Option<InstanceState>, NodeError> {
        Schema::new(&mut self.read_fork()).instance(instance_id)
    }

    /// Answers read query `method` of the instance called `instance_name`
    /// on the latest committed state (one snapshot throughout), with the
    /// fuel of the consensus configuration's `fuel_per_query_max`. Only
    /// Active and Frozen instances answer. Needs nothing of the dispatcher
    /// but its runtimes: queries never wait for a block, nor a block for
    /// them.
    pub fn query(&self, instance_name: &str, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        let internal = |error: NodeError| QueryError::Internal(error.to_string());
        let mut fork = self.read_fork();
        let mut schema = Schema::new(&mut fork);
        let height = schema.height().map_err(internal)?.unwrap_or(0);
        let fuel = crate::core::fuel_per_query(&schema.consensus_config().map_err(internal)?);
        let state = registered_instance(&mut schema, InstanceRef::Name(instance_name))?;
        if !matches!(state.status, Some(InstanceStatus::Active | InstanceStatus::Frozen)) {
            return Err(QueryError::NotFound(format!(
                "{instance_name:?} is not serving queries"
            )));
        }
        let runtime = Arc::clone(
            self.core
                .runtime(state.spec.artifact.runtime_id)
                .map_err(|error| QueryError::Internal(error.to_string()))?,
        );
        let answer = runtime.query(
            QueryContext {
                fork: &mut fork,
                instance: &state.spec,
                height,
                lifecycle: self.core.lifecycle_for(state.spec.id),
                meter: Meter::new(fuel),
            },
            method,
            arguments,
        )?;
        if answer.len() > QUERY_ANSWER_BYTES_MAX {
            return Err(QueryError::Internal(format!(
                "the answer has {} bytes; at most {QUERY_ANSWER_BYTES_MAX} are served",
                answer.len()
            )));
        }
        Ok(answer)
    }

    /// The instance called `instance_name` (or, with `instance_id`, the
    /// instance with that id) and the interface its artifact declares on
    /// this node (`None`: the service declares none, or its runtime keeps
    /// no interfaces). Node-local, for clients; never part of consensus.
    pub fn interface(
        &self,
        instance: InstanceRef<'_>,
    ) -> Result<(InstanceSpec, Option<Arc<ServiceInterface>>), QueryError> {
        let mut fork = self.read_fork();
        let state = registered_instance(&mut Schema::new(&mut fork), instance)?;
        let interface = self
            .core
            .runtime(state.spec.artifact.runtime_id)
            .ok()
            .and_then(|runtime| runtime.interface(&state.spec.artifact));
        Ok((state.spec, interface))
    }
}

/// The registry's record of `instance`, for a read: an unknown one is not
/// found.
fn registered_instance(schema: &mut Schema<'_>, instance: InstanceRef<'_>) -> Result<InstanceState, QueryError> {
    let internal = |error: NodeError| QueryError::Internal(error.to_string());
    let instance_id = match instance {
        InstanceRef::Name(name) => schema
            .instance_id_by_name(name)
            .map_err(internal)?
            .ok_or_else(|| QueryError::NotFound(format!("no service named {name:?}")))?,
        InstanceRef::Id(id) => id,
    };
    schema
        .instance(instance_id)
        .map_err(internal)?
        .ok_or_else(|| QueryError::NotFound(format!("no service with id {instance_id}")))
}

/// How a client names an instance.
#[derive(Debug, Clone, Copy)]
pub enum InstanceRef<'a> {
    /// By its name.
    Name(&'a str),
    /// By its id.
    Id(InstanceId),
}

/// The dispatcher: keeps the registries and drives every runtime.
pub struct Dispatcher {
    database: Arc<dyn Database>,
    core: Arc<Core>,
    outbox: std::sync::Mutex<Vec<Broadcast>>,
    /// This node's settings for its services (node-local; handed to
    /// services only in after-commit).
    service_settings: std::sync::Mutex<Arc<ServiceSettings>>,
    node_service_key: std::sync::Mutex<Option<[u8; 32]>>,
    phase: Phase,
    /// Height of the last committed block.
    height: Option<u64>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Dispatcher")
            .field("phase", &self.phase)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

fn ordering(expected: &str, phase: Phase) -> NodeError {
    NodeError::Lifecycle(format!("{expected} is not allowed in phase {phase:?}"))
}

/// The registry's view, in `fork`, of the instance called `name`.
pub fn registered_instance_by_name(fork: &mut Fork, name: &str) -> Result<Option<InstanceState>, NodeError> {
    let mut schema = Schema::new(fork);
    match schema.instance_id_by_name(name)? {
        Some(instance_id) => schema.instance(instance_id),
        None => Ok(None),
    }
}

/// Every instance in `fork`'s registry, ordered by id.
pub fn registered_instances(fork: &mut Fork) -> Result<Vec<InstanceState>, NodeError> {
    Schema::new(fork).instances()
}

/// Every artifact in `fork`'s registry, with its state.
pub fn registered_artifacts(fork: &mut Fork) -> Result<Vec<(ArtifactId, ArtifactState)>, NodeError> {
    let artifacts = Schema::new(fork).artifacts()?;
    Ok(artifacts
        .into_iter()
        .map(|(artifact, state, _)| (artifact, state))
        .collect())
}

/// Merkle root over recorded errors: a sparse Merkle tree from the
/// location's bytes to the (kind, code) pair; descriptions do not enter it.
pub fn error_root(errors: &BTreeMap<CallLocation, ExecutionError>) -> Hash {
    let pairs: Vec<(Hash, Hash)> = errors
        .iter()
        .map(|(location, error)| {
            let (kind, code) = error.kind.to_pair();
            (hash_bytes(&location.to_bytes()), hash_bytes(&[kind, code]))
        })
        .collect();
    smt_root_from_scratch(&pairs)
}

impl Dispatcher {
    /// A dispatcher over `database` driving `runtimes`; calls `initialize`
    /// on each runtime.
    pub fn new(database: Arc<dyn Database>, runtimes: Vec<Arc<dyn Runtime>>) -> Self {
        let core = Core::new(runtimes, Arc::clone(&database));
        for runtime in core.runtimes.values() {
            runtime.initialize();
        }
        Self {
            database,
            core,
            outbox: std::sync::Mutex::default(),
            service_settings: std::sync::Mutex::default(),
            node_service_key: std::sync::Mutex::default(),
            phase: Phase::Initialized,
            height: None,
        }
    }

    /// Whether the database already holds a genesis block.
    pub fn has_genesis(&self) -> Result<bool, NodeError> {
        let mut fork = Fork::new(self.database.snapshot());
        Ok(Schema::new(&mut fork).height()?.is_some())
    }

    /// The consensus configuration of the committed state.
    pub fn consensus_config(&self) -> Result<ConsensusConfig, NodeError> {
        self.reader().consensus_config()
    }

    /// A reader of the committed state, independent of the dispatcher.
    pub fn reader(&self) -> StateReader {
        StateReader {
            database: Arc::clone(&self.database),
            core: Arc::clone(&self.core),
        }
    }

    /// Height of the last committed block.
    pub fn height(&self) -> Option<u64> {
        self.height
    }

    /// The state root of the committed state.
    pub fn state_root(&self) -> Result<Hash, NodeError> {
        Ok(Fork::new(self.database.snapshot()).state_root()?)
    }

    /// A fork over the committed state, for reads.
    pub fn read_fork(&self) -> Fork {
        Fork::new(self.database.snapshot())
    }

    /// Sets this node's settings for its services (node-local: services
    /// read their own in after-commit only).
    pub fn set_service_settings(&self, settings: ServiceSettings) {
        *self
            .service_settings
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node") = Arc::new(settings);
    }

    /// Tells services (in after-commit) this node's service key: set on
    /// validators, whose services may then broadcast on their behalf.
    pub fn set_node_service_key(&self, key: Option<[u8; 32]>) {
        *self
            .node_service_key
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node") = key;
    }

    /// Takes the transactions services asked this node to broadcast.
    pub fn take_broadcasts(&self) -> Vec<Broadcast> {
        std::mem::take(
            &mut *self
                .outbox
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node"),
        )
    }

    /// The registry's view of an instance.
    pub fn instance(&self, instance_id: u32) -> Result<Option<InstanceState>, NodeError> {
        self.reader().instance(instance_id)
    }

    /// The registry's view of the instance called `name`.
    pub fn instance_by_name(&self, name: &str) -> Result<Option<InstanceState>, NodeError> {
        registered_instance_by_name(&mut self.read_fork(), name)
    }

    /// Every instance, ordered by id.
    pub fn instances(&self) -> Result<Vec<InstanceState>, NodeError> {
        registered_instances(&mut self.read_fork())
    }

    /// Every registered artifact with its state (in the committed state
    /// every artifact is Active: transitions end with their block).
    pub fn artifacts(&self) -> Result<Vec<(ArtifactId, ArtifactState)>, NodeError> {
        registered_artifacts(&mut self.read_fork())
    }

    /// Answers read query `method` of the instance called `instance_name`
    /// on the committed state (see [`StateReader::query`]).
    pub fn query(&self, instance_name: &str, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        self.reader().query(instance_name, method, arguments)
    }

    /// The interface `artifact` declares, if it is deployed on this node
    /// and declares one (node-local; never part of consensus).
    pub fn artifact_interface(&self, artifact: &ArtifactId) -> Option<Arc<ServiceInterface>> {
        self.core.runtime(artifact.runtime_id).ok()?.interface(artifact)
    }

    /// This node's outcome of deploying `artifact`.
    pub fn local_deploy_status(&self, artifact: &ArtifactId) -> LocalDeployStatus {
        self.core.deploy_status(artifact)
    }

    /// GENESIS: deploys the genesis artifacts, starts the genesis instances
    /// and commits block 0. Any failure is fatal: a chain cannot start
    /// without its genesis services.
    pub fn genesis(&mut self, config: GenesisConfig) -> Result<Hash, NodeError> {
        if self.phase != Phase::Initialized {
            return Err(ordering("genesis", self.phase));
        }
        if self.has_genesis()? {
            return Err(NodeError::Lifecycle(
                "the database already has a genesis block; resume instead".into(),
            ));
        }
        let pre_genesis = self.database.snapshot();
        let mut fork = Fork::new(self.database.snapshot());
        Schema::new(&mut fork).set_consensus_config(&config.consensus)?;
        self.core.follow_consensus_config(&config.consensus);
        for (artifact, spec) in &config.artifacts {
            self.core.wait_deployed(artifact, spec)?;
            Schema::new(&mut fork).put_artifact(artifact, ArtifactState::ArtifactActive, spec)?;
        }
        for (spec, params) in &config.instances {
            let runtime = Arc::clone(
                self.core
                    .runtime(spec.artifact.runtime_id)
                    .map_err(|error| genesis_error(&spec.artifact, error))?,
            );
            let mut schema = Schema::new(&mut fork);
            if schema.artifact(&spec.artifact)?.is_none() {
                return Err(NodeError::Lifecycle(format!(
                    "genesis instance {:?} uses unknown artifact {}",
                    spec.name, spec.artifact
                )));
            }
            if schema.instance_id_by_name(&spec.name)?.is_some() || schema.instance(spec.id)?.is_some() {
                return Err(NodeError::Lifecycle(format!(
                    "genesis instance {:?} (id {}) is not unique",
                    spec.name, spec.id
                )));
            }
            let context = ExecutionContext::new(
                &mut fork,
                spec,
                Caller::Blockchain,
                0,
                "",
                0,
                self.core.router(),
                self.core.lifecycle_for(spec.id),
            )
            .with_meter(self.core.transaction_meter());
            runtime
                .start_adding_service(context, params)
                .map_err(|error| NodeError::Lifecycle(format!("genesis instance {:?}: {error}", spec.name)))?;
            fork.flush();
            let state = InstanceState {
                spec: spec.clone(),
                status: Some(InstanceStatus::Active),
                pending: None,
                data_version: None,
            };
            Schema::new(&mut fork).put_instance(&state)?;
            runtime.commit_service(&*pre_genesis, spec, &InstanceStatus::Active)?;
        }
        Schema::new(&mut fork).set_height(0)?;
        let root = fork.state_root()?;
        self.database.merge(fork.into_patch()?)?;
        self.height = Some(0);
        self.after_commit()?;
        self.phase = Phase::Ready;
        Ok(root)
    }

    /// RESUME: after a restart, deploys every known artifact again,
    /// re-commits every instance with its status, then `on_resume`.
    pub fn resume(&mut self) -> Result<(), NodeError> {
        if self.phase != Phase::Initialized {
            return Err(ordering("resume", self.phase));
        }
        let mut fork = self.read_fork();
        let mut schema = Schema::new(&mut fork);
        self.height = Some(
            schema
                .height()?
                .ok_or_else(|| NodeError::Lifecycle("no genesis block to resume from".into()))?,
        );
        let mut artifacts = Vec::new();
        for (artifact, _, _) in schema.artifacts()? {
            let spec = schema.artifact_spec(&artifact)?;
            artifacts.push((artifact, spec));
        }
        let instances = schema.instances()?;
        self.core.follow_consensus_config(&schema.consensus_config()?);
        // Start every deployment first so they compile in parallel.
        for (artifact, spec) in &artifacts {
            self.core.start_deploy(artifact, spec.clone());
        }
        let snapshot = self.database.snapshot();
        for instance in &instances {
            let Some(status) = &instance.status else { continue };
            let spec = artifacts
                .iter()
                .find(|(artifact, _)| *artifact == instance.spec.artifact)
                .map(|(_, spec)| spec.clone())
                .unwrap_or_default();
            self.core.wait_deployed(&instance.spec.artifact, &spec)?;
            self.runtime(instance.spec.artifact.runtime_id)?
                .commit_service(&*snapshot, &instance.spec, status)?;
            self.follow_migration(&snapshot, &instance.spec, status)?;
        }
        for runtime in self.core.runtimes.values() {
            runtime.on_resume();
        }
        self.phase = Phase::Ready;
        Ok(())
    }

    /// Starts this node's run of a data migration when an instance is
    /// Migrating (after the commit that made it so, and on restart), and
    /// forgets it once the instance is anything else.
    fn follow_migration(
        &self,
        snapshot: &Arc<dyn wasmvisor_storage::Snapshot>,
        spec: &InstanceSpec,
        status: &InstanceStatus,
    ) -> Result<(), NodeError> {
        match status {
            InstanceStatus::Migrating(migration) => {
                let data_version = Schema::new(&mut self.read_fork())
                    .instance(spec.id)?
                    .and_then(|state| state.data_version);
                self.core
                    .start_migration(Arc::clone(snapshot), spec, &migration.target, data_version.as_deref());
            }
            _ => self.core.forget_migration(spec.id),
        }
        Ok(())
    }

    fn runtime(&self, runtime_id: u32) -> Result<Arc<dyn Runtime>, NodeError> {
        self.core.runtime(runtime_id).cloned().map_err(|error| match error {
            CallError::Node(error) => error,
            CallError::Execution(error) => NodeError::Runtime {
                runtime_id,
                description: error.description,
            },
        })
    }

    /// PROPOSAL: executes a block of `transactions` at the next height on a
    /// fork of the committed state. Several proposals may be executed for
    /// one height; only the one passed to [`Dispatcher::commit`] takes
    /// effect.
    pub fn execute_proposal(&mut self, transactions: &[Transaction]) -> Result<Proposal, NodeError> {
        if !matches!(self.phase, Phase::Ready | Phase::Proposing) {
            return Err(ordering("a proposal", self.phase));
        }
        if transactions.len() > BLOCK_TRANSACTIONS_ITEMS_MAX {
            return Err(NodeError::Lifecycle(format!(
                "a block of {} transactions exceeds the maximum of {BLOCK_TRANSACTIONS_ITEMS_MAX}",
                transactions.len()
            )));
        }
        self.phase = Phase::Proposing;
        let height = self.height.map_or(0, |height| height + 1);
        let mut fork = self.read_fork();
        // The configuration in force is the committed one.
        self.core
            .follow_consensus_config(&Schema::new(&mut fork).consensus_config()?);
        let mut errors = BTreeMap::new();
        // Instances active when the block begins get the hooks; instances
        // added during the block do not.
        let active: Vec<InstanceSpec> = Schema::new(&mut fork)
            .instances()?
            .into_iter()
            .filter(|instance| instance.status == Some(InstanceStatus::Active))
            .map(|instance| instance.spec)
            .collect();

        for spec in &active {
            let runtime = self.runtime(spec.artifact.runtime_id)?;
            meter_hook_writes(&mut fork);
            let context = self.context(&mut fork, spec, Caller::Blockchain, height);
            let result = runtime.before_transactions(context);
            settle(
                &mut fork,
                &mut errors,
                CallLocation::BeforeTransactions(spec.id),
                result,
            )?;
        }
        for (position, transaction) in transactions.iter().enumerate() {
            meter_writes(&mut fork);
            let result = self.execute_transaction(&mut fork, height, transaction);
            settle(
                &mut fork,
                &mut errors,
                CallLocation::Transaction(position as u32),
                result,
            )?;
        }
        for spec in &active {
            let runtime = self.runtime(spec.artifact.runtime_id)?;
            meter_hook_writes(&mut fork);
            let context = self.context(&mut fork, spec, Caller::Blockchain, height);
            let result = runtime.after_transactions(context);
            settle(&mut fork, &mut errors, CallLocation::AfterTransactions(spec.id), result)?;
        }

        let (registered, unloaded, status_changes) = self.activate_pending(&mut fork)?;
        Schema::new(&mut fork).set_height(height)?;
        let state_root = fork.state_root()?;
        Ok(Proposal {
            height,
            state_root,
            error_root: error_root(&errors),
            errors,
            fork,
            registered,
            unloaded,
            status_changes,
        })
    }

    fn context<'a>(
        &'a self,
        fork: &'a mut Fork,
        spec: &'a InstanceSpec,
        caller: Caller,
        height: u64,
    ) -> ExecutionContext<'a> {
        ExecutionContext::new(
            fork,
            spec,
            caller,
            height,
            "",
            0,
            self.core.router(),
            self.core.lifecycle_for(spec.id),
        )
        .with_meter(self.core.transaction_meter())
    }

    fn execute_transaction(&self, fork: &mut Fork, height: u64, transaction: &Transaction) -> Result<(), CallError> {
        let instance_id = transaction.call.instance_id;
        let state = Schema::new(fork).instance(instance_id)?.ok_or_else(|| {
            CoreError::IncorrectInstanceId.with_description(format!("no instance with id {instance_id}"))
        })?;
        if state.status != Some(InstanceStatus::Active) {
            return Err(CoreError::ServiceNotActive
                .with_description(format!("instance {instance_id} is not active"))
                .into());
        }
        let runtime = Arc::clone(self.core.runtime(state.spec.artifact.runtime_id)?);
        let caller = Caller::Transaction {
            author: transaction.author,
            hash: transaction.hash,
        };
        let context = self.context(fork, &state.spec, caller, height);
        runtime.execute(context, transaction.call.method_id, &transaction.arguments)
    }

    /// Applies every transition staged in the block to the registries.
    #[allow(clippy::type_complexity)]
    fn activate_pending(
        &self,
        fork: &mut Fork,
    ) -> Result<
        (
            Vec<(ArtifactId, Vec<u8>)>,
            Vec<ArtifactId>,
            Vec<(InstanceSpec, InstanceStatus)>,
        ),
        NodeError,
    > {
        // Only what this block staged is read: the registries' size does
        // not enter a block's work.
        let mut schema = Schema::new(fork);
        let pending = schema.take_pending()?;
        let (mut registered, mut unloaded, mut status_changes) = (Vec::new(), Vec::new(), Vec::new());
        for key in &pending {
            let Some(artifact_key) = key.strip_prefix(b"a") else {
                continue;
            };
            let Some((artifact, state, _)) = schema.artifact_by_key(artifact_key)? else {
                continue;
            };
            match state {
                ArtifactState::ArtifactDeploying => {
                    schema.set_artifact_state(&artifact, ArtifactState::ArtifactActive)?;
                    let spec = schema.artifact_spec(&artifact)?;
                    registered.push((artifact, spec));
                }
                ArtifactState::ArtifactUnloading => {
                    schema.remove_artifact(&artifact)?;
                    unloaded.push(artifact);
                }
                ArtifactState::ArtifactActive => {}
            }
        }
        let mut instance_ids: Vec<u32> = pending
            .iter()
            .filter_map(|key| key.strip_prefix(b"i").and_then(|id| <[u8; 4]>::try_from(id).ok()))
            .map(u32::from_le_bytes)
            .collect();
        instance_ids.sort_unstable();
        for instance_id in instance_ids {
            let Some(mut instance) = schema.instance(instance_id)? else {
                continue;
            };
            if let Some(next) = instance.pending.take() {
                instance.status = Some(next.clone());
                schema.put_instance(&instance)?;
                status_changes.push((instance.spec, next));
            }
        }
        Ok((registered, unloaded, status_changes))
    }

    /// COMMIT: merges the proposal atomically, then tells the runtimes:
    /// deploys of newly registered artifacts, status changes, unloads, and
    /// `after_commit`.
    pub fn commit(&mut self, proposal: Proposal) -> Result<CommittedBlock, NodeError> {
        if self.phase != Phase::Proposing {
            return Err(ordering("a commit", self.phase));
        }
        let expected = self.height.map_or(0, |height| height + 1);
        if proposal.height != expected {
            return Err(NodeError::Lifecycle(format!(
                "a proposal for height {} cannot commit at {expected}",
                proposal.height
            )));
        }
        let committed = CommittedBlock {
            height: proposal.height,
            state_root: proposal.state_root,
            error_root: proposal.error_root,
            errors: proposal.errors,
        };
        let mut fork = proposal.fork;
        // Block records may have been added, but nothing that is committed
        // to: the root the proposal announced is the root that commits.
        let root = fork.state_root()?;
        if root != committed.state_root {
            return Err(NodeError::Lifecycle(
                "a proposal's committed state changed after execution".into(),
            ));
        }
        self.database.merge(fork.into_patch()?)?;
        self.height = Some(proposal.height);
        self.phase = Phase::Ready;
        let snapshot = self.database.snapshot();
        for (artifact, spec) in &proposal.registered {
            self.core.start_deploy(artifact, spec.clone());
        }
        for (spec, status) in &proposal.status_changes {
            let artifact_spec = Schema::new(&mut self.read_fork()).artifact_spec(&spec.artifact)?;
            self.core.wait_deployed(&spec.artifact, &artifact_spec)?;
            self.runtime(spec.artifact.runtime_id)?
                .commit_service(&*snapshot, spec, status)?;
            self.follow_migration(&snapshot, spec, status)?;
        }
        for artifact in &proposal.unloaded {
            self.runtime(artifact.runtime_id)?.unload_artifact(artifact);
            self.core.forget_deployment(artifact);
        }
        self.after_commit()?;
        Ok(committed)
    }

    fn after_commit(&self) -> Result<(), NodeError> {
        let snapshot = self.database.snapshot();
        let settings = Arc::clone(
            &self
                .service_settings
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node"),
        );
        let mut mailbox = Mailbox::default();
        for runtime in self.core.runtimes.values() {
            runtime.after_commit(AfterCommitContext {
                snapshot: &snapshot,
                height: self.height.unwrap_or(0),
                mailbox: &mut mailbox,
                supervisor_lifecycle: self.core.lifecycle_for(wasmvisor_runtime::SUPERVISOR_INSTANCE_ID),
                node_service_key: *self
                    .node_service_key
                    .lock()
                    .expect("a lock is poisoned only by a panic, and a panic stops the node"),
                service_settings: &settings,
            })?;
        }
        for request in mailbox.drain() {
            match request {
                MailboxRequest::DeployArtifact { artifact, spec } => self.core.start_deploy(&artifact, spec),
                MailboxRequest::Broadcast {
                    instance_id,
                    method_id,
                    arguments,
                } => self
                    .outbox
                    .lock()
                    .expect("a lock is poisoned only by a panic, and a panic stops the node")
                    .push(Broadcast {
                        instance_id,
                        method_id,
                        arguments,
                    }),
            }
        }
        Ok(())
    }

    /// The end of the dispatcher's life: `shutdown` on every runtime.
    pub fn shutdown(mut self) {
        self.phase = Phase::ShutDown;
        for runtime in self.core.runtimes.values() {
            runtime.shutdown();
        }
    }
}

/// Starts metering the writes of one transaction of a block: what a
/// transaction may write, within what the block may.
fn meter_writes(fork: &mut Fork) {
    fork.meter_writes(WriteLimits::TRANSACTION, WriteLimits::BLOCK);
}

/// Starts metering the writes of a block hook: what one call may write,
/// whatever the block's transactions spent (their writes cannot keep a
/// service's hooks — the supervisor's enactment among them — from running).
fn meter_hook_writes(fork: &mut Fork) {
    fork.meter_writes(WriteLimits::TRANSACTION, WriteLimits::UNLIMITED);
}

/// Ends a call's checkpoint (and the metering of its writes): its changes
/// stay on success and are rolled back (and the error recorded) on a
/// deterministic failure. A node-local failure is never recorded: it ends
/// the block's execution, and the caller stops the node.
fn settle(
    fork: &mut Fork,
    errors: &mut BTreeMap<CallLocation, ExecutionError>,
    location: CallLocation,
    result: Result<(), CallError>,
) -> Result<(), NodeError> {
    fork.stop_metering_writes();
    match result {
        Ok(()) => fork.flush(),
        Err(CallError::Execution(error)) => {
            fork.rollback();
            errors.insert(location, error.bounded());
        }
        Err(CallError::Node(error)) => return Err(error),
    }
    Ok(())
}

fn genesis_error(artifact: &ArtifactId, error: CallError) -> NodeError {
    match error {
        CallError::Node(error) => error,
        CallError::Execution(error) => NodeError::Runtime {
            runtime_id: artifact.runtime_id,
            description: format!("genesis artifact {artifact}: {error}"),
        },
    }
}
