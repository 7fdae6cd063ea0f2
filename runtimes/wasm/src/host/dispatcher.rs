//! `wasmvisor:service/dispatcher`: the privileged lifecycle interface,
//! linked only into the supervisor's component.
//!
//! Reads (registries, validator set, consensus configuration) and staged
//! transitions go to the dispatcher's `LifecycleControl` on the call's fork.
//! The supervisor's read queries keep the reads; transitions there fail with
//! IncorrectCall, as everywhere storage is read-only.
//!
//! Node-local actions work only in `after-commit` (elsewhere they refuse or
//! answer `unknown`/`none`, so consensus calls stay deterministic):
//! `broadcast` queues a transaction to the supervisor for the node to sign;
//! `request-local-deploy` starts a background deployment;
//! `local-deploy-status`, `local-migration-status` and `node-service-key`
//! read this node's state. Queued requests are bounded per call.

use std::sync::Arc;

use wasmvisor_runtime::{
    ConfigStage, LifecycleControl, LocalDeployStatus, LocalMigrationStatus, MailboxRequest, Meter, MigrationKind,
};

use super::incorrect_call;
use crate::bindings::supervisor_world::wasmvisor::service::dispatcher::{
    ArtifactRecord, ArtifactState, Host, InstanceRecord, LocalOutcome, MigrationType, ValidatorKeys,
};
use crate::bindings::{ArtifactId, ExecutionError, InstanceSpec, InstanceStatus};
use crate::errors::host_trap;
use crate::limits::{
    AFTER_COMMIT_REQUESTS_ITEMS_MAX, BROADCAST_ARGUMENTS_BYTES_MAX, DEPLOY_SPEC_BYTES_MAX, HOST_CALL_FUEL, ITEM_FUEL,
    READ_BYTE_FUEL, SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX, SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX,
};
use crate::state::{HostState, StorageAccess};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;

fn to_artifact(artifact: &ArtifactId) -> Result<wasmvisor_runtime::ArtifactId, ExecutionError> {
    wasmvisor_runtime::ArtifactId::new(artifact.runtime_id, &artifact.name, &artifact.version)
        .map_err(|error| incorrect_call(format!("artifact version {:?}: {error}", artifact.version)))
}

fn from_artifact(artifact: &wasmvisor_runtime::ArtifactId) -> ArtifactId {
    ArtifactId {
        runtime_id: artifact.runtime_id,
        name: artifact.name.clone(),
        version: artifact.version.to_string(),
    }
}

fn from_spec(spec: &wasmvisor_runtime::InstanceSpec) -> InstanceSpec {
    InstanceSpec {
        id: spec.id,
        name: spec.name.clone(),
        artifact: from_artifact(&spec.artifact),
    }
}

fn from_status(status: &wasmvisor_runtime::InstanceStatus) -> InstanceStatus {
    match status {
        wasmvisor_runtime::InstanceStatus::Active => InstanceStatus::Active,
        wasmvisor_runtime::InstanceStatus::Stopped => InstanceStatus::Stopped,
        wasmvisor_runtime::InstanceStatus::Frozen => InstanceStatus::Frozen,
        wasmvisor_runtime::InstanceStatus::Migrating(migration) => {
            InstanceStatus::Migrating(from_artifact(&migration.target))
        }
    }
}

impl HostState {
    /// The lifecycle handle and the fork, or IncorrectCall.
    fn lifecycle(&mut self) -> Result<(Arc<dyn LifecycleControl>, &mut wasmvisor_storage::Fork), ExecutionError> {
        let lifecycle = self
            .env
            .lifecycle
            .clone()
            .ok_or_else(|| incorrect_call("no lifecycle access in this call"))?;
        let fork = self
            .env
            .storage
            .fork_mut()
            .ok_or_else(|| incorrect_call("no block state in this call"))?;
        Ok((lifecycle, fork))
    }

    /// The committed consensus configuration, if this call can read it.
    fn consensus(&mut self) -> wasmtime::Result<Option<ConsensusConfig>> {
        let bytes = self.registry(|lifecycle, fork| lifecycle.consensus_config(fork))?;
        Ok(ConsensusConfig::decode(bytes.as_slice()).ok())
    }

    /// Runs a staged transition through the lifecycle mechanism, on what is
    /// left of this call's fuel (a transition may run a constructor, a
    /// resume or a configuration); refused where storage is read-only
    /// (queries).
    fn transition<T>(
        &mut self,
        transition: impl FnOnce(
            &dyn LifecycleControl,
            &mut wasmvisor_storage::Fork,
            u64,
            &Meter,
        ) -> Result<T, wasmvisor_runtime::CallError>,
    ) -> wasmtime::Result<Result<T, ExecutionError>> {
        if self.env.access == StorageAccess::ReadOnly {
            return Ok(Err(incorrect_call(
                "lifecycle transitions are refused in read-only calls",
            )));
        }
        let height = self.env.height;
        let meter = self.env.meter.clone();
        let result = self.nested(|state| {
            let (lifecycle, fork) = state
                .lifecycle()
                .map_err(|error| wasmvisor_runtime::CoreError::IncorrectCall.with_description(error.description))?;
            transition(&*lifecycle, fork, height, &meter)
        });
        self.answer_guest(result)
    }

    /// A registry read through the lifecycle mechanism: empty where the
    /// call has none; a node-local failure stops the call.
    fn registry<T: Default>(
        &mut self,
        read: impl FnOnce(&dyn LifecycleControl, &mut wasmvisor_storage::Fork) -> Result<T, wasmvisor_runtime::CallError>,
    ) -> wasmtime::Result<T> {
        let Ok((lifecycle, fork)) = self.lifecycle() else {
            return Ok(T::default());
        };
        match read(&*lifecycle, fork) {
            Ok(value) => Ok(value),
            Err(wasmvisor_runtime::CallError::Node(error)) => Err(self.node_failed(error)),
            Err(wasmvisor_runtime::CallError::Execution(_)) => Ok(T::default()),
        }
    }

    /// Charges [`ITEM_FUEL`] per registry record a call answers.
    fn pay_items(&mut self, items: usize) -> wasmtime::Result<()> {
        self.fuel
            .charge((items as u64).saturating_mul(ITEM_FUEL))
            .map_err(host_trap)
    }

    /// Charges a dispatcher call: [`HOST_CALL_FUEL`] and the bytes it
    /// moves.
    pub(super) fn pay(&mut self, bytes: usize) -> wasmtime::Result<()> {
        let fuel = HOST_CALL_FUEL.saturating_add((bytes as u64).saturating_mul(READ_BYTE_FUEL));
        self.fuel.charge(fuel).map_err(host_trap)
    }
}

/// The error every node-local action gets outside `after-commit`.
pub(super) const OUTSIDE_AFTER_COMMIT: &str = "node-local capabilities are only available in after-commit";

/// What one service may broadcast from one after-commit.
#[derive(Debug, Clone, Copy)]
pub(super) struct BroadcastBudget {
    /// Largest arguments of one broadcast, in bytes.
    pub arguments_bytes_max: usize,
    /// Most requests queued by the end of the broadcast.
    pub items_max: usize,
}

impl BroadcastBudget {
    /// The supervisor's: its deploy and migration reports.
    pub const SUPERVISOR: Self = Self {
        arguments_bytes_max: BROADCAST_ARGUMENTS_BYTES_MAX,
        items_max: AFTER_COMMIT_REQUESTS_ITEMS_MAX,
    };
    /// Any other service's.
    pub const SERVICE: Self = Self {
        arguments_bytes_max: SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX,
        items_max: SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX,
    };
}

impl HostState {
    /// Queues a transaction to the calling service for this node to sign
    /// and pool: after-commit only, on a validator, within `budget`,
    /// charged by its bytes.
    pub(super) fn queue_broadcast(
        &mut self,
        method_id: u32,
        arguments: Vec<u8>,
        budget: BroadcastBudget,
    ) -> wasmtime::Result<Result<(), String>> {
        self.pay(arguments.len())?;
        let Some(state) = &self.env.after_commit else {
            return Ok(Err(OUTSIDE_AFTER_COMMIT.into()));
        };
        if state.node_service_key.is_none() {
            return Ok(Err(
                "this node is not a validator: it has no service key to sign with".into()
            ));
        }
        if arguments.len() > budget.arguments_bytes_max {
            return Ok(Err(format!(
                "arguments of {} bytes exceed {}",
                arguments.len(),
                budget.arguments_bytes_max
            )));
        }
        let queued = state
            .outbox
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .len();
        if queued >= budget.items_max {
            return Ok(Err(format!("at most {} broadcasts per after-commit", budget.items_max)));
        }
        let instance_id = self.env.instance.id;
        Ok(self.queue(MailboxRequest::Broadcast {
            instance_id,
            method_id,
            arguments,
        }))
    }

    /// Queues a request for the dispatcher: after-commit only, bounded.
    fn queue(&mut self, request: MailboxRequest) -> Result<(), String> {
        let Some(state) = &self.env.after_commit else {
            return Err(OUTSIDE_AFTER_COMMIT.into());
        };
        let mut queued = state
            .outbox
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        if queued.len() >= AFTER_COMMIT_REQUESTS_ITEMS_MAX {
            return Err(format!(
                "at most {AFTER_COMMIT_REQUESTS_ITEMS_MAX} requests per after-commit"
            ));
        }
        queued.push(request);
        Ok(())
    }
}

impl Host for HostState {
    fn artifacts(&mut self) -> wasmtime::Result<Vec<ArtifactRecord>> {
        self.pay(0)?;
        let artifacts = self.registry(|lifecycle, fork| lifecycle.artifacts(fork))?;
        self.pay_items(artifacts.len())?;
        Ok(artifacts
            .iter()
            .map(|view| ArtifactRecord {
                id: from_artifact(&view.artifact),
                state: match view.state {
                    wasmvisor_runtime::ArtifactState::Deploying => ArtifactState::Deploying,
                    wasmvisor_runtime::ArtifactState::Active => ArtifactState::Active,
                    wasmvisor_runtime::ArtifactState::Unloading => ArtifactState::Unloading,
                },
                spec_hash: view.spec_hash.to_vec(),
            })
            .collect())
    }

    fn instances(&mut self) -> wasmtime::Result<Vec<InstanceRecord>> {
        self.pay(0)?;
        let instances = self.registry(|lifecycle, fork| lifecycle.instances(fork))?;
        self.pay_items(instances.len())?;
        Ok(instances
            .iter()
            .map(|view| InstanceRecord {
                spec: from_spec(&view.spec),
                status: view.status.as_ref().map(from_status),
                pending_status: view.pending.as_ref().map(from_status),
                data_version: view.data_version.clone(),
            })
            .collect())
    }

    fn validators(&mut self) -> wasmtime::Result<Vec<ValidatorKeys>> {
        self.pay(0)?;
        Ok(self
            .consensus()?
            .map(|config| {
                config
                    .validator_keys
                    .into_iter()
                    .map(|keys| ValidatorKeys {
                        consensus_key: keys.consensus_key,
                        service_key: keys.service_key,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn consensus_config(&mut self) -> wasmtime::Result<Vec<u8>> {
        self.pay(0)?;
        Ok(self
            .consensus()?
            .map(|config| config.encode_to_vec())
            .unwrap_or_default())
    }

    fn register_artifact(
        &mut self,
        artifact: ArtifactId,
        spec: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(spec.len())?;
        let artifact = match to_artifact(&artifact) {
            Ok(artifact) => artifact,
            Err(error) => return Ok(Err(error)),
        };
        self.transition(|lifecycle, fork, _, _| lifecycle.register_artifact(fork, &artifact, &spec))
    }

    fn unload_artifact(&mut self, artifact: ArtifactId) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(0)?;
        let artifact = match to_artifact(&artifact) {
            Ok(artifact) => artifact,
            Err(error) => return Ok(Err(error)),
        };
        self.transition(|lifecycle, fork, _, _| lifecycle.unload_artifact(fork, &artifact))
    }

    fn add_instance(&mut self, spec: InstanceSpec, params: Vec<u8>) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(params.len())?;
        let artifact = match to_artifact(&spec.artifact) {
            Ok(artifact) => artifact,
            Err(error) => return Ok(Err(error)),
        };
        let spec = wasmvisor_runtime::InstanceSpec {
            id: spec.id,
            name: spec.name,
            artifact,
        };
        self.transition(|lifecycle, fork, height, meter| lifecycle.add_instance(fork, height, &spec, &params, meter))
    }

    fn stop_instance(&mut self, instance: u32) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(0)?;
        self.transition(|lifecycle, fork, _, _| lifecycle.stop_instance(fork, instance))
    }

    fn freeze_instance(&mut self, instance: u32) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(0)?;
        self.transition(|lifecycle, fork, _, _| lifecycle.freeze_instance(fork, instance))
    }

    fn resume_instance(&mut self, instance: u32, params: Vec<u8>) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(params.len())?;
        self.transition(|lifecycle, fork, height, meter| {
            lifecycle.resume_instance(fork, height, instance, &params, meter)
        })
    }

    fn initiate_migration(
        &mut self,
        new_artifact: ArtifactId,
        instance_name: String,
    ) -> wasmtime::Result<Result<MigrationType, ExecutionError>> {
        self.pay(instance_name.len())?;
        let artifact = match to_artifact(&new_artifact) {
            Ok(artifact) => artifact,
            Err(error) => return Ok(Err(error)),
        };
        let kind = self.transition(|lifecycle, fork, _, meter| {
            lifecycle.initiate_migration(fork, &artifact, &instance_name, meter)
        })?;
        Ok(kind.map(|kind| match kind {
            MigrationKind::FastForward => MigrationType::FastForward,
            MigrationKind::Data => MigrationType::Data,
        }))
    }

    fn commit_migration(
        &mut self,
        instance_name: String,
        state_hash: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(instance_name.len() + state_hash.len())?;
        let Ok(state_hash) = <[u8; 32]>::try_from(state_hash.as_slice()) else {
            return Ok(Err(incorrect_call("a state hash is 32 bytes")));
        };
        self.transition(|lifecycle, fork, _, _| lifecycle.commit_migration(fork, &instance_name, state_hash))
    }

    fn rollback_migration(&mut self, instance_name: String) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(instance_name.len())?;
        self.transition(|lifecycle, fork, _, _| lifecycle.rollback_migration(fork, &instance_name))
    }

    fn flush_migration(&mut self, instance_name: String) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(instance_name.len())?;
        self.transition(|lifecycle, fork, _, _| lifecycle.flush_migration(fork, &instance_name))
    }

    fn verify_service_config(
        &mut self,
        instance: u32,
        params: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(params.len())?;
        self.transition(|lifecycle, fork, height, meter| {
            lifecycle.configure_service(fork, height, instance, &params, ConfigStage::Verify, meter)
        })
    }

    fn apply_service_config(&mut self, instance: u32, params: Vec<u8>) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(params.len())?;
        self.transition(|lifecycle, fork, height, meter| {
            lifecycle.configure_service(fork, height, instance, &params, ConfigStage::Apply, meter)
        })
    }

    fn set_consensus_config(&mut self, config: Vec<u8>) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(config.len())?;
        self.transition(|lifecycle, fork, _, _| lifecycle.set_consensus_config(fork, &config))
    }

    fn request_local_deploy(
        &mut self,
        artifact: ArtifactId,
        spec: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        self.pay(spec.len())?;
        if spec.len() > DEPLOY_SPEC_BYTES_MAX {
            return Ok(Err(incorrect_call(format!(
                "a deploy spec of {} bytes is too large",
                spec.len()
            ))));
        }
        let artifact = match to_artifact(&artifact) {
            Ok(artifact) => artifact,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self
            .queue(MailboxRequest::DeployArtifact { artifact, spec })
            .map_err(incorrect_call))
    }

    fn local_deploy_status(&mut self, artifact: ArtifactId) -> wasmtime::Result<LocalOutcome> {
        self.pay(0)?;
        // Node-local knowledge: only after-commit may see it.
        let (Some(_), Some(lifecycle), Ok(artifact)) = (
            &self.env.after_commit,
            self.env.lifecycle.clone(),
            to_artifact(&artifact),
        ) else {
            return Ok(LocalOutcome::Unknown);
        };
        Ok(match lifecycle.local_deploy_status(&artifact) {
            LocalDeployStatus::Unknown => LocalOutcome::Unknown,
            LocalDeployStatus::Pending => LocalOutcome::Pending,
            LocalDeployStatus::Succeeded => LocalOutcome::Succeeded(Vec::new()),
            LocalDeployStatus::Failed(reason) => LocalOutcome::Failed(reason),
        })
    }

    fn local_migration_status(&mut self, instance_name: String) -> wasmtime::Result<LocalOutcome> {
        self.pay(instance_name.len())?;
        // Node-local knowledge: only after-commit may see it.
        if self.env.after_commit.is_none() {
            return Ok(LocalOutcome::Unknown);
        }
        let Ok((lifecycle, fork)) = self.lifecycle() else {
            return Ok(LocalOutcome::Unknown);
        };
        Ok(match lifecycle.local_migration_status(fork, &instance_name) {
            LocalMigrationStatus::Unknown => LocalOutcome::Unknown,
            LocalMigrationStatus::Pending => LocalOutcome::Pending,
            LocalMigrationStatus::Succeeded(root) => LocalOutcome::Succeeded(root.to_vec()),
            LocalMigrationStatus::Failed(reason) => LocalOutcome::Failed(reason),
        })
    }

    fn node_service_key(&mut self) -> wasmtime::Result<Option<Vec<u8>>> {
        self.pay(0)?;
        Ok(self
            .env
            .after_commit
            .as_ref()
            .and_then(|state| state.node_service_key)
            .map(|key| key.to_vec()))
    }

    fn broadcast(&mut self, method_id: u32, arguments: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.queue_broadcast(method_id, arguments, BroadcastBudget::SUPERVISOR)
    }
}
