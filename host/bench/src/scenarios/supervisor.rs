//! `supervisor`: the supervisor's per-block work as the history of deploy
//! requests grows.
//!
//! One validator in simple mode, in memory (the testkit). First `past`
//! deploy requests (10, 100 and 1,000), 16 per block (what one
//! after-commit may act on), each with a
//! spec of [`SPEC_BYTES`] bytes that is no component: every validator's
//! local deploy refuses it at once (no compile), reports so, and the
//! request ends Failed — a history entry like any other. Then
//! [`MEASURED_BLOCKS`] empty blocks, in which the supervisor's hooks are the
//! only guest work: the fuel they burn per block (the wasm runtime's own
//! count) and the median wall time of a block (execute and commit).
//! Flat figures across `past` mean a block's work does not grow with the
//! history.

use std::time::Instant;

use anyhow::bail;
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{DeployRequest, DeployStatus, SupervisorMode};
use wasmvisor_runtime::{CallInfo, SUPERVISOR_INSTANCE_ID, runtime_id};
use wasmvisor_testkit::governance::{chain, deploy_state};

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

fn wasm_fuel(testkit: &wasmvisor_testkit::TestKit) -> u64 {
    testkit
        .runtime_metrics()
        .iter()
        .filter(|(id, _)| *id == runtime_id::WASM)
        .map(|(_, metrics)| metrics.fuel_consumed)
        .sum()
}

fn history(past: usize) -> anyhow::Result<()> {
    let mut testkit = chain(1, SupervisorMode::Simple);
    let requests: Vec<DeployRequest> = (0..past).map(|index| request(index, 1_000_000)).collect();
    for batch in requests.chunks(REQUESTS_PER_BLOCK) {
        let signed = batch
            .iter()
            .map(|request| {
                let call = CallInfo {
                    instance_id: SUPERVISOR_INSTANCE_ID,
                    method_id: 0,
                };
                testkit.sign_as_validator(0, call, request.encode_to_vec())
            })
            .collect();
        testkit.create_block_with(signed);
        // The local deploys fail, the reports come in after-commit.
        let ended = |testkit: &wasmvisor_testkit::TestKit| {
            batch
                .iter()
                .all(|request| deploy_state(testkit, request).status != DeployStatus::DeployPending as i32)
        };
        let mut blocks = 0;
        while !ended(&testkit) {
            if blocks == BLOCKS_PER_BATCH_MAX {
                bail!("a batch of deploy requests did not end in {BLOCKS_PER_BATCH_MAX} blocks");
            }
            testkit.create_block();
            blocks += 1;
        }
    }
    let failed = requests
        .iter()
        .filter(|request| deploy_state(&testkit, request).status == DeployStatus::DeployFailed as i32)
        .count();
    if failed != past {
        bail!("{failed} of {past} past requests ended Failed");
    }
    let mut fuel = Vec::new();
    let mut seconds = Vec::new();
    for _ in 0..MEASURED_BLOCKS {
        let before = wasm_fuel(&testkit);
        let start = Instant::now();
        testkit.create_block();
        seconds.push(start.elapsed().as_secs_f64());
        fuel.push((wasm_fuel(&testkit) - before) as f64);
    }
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
