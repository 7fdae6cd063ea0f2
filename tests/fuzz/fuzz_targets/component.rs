//! Wasm component validation with arbitrary bytes: any deploy spec, and any
//! component inside a well-formed spec, is deployed or refused with
//! `ArtifactRefused` and a reason — never a panic. The seed corpus
//! (`scripts/fuzz.sh`) holds the project's real components, so mutations
//! reach the component decoder and the import checks, not only the header.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasmvisor_proto::Message;
use wasmvisor_runtime::{ArtifactId, ErrorKind, Runtime, runtime_id};
use wasmvisor_wasm::{RuntimeErrorCode, WasmRuntime, WasmRuntimeConfig};

fn runtime() -> &'static WasmRuntime {
    static RUNTIME: OnceLock<WasmRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| WasmRuntime::new(WasmRuntimeConfig::default()).expect("the wasm runtime starts"))
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the rest is used: as a whole deploy spec, or
    // as a component wrapped in a spec with its correct hash.
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let spec = if how % 2 == 0 {
        rest.to_vec()
    } else {
        wasmvisor_wasm::deploy_spec(rest).encode_to_vec()
    };
    // A fresh name per input: nothing is deployed twice.
    let name = format!("fuzz.{}", blake3::hash(data).to_hex());
    let artifact = ArtifactId::new(runtime_id::WASM, &name, "1.0.0").expect("a valid artifact id");
    let task = runtime().deploy_artifact(artifact.clone(), spec);
    match task() {
        Ok(()) => {
            assert!(runtime().is_artifact_deployed(&artifact));
            runtime().unload_artifact(&artifact);
        }
        Err(error) => {
            assert_eq!(
                error.kind,
                ErrorKind::Runtime(RuntimeErrorCode::ArtifactRefused as u8),
                "{error:?}"
            );
            assert!(!error.description.is_empty());
        }
    }
});
