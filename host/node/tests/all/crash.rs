//! Crash consistency of the real binary: `wasmvisor run` under a steady
//! transaction load is killed with SIGKILL at random moments and restarted,
//! again and again. After every restart no block or transaction seen
//! committed is lost or changed, and the height never goes backwards; at
//! the end `wasmvisor replay` re-executes the whole stored block log on a
//! fresh chain and every block's roots and hash match.
//!
//! The moments are random but reproducible: the test prints its seed, and
//! `WASMVISOR_CRASH_SEED=<seed>` runs the same schedule again.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig};
use wasmvisor_runtime::CallInfo;

use crate::support::{RunningNode, agent, chain_id, try_get, wasmvisor, write_config};

/// How many times the node is killed.
const KILLS: u32 = 30;
/// How long the node runs under load before a kill, in milliseconds.
const RUN_MS: std::ops::RangeInclusive<u64> = 100..=1_200;
/// Pause between two submissions of the load generator.
const SUBMIT_PAUSE: Duration = Duration::from_millis(3);
/// The token system service's instance id (the first after the supervisor).
const COINS: u32 = 1;

/// What the test saw the node commit: block hashes by height, and the
/// height of each transaction seen committed.
#[derive(Default)]
struct Observed {
    blocks: BTreeMap<u64, String>,
    transactions: BTreeMap<String, u64>,
    /// Transactions committed since the last restart's check.
    recent: Vec<String>,
}

impl Observed {
    fn height(&self) -> Option<u64> {
        self.blocks.keys().next_back().copied()
    }

    fn block(&mut self, height: u64, hash: &str) {
        if let Some(seen) = self.blocks.insert(height, hash.to_owned()) {
            assert_eq!(seen, hash, "block {height} changed while the node ran");
        }
    }
}

/// Where the load goes, while a node is up.
type Target = Arc<Mutex<Option<(String, [u8; 32])>>>;

/// Signs an endless mix of new wallets and issues to wallets created
/// before (some of which a kill lost: those fail in their block).
fn load(target: Target, accepted: Arc<Mutex<VecDeque<String>>>, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let http = agent();
    let mut number: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        let Some((public, chain)) = target.lock().unwrap().clone() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        number += 1;
        let key = |number: u64| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&number.to_le_bytes());
            SigningKey::from_bytes(&seed)
        };
        let (author, method_id, arguments) = if number.is_multiple_of(3) {
            let issue = Issue {
                amount: number % 97 + 1,
                seed: number,
            };
            (key(number / 2), 1, issue.encode_to_vec())
        } else {
            let wallet = CreateWallet {
                name: format!("w{number}"),
            };
            (key(number), 0, wallet.encode_to_vec())
        };
        let signed = wasmvisor_blockchain::sign(
            &author,
            &chain,
            CallInfo {
                instance_id: COINS,
                method_id,
            },
            arguments,
        );
        let answer = http
            .post(&format!("{public}/api/explorer/v1/transactions"))
            .header("content-type", "application/octet-stream")
            .send(&signed[..]);
        if let Ok(mut response) = answer
            && response.status() == 200
        {
            let reply: Value =
                serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default()).unwrap_or_default();
            if let Some(hash) = reply["tx_hash"].as_str() {
                accepted.lock().unwrap().push_back(hash.to_owned());
                sent.fetch_add(1, Ordering::SeqCst);
            }
        }
        std::thread::sleep(SUBMIT_PAUSE);
    }
}

/// The status of a transaction: `(status, height)`; `None` if unknown.
fn transaction_status(public: &str, hash: &str) -> Option<(String, u64)> {
    let (status, answer) = try_get(&format!("{public}/api/explorer/v1/transactions?hash={hash}"))?;
    if status != 200 {
        return None;
    }
    let state = answer["status"].as_str()?.to_owned();
    Some((state, answer["height"].as_u64().unwrap_or(u64::MAX)))
}

/// Records the latest blocks and the accepted transactions now committed.
fn observe(public: &str, observed: &mut Observed, pending: &mut VecDeque<String>, limit: usize) {
    let Some((200, answer)) = try_get(&format!("{public}/api/explorer/v1/blocks?count=100")) else {
        return;
    };
    for header in answer["blocks"].as_array().into_iter().flatten() {
        observed.block(header["height"].as_u64().unwrap(), header["hash"].as_str().unwrap());
    }
    // The oldest accepted transactions first: most are committed by now.
    let mut still_pending = VecDeque::new();
    let mut remaining = pending.drain(..);
    for hash in remaining.by_ref().take(limit) {
        match transaction_status(public, &hash) {
            Some((state, height)) if state == "committed" || state == "failed" => {
                observed.transactions.insert(hash.clone(), height);
                observed.recent.push(hash);
            }
            _ => still_pending.push_back(hash),
        }
    }
    still_pending.extend(remaining);
    *pending = still_pending;
}

/// After a restart: the height did not go backwards, every block seen is
/// there with the same hash, and the transactions seen committed since the
/// last check are committed at the same height (older ones are covered by
/// their block's hash, which commits to the block's transactions).
fn check_after_restart(public: &str, observed: &mut Observed, restart: u32) {
    let (_, answer) = try_get(&format!("{public}/api/explorer/v1/blocks?count=1")).expect("the node answers");
    let height = answer["blocks"][0]["height"].as_u64().expect("a latest block");
    if let Some(seen) = observed.height() {
        assert!(
            height >= seen,
            "restart {restart}: height went back from {seen} to {height}"
        );
    }
    for (seen_height, hash) in &observed.blocks {
        let (status, block) = try_get(&format!("{public}/api/explorer/v1/block?height={seen_height}")).unwrap();
        assert_eq!(status, 200, "restart {restart}: block {seen_height} is lost: {block}");
        assert_eq!(
            block["hash"].as_str(),
            Some(hash.as_str()),
            "restart {restart}: block {seen_height} changed"
        );
    }
    for hash in observed.recent.drain(..) {
        let seen = observed.transactions[&hash];
        let (state, height) = transaction_status(public, &hash)
            .unwrap_or_else(|| panic!("restart {restart}: committed transaction {hash} is lost"));
        assert!(
            (state == "committed" || state == "failed") && height == seen,
            "restart {restart}: transaction {hash} was committed at {seen}, now {state} at {height}"
        );
    }
}

#[test]
fn sigkill_under_load_loses_no_committed_block_and_replays_identically() {
    let seed = std::env::var("WASMVISOR_CRASH_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash consistency: seed {seed} (WASMVISOR_CRASH_SEED={seed} repeats the schedule)");
    let mut rng = fastrand::Rng::with_seed(seed);

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(wasmvisor_artifacts::TOKEN.path, dir.path().join("token.wasm")).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[system_services]\nenable = [\"coins\"]\n\n[system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"token.wasm\"\nparams = \"{}\"\n",
            hex::encode(TokenConfig { issue_max: 0 }.encode_to_vec())
        ),
    );

    let target: Target = Arc::default();
    let accepted: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let generator = {
        let (target, accepted, stop, sent) = (
            Arc::clone(&target),
            Arc::clone(&accepted),
            Arc::clone(&stop),
            Arc::clone(&sent),
        );
        std::thread::spawn(move || load(target, accepted, stop, sent))
    };

    let mut observed = Observed::default();
    let mut pending = VecDeque::new();
    let mut lost_from_mempool = 0usize;
    let mut genesis = None;
    let started = Instant::now();
    for restart in 0..=KILLS {
        let node = RunningNode::run(&config);
        let chain = chain_id(&node);
        assert_eq!(*genesis.get_or_insert(chain), chain, "restart {restart}: another chain");
        if restart > 0 {
            check_after_restart(&node.public, &mut observed, restart);
            // What was accepted but not committed before the kill was only
            // in the mempool, which does not survive a crash.
            pending.extend(accepted.lock().unwrap().drain(..));
            observe(&node.public, &mut observed, &mut pending, usize::MAX);
            lost_from_mempool += pending.len();
            pending.clear();
        }
        if restart == KILLS {
            *target.lock().unwrap() = None;
            observe(&node.public, &mut observed, &mut pending, usize::MAX);
            node.stop();
            break;
        }
        *target.lock().unwrap() = Some((node.public.clone(), chain));
        let run_for = Duration::from_millis(rng.u64(RUN_MS));
        let until = Instant::now() + run_for;
        while Instant::now() < until {
            pending.extend(accepted.lock().unwrap().drain(..));
            observe(&node.public, &mut observed, &mut pending, 200);
            std::thread::sleep(Duration::from_millis(rng.u64(10..=80)));
        }
        *target.lock().unwrap() = None;
        node.kill();
    }
    stop.store(true, Ordering::SeqCst);
    generator.join().unwrap();

    // The reference replay of the whole stored block log.
    let output = wasmvisor(&["replay", "--config", config.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "the replay diverged: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let blocks = report["blocks"].as_u64().unwrap();
    let transactions = report["transactions"].as_u64().unwrap();
    let seen_height = observed.height().expect("blocks were seen");
    assert!(
        blocks > seen_height,
        "the replay covered {blocks} blocks; {seen_height} was seen"
    );
    assert!(
        transactions >= observed.transactions.len() as u64,
        "the replay re-executed {transactions} transactions; {} were seen committed",
        observed.transactions.len()
    );
    assert!(
        observed.transactions.len() > 100,
        "the load was too light to mean anything: {} transactions",
        observed.transactions.len()
    );
    eprintln!(
        "crash consistency: {KILLS} SIGKILLs in {:.0?}; {blocks} blocks and {transactions} transactions replayed \
         identically; {} blocks and {} transactions seen committed before kills, none lost; {} submitted, {} \
         accepted but only pooled when a kill came",
        started.elapsed(),
        observed.blocks.len(),
        observed.transactions.len(),
        sent.load(Ordering::SeqCst),
        lost_from_mempool
    );
}
