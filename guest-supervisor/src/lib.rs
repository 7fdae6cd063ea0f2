//! The supervisor service (instance 0) as a wasm component.
//!
//! It is the only component linked with the privileged `dispatcher`
//! interface. Implemented so far: its own configuration (the decision
//! mode) and the deploy flow (methods 0 `request_artifact_deploy` and 1
//! `report_deploy_result`, deadlines, local deploys and reports in
//! after-commit). Proposals, votes and migrations (methods 2–5) are not
//! implemented yet and fail with `NoSuchMethod`.
//!
//! Constructor parameters: `SupervisorConfig`. Queries:
//! `supervisor-config` (answer `SupervisorConfig`), `validator-count`
//! (answer: protobuf `uint32` wrapper), `deploy-status` (argument
//! `DeployRequest`, answer `DeployState`).

mod deploy;
mod errors;
mod validators;

use prost::Message;
use wasmvisor_proto::supervisor::SupervisorConfig;
use wasmvisor_sdk::{Call, CommonError, ExecutionError, ProofEntry, QueryError, Service, common_error};

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

pub(crate) fn supervisor_config() -> ProofEntry<SupervisorConfig> {
    ProofEntry::new("config")
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
            _ => Err(call.no_such_method()),
        }
    }

    fn before_transactions() -> Result<(), ExecutionError> {
        deploy::expire()
    }

    fn after_commit() {
        deploy::after_commit();
    }

    fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "deploy-status" => deploy::status(&arguments)
                .map(|state| state.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("no such deploy request".into())),
            "supervisor-config" => supervisor_config()
                .get()
                .map_err(|error| QueryError::Internal(error.description))?
                .map(|config| config.encode_to_vec())
                .ok_or_else(|| QueryError::NotFound("the supervisor is not initialized".into())),
            "validator-count" => {
                let count = dispatcher::validators().len() as u32;
                Ok(count.encode_to_vec())
            }
            _ => Err(QueryError::NotFound(format!("no query named {method:?}"))),
        }
    }
}

wasmvisor_sdk::export_service!(Supervisor);
