//! The supervisor service (instance 0) as a wasm component.
//!
//! It is the only component linked with the privileged `dispatcher`
//! interface, and it decides every lifecycle event through signed
//! transactions of validators:
//!
//! | method | payload | module |
//! | --- | --- | --- |
//! | 0 request_artifact_deploy | `DeployRequest` | [`deploy`] |
//! | 1 report_deploy_result | `DeployResult` | [`deploy`] |
//! | 2 propose_config_change | `ConfigPropose` | [`proposals`] |
//! | 3 confirm_config_change | `ConfigVote` | [`proposals`] |
//! | 4 request_migration | `MigrationRequest` | [`migrations`] |
//! | 5 report_migration_result | `MigrationResult` | [`migrations`] |
//!
//! Hooks: before the transactions, deploys and migrations past their
//! deadline time out, committed migrations are flushed and a proposal whose
//! `actual_from` came unapproved is dropped; after them, an approved
//! proposal due next height is enacted; after commit, validators deploy and
//! migrate locally and report.
//!
//! Constructor parameters: `SupervisorConfig` (the mode; changed later by
//! a Service config change aimed at instance 0). Queries (answers are
//! protobuf): `consensus-config` (`ConsensusConfig`), `config-proposal`
//! (`ConfigProposalState`), `services` (`ServicesView`),
//! `configuration-number` (`uint64`), `supervisor-config`
//! (`SupervisorConfig`), `deploy-status` (argument `DeployRequest`, answer
//! `DeployState`; `deploy-status-by-hash` takes the request's 32-byte
//! blake3 hash instead), `migration-status` (argument `MigrationRequest`, answer
//! `MigrationState`), `validator-count` (`uint32`), `supervisor-artifact`
//! (this instance's `ArtifactId`).
//!
//! A new supervisor artifact takes over by fast-forward migration of
//! instance 0 (its `plan-migration` keeps this data layout).

mod deploy;
mod errors;
mod migrations;
mod proposals;
mod registry;
mod validators;

use errors::SupervisorError;
use prost::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::dispatcher::{
    ArtifactRecord, ArtifactState as ProtoArtifactState, InstanceRecord, InstanceStatusCode, InstanceStatusRecord,
};
use wasmvisor_proto::runtime::{ArtifactId, InstanceSpec as ProtoInstanceSpec};
use wasmvisor_proto::supervisor::{
    ConfigProposalState, ConfigPropose, ConfigVote, DeployRequest, DeployResult, DeployState, MigrationRequest,
    MigrationResult, MigrationState, ServicesView, SupervisorConfig,
};
use wasmvisor_sdk::{ExecutionError, InstanceStatus, MigrationPlan, ProofEntry, QueryError};

pub(crate) mod privileged {
    wit_bindgen::generate!({
        path: "../wit",
        world: "dispatcher-client",
        with: {
            "wasmvisor:service/types@0.1.0": wasmvisor_sdk::bindings::wasmvisor::service::types,
        },
    });
}

use privileged::wasmvisor::service::dispatcher;

/// Name of the supervisor's artifact (every version).
pub(crate) const SUPERVISOR_ARTIFACT_NAME: &str = "wasmvisor.supervisor";

pub(crate) fn supervisor_config() -> ProofEntry<SupervisorConfig> {
    ProofEntry::new("config")
}

fn status_record(status: &Option<InstanceStatus>) -> Option<InstanceStatusRecord> {
    let status = status.as_ref()?;
    let (code, target) = match status {
        InstanceStatus::Active => (InstanceStatusCode::StatusActive, None),
        InstanceStatus::Stopped => (InstanceStatusCode::StatusStopped, None),
        InstanceStatus::Frozen => (InstanceStatusCode::StatusFrozen, None),
        InstanceStatus::Migrating(target) => (
            InstanceStatusCode::StatusMigrating,
            Some(registry::proto_artifact(target)),
        ),
    };
    Some(InstanceStatusRecord {
        code: code as i32,
        migration_target: target,
        migration_hash: Vec::new(),
    })
}

/// The `services` query: every artifact and instance with its state.
fn services() -> ServicesView {
    let artifacts = dispatcher::artifacts()
        .iter()
        .map(|record| ArtifactRecord {
            artifact: Some(registry::proto_artifact(&record.id)),
            state: match record.state {
                dispatcher::ArtifactState::Active => ProtoArtifactState::ArtifactActive,
                dispatcher::ArtifactState::Deploying => ProtoArtifactState::ArtifactDeploying,
                dispatcher::ArtifactState::Unloading => ProtoArtifactState::ArtifactUnloading,
            } as i32,
            spec_hash: record.spec_hash.clone(),
        })
        .collect();
    let instances = dispatcher::instances()
        .iter()
        .map(|record| InstanceRecord {
            spec: Some(ProtoInstanceSpec {
                id: record.spec.id,
                name: record.spec.name.clone(),
                artifact: Some(registry::proto_artifact(&record.spec.artifact)),
            }),
            status: status_record(&record.status),
            pending: status_record(&record.pending_status),
            data_version: record.data_version.clone().unwrap_or_default(),
        })
        .collect();
    ServicesView { artifacts, instances }
}

struct Supervisor;

#[wasmvisor_sdk::service(errors = SupervisorError, descriptors = wasmvisor_proto::supervisor::FILE_DESCRIPTOR_SET)]
impl Supervisor {
    #[constructor]
    fn initialize(config: SupervisorConfig) -> Result<(), ExecutionError> {
        supervisor_config().set(&config)
    }

    #[method(id = 0)]
    fn request_artifact_deploy(request: DeployRequest) -> Result<(), ExecutionError> {
        deploy::request(request)
    }

    #[method(id = 1)]
    fn report_deploy_result(result: DeployResult) -> Result<(), ExecutionError> {
        deploy::report(result)
    }

    #[method(id = 2)]
    fn propose_config_change(propose: ConfigPropose) -> Result<(), ExecutionError> {
        proposals::propose(propose)
    }

    #[method(id = 3)]
    fn confirm_config_change(vote: ConfigVote) -> Result<(), ExecutionError> {
        proposals::vote(vote)
    }

    #[method(id = 4)]
    fn request_migration(request: MigrationRequest) -> Result<(), ExecutionError> {
        migrations::request(request)
    }

    #[method(id = 5)]
    fn report_migration_result(result: MigrationResult) -> Result<(), ExecutionError> {
        migrations::report(result)
    }

    /// Three independent steps: a failing step (an error, not a trap)
    /// keeps only its own work from happening — it is tried again next
    /// block — and the others go on. Each step reads only what is pending
    /// (never the history), and each write it makes stands on its own.
    #[hook]
    fn before_transactions() -> Result<(), ExecutionError> {
        let _expired = deploy::expire();
        let _flushed = migrations::before_transactions();
        let _dropped = proposals::drop_expired();
        Ok(())
    }

    #[hook]
    fn after_transactions() -> Result<(), ExecutionError> {
        proposals::enact()
    }

    #[hook]
    fn after_commit() {
        deploy::after_commit();
        migrations::after_commit();
    }

    /// A newer supervisor keeps this data layout: fast-forward.
    #[hook]
    fn plan_migration(_from_version: String) -> MigrationPlan {
        MigrationPlan::FastForward
    }

    #[query(name = "consensus-config")]
    fn consensus_config() -> Result<ConsensusConfig, QueryError> {
        ConsensusConfig::decode(dispatcher::consensus_config().as_slice())
            .map_err(|error| QueryError::Internal(format!("the consensus configuration does not decode: {error}")))
    }

    #[query(name = "config-proposal")]
    fn config_proposal() -> Result<ConfigProposalState, QueryError> {
        proposals::pending_proposal()?.ok_or_else(|| QueryError::NotFound("no proposal is pending".into()))
    }

    #[query(name = "services")]
    fn services_view() -> Result<ServicesView, QueryError> {
        Ok(services())
    }

    /// A `uint64` in protobuf's wrapper encoding (field 1).
    #[query(name = "configuration-number", private)]
    fn configuration_number() -> Result<Vec<u8>, QueryError> {
        Ok(proposals::current_configuration_number()?.encode_to_vec())
    }

    /// Argument: the encoded `DeployRequest`.
    #[query(name = "deploy-status", private)]
    fn deploy_status(request: Vec<u8>) -> Result<DeployState, QueryError> {
        deploy::status(&request).ok_or_else(|| QueryError::NotFound("no such deploy request".into()))
    }

    /// Argument: the request's 32-byte blake3 hash.
    #[query(name = "deploy-status-by-hash", private)]
    fn deploy_status_by_hash(hash: Vec<u8>) -> Result<DeployState, QueryError> {
        deploy::status_by_hash(&hash).ok_or_else(|| QueryError::NotFound("no deploy request has this hash".into()))
    }

    /// Argument: the encoded `MigrationRequest`.
    #[query(name = "migration-status", private)]
    fn migration_status(request: Vec<u8>) -> Result<MigrationState, QueryError> {
        migrations::status(&request).ok_or_else(|| QueryError::NotFound("no such migration request".into()))
    }

    #[query(name = "supervisor-config", private)]
    fn stored_config() -> Result<SupervisorConfig, QueryError> {
        supervisor_config()
            .get()?
            .ok_or_else(|| QueryError::NotFound("the supervisor is not initialized".into()))
    }

    /// A `uint32` in protobuf's wrapper encoding (field 1).
    #[query(name = "validator-count")]
    fn validator_count() -> Result<Vec<u8>, QueryError> {
        Ok((dispatcher::validators().len() as u32).encode_to_vec())
    }

    #[query(name = "supervisor-artifact")]
    fn supervisor_artifact() -> Result<ArtifactId, QueryError> {
        Ok(registry::proto_artifact(&wasmvisor_sdk::context::instance().artifact))
    }
}
