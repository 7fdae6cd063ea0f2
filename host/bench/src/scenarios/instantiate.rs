//! `instantiate`: what a fresh service instance per call costs.
//!
//! Every call to a wasm service runs in a fresh instance (no guest memory
//! survives between calls). The figure is the time of one empty call to
//! the probe guest — instantiate, run an export that returns at once, drop
//! the instance — per path, median of [`RUNS`] batches of [`CALLS`] after
//! a warm-up batch:
//! - `pooling+pre`: what the runtime does — the pooling allocator with
//!   copy-on-write memory images, and the component linked and type-checked
//!   once (`InstancePre`);
//! - `pooling+relink`: the pool, but the linker rebuilt and the component
//!   re-checked per call;
//! - `on-demand+pre`: linked once, memory allocated per instance;
//! - `naive`: both per call — a host that links and allocates afresh.

use anyhow::anyhow;
use wasmtime::Engine;
use wasmvisor_storage::{Database, Fork, MemoryDatabase};
use wasmvisor_wasm::{Privilege, ServiceComponent, WasmService, deterministic_engine, deterministic_engine_on_demand};

use crate::report::{Figure, median_s, note, repeat, time};
use crate::scenarios::host_call::probe_env;

/// Calls per batch.
pub const CALLS: u32 = 500;
/// Measured batches per path.
pub const RUNS: usize = 5;

fn empty_call(service: &WasmService, database: &MemoryDatabase) {
    let outcome = service.execute(probe_env(Fork::new(database.snapshot())), "", 0, &[]);
    if let Err(error) = outcome.result {
        panic!("the empty call failed: {error:?}");
    }
}

fn measure(path: &str, engine: &Engine, relink: bool) -> anyhow::Result<()> {
    let component = ServiceComponent::compile(engine, wasmvisor_artifacts::PROBE.bytes, Privilege::Service)
        .map_err(|error| anyhow!("the probe: {error}"))?;
    let linked = WasmService::new(engine, &component).map_err(|error| anyhow!("the probe: {error}"))?;
    let database = MemoryDatabase::new();
    let batches = repeat(RUNS, || {
        time(|| {
            for _ in 0..CALLS {
                if relink {
                    let service = WasmService::new(engine, &component).expect("the probe links");
                    empty_call(&service, &database);
                } else {
                    empty_call(&linked, &database);
                }
            }
        })
    });
    Figure::new(
        "instantiate",
        "us_per_instance",
        median_s(&batches) * 1e6 / f64::from(CALLS),
        "us",
    )
    .with("path", path)
    .with("component_bytes", wasmvisor_artifacts::PROBE.bytes.len())
    .print();
    Ok(())
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    let pooling = deterministic_engine().map_err(|error| anyhow!("{error}"))?;
    let on_demand = deterministic_engine_on_demand().map_err(|error| anyhow!("{error}"))?;
    note("instantiate: four paths");
    measure("pooling+pre", &pooling, false)?;
    measure("pooling+relink", &pooling, true)?;
    measure("on-demand+pre", &on_demand, false)?;
    measure("naive", &on_demand, true)?;
    Ok(())
}
