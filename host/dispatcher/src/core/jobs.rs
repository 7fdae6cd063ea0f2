//! Node-local work on background threads: deploying artifacts and running
//! data migrations, and their results once joined. None of it is part of
//! a block; a block waits for a deployment only where it needs one.

use std::collections::BTreeMap;
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;

use wasmvisor_runtime::{
    ArtifactId, CallError, ExecutionError, InstanceId, InstanceSpec, LocalDeployStatus, NodeError,
};
use wasmvisor_storage::{Fork, Namespace, NamespaceData, Snapshot, WriteLimits};

use crate::limits::{MIGRATION_DATA_BYTES_MAX, MIGRATION_WRITE_ITEMS_MAX};
use crate::schema::Schema;

use super::Core;

/// Node-local work on a background thread (a deployment, a data
/// migration), and its result once joined.
pub(super) enum Job<T> {
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

pub(super) type Deployment = Job<Result<(), ExecutionError>>;

fn deploy_panicked() -> Result<(), ExecutionError> {
    Err(ExecutionError::new(
        wasmvisor_runtime::ErrorKind::Unexpected,
        "the deploy task panicked",
    ))
}

/// A data migration's node-local result: the root of the migrated data
/// and the data itself, or why the script failed.
pub(super) type MigrationOutcome = Result<([u8; 32], Arc<NamespaceData>), String>;

type MigrationJob = Job<MigrationOutcome>;

/// One instance's data migration on this node.
pub(super) struct LocalMigration {
    target: ArtifactId,
    job: MigrationJob,
}

impl Core {
    fn deployments(&self) -> MutexGuard<'_, BTreeMap<ArtifactId, Deployment>> {
        self.deployments
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
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

    pub(super) fn migrations(&self) -> MutexGuard<'_, BTreeMap<InstanceId, LocalMigration>> {
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
    pub(super) fn run_migration(
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
    pub(super) fn migration_outcome(
        &self,
        instance_id: InstanceId,
        target: &ArtifactId,
        wait: bool,
    ) -> Option<MigrationOutcome> {
        self.migrations()
            .get_mut(&instance_id)
            .filter(|local| local.target == *target)?
            .job
            .poll(wait, || Err("the migration job panicked".into()))
    }
}
