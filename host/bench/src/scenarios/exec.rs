//! `exec`: execution only. One block of 10,000 transfers, signatures
//! verified beforehand, executed (services, state root, block records) on
//! a fork of a RocksDB chain and dropped, through the native and the wasm
//! token service. The figure is the median of [`RUNS`] executions of the
//! same block after one warm-up.

use std::sync::Arc;

use anyhow::{Context, anyhow, ensure};
use wasmvisor_storage::RocksDatabase;

use crate::report::{Figure, median_s, note, repeat, time};
use crate::workload::{self, TokenRuntime};

/// Transfers in the block.
pub const BLOCK_TRANSFERS: usize = 10_000;
/// Measured executions per runtime.
pub const RUNS: usize = 5;

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let database = RocksDatabase::open(directory.path()).map_err(|error| anyhow!("RocksDB: {error}"))?;
    let mut chain = workload::token_chain(Arc::new(database))?;
    let keys = workload::wallet_keys();
    let mut seconds = Vec::new();
    for runtime in TokenRuntime::BOTH {
        let instance = workload::token_instance(runtime);
        note(format!("exec: {} wallets in the {} token", keys.len(), runtime.name()));
        let setup = workload::setup_transactions(&chain.chain_id(), instance, &keys);
        let setup = workload::verify_all(&chain, &setup)?;
        for block in setup.chunks(wasmvisor_limits::BLOCK_TRANSACTIONS_ITEMS_MAX) {
            workload::commit_block(&mut chain, block).context("a setup block")?;
        }
        let block = workload::transfers(&chain.chain_id(), instance, &keys, BLOCK_TRANSFERS, 0);
        let block = workload::verify_all(&chain, &block)?;
        let pending = chain.execute(&block).map_err(|error| anyhow!("the block: {error}"))?;
        ensure!(
            pending.errors().is_empty(),
            "the workload must succeed: {:?}",
            pending.errors().values().next()
        );
        drop(pending);
        let runs = repeat(RUNS, || {
            time(|| {
                let pending = chain.execute(&block).expect("the block executed before");
                drop(pending);
            })
        });
        let block_s = median_s(&runs);
        seconds.push(block_s);
        Figure::new("exec", "block_ms", block_s * 1e3, "ms")
            .with("runtime", runtime.name())
            .with("transfers", BLOCK_TRANSFERS)
            .with("backend", "rocksdb")
            .print();
        Figure::new(
            "exec",
            "transfers_per_s",
            BLOCK_TRANSFERS as f64 / block_s,
            "transfers/s",
        )
        .with("runtime", runtime.name())
        .with("backend", "rocksdb")
        .print();
    }
    Figure::new("exec", "wasm_native_ratio", seconds[1] / seconds[0], "x")
        .with("transfers", BLOCK_TRANSFERS)
        .with("backend", "rocksdb")
        .print();
    chain.shutdown();
    Ok(())
}
