//! Storage benchmark: prints one JSON object per line (`scenario`,
//! `metric`, `value`, `unit`, parameters). Not a test: nothing passes or
//! fails. Run with `cargo bench -p wasmvisor-storage --bench storage`.
//!
//! Method: every figure is the median of `RUNS` independent runs on a fresh
//! RocksDB database in a temporary directory (synced writes), after one
//! warm-up run that is discarded. Each run:
//! - puts `BLOCK_WRITES` fresh keys (8-byte keys, 32-byte values) into one
//!   ProofMap inside one fork, timing the puts only (`proof_map_puts_per_s`);
//! - computes the state root, turns the fork into a patch and merges it,
//!   timing that (`commit_ms` for a block of `BLOCK_WRITES` writes);
//! - generates `PROOFS` map proofs for random present keys against the
//!   committed state (`proofs_generated_per_s`) and verifies each against
//!   the state root (`proofs_verified_per_s`).

use std::time::{Duration, Instant};

use wasmvisor_storage::{Database, Fork, IndexAddress, Namespace, RocksDatabase};

const RUNS: usize = 5;
const BLOCK_WRITES: u64 = 10_000;
const PROOFS: u64 = 2_000;

struct Run {
    puts: Duration,
    commit: Duration,
    prove: Duration,
    verify: Duration,
}

fn key(i: u64) -> [u8; 8] {
    // A cheap bijective scramble so keys do not arrive in order.
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()
}

fn run_once() -> Run {
    let directory = tempfile::tempdir().expect("temporary directory");
    let database = RocksDatabase::open(directory.path()).expect("open RocksDB");
    let address = IndexAddress::new(Namespace::Service(1), "wallets").expect("valid name");

    let mut fork = Fork::new(database.snapshot());
    let started = Instant::now();
    {
        let mut map = fork.proof_map(&address).expect("open map");
        for i in 0..BLOCK_WRITES {
            map.put(&key(i), &[i as u8; 32]).expect("put");
        }
    }
    let puts = started.elapsed();

    let started = Instant::now();
    let state_root = fork.state_root().expect("state root");
    database.merge(fork.into_patch().expect("patch")).expect("merge");
    let commit = started.elapsed();

    let mut fork = Fork::new(database.snapshot());
    let started = Instant::now();
    let proofs: Vec<_> = (0..PROOFS)
        .map(|i| fork.map_proof(&address, &key(i * 7 % BLOCK_WRITES)).expect("proof"))
        .collect();
    let prove = started.elapsed();

    let started = Instant::now();
    for proof in &proofs {
        proof.verify(&state_root).expect("honest proof verifies");
    }
    let verify = started.elapsed();
    Run {
        puts,
        commit,
        prove,
        verify,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn print(metric: &str, value: f64, unit: &str) {
    println!(
        "{{\"scenario\":\"storage\",\"metric\":\"{metric}\",\"value\":{value:.1},\"unit\":\"{unit}\",\"backend\":\"rocksdb\",\"block_writes\":{BLOCK_WRITES},\"runs\":{RUNS}}}"
    );
}

fn main() {
    run_once(); // warm-up
    let runs: Vec<Run> = (0..RUNS).map(|_| run_once()).collect();
    let per_second = |count: u64, duration: Duration| count as f64 / duration.as_secs_f64();
    print(
        "proof_map_puts_per_s",
        median(runs.iter().map(|run| per_second(BLOCK_WRITES, run.puts)).collect()),
        "puts/s",
    );
    print(
        "commit_ms",
        median(runs.iter().map(|run| run.commit.as_secs_f64() * 1e3).collect()),
        "ms",
    );
    print(
        "proofs_generated_per_s",
        median(runs.iter().map(|run| per_second(PROOFS, run.prove)).collect()),
        "proofs/s",
    );
    print(
        "proofs_verified_per_s",
        median(runs.iter().map(|run| per_second(PROOFS, run.verify)).collect()),
        "proofs/s",
    );
}
