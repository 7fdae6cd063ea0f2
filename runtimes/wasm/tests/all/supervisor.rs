//! The supervisor world: only the supervisor's artifact is linked with the
//! `dispatcher` interface, and through it reaches the lifecycle mechanism.

use std::sync::Arc;

use crate::support::spec;
use wasmvisor_artifacts::{DISPATCHER_INTRUDER, SUPERVISOR, TOKEN};
use wasmvisor_dispatcher::{Dispatcher, GenesisConfig, Transaction};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{SupervisorConfig, SupervisorMode};
use wasmvisor_proto::token::TokenConfig;
use wasmvisor_runtime::{ArtifactId, CallInfo, CallLocation, ErrorKind, InstanceSpec, Runtime, runtime_id};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

fn chain(supervisor_bytes: &[u8], supervisor_params: Vec<u8>) -> Dispatcher {
    let runtime: Arc<dyn Runtime> = Arc::new(WasmRuntime::new(WasmRuntimeConfig::default()).unwrap());
    let mut dispatcher = Dispatcher::new(Arc::new(wasmvisor_storage::MemoryDatabase::new()), vec![runtime]);
    let supervisor = ArtifactId::new(runtime_id::WASM, "wasmvisor.supervisor", "1.0.0").unwrap();
    let token = ArtifactId::new(runtime_id::WASM, "wasmvisor.token", "1.0.0").unwrap();
    dispatcher
        .genesis(GenesisConfig {
            consensus: Default::default(),
            artifacts: vec![
                (supervisor.clone(), spec(supervisor_bytes)),
                (token.clone(), spec(TOKEN.bytes)),
            ],
            instances: vec![
                (
                    InstanceSpec {
                        id: 0,
                        name: "supervisor".into(),
                        artifact: supervisor,
                    },
                    supervisor_params,
                ),
                (
                    InstanceSpec {
                        id: 2,
                        name: "token".into(),
                        artifact: token,
                    },
                    TokenConfig { issue_max: 0 }.encode_to_vec(),
                ),
            ],
        })
        .unwrap();
    dispatcher
}

#[test]
fn the_supervisor_component_runs_as_instance_zero() {
    let config = SupervisorConfig {
        mode: SupervisorMode::Decentralized as i32,
    };
    let chain = chain(SUPERVISOR.bytes, config.encode_to_vec());
    let answer = chain.query("supervisor", "supervisor-config", &[]).unwrap();
    assert_eq!(SupervisorConfig::decode(answer.as_slice()).unwrap(), config);
}

#[test]
fn the_dispatcher_interface_reaches_the_lifecycle_mechanism() {
    // The intruder's bytes, deployed under the supervisor's artifact name,
    // get the dispatcher: its method 0 reads the artifact registry and tries
    // to unload what it finds, which the dispatcher refuses for artifacts in
    // use (CannotUnloadArtifact, 15).
    let mut chain = chain(DISPATCHER_INTRUDER.bytes, vec![]);
    let transaction = Transaction {
        author: [1; 32],
        hash: [1; 32],
        call: CallInfo {
            instance_id: 0,
            method_id: 0,
        },
        arguments: vec![],
    };
    let proposal = chain.execute_proposal(&[transaction]).unwrap();
    assert_eq!(proposal.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Core(15));
}

#[test]
fn lifecycle_transitions_are_refused_in_read_queries() {
    // The supervisor can read the registry from a query, but not change it.
    let chain = chain(DISPATCHER_INTRUDER.bytes, vec![]);
    assert_eq!(
        chain.query("supervisor", "unload", &[]).unwrap(),
        vec![14],
        "IncorrectCall"
    );
}
