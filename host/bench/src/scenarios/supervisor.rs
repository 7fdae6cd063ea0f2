//! `supervisor`: the supervisor's per-block work as the history of deploy
//! requests grows.
//!
//! One validator in simple mode: a `Node` on RocksDB (the development
//! configuration, in a temporary directory). First `past`
//! deploy requests (10, 100 and 1,000), 16 per block (what one
//! after-commit may act on), each with a
//! spec of [`SPEC_BYTES`] bytes that is no component: every validator's
//! local deploy refuses it at once (no compile), reports so, and the
//! request ends Failed — a history entry like any other. Then
//! [`MEASURED_BLOCKS`] empty blocks, in which the supervisor's hooks are the
//! only guest work: the fuel they burn per block (the wasm runtime's own
//! count) and the median wall time of a block (`Node::produce_block`:
//! execute, commit with a synced write, after-commit).
//! Flat figures across `past` mean a block's work does not grow with the
//! history.

use std::time::Instant;

use anyhow::{Context, bail};
use wasmvisor_node::{Node, NodeConfig};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{DeployRequest, DeployState, DeployStatus};
use wasmvisor_runtime::runtime_id;

use crate::report::{Figure, median, note};

/// Numbers of past deploy requests measured.
pub const PAST_REQUESTS: [usize; 3] = [10, 100, 1_000];
/// Bytes of each past request's spec.
pub const SPEC_BYTES: usize = 64 << 10;
/// Empty blocks measured after the history is made.
pub const MEASURED_BLOCKS: usize = 30;
/// Requests sent per block while the history is made (the requests one
/// after-commit may queue local deploys and reports for).
const REQUESTS_PER_BLOCK: usize = wasmvisor_limits::AFTER_COMMIT_REQUESTS_ITEMS_MAX;
/// Blocks a batch of requests may take to end.
const BLOCKS_PER_BATCH_MAX: usize = 20;

fn request(index: usize, deadline_height: u64) -> DeployRequest {
    DeployRequest {
        artifact: Some(wasmvisor_proto::runtime::ArtifactId {
            runtime_id: runtime_id::WASM,
            name: format!("past-{index}"),
            version: "1.0.0".into(),
        }),
        spec: vec![(index % 251) as u8; SPEC_BYTES],
        deadline_height,
        seed: index as u64,
    }
}

fn wasm_fuel(node: &Node) -> u64 {
    node.runtime_metrics()
        .iter()
        .filter(|(name, _)| *name == "wasm")
        .map(|(_, metrics)| metrics.fuel_consumed)
        .sum()
}

fn status(node: &Node, request: &DeployRequest) -> anyhow::Result<i32> {
    let answer = node
        .reader()
        .query("supervisor", "deploy-status", &request.encode_to_vec())
        .map_err(|error| anyhow::anyhow!("deploy-status: {error}"))?;
    Ok(DeployState::decode(answer.as_slice())?.status)
}

fn history(past: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let node =
        Node::open(NodeConfig::development(dir.path().to_owned())).map_err(|error| anyhow::anyhow!("{error}"))?;
    let block = |node: &Node| {
        node.produce_block()
            .map_err(|error| anyhow::anyhow!("a block: {error}"))
    };
    let requests: Vec<DeployRequest> = (0..past).map(|index| request(index, 1_000_000)).collect();
    for batch in requests.chunks(REQUESTS_PER_BLOCK) {
        for request in batch {
            node.submit_to_supervisor(0, request.encode_to_vec())
                .context("a deploy request")?;
        }
        block(&node)?;
        // The local deploys fail, the reports come in after-commit.
        let mut blocks = 0;
        while batch
            .iter()
            .map(|request| status(&node, request))
            .collect::<anyhow::Result<Vec<_>>>()?
            .contains(&(DeployStatus::DeployPending as i32))
        {
            if blocks == BLOCKS_PER_BATCH_MAX {
                bail!("a batch of deploy requests did not end in {BLOCKS_PER_BATCH_MAX} blocks");
            }
            block(&node)?;
            blocks += 1;
        }
    }
    let mut failed = 0;
    for request in &requests {
        failed += usize::from(status(&node, request)? == DeployStatus::DeployFailed as i32);
    }
    if failed != past {
        bail!("{failed} of {past} past requests ended Failed");
    }
    let mut fuel = Vec::new();
    let mut seconds = Vec::new();
    for _ in 0..MEASURED_BLOCKS {
        let before = wasm_fuel(&node);
        let start = Instant::now();
        block(&node)?;
        seconds.push(start.elapsed().as_secs_f64());
        fuel.push((wasm_fuel(&node) - before) as f64);
    }
    node.shutdown();
    let fuel = median(&fuel);
    let block_ms = median(&seconds) * 1e3;
    note(format!(
        "{past} past requests: {fuel} fuel per block, {block_ms:.2} ms per empty block"
    ));
    Figure::new("supervisor", "hook_fuel_per_block", fuel, "fuel")
        .with("past_requests", past)
        .print();
    Figure::new("supervisor", "empty_block_ms", block_ms, "ms")
        .with("past_requests", past)
        .print();
    Ok(())
}

/// Runs the scenario.
pub fn run() -> anyhow::Result<()> {
    eprintln!("supervisor: per-block work against the history of deploys");
    PAST_REQUESTS.into_iter().try_for_each(history)
}
