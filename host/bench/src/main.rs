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
use wasmvisor_node::batch::SUBMIT_BATCH_ITEMS_MAX;

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
    /// Transactions a client submits at once (`tps`, `network`): 1 submits
    /// each alone (`Node::submit`, `POST /api/explorer/v1/transactions`),
    /// more through the batch path (`Node::submit_many`, `POST
    /// /api/explorer/v1/transactions/batch`), at most
    /// `SUBMIT_BATCH_ITEMS_MAX`.
    #[arg(long, default_value_t = SUBMIT_BATCH_ITEMS_MAX)]
    submit_batch: usize,
    /// The network's most transactions per block (`network`; the genesis
    /// configuration's `transactions_per_block_max`, whose default is 1,000).
    #[arg(long, default_value_t = 1_000)]
    block_size: u32,
}

/// How the scenarios run, as the command line says.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Only this runtime's token.
    pub runtime: Option<workload::TokenRuntime>,
    /// Transactions a client submits at once (1..=`SUBMIT_BATCH_ITEMS_MAX`).
    pub submit_batch: usize,
    /// The network's most transactions per block.
    pub block_size: u32,
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

fn run(scenario: Scenario, options: Options) -> anyhow::Result<()> {
    match scenario {
        Scenario::Tps => scenarios::tps::run(options),
        Scenario::Exec => scenarios::exec::run(),
        Scenario::HostCall => scenarios::host_call::run(),
        Scenario::Instantiate => scenarios::instantiate::run(),
        Scenario::Deploy => scenarios::deploy::run(),
        Scenario::Storage => scenarios::storage::run(),
        Scenario::Limits => scenarios::limits::run(),
        Scenario::Network => scenarios::network::run(options),
        Scenario::Supervisor => scenarios::supervisor::run(),
        Scenario::All => ORDER.into_iter().try_for_each(|scenario| run(scenario, options)),
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures are meaningless (use --release)");
    }
    if !(1..=SUBMIT_BATCH_ITEMS_MAX).contains(&arguments.submit_batch) {
        eprintln!("error: --submit-batch takes 1 to {SUBMIT_BATCH_ITEMS_MAX}");
        return ExitCode::FAILURE;
    }
    let options = Options {
        runtime: arguments.runtime,
        submit_batch: arguments.submit_batch,
        block_size: arguments.block_size,
    };
    match run(arguments.scenario, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
