//! The supervisor service (instance 0) as a wasm component.
//!
//! It is the only component linked with the privileged `dispatcher`
//! interface. This first slice holds the supervisor's own configuration
//! (its decision mode) and reads the validator set through the dispatcher;
//! the governance transactions (deploys, proposals, votes, migrations) are
//! not implemented yet, and every transaction currently fails with
//! `NoSuchMethod`.
//!
//! Constructor parameters: `SupervisorConfig`. Queries:
//! `supervisor-config` (answer `SupervisorConfig`), `validator-count`
//! (answer: protobuf `uint32` wrapper).

use prost::Message;
use wasmvisor_proto::supervisor::SupervisorConfig;
use wasmvisor_sdk::{CommonError, ExecutionError, ProofEntry, QueryError, Service, common_error};

mod privileged {
    wit_bindgen::generate!({
        path: "../wit",
        world: "dispatcher-client",
        with: {
            "wasmvisor:service/types@0.1.0": wasmvisor_sdk::bindings::wasmvisor::service::types,
        },
    });
}

use privileged::wasmvisor::service::dispatcher;

fn supervisor_config() -> ProofEntry<SupervisorConfig> {
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

    fn query(method: String, _arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
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
