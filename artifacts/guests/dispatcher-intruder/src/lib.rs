//! Test guest: a service that is not the supervisor but imports the
//! privileged `dispatcher` interface. The wasm runtime must refuse to deploy
//! it, and the linker for ordinary services does not even contain the
//! interface, so it cannot be instantiated as one either.

use wasmvisor_sdk::{Call, Entry, ExecutionError, QueryError, Service};

fn deploy_probe() -> Entry<bool> {
    Entry::new("deploy-probe")
}

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
            // Turns on the deploy probe of after-commit.
            2 => deploy_probe().set(&true),
            _ => Err(call.no_such_method()),
        }
    }

    /// After every block, asks the node to broadcast method 1 ("ping").
    /// With the deploy probe on, also broadcasts the node's key (method 3),
    /// requests a local deploy of a bogus artifact once, and broadcasts its
    /// failure reason when the node reports one (method 4).
    fn after_commit() {
        use privileged::wasmvisor::service::dispatcher::{self, LocalOutcome};
        let _ignored = dispatcher::broadcast(1, b"ping");
        if !deploy_probe().get().ok().flatten().unwrap_or(false) {
            return;
        }
        if let Some(key) = dispatcher::node_service_key() {
            let _ignored = dispatcher::broadcast(3, &key);
        }
        let bogus = wasmvisor_sdk::ArtifactId {
            runtime_id: 1,
            name: "test.bogus".into(),
            version: "1.0.0".into(),
        };
        match dispatcher::local_deploy_status(&bogus) {
            LocalOutcome::Unknown => {
                let _ignored = dispatcher::request_local_deploy(&bogus, b"not a deploy spec");
            }
            LocalOutcome::Failed(reason) => {
                let _ignored = dispatcher::broadcast(4, reason.as_bytes());
            }
            LocalOutcome::Pending | LocalOutcome::Succeeded(_) => {}
        }
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
