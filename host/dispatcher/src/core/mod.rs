//! The dispatcher's shared core: the runtimes and the instance states the
//! other parts share. Its parts, one concern each:
//! - [`jobs`]: node-local work in the background — deployments and data
//!   migrations — and their results;
//! - [`router`]: calls from one service to another;
//! - [`lifecycle`]: the transitions the supervisor drives;
//! - [`checks`]: the rules of a consensus configuration and the fuel it
//!   gives.

mod checks;
mod jobs;
mod lifecycle;
mod router;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_runtime::{
    ArtifactId, CallError, CallRouter, CoreError, InstanceId, InstanceStatus, LifecycleControl, Meter, MigrationState,
    NodeError, Runtime, SUPERVISOR_INSTANCE_ID, runtime_id,
};
use wasmvisor_storage::{Database, Fork};

use crate::limits::FUEL_PER_TRANSACTION_DEFAULT;
use crate::schema::{InstanceState, Schema, artifact_key};

pub use checks::{fuel_per_query, fuel_per_transaction, validate_consensus_config};
use jobs::{Deployment, LocalMigration};

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

    /// The state of an instance that must exist and be Active, and its
    /// runtime (what a call to it or a configuration of it needs).
    fn active_instance(
        &self,
        fork: &mut Fork,
        instance_id: InstanceId,
    ) -> Result<(InstanceState, Arc<dyn Runtime>), CallError> {
        let state = Self::existing_instance(fork, instance_id)?;
        if state.status != Some(InstanceStatus::Active) {
            return Err(CoreError::ServiceNotActive
                .with_description(format!("instance {instance_id} is not active"))
                .into());
        }
        let runtime = Arc::clone(self.runtime(state.spec.artifact.runtime_id)?);
        Ok((state, runtime))
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

impl std::fmt::Debug for Core {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Core")
            .field("runtimes", &self.runtimes.keys().collect::<Vec<_>>())
            .finish()
    }
}
