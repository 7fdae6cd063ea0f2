//! `host-call`: what crossing the sandbox costs.
//!
//! The probe guest (`artifacts/guests/probe`) runs loops of raw
//! `storage.get` / `storage.put` host calls on a plain map in a fork of a
//! RocksDB database holding [`KEYS`] committed keys. The cost of one host
//! call is (time of a call making [`KEYS`] operations − time of an empty
//! call) / [`KEYS`], median of [`RUNS`] after a warm-up. Beside it, in the
//! same run:
//! - the same operations made natively on the fork (what the storage costs
//!   without the sandbox: the host call's own overhead is the difference);
//! - an empty guest call (fresh instance, context, return);
//! - a bare `wasmtime` baseline: a core module calling a host function
//!   that reads an 8-byte key from guest memory, and an empty export
//!   called on a live instance — the floor any wasm host pays.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use wasmtime::{Caller, Engine, Instance, Linker, Module, Store, TypedFunc};
use wasmvisor_storage::{Database, Fork, IndexAddress, Namespace, RocksDatabase};
use wasmvisor_wasm::{
    ArtifactId, CallEnv, ForkStorage, InstanceSpec, Privilege, ServiceComponent, StorageAccess, WasmService,
    deterministic_engine,
};

use crate::report::{Figure, median_s, note, repeat, time};

/// Keys in the probe's map, and operations per measured call.
pub const KEYS: u32 = 10_000;
/// Measured runs of each figure.
pub const RUNS: usize = 7;
/// Empty calls per run.
pub const EMPTY_CALLS: u32 = 1_000;
/// Fuel for one probe call (the write loop of [`KEYS`] burns far less).
const FUEL: u64 = 1_000_000_000;
/// The probe's instance id (its storage namespace).
const PROBE_ID: u32 = 1;

const NOTHING: u32 = 0;
const READ: u32 = 1;
const WRITE: u32 = 2;

/// The probe guest, linked as an ordinary service.
pub fn probe_service(engine: &Engine) -> anyhow::Result<WasmService> {
    let component = ServiceComponent::compile(engine, wasmvisor_artifacts::PROBE.bytes, Privilege::Service)
        .map_err(|error| anyhow!("the probe: {error}"))?;
    WasmService::new(engine, &component).map_err(|error| anyhow!("the probe: {error}"))
}

fn probe_spec() -> InstanceSpec {
    InstanceSpec {
        id: PROBE_ID,
        name: "probe".into(),
        artifact: ArtifactId {
            runtime_id: wasmvisor_runtime::runtime_id::WASM,
            name: "wasmvisor.probe".into(),
            version: "1.0.0".into(),
        },
    }
}

/// A call environment on `fork` for the probe (blockchain caller).
pub fn probe_env(fork: Fork) -> CallEnv {
    CallEnv {
        instance: probe_spec(),
        caller: wasmvisor_wasm::Caller::Blockchain,
        height: 1,
        access: StorageAccess::ReadWrite,
        storage: Box::new(ForkStorage::new(
            fork,
            Namespace::Service(PROBE_ID),
            Arc::new(Mutex::new(None)),
        )),
        calls: None,
        lifecycle: None,
        after_commit: None,
        meter: wasmvisor_runtime::Meter::new(FUEL),
        node_failure: Arc::new(Mutex::new(None)),
    }
}

/// Runs probe method `method` with `count` on `fork`; the fork back.
fn call(service: &WasmService, fork: Fork, method: u32, count: u32) -> Fork {
    let outcome = service.execute(probe_env(fork), "", method, &count.to_le_bytes());
    if let Err(error) = outcome.result {
        panic!("the probe failed: {error:?}");
    }
    outcome
        .env
        .storage
        .into_fork_storage()
        .expect("fork-backed storage")
        .into_fork()
}

fn probe_map() -> IndexAddress {
    IndexAddress::new(Namespace::Service(PROBE_ID), "probe").expect("a valid name")
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let database = RocksDatabase::open(directory.path()).map_err(|error| anyhow!("RocksDB: {error}"))?;
    let engine = deterministic_engine().map_err(|error| anyhow!("{error}"))?;
    let service = probe_service(&engine)?;

    // Commit the keys the reads will find.
    let fork = call(&service, Fork::new(database.snapshot()), WRITE, KEYS);
    database
        .merge(fork.into_patch().map_err(|error| anyhow!("{error}"))?)
        .map_err(|error| anyhow!("{error}"))?;
    note("host-call: wasm");

    let per_call = |method: u32, count: u32| {
        repeat(RUNS, || {
            let fork = Fork::new(database.snapshot());
            time(|| drop(call(&service, fork, method, count)))
        })
    };
    let empty_s = median_s(&per_call(NOTHING, 0));
    let read_s = median_s(&per_call(READ, KEYS));
    let write_s = median_s(&per_call(WRITE, KEYS));
    let per_op_ns = |total_s: f64| (total_s - empty_s).max(0.0) * 1e9 / f64::from(KEYS);
    Figure::new("host-call", "ns_per_read", per_op_ns(read_s), "ns")
        .with("index", "map")
        .with("backend", "rocksdb")
        .print();
    Figure::new("host-call", "ns_per_write", per_op_ns(write_s), "ns")
        .with("index", "map")
        .with("backend", "rocksdb")
        .print();

    let empty_calls = repeat(RUNS, || {
        let started = std::time::Instant::now();
        let mut fork = Fork::new(database.snapshot());
        for _ in 0..EMPTY_CALLS {
            fork = call(&service, fork, NOTHING, 0);
        }
        started.elapsed() / EMPTY_CALLS
    });
    Figure::new("host-call", "ns_per_empty_call", median_s(&empty_calls) * 1e9, "ns")
        .with("path", "fresh instance per call")
        .print();

    note("host-call: native storage");
    let native = |write: bool| {
        repeat(RUNS, || {
            let mut fork = Fork::new(database.snapshot());
            let address = probe_map();
            time(|| {
                for key in 0..u64::from(KEYS) {
                    let mut map = fork.map(&address).expect("the probe map");
                    if write {
                        map.put(&key.to_le_bytes(), &[7; 32]).expect("a put");
                    } else {
                        std::hint::black_box(map.get(&key.to_le_bytes()).expect("a get"));
                    }
                }
            })
        })
    };
    let native_ns = |runs: Vec<Duration>| median_s(&runs) * 1e9 / f64::from(KEYS);
    Figure::new("host-call", "native_ns_per_read", native_ns(native(false)), "ns")
        .with("index", "map")
        .with("backend", "rocksdb")
        .print();
    Figure::new("host-call", "native_ns_per_write", native_ns(native(true)), "ns")
        .with("index", "map")
        .with("backend", "rocksdb")
        .print();

    note("host-call: bare wasmtime");
    bare_wasmtime()?;
    Ok(())
}

/// A core module: `host.read(ptr, len)` is called `count` times by
/// `run(count)` with an 8-byte key in memory; `nothing` returns.
const BARE_MODULE: &str = r#"
(module
  (import "host" "read" (func $read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (param $count i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $count)))
        (i64.store (i32.const 0) (i64.extend_i32_u (local.get $count)))
        (local.set $sum (i32.add (local.get $sum) (call $read (i32.const 0) (i32.const 8))))
        (local.set $count (i32.sub (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $sum))
  (func (export "nothing")))
"#;

fn bare_wasmtime() -> anyhow::Result<()> {
    let engine = Engine::default();
    let bytes = wat::parse_str(BARE_MODULE).context("the baseline module")?;
    let module = Module::new(&engine, bytes)?;
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap(
        "host",
        "read",
        |mut caller: Caller<'_, ()>, pointer: u32, len: u32| -> u32 {
            // What every storage host call does first: copy the key out of
            // guest memory.
            let Some(wasmtime::Extern::Memory(memory)) = caller.get_export("memory") else {
                return 0;
            };
            let mut key = [0u8; 8];
            let len = (len as usize).min(key.len());
            match memory.read(&caller, pointer as usize, &mut key[..len]) {
                Ok(()) => u32::from(key[0] != 0xff),
                Err(_) => 0,
            }
        },
    )?;
    let mut store = Store::new(&engine, ());
    let instance: Instance = linker.instantiate(&mut store, &module)?;
    let run: TypedFunc<u32, u32> = instance.get_typed_func(&mut store, "run")?;
    let nothing: TypedFunc<(), ()> = instance.get_typed_func(&mut store, "nothing")?;
    let host_calls = repeat(RUNS, || {
        time(|| {
            std::hint::black_box(run.call(&mut store, KEYS).expect("the loop runs"));
        })
    });
    let empty_calls = repeat(RUNS, || {
        time(|| {
            for _ in 0..EMPTY_CALLS {
                nothing.call(&mut store, ()).expect("an empty call");
            }
        })
    });
    Figure::new(
        "host-call",
        "bare_ns_per_host_call",
        median_s(&host_calls) * 1e9 / f64::from(KEYS),
        "ns",
    )
    .with("path", "bare wasmtime, core module, 8-byte key copied")
    .print();
    Figure::new(
        "host-call",
        "bare_ns_per_empty_call",
        median_s(&empty_calls) * 1e9 / f64::from(EMPTY_CALLS),
        "ns",
    )
    .with("path", "bare wasmtime, live instance")
    .print();
    Ok(())
}
