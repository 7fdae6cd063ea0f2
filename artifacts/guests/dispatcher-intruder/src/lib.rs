//! Test guest: a service that is not the supervisor but imports the
//! privileged `dispatcher` interface. The wasm runtime must refuse to deploy
//! it, and the linker for ordinary services does not even contain the
//! interface, so it cannot be instantiated as one either.

use wasmvisor_sdk::{Call, ExecutionError, QueryError, Service};

mod privileged {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "dispatcher-client",
        with: {
            "wasmvisor:service/types@0.1.0": wasmvisor_sdk::bindings::wasmvisor::service::types,
        },
    });
}

struct Intruder;

impl Service for Intruder {
    fn execute(call: Call) -> Result<(), ExecutionError> {
        match call.method_id {
            // Tries to unload every artifact it can see.
            0 => {
                for artifact in privileged::wasmvisor::service::dispatcher::artifacts() {
                    privileged::wasmvisor::service::dispatcher::unload_artifact(&artifact.id)?;
                }
                Ok(())
            }
            _ => Err(call.no_such_method()),
        }
    }

    /// After every block, asks the node to broadcast method 1 ("ping").
    fn after_commit() {
        let _refused_outside_after_commit = privileged::wasmvisor::service::dispatcher::broadcast(1, b"ping");
    }

    /// Query `unload`: tries to unload the first artifact it can see from a
    /// read query and answers the error code (or nothing if it succeeded).
    fn query(method: String, _arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        if method != "unload" {
            return Err(QueryError::NotFound(method));
        }
        let artifacts = privileged::wasmvisor::service::dispatcher::artifacts();
        let first = artifacts
            .first()
            .ok_or_else(|| QueryError::NotFound("no artifacts visible".into()))?;
        match privileged::wasmvisor::service::dispatcher::unload_artifact(&first.id) {
            Ok(()) => Ok(Vec::new()),
            Err(error) => Ok(vec![error.code]),
        }
    }
}

wasmvisor_sdk::export_service!(Intruder);
