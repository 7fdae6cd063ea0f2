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

use prost::Message;
use wasmvisor_proto::dispatcher::{
    ArtifactRecord, ArtifactState as ProtoArtifactState, InstanceRecord, InstanceStatusCode, InstanceStatusRecord,
};
use wasmvisor_proto::runtime::InstanceSpec as ProtoInstanceSpec;
use wasmvisor_proto::supervisor::{ServicesView, SupervisorConfig};
use wasmvisor_sdk::{
    Call, CommonError, ExecutionError, InstanceStatus, MigrationPlan, ProofEntry, QueryError, Service, common_error,
};

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

fn internal(error: ExecutionError) -> QueryError {
    QueryError::Internal(error.description)
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

impl Service for Supervisor {
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        let config = SupervisorConfig::decode(params.as_slice()).map_err(|error| {
            common_error(
                CommonError::MalformedArguments,
                format!("SupervisorConfig does not decode: {error}"),
            )
        })?;
        supervisor_config().set(&config)
    }

    fn execute(call: Call) -> Result<(), ExecutionError> {
        call.require_default_interface()?;
        match call.method_id {
            deploy::REQUEST_ARTIFACT_DEPLOY => deploy::request(call.decode()?),
            deploy::REPORT_DEPLOY_RESULT => deploy::report(call.decode()?),
            proposals::PROPOSE_CONFIG_CHANGE => proposals::propose(call.decode()?),
            proposals::CONFIRM_CONFIG_CHANGE => proposals::vote(call.decode()?),
            migrations::REQUEST_MIGRATION => migrations::request(call.decode()?),
            migrations::REPORT_MIGRATION_RESULT => migrations::report(call.decode()?),
            _ => Err(call.no_such_method()),
        }
    }

    /// Three independent steps: a failing step (an error, not a trap)
    /// keeps only its own work from happening — it is tried again next
    /// block — and the others go on. Each step reads only what is pending
    /// (never the history), and each write it makes stands on its own.
    fn before_transactions() -> Result<(), ExecutionError> {
        let _expired = deploy::expire();
        let _flushed = migrations::before_transactions();
        let _dropped = proposals::drop_expired();
        Ok(())
    }

    fn after_transactions() -> Result<(), ExecutionError> {
        proposals::enact()
    }

    fn after_commit() {
        deploy::after_commit();
        migrations::after_commit();
    }

    /// A newer supervisor keeps this data layout: fast-forward.
    fn plan_migration(_from_version: String) -> MigrationPlan {
        MigrationPlan::FastForward
    }

    fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "consensus-config" => Ok(dispatcher::consensus_config()),
            "config-proposal" => proposals::pending_proposal()
                .map_err(internal)?
                .map(|state| state.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("no proposal is pending".into())),
            "services" => Ok(services().encode_to_vec()),
            "configuration-number" => Ok(proposals::current_configuration_number()
                .map_err(internal)?
                .encode_to_vec()),
            "deploy-status" => deploy::status(&arguments)
                .map(|state| state.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("no such deploy request".into())),
            "deploy-status-by-hash" => deploy::status_by_hash(&arguments)
                .map(|state| state.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("no deploy request has this hash".into())),
            "migration-status" => migrations::status(&arguments)
                .map(|state| state.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("no such migration request".into())),
            "supervisor-config" => supervisor_config()
                .get()
                .map_err(internal)?
                .map(|config| config.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("the supervisor is not initialized".into())),
            "validator-count" => {
                let count = dispatcher::validators().len() as u32;
                Ok(count.encode_to_vec())
            }
            "supervisor-artifact" => {
                Ok(registry::proto_artifact(&wasmvisor_sdk::context::instance().artifact).encode_to_vec())
            }
            _ => Err(QueryError::NotFound(format!("no query named {method:?}"))),
        }
    }
}

wasmvisor_sdk::export_service!(Supervisor);
