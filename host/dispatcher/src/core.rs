//! The dispatcher's shared core: runtimes, background deployments, call
//! routing and the lifecycle mechanism the supervisor drives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::dispatcher::ArtifactState;
use wasmvisor_runtime::{
    ArtifactId, ArtifactState as RegistryArtifactState, ArtifactView, CallError, CallRouter, Caller, CommonError,
    ConfigStage, CoreError, ExecutionContext, ExecutionError, InstanceId, InstanceSpec, InstanceStatus, InstanceView,
    LifecycleControl, LocalDeployStatus, LocalMigrationStatus, Meter, MigrationKind, MigrationState, NodeError,
    Runtime, SUPERVISOR_INSTANCE_ID, runtime_id,
};
use wasmvisor_storage::{Database, Fork, Namespace, NamespaceData, Snapshot, WriteLimits};

use crate::limits::{
    BLOCK_TRANSACTIONS_ITEMS_MAX, CALL_DEPTH_MAX, FUEL_PER_QUERY_DEFAULT, FUEL_PER_QUERY_MAX,
    FUEL_PER_TRANSACTION_DEFAULT, FUEL_PER_TRANSACTION_MAX, MIGRATION_DATA_BYTES_MAX, MIGRATION_WRITE_ITEMS_MAX,
    TRANSACTION_BYTES_MAX, VALIDATORS_ITEMS_MAX,
};
use crate::schema::{InstanceState, Schema, artifact_key};

/// Node-local work on a background thread (a deployment, a data
/// migration), and its result once joined.
enum Job<T> {
    Running(JoinHandle<T>),
    Finished(T),
}

impl<T: Clone> Job<T> {
    /// The result: joins the thread if it has finished (or, with `wait`,
    /// until it does); `None` while it runs. A panicked thread gives
    /// `panicked`.
    fn poll(&mut self, wait: bool, panicked: impl FnOnce() -> T) -> Option<T> {
        if let Job::Running(handle) = self {
            if !wait && !handle.is_finished() {
                return None;
            }
            let Job::Running(handle) = std::mem::replace(self, Job::Finished(panicked())) else {
                unreachable!("matched above")
            };
            if let Ok(result) = handle.join() {
                *self = Job::Finished(result);
            }
        }
        match self {
            Job::Finished(result) => Some(result.clone()),
            Job::Running(_) => unreachable!("joined above"),
        }
    }
}

type Deployment = Job<Result<(), ExecutionError>>;

fn deploy_panicked() -> Result<(), ExecutionError> {
    Err(ExecutionError::new(
        wasmvisor_runtime::ErrorKind::Unexpected,
        "the deploy task panicked",
    ))
}

/// A data migration's node-local result: the root of the migrated data
/// and the data itself, or why the script failed.
type MigrationOutcome = Result<([u8; 32], Arc<NamespaceData>), String>;

type MigrationJob = Job<MigrationOutcome>;

/// One instance's data migration on this node.
struct LocalMigration {
    target: ArtifactId,
    job: MigrationJob,
}

/// The runtimes the protocol defines: a node may leave one out, but then it
/// cannot follow a chain that uses it.
const KNOWN_RUNTIMES: [u32; 2] = [runtime_id::NATIVE, runtime_id::WASM];

pub(crate) struct Core {
    pub(crate) runtimes: BTreeMap<u32, Arc<dyn Runtime>>,
    database: Arc<dyn Database>,
    deployments: Mutex<BTreeMap<ArtifactId, Deployment>>,
    /// Data migrations run (or ran) by this node, by instance.
    migrations: Mutex<BTreeMap<InstanceId, LocalMigration>>,
    /// This core, for handing out as the call router of contexts.
    me: std::sync::Weak<Core>,
    /// Fuel of one transaction (or hook) from the consensus configuration in
    /// force for the block being executed.
    fuel_per_transaction: std::sync::atomic::AtomicU64,
}

impl Core {
    pub(crate) fn new(runtimes: Vec<Arc<dyn Runtime>>, database: Arc<dyn Database>) -> Arc<Self> {
        let runtimes = runtimes.into_iter().map(|runtime| (runtime.id(), runtime)).collect();
        Arc::new_cyclic(|me| Self {
            runtimes,
            database,
            deployments: Mutex::default(),
            migrations: Mutex::default(),
            me: me.clone(),
            fuel_per_transaction: std::sync::atomic::AtomicU64::new(FUEL_PER_TRANSACTION_DEFAULT),
        })
    }

    /// A new budget for one transaction (or hook, or constructor) under
    /// the consensus configuration in force.
    pub(crate) fn transaction_meter(&self) -> Meter {
        Meter::new(self.fuel_per_transaction.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Takes the fuel of one transaction from `config` (its default when
    /// unset).
    pub(crate) fn follow_consensus_config(&self, config: &ConsensusConfig) {
        self.fuel_per_transaction
            .store(fuel_per_transaction(config), std::sync::atomic::Ordering::SeqCst);
    }

    /// This core as a call router.
    pub(crate) fn router(&self) -> Arc<dyn CallRouter> {
        self.me.upgrade().expect("the core outlives its calls")
    }

    fn deployments(&self) -> MutexGuard<'_, BTreeMap<ArtifactId, Deployment>> {
        self.deployments
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
    }

    /// The runtime `id`. A runtime the protocol knows but this node did not
    /// enable is a node-local failure (its peers may run it); an id no
    /// node can know is IncorrectRuntime, the same everywhere.
    pub(crate) fn runtime(&self, id: u32) -> Result<&Arc<dyn Runtime>, CallError> {
        match self.runtimes.get(&id) {
            Some(runtime) => Ok(runtime),
            None if KNOWN_RUNTIMES.contains(&id) => Err(NodeError::Runtime {
                runtime_id: id,
                description: "this runtime is not enabled on this node".into(),
            }
            .into()),
            None => Err(CoreError::IncorrectRuntime
                .with_description(format!("no runtime with id {id}"))
                .into()),
        }
    }

    /// Starts deploying `artifact` in the background, unless it already is
    /// or was.
    pub(crate) fn start_deploy(&self, artifact: &ArtifactId, spec: Vec<u8>) {
        let mut deployments = self.deployments();
        if deployments.contains_key(artifact) {
            return;
        }
        let deployment = match self.runtime(artifact.runtime_id) {
            Err(error) => Job::Finished(Err(ExecutionError::new(
                wasmvisor_runtime::ErrorKind::Unexpected,
                error.to_string(),
            ))),
            Ok(runtime) => Job::Running(std::thread::spawn(runtime.deploy_artifact(artifact.clone(), spec))),
        };
        deployments.insert(artifact.clone(), deployment);
    }

    /// Waits for the local deployment of `artifact` (started if needed), an
    /// artifact the chain has registered: this node failing to deploy it
    /// is its own failure, which no block may record.
    pub(crate) fn wait_deployed(&self, artifact: &ArtifactId, spec: &[u8]) -> Result<(), NodeError> {
        self.runtime(artifact.runtime_id).map_err(|error| match error {
            CallError::Node(error) => error,
            CallError::Execution(error) => NodeError::Deploy {
                artifact: artifact.to_string(),
                description: error.description,
            },
        })?;
        self.start_deploy(artifact, spec.to_vec());
        // The lock is held while waiting: every caller runs on the thread
        // that owns the dispatcher, and status queries wait for the result.
        let result = self
            .deployments()
            .get_mut(artifact)
            .and_then(|deployment| deployment.poll(true, deploy_panicked))
            .expect("start_deploy inserted it");
        result.map_err(|error| NodeError::Deploy {
            artifact: artifact.to_string(),
            description: error.description,
        })
    }

    /// This node's outcome of deploying `artifact`, without waiting.
    pub(crate) fn deploy_status(&self, artifact: &ArtifactId) -> LocalDeployStatus {
        let finished = match self.deployments().get_mut(artifact) {
            None => return LocalDeployStatus::Unknown,
            Some(deployment) => match deployment.poll(false, deploy_panicked) {
                None => return LocalDeployStatus::Pending,
                Some(result) => result,
            },
        };
        match finished {
            Ok(()) => LocalDeployStatus::Succeeded,
            Err(error) => LocalDeployStatus::Failed(error.description),
        }
    }

    pub(crate) fn forget_deployment(&self, artifact: &ArtifactId) {
        self.deployments().remove(artifact);
    }

    fn migrations(&self) -> MutexGuard<'_, BTreeMap<InstanceId, LocalMigration>> {
        self.migrations
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
    }

    /// Starts the data migration of `spec` to `target` in the background
    /// on `snapshot` (a state in which the instance is Migrating, so its
    /// data no longer changes), unless it already runs.
    pub(crate) fn start_migration(
        &self,
        snapshot: Arc<dyn Snapshot>,
        spec: &InstanceSpec,
        target: &ArtifactId,
        data_version: Option<&str>,
    ) {
        let mut migrations = self.migrations();
        if migrations.get(&spec.id).is_some_and(|local| local.target == *target) {
            return;
        }
        let core = self.me.upgrade().expect("the core outlives its calls");
        let instance_id = spec.id;
        let (spec, target_for_job) = (spec.clone(), target.clone());
        let data_version = data_version.map(str::to_owned);
        let handle =
            std::thread::spawn(move || core.run_migration(snapshot, &spec, &target_for_job, data_version.as_deref()));
        migrations.insert(
            instance_id,
            LocalMigration {
                target: target.clone(),
                job: Job::Running(handle),
            },
        );
    }

    /// Forgets the local migration of an instance (rolled back or flushed).
    pub(crate) fn forget_migration(&self, instance_id: InstanceId) {
        self.migrations().remove(&instance_id);
    }

    /// The work of a migration job: waits until the target artifact is
    /// deployed here, copies the instance's data into its shadow
    /// namespace, runs the script there, and returns the shadow's root and
    /// contents.
    fn run_migration(
        &self,
        snapshot: Arc<dyn Snapshot>,
        spec: &InstanceSpec,
        target: &ArtifactId,
        data_version: Option<&str>,
    ) -> MigrationOutcome {
        let mut fork = Fork::new(snapshot);
        let artifact_spec = Schema::new(&mut fork)
            .artifact_spec(target)
            .map_err(|error| format!("reading {target}: {error}"))?;
        self.start_deploy(target, artifact_spec);
        // Polls instead of `wait_deployed`, which holds the deployments
        // lock while it waits and would stall the block path meanwhile.
        loop {
            match self.deploy_status(target) {
                LocalDeployStatus::Succeeded => break,
                LocalDeployStatus::Pending => std::thread::sleep(std::time::Duration::from_millis(5)),
                LocalDeployStatus::Failed(reason) => return Err(format!("{target} cannot be deployed here: {reason}")),
                LocalDeployStatus::Unknown => return Err(format!("{target} was forgotten while migrating")),
            }
        }
        let data_version: semver::Version = match data_version {
            Some(version) => version
                .parse()
                .map_err(|_| format!("stored data version {version:?} is not semver"))?,
            None => spec.artifact.version.clone(),
        };
        let (live, shadow) = (Namespace::Service(spec.id), Namespace::Migration(spec.id));
        fork.copy_namespace(live, shadow).map_err(|error| error.to_string())?;
        let runtime = Arc::clone(self.runtime(target.runtime_id).map_err(|error| error.to_string())?);
        let migrating = InstanceSpec {
            artifact: target.clone(),
            ..spec.clone()
        };
        // The script's writes are bounded while it runs, not only after.
        let limits = WriteLimits {
            bytes_max: MIGRATION_DATA_BYTES_MAX,
            items_max: MIGRATION_WRITE_ITEMS_MAX,
        };
        fork.meter_writes(limits, limits);
        let result = runtime.migrate_data(&mut fork, &migrating, &data_version);
        fork.stop_metering_writes();
        result.map_err(|error| format!("the migration script failed: {error}"))?;
        let root = fork.namespace_root(shadow).map_err(|error| error.to_string())?;
        let data = fork.export_namespace(shadow).map_err(|error| error.to_string())?;
        if data.size() > MIGRATION_DATA_BYTES_MAX {
            return Err(format!(
                "the migrated data of {} bytes exceeds the maximum of {MIGRATION_DATA_BYTES_MAX}",
                data.size()
            ));
        }
        Ok((root, Arc::new(data)))
    }

    /// This node's migration of `instance_id` to `target`; waits for it if
    /// `wait`, else answers `None` while it runs.
    fn migration_outcome(&self, instance_id: InstanceId, target: &ArtifactId, wait: bool) -> Option<MigrationOutcome> {
        self.migrations()
            .get_mut(&instance_id)
            .filter(|local| local.target == *target)?
            .job
            .poll(wait, || Err("the migration job panicked".into()))
    }

    /// Lifecycle control is handed to the supervisor's instance only.
    pub(crate) fn lifecycle_for(&self, instance_id: InstanceId) -> Option<Arc<dyn LifecycleControl>> {
        if instance_id != SUPERVISOR_INSTANCE_ID {
            return None;
        }
        let me: Arc<dyn LifecycleControl> = self.me.upgrade().expect("the core outlives its calls");
        Some(me)
    }

    /// The instance's state, which must exist.
    fn existing_instance(fork: &mut Fork, instance_id: InstanceId) -> Result<InstanceState, CallError> {
        Schema::new(fork).instance(instance_id)?.ok_or_else(|| {
            CoreError::IncorrectInstanceId
                .with_description(format!("no instance with id {instance_id}"))
                .into()
        })
    }

    /// The state of the instance called `name`, which must exist and have
    /// no pending transition.
    fn instance_by_name(fork: &mut Fork, name: &str) -> Result<InstanceState, CallError> {
        let instance_id = Schema::new(fork)
            .instance_id_by_name(name)?
            .ok_or_else(|| CoreError::IncorrectInstanceId.with_description(format!("no instance named {name:?}")))?;
        let state = Self::existing_instance(fork, instance_id)?;
        if state.pending.is_some() {
            return Err(CoreError::ServicePending
                .with_description(format!("{name:?} already has a pending transition"))
                .into());
        }
        Ok(state)
    }

    /// The Migrating state of an instance, or InvalidServiceTransition.
    fn migration_of(state: &InstanceState) -> Result<MigrationState, CallError> {
        match &state.status {
            Some(InstanceStatus::Migrating(migration)) => Ok((**migration).clone()),
            other => Err(CoreError::InvalidServiceTransition
                .with_description(format!("{:?} is {other:?}, not migrating", state.spec.name))
                .into()),
        }
    }

    fn stage(fork: &mut Fork, state: &InstanceState) -> Result<(), CallError> {
        let mut schema = Schema::new(fork);
        schema.put_instance(state)?;
        schema
            .mark_pending(pending_instance_key(state.spec.id))
            .map_err(Into::into)
    }

    /// Stages `next` for an instance whose current status is in `allowed`.
    fn stage_transition(
        &self,
        fork: &mut Fork,
        instance_id: InstanceId,
        allowed: &[InstanceStatus],
        next: InstanceStatus,
    ) -> Result<InstanceState, CallError> {
        let mut state = Self::existing_instance(fork, instance_id)?;
        if state.pending.is_some() {
            return Err(CoreError::ServicePending
                .with_description(format!("instance {instance_id} already has a pending transition"))
                .into());
        }
        let current = state.status.clone();
        if !current.as_ref().is_some_and(|status| allowed.contains(status)) {
            return Err(CoreError::InvalidServiceTransition
                .with_description(format!(
                    "instance {instance_id}: {current:?} -> {next:?} is not allowed"
                ))
                .into());
        }
        state.pending = Some(next);
        let mut schema = Schema::new(fork);
        schema.put_instance(&state)?;
        schema.mark_pending(pending_instance_key(instance_id))?;
        Ok(state)
    }
}

pub(crate) fn pending_instance_key(instance_id: InstanceId) -> Vec<u8> {
    let mut key = vec![b'i'];
    key.extend_from_slice(&instance_id.to_le_bytes());
    key
}

pub(crate) fn pending_artifact_key(artifact: &ArtifactId) -> Vec<u8> {
    let mut key = vec![b'a'];
    key.extend_from_slice(&artifact_key(artifact));
    key
}

impl CallRouter for Core {
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
    ) -> Result<(), CallError> {
        if depth > CALL_DEPTH_MAX {
            return Err(CoreError::StackOverflow
                .with_description(format!("call depth {depth} exceeds {CALL_DEPTH_MAX}"))
                .into());
        }
        let state = Self::existing_instance(fork, target)?;
        if state.status != Some(InstanceStatus::Active) {
            return Err(CoreError::ServiceNotActive
                .with_description(format!("instance {target} is not active"))
                .into());
        }
        let runtime = Arc::clone(self.runtime(state.spec.artifact.runtime_id)?);
        let savepoint = fork.savepoint();
        let context = ExecutionContext::new(
            fork,
            &state.spec,
            Caller::Service(caller),
            height,
            interface,
            depth,
            self.router(),
            self.lifecycle_for(target),
        )
        .with_meter(meter.clone());
        let result = runtime.execute(context, method_id, arguments);
        if result.is_err() {
            // The callee's writes go; the caller decides what its own
            // failure means.
            fork.rollback_to(savepoint);
        }
        result
    }

    fn instance_id_by_name(&self, fork: &mut Fork, name: &str) -> Result<Option<InstanceId>, NodeError> {
        let Some(instance_id) = Schema::new(fork).instance_id_by_name(name)? else {
            return Ok(None);
        };
        let state = Schema::new(fork).instance(instance_id)?;
        Ok(state.filter(|state| state.status.is_some()).map(|_| instance_id))
    }
}

impl LifecycleControl for Core {
    fn artifacts(&self, fork: &mut Fork) -> Result<Vec<ArtifactView>, CallError> {
        let artifacts = Schema::new(fork).artifacts()?;
        Ok(artifacts
            .into_iter()
            .map(|(artifact, state, spec_hash)| ArtifactView {
                artifact,
                state: match state {
                    ArtifactState::ArtifactActive => RegistryArtifactState::Active,
                    ArtifactState::ArtifactDeploying => RegistryArtifactState::Deploying,
                    ArtifactState::ArtifactUnloading => RegistryArtifactState::Unloading,
                },
                spec_hash,
            })
            .collect())
    }

    fn local_deploy_status(&self, artifact: &ArtifactId) -> LocalDeployStatus {
        self.deploy_status(artifact)
    }

    fn consensus_config(&self, fork: &mut Fork) -> Result<Vec<u8>, CallError> {
        use wasmvisor_proto::Message;
        Ok(Schema::new(fork).consensus_config()?.encode_to_vec())
    }

    fn instances(&self, fork: &mut Fork) -> Result<Vec<InstanceView>, CallError> {
        let instances = Schema::new(fork).instances()?;
        Ok(instances
            .into_iter()
            .map(|state| InstanceView {
                spec: state.spec,
                status: state.status,
                pending: state.pending,
                data_version: state.data_version,
            })
            .collect())
    }

    fn register_artifact(&self, fork: &mut Fork, artifact: &ArtifactId, spec: &[u8]) -> Result<(), CallError> {
        self.runtime(artifact.runtime_id)?;
        let mut schema = Schema::new(fork);
        if schema.artifact(artifact)?.is_some() {
            return Err(CoreError::ArtifactAlreadyDeployed
                .with_description(format!("{artifact} is already registered"))
                .into());
        }
        schema.put_artifact(artifact, ArtifactState::ArtifactDeploying, spec)?;
        schema.mark_pending(pending_artifact_key(artifact)).map_err(Into::into)
    }

    fn unload_artifact(&self, fork: &mut Fork, artifact: &ArtifactId) -> Result<(), CallError> {
        let mut schema = Schema::new(fork);
        let record = schema
            .artifact(artifact)?
            .ok_or_else(|| CoreError::UnknownArtifactId.with_description(artifact.to_string()))?;
        if record.state != ArtifactState::ArtifactActive as i32 {
            return Err(CoreError::CannotUnloadArtifact
                .with_description(format!("{artifact} is not active"))
                .into());
        }
        let in_use = schema
            .instances()
            ?
            .iter()
            .any(|instance| {
                let migrating_to = |status: &Option<InstanceStatus>| {
                    matches!(status, Some(InstanceStatus::Migrating(migration)) if migration.target == *artifact)
                };
                instance.spec.artifact == *artifact || migrating_to(&instance.status) || migrating_to(&instance.pending)
            });
        if in_use {
            return Err(CoreError::CannotUnloadArtifact
                .with_description(format!("{artifact} is used by an instance"))
                .into());
        }
        schema.set_artifact_state(artifact, ArtifactState::ArtifactUnloading)?;
        schema.mark_pending(pending_artifact_key(artifact)).map_err(Into::into)
    }

    fn add_instance(
        &self,
        fork: &mut Fork,
        height: u64,
        spec: &InstanceSpec,
        params: &[u8],
        meter: &Meter,
    ) -> Result<(), CallError> {
        let mut schema = Schema::new(fork);
        let record = schema
            .artifact(&spec.artifact)?
            .ok_or_else(|| CoreError::UnknownArtifactId.with_description(spec.artifact.to_string()))?;
        if record.state != ArtifactState::ArtifactActive as i32 {
            return Err(CoreError::ArtifactNotDeployed
                .with_description(format!("{} is not active", spec.artifact))
                .into());
        }
        if schema.instance_id_by_name(&spec.name)?.is_some() {
            return Err(CoreError::ServiceNameExists
                .with_description(format!("an instance is named {:?}", spec.name))
                .into());
        }
        if schema.instance(spec.id)?.is_some() {
            return Err(CoreError::ServiceIdExists
                .with_description(format!("an instance has id {}", spec.id))
                .into());
        }
        let artifact_spec = schema.artifact_spec(&spec.artifact)?;
        // A node that has not finished deploying the artifact waits here,
        // and only here.
        self.wait_deployed(&spec.artifact, &artifact_spec)?;
        let runtime = Arc::clone(self.runtime(spec.artifact.runtime_id)?);
        let context = ExecutionContext::new(
            fork,
            spec,
            Caller::Blockchain,
            height,
            "",
            0,
            self.router(),
            self.lifecycle_for(spec.id),
        )
        .with_meter(meter.clone());
        runtime.start_adding_service(context, params)?;
        let state = InstanceState {
            spec: spec.clone(),
            status: None,
            pending: Some(InstanceStatus::Active),
            data_version: None,
        };
        let mut schema = Schema::new(fork);
        schema.put_instance(&state)?;
        schema.mark_pending(pending_instance_key(spec.id)).map_err(Into::into)
    }

    fn stop_instance(&self, fork: &mut Fork, instance_id: InstanceId) -> Result<(), CallError> {
        self.stage_transition(
            fork,
            instance_id,
            &[InstanceStatus::Active, InstanceStatus::Frozen],
            InstanceStatus::Stopped,
        )
        .map(drop)
    }

    fn freeze_instance(&self, fork: &mut Fork, instance_id: InstanceId) -> Result<(), CallError> {
        let state = Self::existing_instance(fork, instance_id)?;
        if !self.runtime(state.spec.artifact.runtime_id)?.supports_freezing() {
            return Err(CommonError::FeatureNotSupported
                .with_description(format!("the runtime of {} cannot freeze services", state.spec.artifact))
                .into());
        }
        self.stage_transition(fork, instance_id, &[InstanceStatus::Active], InstanceStatus::Frozen)
            .map(drop)
    }

    fn resume_instance(
        &self,
        fork: &mut Fork,
        height: u64,
        instance_id: InstanceId,
        params: &[u8],
        meter: &Meter,
    ) -> Result<(), CallError> {
        let state = Self::existing_instance(fork, instance_id)?;
        if let Some(data_version) = &state.data_version
            && *data_version != state.spec.artifact.version.to_string()
        {
            return Err(CoreError::CannotResumeService
                .with_description(format!(
                    "instance {instance_id} holds data of version {data_version}, its artifact is {}",
                    state.spec.artifact
                ))
                .into());
        }
        let state = self.stage_transition(
            fork,
            instance_id,
            &[InstanceStatus::Stopped, InstanceStatus::Frozen],
            InstanceStatus::Active,
        )?;
        let runtime = Arc::clone(self.runtime(state.spec.artifact.runtime_id)?);
        let context = ExecutionContext::new(
            fork,
            &state.spec,
            Caller::Blockchain,
            height,
            "",
            0,
            self.router(),
            self.lifecycle_for(instance_id),
        )
        .with_meter(meter.clone());
        runtime.start_resuming_service(context, params)
    }

    fn initiate_migration(
        &self,
        fork: &mut Fork,
        new_artifact: &ArtifactId,
        instance_name: &str,
        meter: &Meter,
    ) -> Result<MigrationKind, CallError> {
        let mut state = Self::instance_by_name(fork, instance_name)?;
        // The supervisor cannot stop itself: it upgrades while Active, by
        // fast-forward only.
        let supervisor = state.spec.id == SUPERVISOR_INSTANCE_ID;
        let allowed = if supervisor {
            matches!(state.status, Some(InstanceStatus::Active))
        } else {
            matches!(state.status, Some(InstanceStatus::Stopped | InstanceStatus::Frozen))
        };
        if !allowed {
            return Err(CoreError::InvalidServiceTransition
                .with_description(format!("{instance_name:?} must be stopped or frozen to migrate"))
                .into());
        }
        let record = Schema::new(fork)
            .artifact(new_artifact)?
            .ok_or_else(|| CoreError::UnknownArtifactId.with_description(new_artifact.to_string()))?;
        if record.state != ArtifactState::ArtifactActive as i32 {
            return Err(CoreError::ArtifactNotDeployed
                .with_description(format!("{new_artifact} is not active"))
                .into());
        }
        let current = &state.spec.artifact;
        if new_artifact.runtime_id != current.runtime_id
            || new_artifact.name != current.name
            || new_artifact.version <= current.version
        {
            return Err(CoreError::CannotUpgradeService
                .with_description(format!("{current} cannot be upgraded to {new_artifact}"))
                .into());
        }
        let data_version = match &state.data_version {
            Some(version) => version
                .parse()
                .map_err(|_| NodeError::Corrupt(format!("stored data version {version:?} is not semver")))?,
            None => current.version.clone(),
        };
        // The new artifact answers how to migrate: a node still deploying
        // it waits here, as for a new instance.
        let artifact_spec = Schema::new(fork).artifact_spec(new_artifact)?;
        self.wait_deployed(new_artifact, &artifact_spec)?;
        let kind = self
            .runtime(new_artifact.runtime_id)?
            .migrate(new_artifact, &data_version, meter)?;
        match kind {
            MigrationKind::FastForward if supervisor => {
                state.spec.artifact = new_artifact.clone();
                state.data_version = None;
                state.pending = Some(InstanceStatus::Active);
            }
            MigrationKind::Data if supervisor => {
                return Err(CoreError::CannotUpgradeService
                    .with_description("the supervisor upgrades by fast-forward only: it keeps its data layout")
                    .into());
            }
            MigrationKind::FastForward => {
                state.spec.artifact = new_artifact.clone();
                state.data_version = None;
                state.pending = Some(InstanceStatus::Stopped);
            }
            MigrationKind::Data => {
                state.pending = Some(InstanceStatus::Migrating(Box::new(MigrationState {
                    target: new_artifact.clone(),
                    completed_hash: None,
                })));
            }
        }
        Self::stage(fork, &state)?;
        Ok(kind)
    }

    fn commit_migration(&self, fork: &mut Fork, instance_name: &str, state_hash: [u8; 32]) -> Result<(), CallError> {
        let mut state = Self::instance_by_name(fork, instance_name)?;
        let mut migration = Self::migration_of(&state)?;
        if migration.completed_hash.is_some() {
            return Err(CoreError::InvalidServiceTransition
                .with_description(format!("the migration of {instance_name:?} is already committed"))
                .into());
        }
        migration.completed_hash = Some(state_hash);
        state.pending = Some(InstanceStatus::Migrating(Box::new(migration)));
        Self::stage(fork, &state)
    }

    fn rollback_migration(&self, fork: &mut Fork, instance_name: &str) -> Result<(), CallError> {
        let mut state = Self::instance_by_name(fork, instance_name)?;
        Self::migration_of(&state)?;
        // The shadow data never enters the block's state: each node's
        // migration job is forgotten when this transition commits.
        state.pending = Some(InstanceStatus::Stopped);
        Self::stage(fork, &state)
    }

    fn flush_migration(&self, fork: &mut Fork, instance_name: &str) -> Result<(), CallError> {
        let mut state = Self::instance_by_name(fork, instance_name)?;
        let migration = Self::migration_of(&state)?;
        if migration.completed_hash.is_none() {
            return Err(CoreError::InvalidServiceTransition
                .with_description(format!("the migration of {instance_name:?} is not committed"))
                .into());
        }
        let id = state.spec.id;
        let agreed = migration.completed_hash.expect("checked above");
        // The migrated data is this node's own result, checked against the
        // hash every validator agreed on. A node that disagrees (or lost
        // its result and cannot reproduce it) must stop rather than
        // diverge: this is not an outcome of the block.
        let outcome = match self.migration_outcome(id, &migration.target, true) {
            Some(outcome) => outcome,
            None => self.run_migration(
                self.database.snapshot(),
                &state.spec,
                &migration.target,
                state.data_version.as_deref(),
            ),
        };
        let data = match outcome {
            Ok((root, data)) if root == agreed => data,
            Ok(_) => {
                return Err(NodeError::Divergence(format!(
                    "this node's migration of {instance_name:?} differs from the result every validator agreed on"
                ))
                .into());
            }
            Err(error) => {
                return Err(NodeError::Divergence(format!(
                    "this node cannot reproduce the agreed migration of {instance_name:?}: {error}"
                ))
                .into());
            }
        };
        fork.import_namespace(Namespace::Service(id), &data)?;
        state.data_version = Some(migration.target.version.to_string());
        state.pending = Some(InstanceStatus::Stopped);
        Self::stage(fork, &state)
    }

    fn configure_service(
        &self,
        fork: &mut Fork,
        height: u64,
        instance_id: InstanceId,
        params: &[u8],
        stage: ConfigStage,
        meter: &Meter,
    ) -> Result<(), CallError> {
        let state = Self::existing_instance(fork, instance_id)?;
        if state.status != Some(InstanceStatus::Active) {
            return Err(CoreError::ServiceNotActive
                .with_description(format!("instance {instance_id} is not active"))
                .into());
        }
        let runtime = Arc::clone(self.runtime(state.spec.artifact.runtime_id)?);
        let savepoint = fork.savepoint();
        let context = ExecutionContext::new(
            fork,
            &state.spec,
            Caller::Service(SUPERVISOR_INSTANCE_ID),
            height,
            "",
            1,
            self.router(),
            self.lifecycle_for(instance_id),
        )
        .with_meter(meter.clone());
        let result = runtime.configure(context, params, stage);
        // Verifying changes nothing, whatever the service wrote.
        if stage == ConfigStage::Verify || result.is_err() {
            fork.rollback_to(savepoint);
        }
        result
    }

    fn set_consensus_config(&self, fork: &mut Fork, config: &[u8]) -> Result<(), CallError> {
        let config = ConsensusConfig::decode(config)
            .map_err(|error| CoreError::IncorrectCall.with_description(format!("ConsensusConfig: {error}")))?;
        validate_consensus_config(&config).map_err(|error| CoreError::IncorrectCall.with_description(error))?;
        Schema::new(fork).set_consensus_config(&config).map_err(Into::into)
    }

    fn local_migration_status(&self, fork: &mut Fork, instance_name: &str) -> LocalMigrationStatus {
        let Ok(state) = Self::instance_by_name(fork, instance_name) else {
            return LocalMigrationStatus::Unknown;
        };
        let Ok(migration) = Self::migration_of(&state) else {
            return LocalMigrationStatus::Unknown;
        };
        if !self.migrations().contains_key(&state.spec.id) {
            return LocalMigrationStatus::Unknown;
        }
        match self.migration_outcome(state.spec.id, &migration.target, false) {
            None => LocalMigrationStatus::Pending,
            Some(Ok((root, _))) => LocalMigrationStatus::Succeeded(root),
            Some(Err(reason)) => LocalMigrationStatus::Failed(reason),
        }
    }
}

/// Checks a consensus configuration proposed as a change: a non-empty
/// validator set of at most [`VALIDATORS_ITEMS_MAX`] with well-formed, distinct
/// Ed25519 keys, and limits within the node's own.
/// Fuel of one transaction under `config`: its `fuel_per_transaction_max`,
/// or the default when that is 0 (unset).
pub fn fuel_per_transaction(config: &ConsensusConfig) -> u64 {
    match config.fuel_per_transaction_max {
        0 => FUEL_PER_TRANSACTION_DEFAULT,
        configured => configured,
    }
}

/// Fuel of one read query under `config`: its `fuel_per_query_max`, or the
/// default when that is 0 (unset).
pub fn fuel_per_query(config: &ConsensusConfig) -> u64 {
    match config.fuel_per_query_max {
        0 => FUEL_PER_QUERY_DEFAULT,
        configured => configured,
    }
}

/// The rules every consensus configuration meets — a proposed change's and
/// the genesis one's: 1 to [`VALIDATORS_ITEMS_MAX`] validators, each key a
/// 32-byte Ed25519 public key used once, and no setting past its limit.
/// The reason otherwise.
pub fn validate_consensus_config(config: &ConsensusConfig) -> Result<(), String> {
    let validators = &config.validator_keys;
    if validators.is_empty() || validators.len() > VALIDATORS_ITEMS_MAX {
        return Err(format!(
            "a validator set has 1 to {VALIDATORS_ITEMS_MAX} validators, not {}",
            validators.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, keys) in validators.iter().enumerate() {
        for (what, key) in [("consensus", &keys.consensus_key), ("service", &keys.service_key)] {
            let bytes: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| format!("validator {index}'s {what} key is not 32 bytes"))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| format!("validator {index}'s {what} key is not an Ed25519 public key"))?;
            if !seen.insert(bytes) {
                return Err(format!("validator {index}'s {what} key is used twice"));
            }
        }
    }
    if config.transactions_per_block_max as usize > BLOCK_TRANSACTIONS_ITEMS_MAX {
        return Err(format!(
            "transactions_per_block_max {} exceeds the maximum of {BLOCK_TRANSACTIONS_ITEMS_MAX}",
            config.transactions_per_block_max
        ));
    }
    if config.transaction_size_max as usize > TRANSACTION_BYTES_MAX {
        return Err(format!(
            "transaction_size_max {} exceeds the maximum of {TRANSACTION_BYTES_MAX} bytes",
            config.transaction_size_max
        ));
    }
    if config.fuel_per_transaction_max > FUEL_PER_TRANSACTION_MAX {
        return Err(format!(
            "fuel_per_transaction_max {} exceeds the maximum of {FUEL_PER_TRANSACTION_MAX}",
            config.fuel_per_transaction_max
        ));
    }
    if config.fuel_per_query_max > FUEL_PER_QUERY_MAX {
        return Err(format!(
            "fuel_per_query_max {} exceeds the maximum of {FUEL_PER_QUERY_MAX}",
            config.fuel_per_query_max
        ));
    }
    Ok(())
}

impl std::fmt::Debug for Core {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Core")
            .field("runtimes", &self.runtimes.keys().collect::<Vec<_>>())
            .finish()
    }
}
