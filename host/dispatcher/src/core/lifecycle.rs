//! The lifecycle mechanism the supervisor drives: every transition is
//! checked against the registries and staged in the block's fork, to take
//! effect when the block commits.

use std::sync::Arc;

use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::dispatcher::ArtifactState;
use wasmvisor_runtime::{
    ArtifactId, ArtifactState as RegistryArtifactState, ArtifactView, CallError, Caller, CommonError, ConfigStage,
    CoreError, ExecutionContext, InstanceId, InstanceSpec, InstanceStatus, InstanceView, LifecycleControl,
    LocalDeployStatus, LocalMigrationStatus, Meter, MigrationKind, MigrationState, NodeError, SUPERVISOR_INSTANCE_ID,
};
use wasmvisor_storage::{Fork, Namespace};

use super::checks::validate_consensus_config;
use crate::schema::{InstanceState, Schema};

use super::{Core, pending_artifact_key, pending_instance_key};

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
        let (state, runtime) = self.active_instance(fork, instance_id)?;
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
