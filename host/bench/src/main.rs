//! wasmvisor's benchmark harness.
//!
//! `cargo run --release -p wasmvisor-bench -- <scenario|all>` runs one
//! scenario (or all, in order) and prints one JSON object per figure on
//! standard output (`scenario`, `metric`, `value`, `unit`, parameters);
//! progress goes to standard error. Benchmarks print figures: nothing here
//! passes or fails, except a workload that does not do what it should
//! (a refused or failed transaction), which stops the run with an error.
//! The method of every scenario is in its module's documentation and in
//! BENCHMARKS.md.

mod report;
mod scenarios;
mod workload;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// End-to-end committed transfers per second on one node.
    Tps,
    /// Execution only: one block through the native and the wasm token.
    Exec,
    /// Storage host calls from a wasm guest, beside bare wasmtime.
    HostCall,
    /// A fresh service instance per call: pooling vs naive.
    Instantiate,
    /// Compile, cache load and node restart with 1/10/50 artifacts.
    Deploy,
    /// ProofMap puts, proofs, commit latency.
    Storage,
    /// The machine's ceilings: Ed25519, blake3, raw RocksDB.
    Limits,
    /// Four validators on loopback agreeing with the consensus engine
    /// (needs the release `wasmvisor` binary beside this one).
    Network,
    /// The supervisor's per-block work with 10, 100, 1,000 past deploys.
    Supervisor,
    /// Every scenario, in the order above.
    All,
}

/// Runs wasmvisor's benchmarks and prints their figures as JSON lines.
#[derive(Debug, Parser)]
#[command(name = "wasmvisor-bench")]
struct Arguments {
    /// What to measure.
    #[arg(value_enum)]
    scenario: Scenario,
    /// Only this runtime's token (`tps`; for profiling one runtime at a
    /// time). Both by default.
    #[arg(long, value_enum)]
    runtime: Option<workload::TokenRuntime>,
}

const ORDER: [Scenario; 9] = [
    Scenario::Tps,
    Scenario::Exec,
    Scenario::HostCall,
    Scenario::Instantiate,
    Scenario::Deploy,
    Scenario::Storage,
    Scenario::Limits,
    Scenario::Network,
    Scenario::Supervisor,
];

fn run(scenario: Scenario, runtime: Option<workload::TokenRuntime>) -> anyhow::Result<()> {
    match scenario {
        Scenario::Tps => scenarios::tps::run(runtime),
        Scenario::Exec => scenarios::exec::run(),
        Scenario::HostCall => scenarios::host_call::run(),
        Scenario::Instantiate => scenarios::instantiate::run(),
        Scenario::Deploy => scenarios::deploy::run(),
        Scenario::Storage => scenarios::storage::run(),
        Scenario::Limits => scenarios::limits::run(),
        Scenario::Network => scenarios::network::run(),
        Scenario::Supervisor => scenarios::supervisor::run(),
        Scenario::All => ORDER.into_iter().try_for_each(|scenario| run(scenario, runtime)),
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures are meaningless (use --release)");
    }
    match run(arguments.scenario, arguments.runtime) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
