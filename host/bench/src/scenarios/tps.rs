//! `tps`: end-to-end committed throughput of one node.
//!
//! A node on RocksDB (synced writes) runs the token as a system service —
//! native or wasm — with the default block size (1,000 transactions) and
//! mempool (10,000). After [`workload::WALLETS`] wallets are created and
//! funded, [`TRANSFERS`] transfers signed beforehand (clients' work, not
//! timed) are submitted by one thread, as the API's handlers do, in
//! batches of `--submit-batch` (`Node::submit_many`, as `POST
//! /api/explorer/v1/transactions/batch` does: decoding, signatures checked
//! in batches over both cores, duplicate and target checks, mempool
//! admission), or one at a time with `--submit-batch 1` (`Node::submit`,
//! as `POST /api/explorer/v1/transactions` does); what a full mempool
//! refuses is retried. Meanwhile the block producer
//! makes a block as soon as a full block's worth of transactions waits (no
//! block interval; the last block takes the rest), executing and
//! committing it with its precommit. Throughput is transfers
//! divided by the time from the first submission to the commit of the
//! last; block commit latency is the time of one `produce_block` call
//! (execute, precommit, commit), p50 and p99 over all blocks of the run.
//! Every block's error root is checked to be empty: a failed transfer
//! would make the figure meaningless.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use wasmvisor_node::node::SubmitError;
use wasmvisor_node::system::{SystemServiceConfig, SystemServicesConfig};
use wasmvisor_node::{Node, NodeConfig};
use wasmvisor_proto::blockchain::BlockHeader;

use crate::Options;
use crate::report::{Figure, note, percentile};
use crate::workload::{self, TokenRuntime};

/// Transfers per run.
pub const TRANSFERS: usize = 200_000;
/// The token's instance name on the node.
const TOKEN: &str = "token";

/// Runs the scenario for `options.runtime` only, or both.
pub fn run(options: Options) -> anyhow::Result<()> {
    let only = options.runtime;
    for runtime in TokenRuntime::BOTH {
        if only.is_none_or(|only| only == runtime) {
            run_one(runtime, options.submit_batch)?;
        }
    }
    Ok(())
}

/// A node in `directory` with the token of `runtime` as a system service.
pub fn token_node(directory: &Path, runtime: TokenRuntime) -> anyhow::Result<Arc<Node>> {
    let mut config = NodeConfig::development(directory.join("node"));
    let (artifact, component) = match runtime {
        TokenRuntime::Native => (format!("native:{}:1.0.0", wasmvisor_native::TOKEN_ARTIFACT_NAME), None),
        TokenRuntime::Wasm => (
            format!("{}:1.0.0", wasmvisor_native::TOKEN_ARTIFACT_NAME),
            Some(wasmvisor_artifacts::TOKEN.path.into()),
        ),
    };
    config.system_services = SystemServicesConfig {
        enable: None,
        services: [(
            TOKEN.to_owned(),
            SystemServiceConfig {
                artifact,
                component,
                params: String::new(),
            },
        )]
        .into(),
    };
    config.runtimes.wasm.compiled_cache_dir = Some(directory.join("compiled"));
    Node::open(config).map_err(|error| anyhow!("the node: {error}"))
}

/// The instance id of the node's token.
pub fn token_id(node: &Node) -> anyhow::Result<u32> {
    node.with_chain(|chain| chain.dispatcher().instance_by_name(TOKEN))
        .map_err(|error| anyhow!("{error}"))?
        .map(|state| state.spec.id)
        .context("the token is not running")
}

fn checked(header: BlockHeader) -> anyhow::Result<BlockHeader> {
    let no_errors = wasmvisor_dispatcher::error_root(&Default::default());
    ensure!(
        header.error_hash == no_errors.as_slice(),
        "block {} recorded errors: the workload must succeed",
        header.height
    );
    Ok(header)
}

/// Submits `signed` one by one, making a block whenever the mempool is
/// full, then blocks until the mempool is empty (setup, not timed).
pub fn commit_all(node: &Node, signed: &[Vec<u8>]) -> anyhow::Result<()> {
    for transaction in signed {
        loop {
            match node.submit(transaction) {
                Ok(_) => break,
                Err(SubmitError::Full { .. }) => {
                    checked(node.produce_block().map_err(|error| anyhow!(error))?)?;
                }
                Err(error) => bail!("a setup transaction was refused: {error}"),
            }
        }
    }
    while node.mempool_len() > 0 {
        checked(node.produce_block().map_err(|error| anyhow!(error))?)?;
    }
    Ok(())
}

fn run_one(runtime: TokenRuntime, submit_batch: usize) -> anyhow::Result<()> {
    let directory = tempfile::tempdir().context("a temporary directory")?;
    let node = token_node(directory.path(), runtime)?;
    let instance = token_id(&node)?;
    let chain_id = node.with_chain(|chain| chain.chain_id());
    let keys = workload::wallet_keys();
    note(format!(
        "tps: creating and funding {} wallets ({})",
        keys.len(),
        runtime.name()
    ));
    commit_all(&node, &workload::setup_transactions(&chain_id, instance, &keys))?;
    note(format!("tps: signing {TRANSFERS} transfers"));
    let transfers = workload::transfers(&chain_id, instance, &keys, TRANSFERS, 0);

    note(format!("tps: submitting and committing ({})", runtime.name()));
    let committed_before = node.committed_transactions();
    let target = committed_before + TRANSFERS as u64;
    let submit_busy_ns = AtomicU64::new(0);
    let block_size = node.config().transactions_per_block_max as usize;
    let started = Instant::now();
    let latencies = std::thread::scope(|scope| -> anyhow::Result<Vec<f64>> {
        let submitter = scope.spawn(|| -> anyhow::Result<()> {
            for batch in transfers.chunks(submit_batch) {
                let mut waiting = batch.to_vec();
                loop {
                    let began = Instant::now();
                    // One transaction alone takes `Node::submit`'s path.
                    let verdicts = node.submit_many(&waiting);
                    submit_busy_ns.fetch_add(began.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    let mut refused = Vec::new();
                    for (transaction, verdict) in waiting.into_iter().zip(verdicts) {
                        match verdict {
                            Ok(_) => {}
                            Err(SubmitError::Full { .. }) => refused.push(transaction),
                            Err(error) => bail!("a transfer was refused: {error}"),
                        }
                    }
                    if refused.is_empty() {
                        break;
                    }
                    waiting = refused;
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            Ok(())
        });
        let mut latencies = Vec::new();
        while node.committed_transactions() < target {
            // A block as soon as a full one waits (or the rest, at the end).
            let finished = submitter.is_finished();
            let waiting = node.mempool_len();
            if waiting == 0 && finished {
                break;
            }
            if waiting < block_size && !finished {
                std::thread::sleep(Duration::from_micros(100));
                continue;
            }
            let began = Instant::now();
            let header = node.produce_block().map_err(|error| anyhow!(error))?;
            latencies.push(began.elapsed().as_secs_f64());
            checked(header)?;
        }
        submitter.join().expect("the submitter does not panic")?;
        Ok(latencies)
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let committed = node.committed_transactions() - committed_before;
    ensure!(
        committed == TRANSFERS as u64,
        "{committed} of {TRANSFERS} transfers were committed"
    );
    node.shutdown();

    let name = runtime.name();
    Figure::new("tps", "transfers_per_s", TRANSFERS as f64 / elapsed, "transfers/s")
        .with("runtime", name)
        .with("transfers", TRANSFERS)
        .with("wallets", keys.len())
        .with("submit_batch", submit_batch)
        .print();
    for (metric, p) in [("block_commit_p50_ms", 50.0), ("block_commit_p99_ms", 99.0)] {
        Figure::new("tps", metric, percentile(&latencies, p) * 1e3, "ms")
            .with("runtime", name)
            .with("blocks", latencies.len())
            .print();
    }
    // Where the wall-clock time went, per thread: how busy the submitter
    // (signature checks, admission) and the block producer were.
    let submit_busy = Duration::from_nanos(submit_busy_ns.into_inner()).as_secs_f64();
    Figure::new("tps", "submit_busy_fraction", submit_busy / elapsed, "fraction")
        .with("runtime", name)
        .with("submit_batch", submit_batch)
        .print();
    Figure::new(
        "tps",
        "produce_busy_fraction",
        latencies.iter().sum::<f64>() / elapsed,
        "fraction",
    )
    .with("runtime", name)
    .print();
    Ok(())
}
