//! The compiled-artifact cache: a warm restart compiles nothing; corrupt
//! entries are detected and recompiled, never executed.

use std::sync::Arc;

use wasmvisor_artifacts::TOKEN;
use wasmvisor_dispatcher::{Dispatcher, GenesisConfig};
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{TokenConfig, WalletQuery};
use wasmvisor_runtime::{ArtifactId, InstanceSpec, Runtime, runtime_id};
use wasmvisor_storage::{Database, RocksDatabase};
use wasmvisor_wasm::{CompiledCache, WasmRuntime, WasmRuntimeConfig, deterministic_engine};

fn runtime(cache_dir: &std::path::Path) -> Arc<WasmRuntime> {
    let config = WasmRuntimeConfig {
        compiled_cache_dir: Some(cache_dir.to_path_buf()),
        ..WasmRuntimeConfig::default()
    };
    Arc::new(WasmRuntime::new(config).unwrap())
}

fn genesis() -> GenesisConfig {
    let artifact = ArtifactId::new(runtime_id::WASM, "wasmvisor.token", "1.0.0").unwrap();
    let spec = wasmvisor_wasm::deploy_spec(TOKEN.bytes);
    GenesisConfig {
        consensus: Default::default(),
        artifacts: vec![(artifact.clone(), spec.encode_to_vec())],
        instances: vec![(
            InstanceSpec {
                id: 2,
                name: "token".into(),
                artifact,
            },
            TokenConfig { issue_max: 0 }.encode_to_vec(),
        )],
    }
}

fn restart(data_dir: &std::path::Path, cache_dir: &std::path::Path) -> (Dispatcher, Arc<WasmRuntime>) {
    let wasm = runtime(cache_dir);
    let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(data_dir).unwrap());
    let mut dispatcher = Dispatcher::new(database, vec![Arc::clone(&wasm) as Arc<dyn Runtime>]);
    dispatcher.resume().unwrap();
    (dispatcher, wasm)
}

fn still_serves(dispatcher: &Dispatcher) {
    // The token itself must answer (its own "no wallet" message), not the
    // dispatcher's "no service" — both are NotFound.
    let answer = dispatcher.query("token", "wallet", &WalletQuery { owner: vec![1; 32] }.encode_to_vec());
    match answer {
        Err(wasmvisor_runtime::QueryError::NotFound(message)) => {
            assert!(message.contains("no wallet"), "the token did not answer: {message}")
        }
        other => panic!("expected the token's NotFound, got {other:?}"),
    }
}

#[test]
fn a_warm_restart_compiles_nothing_and_a_corrupt_entry_is_recompiled() {
    let data = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let root = {
        let wasm = runtime(cache.path());
        let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(data.path()).unwrap());
        let mut dispatcher = Dispatcher::new(database, vec![Arc::clone(&wasm) as Arc<dyn Runtime>]);
        dispatcher.genesis(genesis()).unwrap();
        assert_eq!(wasm.cache_stats(), (1, 0, 0), "a cold start compiles once");
        let root = dispatcher.state_root().unwrap();
        dispatcher.shutdown();
        root
    };

    let (dispatcher, wasm) = restart(data.path(), cache.path());
    assert_eq!(wasm.cache_stats(), (0, 1, 0), "a warm restart loads the compiled code");
    assert_eq!(dispatcher.state_root().unwrap(), root);
    still_serves(&dispatcher);
    dispatcher.shutdown();

    // Corrupt the entry: one flipped byte in the payload.
    let name = CompiledCache::open(cache.path(), &deterministic_engine().unwrap())
        .unwrap()
        .entry_name(blake3::hash(TOKEN.bytes).as_bytes());
    assert!(
        name.chars()
            .all(|c| c.is_ascii_hexdigit() || c == '-' || c == '.' || c.is_ascii_lowercase())
    );
    let path = cache.path().join(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&path, &bytes).unwrap();

    let (dispatcher, wasm) = restart(data.path(), cache.path());
    assert_eq!(
        wasm.cache_stats(),
        (1, 0, 1),
        "the corrupt entry is rejected and recompiled"
    );
    still_serves(&dispatcher);
    dispatcher.shutdown();

    // The recompiled entry replaced the corrupt one; a truncated entry is
    // rejected too.
    let (_, wasm) = restart(data.path(), cache.path());
    assert_eq!(wasm.cache_stats(), (0, 1, 0));
    std::fs::write(&path, &bytes[..16]).unwrap();
    let (dispatcher, wasm) = restart(data.path(), cache.path());
    assert_eq!(wasm.cache_stats(), (1, 0, 1));
    still_serves(&dispatcher);
}
