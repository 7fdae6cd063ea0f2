//! `storage`: the merkelized storage on RocksDB, without services.
//!
//! Every figure is the median of [`RUNS`] independent runs on a fresh
//! RocksDB database (synced writes), after one discarded warm-up run. A
//! run puts [`BLOCK_WRITES`] fresh keys (8-byte keys in scrambled order,
//! 32-byte values) into one ProofMap in one fork, timing the puts
//! (`proof_map_puts_per_s`; with whatever tree work a put does at once);
//! computes the state root, turns the fork into a patch and merges it
//! (`commit_ms`: with the tree work left for the end of the block);
//! `block_of_new_keys_ms` is the two together. Then a second block writes
//! new values under the same keys, now in a committed tree, from puts to
//! merge (`block_of_updates_ms`: what a block of transfers does to a
//! ledger's tree). Last, [`PROOFS`] map proofs for present keys are
//! generated against the committed state (`proofs_generated_per_s`) and
//! verified against the state root (`proofs_verified_per_s`).

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use wasmvisor_storage::{Database, Fork, IndexAddress, Namespace, RocksDatabase, StorageError};

use crate::report::{Figure, median, note};

/// Measured runs.
pub const RUNS: usize = 5;
/// Writes in the block.
pub const BLOCK_WRITES: u64 = 10_000;
/// Proofs generated and verified per run.
pub const PROOFS: u64 = 2_000;

struct Run {
    puts: Duration,
    commit: Duration,
    updates: Duration,
    prove: Duration,
    verify: Duration,
}

fn key(i: u64) -> [u8; 8] {
    // A cheap bijective scramble so keys do not arrive in order.
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()
}

/// Runs `work` and measures it.
fn timed<T>(work: impl FnOnce() -> Result<T, StorageError>) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let value = work().map_err(|error| anyhow!("{error}"))?;
    Ok((value, started.elapsed()))
}

fn run_once() -> anyhow::Result<Run> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let database = RocksDatabase::open(directory.path()).map_err(|error| anyhow!("RocksDB: {error}"))?;
    let address = IndexAddress::new(Namespace::Service(1), "wallets").map_err(|error| anyhow!("{error}"))?;

    let mut fork = Fork::new(database.snapshot());
    let ((), puts) = timed(|| {
        let mut map = fork.proof_map(&address)?;
        (0..BLOCK_WRITES).try_for_each(|i| map.put(&key(i), &[i as u8; 32]))
    })?;
    let ((), commit) = timed(|| {
        fork.state_root()?;
        database.merge(fork.into_patch()?)
    })?;

    let mut fork = Fork::new(database.snapshot());
    let (state_root, updates) = timed(|| {
        let mut map = fork.proof_map(&address)?;
        (0..BLOCK_WRITES).try_for_each(|i| map.put(&key(i), &[!(i as u8); 32]))?;
        let state_root = fork.state_root()?;
        database.merge(fork.into_patch()?)?;
        Ok(state_root)
    })?;

    let mut fork = Fork::new(database.snapshot());
    let (proofs, prove) = timed(|| {
        (0..PROOFS)
            .map(|i| fork.map_proof(&address, &key(i * 7 % BLOCK_WRITES)))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let started = Instant::now();
    for proof in &proofs {
        proof
            .verify(&state_root)
            .map_err(|error| anyhow!("an honest proof did not verify: {error:?}"))?;
    }
    let verify = started.elapsed();
    Ok(Run {
        puts,
        commit,
        updates,
        prove,
        verify,
    })
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    note("storage: warm-up");
    run_once()?;
    let runs = (0..RUNS).map(|_| run_once()).collect::<anyhow::Result<Vec<_>>>()?;
    let per_second = |count: u64, duration: Duration| count as f64 / duration.as_secs_f64();
    let figure = |metric: &'static str, values: Vec<f64>, unit: &'static str| {
        Figure::new("storage", metric, median(&values), unit)
            .with("backend", "rocksdb")
            .with("block_writes", BLOCK_WRITES)
            .with("runs", RUNS)
            .print();
    };
    figure(
        "proof_map_puts_per_s",
        runs.iter().map(|run| per_second(BLOCK_WRITES, run.puts)).collect(),
        "puts/s",
    );
    figure(
        "commit_ms",
        runs.iter().map(|run| run.commit.as_secs_f64() * 1e3).collect(),
        "ms",
    );
    figure(
        "block_of_new_keys_ms",
        runs.iter()
            .map(|run| (run.puts + run.commit).as_secs_f64() * 1e3)
            .collect(),
        "ms",
    );
    figure(
        "block_of_updates_ms",
        runs.iter().map(|run| run.updates.as_secs_f64() * 1e3).collect(),
        "ms",
    );
    figure(
        "proofs_generated_per_s",
        runs.iter().map(|run| per_second(PROOFS, run.prove)).collect(),
        "proofs/s",
    );
    figure(
        "proofs_verified_per_s",
        runs.iter().map(|run| per_second(PROOFS, run.verify)).collect(),
        "proofs/s",
    );
    Ok(())
}
