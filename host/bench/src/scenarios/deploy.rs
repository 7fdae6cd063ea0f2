//! `deploy`: what wasm artifacts cost to compile, to load from the compiled
//! cache, and to bring back when a node restarts.
//!
//! - `compile_ms_per_mib`: every built guest component compiled by the
//!   deterministic engine (cranelift, parallel compilation on every core)
//!   and validated; total time over total size, median of [`RUNS`] after a
//!   warm-up.
//! - `cache_load_ms_per_mib`: the same components loaded from the
//!   compiled cache (read, blake3 integrity check, deserialize).
//! - `restart_s`: a node on RocksDB with 1, 10 or 50 wasm system services,
//!   each a distinct artifact (the token component with a distinct custom
//!   section, so no two share compiled code), plus the supervisor: the
//!   time from `Node::open` on the existing data directory to the commit of
//!   the first new block — with the node's compiled cache (`warm`) or with
//!   an empty cache directory (`cold`: every artifact compiled again).
//!   Median of [`RESTARTS`] restarts each.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use wasm_encoder::{ComponentSection, CustomSection};
use wasmvisor_node::system::{SystemServiceConfig, SystemServicesConfig};
use wasmvisor_node::{Node, NodeConfig};
use wasmvisor_wasm::{CacheLookup, CompiledCache, Privilege, ServiceComponent, deterministic_engine};

use crate::report::{Figure, median_s, note, repeat, time};

/// Measured compilations and loads of each component.
pub const RUNS: usize = 3;
/// Measured restarts per configuration.
pub const RESTARTS: usize = 3;
/// Numbers of deployed artifacts measured.
pub const ARTIFACT_COUNTS: [usize; 3] = [1, 10, 50];

const MIB: f64 = (1 << 20) as f64;

fn components() -> Vec<(&'static str, &'static [u8], Privilege)> {
    use wasmvisor_artifacts::{GUESTBOOK, NOTEBOOK, PROBE, SUPERVISOR, TOKEN};
    let mut components: Vec<_> = [TOKEN, GUESTBOOK, NOTEBOOK, PROBE]
        .iter()
        .map(|guest| (guest.name, guest.bytes, Privilege::Service))
        .collect();
    components.push((SUPERVISOR.name, SUPERVISOR.bytes, Privilege::Supervisor));
    components
}

fn compile_and_load() -> anyhow::Result<()> {
    let engine = deterministic_engine().map_err(|error| anyhow!("{error}"))?;
    let components = components();
    let total_mib = components.iter().map(|(_, bytes, _)| bytes.len()).sum::<usize>() as f64 / MIB;
    let compile = |(_, bytes, privilege): &(&str, &[u8], Privilege)| {
        ServiceComponent::compile(&engine, bytes, *privilege).expect("a built guest compiles")
    };
    let compiles = repeat(RUNS, || {
        time(|| {
            components.iter().for_each(|component| drop(compile(component)));
        })
    });
    Figure::new(
        "deploy",
        "compile_ms_per_mib",
        median_s(&compiles) * 1e3 / total_mib,
        "ms/MiB",
    )
    .with("components", components.len())
    .with("total_bytes", (total_mib * MIB) as u64)
    .print();

    let directory = tempfile::tempdir().context("a temporary directory")?;
    let cache = CompiledCache::open(directory.path(), &engine).map_err(|error| anyhow!("{error}"))?;
    let hashes: Vec<[u8; 32]> = components
        .iter()
        .map(|component| {
            let hash = *blake3::hash(component.1).as_bytes();
            cache
                .store(&hash, compile(component).component())
                .map(|()| hash)
                .map_err(|error| anyhow!("{error}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let loads = repeat(RUNS, || {
        time(|| {
            for hash in &hashes {
                match cache.load(&engine, hash) {
                    CacheLookup::Hit(component) => drop(component),
                    _ => panic!("a stored component loads"),
                }
            }
        })
    });
    Figure::new(
        "deploy",
        "cache_load_ms_per_mib",
        median_s(&loads) * 1e3 / total_mib,
        "ms/MiB",
    )
    .with("components", components.len())
    .print();
    Figure::new(
        "deploy",
        "cache_load_ms_per_artifact",
        median_s(&loads) * 1e3 / components.len() as f64,
        "ms",
    )
    .print();
    Ok(())
}

/// `bytes` with a custom section named `wasmvisor-bench` holding `tag`
/// appended: the same code under a different hash.
fn with_custom_section(bytes: &[u8], tag: usize) -> Vec<u8> {
    let section = CustomSection {
        name: "wasmvisor-bench".into(),
        data: tag.to_le_bytes().to_vec().into(),
    };
    let mut out = bytes.to_vec();
    section.append_to_component(&mut out);
    out
}

fn node_config(directory: &Path, artifacts: usize, cache: PathBuf) -> anyhow::Result<NodeConfig> {
    let mut config = NodeConfig::development(directory.join("node"));
    let mut services = SystemServicesConfig::default();
    for index in 0..artifacts {
        let component = directory.join(format!("token-{index}.wasm"));
        if !component.exists() {
            std::fs::write(&component, with_custom_section(wasmvisor_artifacts::TOKEN.bytes, index))
                .with_context(|| format!("writing {}", component.display()))?;
        }
        services.services.insert(
            format!("token-{index}"),
            SystemServiceConfig {
                artifact: format!("bench.token-{index}:1.0.0"),
                component: Some(component),
                params: String::new(),
            },
        );
    }
    config.system_services = services;
    config.runtimes.wasm.compiled_cache_dir = Some(cache);
    Ok(config)
}

fn open_and_make_a_block(config: NodeConfig) -> anyhow::Result<()> {
    let node = Node::open(config).map_err(|error| anyhow!("the node: {error}"))?;
    node.produce_block().map_err(|error| anyhow!(error))?;
    node.shutdown();
    Ok(())
}

fn restarts(artifacts: usize) -> anyhow::Result<()> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let warm_cache = directory.path().join("compiled");
    note(format!("deploy: genesis with {artifacts} wasm artifacts"));
    open_and_make_a_block(node_config(directory.path(), artifacts, warm_cache.clone())?)?;
    for (cache, label) in [(true, "warm"), (false, "cold")] {
        let mut runs = Vec::with_capacity(RESTARTS);
        for run in 0..RESTARTS {
            let cache_dir = if cache {
                warm_cache.clone()
            } else {
                directory.path().join(format!("cold-{run}"))
            };
            let config = node_config(directory.path(), artifacts, cache_dir)?;
            let mut outcome = Ok(());
            runs.push(time(|| outcome = open_and_make_a_block(config)));
            outcome?;
        }
        Figure::new("deploy", "restart_s", median_s(&runs), "s")
            .with("artifacts", artifacts)
            .with("cache", label)
            .print();
    }
    Ok(())
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    note("deploy: compile and cache load");
    compile_and_load()?;
    for artifacts in ARTIFACT_COUNTS {
        restarts(artifacts)?;
    }
    Ok(())
}
