//! `limits`: this machine's physical ceilings, measured in the same run as
//! everything else, so every other figure can be read as a fraction of
//! what the hardware allows. Each is single-threaded (per core), the
//! median of [`RUNS`] after a warm-up:
//! - Ed25519 verification of transaction-sized messages under the chain's
//!   rule (`wasmvisor_signature`), one signature at a time and in batches
//!   (one core, then every core), and, for comparison, ed25519-dalek's
//!   `verify_strict` (the rule before it) and cofactorless `verify_batch`;
//! - whole transactions as admission checks them (decoding, the size and
//!   chain checks, hashing, the signature; `wasmvisor_blockchain::verify`
//!   one at a time on one core, `verify_each` in batches on every core):
//!   [`SIGNATURES`] token transfers from as many wallets, so no key repeats
//!   in a batch;
//! - blake3 hashes of Merkle tree nodes (two child hashes and a prefix
//!   byte, as the storage's `map_branch_hash`);
//! - raw RocksDB writes: batches of [`ROCKS_BATCH`] puts (8-byte keys,
//!   32-byte values), each batch one synced write, as a block commit.

use anyhow::{Context, anyhow};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::report::{Figure, median_s, note, repeat, time};

/// Measured runs of each figure.
pub const RUNS: usize = 7;
/// Signatures verified per run.
pub const SIGNATURES: usize = 2_048;
/// Size of a signed message (about a token transfer).
pub const MESSAGE_BYTES: usize = 150;
/// Batch sizes measured.
pub const BATCH_SIZES: [usize; 2] = [64, 1_024];
/// Tree-node hashes per run.
pub const NODE_HASHES: u64 = 1_000_000;
/// Puts in one RocksDB write batch.
pub const ROCKS_BATCH: u64 = 10_000;

fn signed_messages() -> (Vec<Vec<u8>>, Vec<Signature>, Vec<VerifyingKey>) {
    let mut messages = Vec::with_capacity(SIGNATURES);
    let mut signatures = Vec::with_capacity(SIGNATURES);
    let mut keys = Vec::with_capacity(SIGNATURES);
    for index in 0..SIGNATURES {
        let key = SigningKey::from_bytes(blake3::hash(&index.to_le_bytes()).as_bytes());
        let message: Vec<u8> = (0..MESSAGE_BYTES).map(|byte| (byte ^ index) as u8).collect();
        signatures.push(key.sign(&message));
        keys.push(key.verifying_key());
        messages.push(message);
    }
    (messages, signatures, keys)
}

fn ed25519() -> anyhow::Result<()> {
    let (messages, signatures, keys) = signed_messages();
    let single = repeat(RUNS, || {
        time(|| {
            for ((message, signature), key) in messages.iter().zip(&signatures).zip(&keys) {
                key.verify_strict(message, signature).expect("a valid signature");
            }
        })
    });
    Figure::new(
        "limits",
        "ed25519_verify_per_s_per_core",
        SIGNATURES as f64 / median_s(&single),
        "signatures/s",
    )
    .with("message_bytes", MESSAGE_BYTES)
    .print();
    let slices: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    for batch in BATCH_SIZES {
        let batched = repeat(RUNS, || {
            time(|| {
                for ((messages, signatures), keys) in slices
                    .chunks(batch)
                    .zip(signatures.chunks(batch))
                    .zip(keys.chunks(batch))
                {
                    ed25519_dalek::verify_batch(messages, signatures, keys).expect("valid signatures");
                }
            })
        });
        Figure::new(
            "limits",
            "ed25519_batch_verify_per_s_per_core",
            SIGNATURES as f64 / median_s(&batched),
            "signatures/s",
        )
        .with("batch", batch)
        .with("message_bytes", MESSAGE_BYTES)
        .print();
    }
    rule(&messages, &signatures, &keys)
}

/// The chain's rule: single checks and `verify_each` on one core (a
/// one-thread pool) and on every core.
fn rule(messages: &[Vec<u8>], signatures: &[Signature], keys: &[VerifyingKey]) -> anyhow::Result<()> {
    let signatures: Vec<[u8; 64]> = signatures.iter().map(Signature::to_bytes).collect();
    let keys: Vec<[u8; 32]> = keys.iter().map(VerifyingKey::to_bytes).collect();
    let signed: Vec<wasmvisor_signature::Signed<'_>> = messages
        .iter()
        .zip(&signatures)
        .zip(&keys)
        .map(|((message, signature), public_key)| wasmvisor_signature::Signed {
            public_key,
            message,
            signature,
        })
        .collect();
    let single = repeat(RUNS, || {
        time(|| {
            for item in &signed {
                wasmvisor_signature::verify(item.public_key, item.message, item.signature).expect("a valid signature");
            }
        })
    });
    Figure::new(
        "limits",
        "signature_rule_verify_per_s_per_core",
        SIGNATURES as f64 / median_s(&single),
        "signatures/s",
    )
    .with("message_bytes", MESSAGE_BYTES)
    .print();
    let one_core = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .context("a one-thread pool")?;
    for batch in BATCH_SIZES {
        let batched = repeat(RUNS, || {
            time(|| {
                for chunk in signed.chunks(batch) {
                    let verdicts = one_core.install(|| wasmvisor_signature::verify_each(chunk));
                    assert!(verdicts.iter().all(Result::is_ok), "valid signatures");
                }
            })
        });
        Figure::new(
            "limits",
            "signature_rule_batch_verify_per_s_per_core",
            SIGNATURES as f64 / median_s(&batched),
            "signatures/s",
        )
        .with("batch", batch)
        .with("message_bytes", MESSAGE_BYTES)
        .print();
    }
    every_core("signature_rule_verify_each_per_s", "signatures/s", &signed, |chunk| {
        wasmvisor_signature::verify_each(chunk).iter().all(Result::is_ok)
    });
    Ok(())
}

/// Prints how many of `items` per second `check` accepts, given them in
/// batches of `BATCH_SIZES[1]` (spread over every core), the median of
/// [`RUNS`].
fn every_core<T>(metric: &'static str, unit: &'static str, items: &[T], check: impl Fn(&[T]) -> bool) {
    let runs = repeat(RUNS, || {
        time(|| {
            for chunk in items.chunks(BATCH_SIZES[1]) {
                assert!(check(chunk), "every item is valid");
            }
        })
    });
    Figure::new("limits", metric, items.len() as f64 / median_s(&runs), unit)
        .with("batch", BATCH_SIZES[1])
        .with("threads", rayon::current_num_threads())
        .print();
}

fn blake3_nodes() {
    let runs = repeat(RUNS, || {
        let mut node = wasmvisor_storage::hash::hash_bytes(b"leaf");
        time(|| {
            for _ in 0..NODE_HASHES {
                node = wasmvisor_storage::hash::map_branch_hash(&node, &node);
            }
            std::hint::black_box(node);
        })
    });
    Figure::new(
        "limits",
        "blake3_node_hashes_per_s_per_core",
        NODE_HASHES as f64 / median_s(&runs),
        "hashes/s",
    )
    .print();
}

fn rocksdb_writes() -> anyhow::Result<()> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    let db = rocksdb::DB::open(&options, directory.path()).map_err(|error| anyhow!("RocksDB: {error}"))?;
    let mut write_options = rocksdb::WriteOptions::default();
    write_options.set_sync(true);
    let mut next_key = 0u64;
    let runs = repeat(RUNS, || {
        let mut batch = rocksdb::WriteBatch::default();
        for _ in 0..ROCKS_BATCH {
            let key = next_key.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
            batch.put(key, [next_key as u8; 32]);
            next_key += 1;
        }
        time(|| db.write_opt(batch, &write_options).expect("a synced write"))
    });
    Figure::new(
        "limits",
        "rocksdb_batched_writes_per_s",
        ROCKS_BATCH as f64 / median_s(&runs),
        "writes/s",
    )
    .with("batch", ROCKS_BATCH)
    .with("sync", true)
    .print();
    Ok(())
}

/// Transfers from [`SIGNATURES`] distinct wallets, checked as admission
/// checks them.
fn transactions() {
    let chain_id = [7u8; 32];
    let keys: Vec<SigningKey> = (0..SIGNATURES).map(crate::workload::wallet_key).collect();
    let signed = crate::workload::transfers(&chain_id, 1, &keys, SIGNATURES, 0);
    let size_max = wasmvisor_limits::TRANSACTION_BYTES_MAX;
    let single = repeat(RUNS, || {
        time(|| {
            for transaction in &signed {
                wasmvisor_blockchain::verify(transaction, &chain_id, size_max).expect("a valid transaction");
            }
        })
    });
    Figure::new(
        "limits",
        "transaction_verify_per_s_per_core",
        SIGNATURES as f64 / median_s(&single),
        "transactions/s",
    )
    .print();
    every_core("transaction_verify_each_per_s", "transactions/s", &signed, |chunk| {
        wasmvisor_blockchain::verify_each(chunk, &chain_id, size_max)
            .iter()
            .all(Result::is_ok)
    });
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    note("limits: ed25519");
    ed25519()?;
    note("limits: transactions");
    transactions();
    note("limits: blake3");
    blake3_nodes();
    note("limits: RocksDB");
    rocksdb_writes()
}
