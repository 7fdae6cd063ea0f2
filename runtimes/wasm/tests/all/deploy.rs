//! Deploying through the runtime contract: the spec is checked (size,
//! blake3 hash, component, imports against the privilege class) in the
//! deploy task, off the block path.

use crate::support::spec;
use wasmvisor_artifacts::{DISPATCHER_INTRUDER, TOKEN};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::WasmDeploySpec;
use wasmvisor_runtime::{ArtifactId, ErrorKind, Runtime, runtime_id};
use wasmvisor_wasm::{RuntimeErrorCode, WasmRuntime, WasmRuntimeConfig, limits::COMPONENT_BYTES_MAX};

fn deploy(runtime: &WasmRuntime, name: &str, spec: Vec<u8>) -> Result<(), wasmvisor_runtime::ExecutionError> {
    deploy_version(runtime, name, "1.0.0", spec)
}

fn deploy_version(
    runtime: &WasmRuntime,
    name: &str,
    version: &str,
    spec: Vec<u8>,
) -> Result<(), wasmvisor_runtime::ExecutionError> {
    let artifact = ArtifactId::new(runtime_id::WASM, name, version).unwrap();
    let task = runtime.deploy_artifact(artifact.clone(), spec);
    assert!(
        !runtime.is_artifact_deployed(&artifact),
        "nothing is compiled until the task runs"
    );
    let result = task();
    assert_eq!(runtime.is_artifact_deployed(&artifact), result.is_ok());
    result
}

fn refused_with(result: Result<(), wasmvisor_runtime::ExecutionError>, needle: &str) {
    let error = result.expect_err("the deploy must be refused");
    assert_eq!(error.kind, ErrorKind::Runtime(RuntimeErrorCode::ArtifactRefused as u8));
    assert!(
        error.description.contains(needle),
        "{:?} does not mention {needle:?}",
        error.description
    );
}

#[test]
fn a_valid_component_deploys() {
    let runtime = WasmRuntime::new(WasmRuntimeConfig::default()).unwrap();
    deploy(&runtime, "wasmvisor.token", spec(TOKEN.bytes)).unwrap();
}

#[test]
fn bad_specs_are_refused_with_the_reason() {
    let runtime = WasmRuntime::new(WasmRuntimeConfig::default()).unwrap();
    let mut wrong_hash = WasmDeploySpec::decode(spec(TOKEN.bytes).as_slice()).unwrap();
    wrong_hash.component_hash[0] ^= 1;
    refused_with(deploy(&runtime, "a", wrong_hash.encode_to_vec()), "hash does not match");
    refused_with(deploy(&runtime, "b", vec![0xff; 10]), "does not decode");
    refused_with(
        deploy(&runtime, "c", spec(b"\0asm\x0d\0\x01\0 not a component")),
        "not a valid wasm component",
    );
    refused_with(
        deploy(&runtime, "d", spec(&vec![0; COMPONENT_BYTES_MAX + 1])),
        "exceeds the maximum",
    );
    // A component holding more than the pool gives one component is
    // refused here, the same on every node, not when an instance of it
    // cannot be made.
    refused_with(
        deploy(&runtime, "e", spec(&component_instantiating(&[1, 1]))),
        "linear memories",
    );
    refused_with(
        deploy(&runtime, "f", spec(&component_instantiating(&[0; 17]))),
        "core module instances",
    );
}

/// A component of one core module per entry of `memories` (with that many
/// memories, 0 or 1), each instantiated once.
fn component_instantiating(memories: &[u8]) -> Vec<u8> {
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    for &count in memories {
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        if count == 1 {
            // Memory section: one memory of at least one page.
            module.extend([0x05, 0x03, 0x01, 0x00, 0x01]);
        }
        component.extend([0x01, module.len() as u8]);
        component.extend(module);
    }
    // Core instance section: module i instantiated with no arguments.
    let mut instances = vec![memories.len() as u8];
    for index in 0..memories.len() {
        instances.extend([0x00, index as u8, 0x00]);
    }
    component.extend([0x02, instances.len() as u8]);
    component.extend(instances);
    component
}

#[test]
fn only_the_supervisor_artifact_may_import_the_dispatcher() {
    let runtime = WasmRuntime::new(WasmRuntimeConfig::default()).unwrap();
    refused_with(
        deploy(&runtime, "sneaky.service", spec(DISPATCHER_INTRUDER.bytes)),
        "dispatcher",
    );
    // Under the supervisor's artifact name the same bytes are accepted:
    // the boundary is the privilege class of the artifact.
    deploy(&runtime, "wasmvisor.supervisor", spec(DISPATCHER_INTRUDER.bytes)).unwrap();
    deploy_version(
        &runtime,
        "wasmvisor.supervisor",
        "2.0.0",
        spec(wasmvisor_artifacts::SUPERVISOR.bytes),
    )
    .unwrap();
}
