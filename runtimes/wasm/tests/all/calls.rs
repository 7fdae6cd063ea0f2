//! Service-to-service calls from wasm guests, through the dispatcher.

use std::sync::Arc;

use crate::support::spec;
use wasmvisor_artifacts::{HOSTILE, TOKEN};
use wasmvisor_dispatcher::{CommittedBlock, Dispatcher, GenesisConfig, Transaction};
use wasmvisor_proto::Message;
use wasmvisor_proto::token::TokenConfig;
use wasmvisor_runtime::{ArtifactId, CallInfo, CallLocation, ErrorKind, InstanceSpec, Runtime, runtime_id};
use wasmvisor_storage::{IndexAddress, Namespace};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

const TOKEN_ID: u32 = 2;
const CALLER_ID: u32 = 3;
const CALLEE_ID: u32 = 4;

fn chain() -> Dispatcher {
    let runtime: Arc<dyn Runtime> = Arc::new(WasmRuntime::new(WasmRuntimeConfig::default()).unwrap());
    let mut dispatcher = Dispatcher::new(Arc::new(wasmvisor_storage::MemoryDatabase::new()), vec![runtime]);
    let token = ArtifactId::new(runtime_id::WASM, "wasmvisor.token", "1.0.0").unwrap();
    let hostile = ArtifactId::new(runtime_id::WASM, "test.hostile", "1.0.0").unwrap();
    let instance = |id, name: &str, artifact: &ArtifactId| InstanceSpec {
        id,
        name: name.into(),
        artifact: artifact.clone(),
    };
    dispatcher
        .genesis(GenesisConfig {
            consensus: Default::default(),
            artifacts: vec![
                (token.clone(), spec(TOKEN.bytes)),
                (hostile.clone(), spec(HOSTILE.bytes)),
            ],
            instances: vec![
                (
                    instance(TOKEN_ID, "token", &token),
                    TokenConfig { issue_max: 0 }.encode_to_vec(),
                ),
                (instance(CALLER_ID, "caller", &hostile), vec![]),
                (instance(CALLEE_ID, "callee", &hostile), vec![]),
            ],
        })
        .unwrap();
    dispatcher
}

fn forward(target: u32, method: u32, arguments: &[u8]) -> Vec<u8> {
    [&target.to_le_bytes()[..], &method.to_le_bytes(), arguments].concat()
}

fn run(dispatcher: &mut Dispatcher, method_id: u32, arguments: Vec<u8>) -> CommittedBlock {
    let transaction = Transaction {
        author: [1; 32],
        hash: [method_id as u8; 32],
        call: CallInfo {
            instance_id: CALLER_ID,
            method_id,
        },
        arguments,
    };
    let proposal = dispatcher.execute_proposal(&[transaction]).unwrap();
    dispatcher.commit(proposal).unwrap()
}

fn entry(dispatcher: &Dispatcher, instance: u32, name: &str) -> Option<u64> {
    let mut fork = dispatcher.read_fork();
    let bytes = fork
        .entry(&IndexAddress::new(Namespace::Service(instance), name).unwrap())
        .unwrap()
        .get()
        .unwrap()?;
    // The SDK stores u64 as the protobuf wrapper: decode it the same way.
    Some(<u64 as Message>::decode(bytes.as_slice()).unwrap())
}

fn error_kind(block: &CommittedBlock) -> Option<ErrorKind> {
    block.errors.get(&CallLocation::Transaction(0)).map(|error| error.kind)
}

#[test]
fn a_guest_calls_another_service_which_writes_to_its_own_state() {
    let mut chain = chain();
    let block = run(&mut chain, 9, forward(CALLEE_ID, 6, &3u64.to_le_bytes()));
    assert_eq!(error_kind(&block), None);
    assert_eq!(
        entry(&chain, CALLEE_ID, "counter"),
        Some(3),
        "the callee counted in its own namespace"
    );
    assert_eq!(entry(&chain, CALLER_ID, "counter"), None);
}

#[test]
fn a_failed_callee_leaves_nothing_and_the_caller_may_go_on() {
    let mut chain = chain();
    let block = run(&mut chain, 10, forward(CALLEE_ID, 8, &[]));
    assert_eq!(error_kind(&block), None, "the caller swallowed the callee's failure");
    assert_eq!(
        entry(&chain, CALLEE_ID, "marker"),
        None,
        "the callee's write rolled back"
    );
    assert_eq!(
        entry(&chain, CALLER_ID, "caller-marker"),
        Some(1),
        "the caller's own write stayed"
    );
}

#[test]
fn calls_are_depth_limited_routed_to_active_instances_and_seen_as_service_calls() {
    let mut chain = chain();
    assert_eq!(
        error_kind(&run(&mut chain, 11, vec![])),
        Some(ErrorKind::Core(8)),
        "StackOverflow"
    );
    assert_eq!(
        error_kind(&run(&mut chain, 9, forward(99, 0, &[]))),
        Some(ErrorKind::Core(7)),
        "no such instance"
    );
    // The token requires a transaction's author; a service caller has none.
    assert_eq!(
        error_kind(&run(&mut chain, 9, forward(TOKEN_ID, 0, &[]))),
        Some(ErrorKind::Common(2))
    );
    run(&mut chain, 12, b"token".to_vec());
    assert_eq!(entry(&chain, CALLER_ID, "found"), Some(u64::from(TOKEN_ID)));
    run(&mut chain, 12, b"nobody".to_vec());
    assert_eq!(entry(&chain, CALLER_ID, "found"), Some(u64::MAX));
}

#[test]
fn queries_cannot_call_other_services() {
    let chain = chain();
    assert_eq!(
        chain.query("caller", "call-out", &[]).unwrap(),
        vec![14],
        "IncorrectCall"
    );
}
