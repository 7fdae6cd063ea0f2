//! One of four validators lies, with its real keys; the other three keep
//! the chain safe and live. Built only with the node's test-only feature
//! `byzantine` (`scripts/test.sh` runs it on its own), where a validator
//! started with `WASMVISOR_BYZANTINE` misbehaves as it says.
//!
//! The three honest validators run throughout; the fourth is restarted
//! with each behaviour in turn: the engine's seven (equivocating votes or
//! proposals, dropping votes or proposals, ignoring its lock, forcing nil
//! precommits, dropping incoming proposals — scheduled always, at random
//! from a seed, or at chosen heights) and the application's three lies (a
//! proposal whose header names a wrong state root, a proposal carrying a
//! transaction that does not verify, tampered blocks served to a syncing
//! peer). In every episode the liar's log shows the behaviour ran, every
//! transaction the honest validators acknowledged is in a block on every
//! node, and all four hold the same blocks and state roots; at the end each
//! node's stored chain replays identically (the replay oracle), and a
//! summary line gives the episodes, the heights a liar ran, the blocks and
//! transactions, and the longest time to converge.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use crate::network::{assert_same_chain, configure, height, recorded, sign_entry};
use crate::support::{RunningNode, edit_toml, replays, wait_for, wait_for_within};

/// The guestbook, the genesis block's system service (instance 1).
const GUESTBOOK: u32 = 1;
/// Transactions the honest validators take in each episode.
const TRANSACTIONS_PER_EPISODE: usize = 12;
/// Blocks each episode lasts beyond the liar's catching up.
const BLOCKS_PER_EPISODE: u64 = 8;

/// A behaviour, and the line in the liar's log that shows it ran.
struct Episode {
    name: &'static str,
    behaviour: Value,
    evidence: &'static str,
}

fn episodes() -> Vec<Episode> {
    let engine = |config: Value| json!({ "engine": config });
    vec![
        Episode {
            name: "equivocate votes (always)",
            behaviour: engine(json!({ "equivocate_votes": { "mode": "always" } })),
            evidence: "BYZANTINE: Equivocating vote",
        },
        Episode {
            name: "equivocate proposals (always)",
            behaviour: engine(json!({ "equivocate_proposals": { "mode": "always" } })),
            evidence: "BYZANTINE: Sending conflicting proposal",
        },
        Episode {
            name: "drop votes (random, p = 0.5, seed 7)",
            behaviour: engine(json!({ "drop_votes": { "mode": "random", "probability": 0.5 }, "seed": 7 })),
            evidence: "BYZANTINE: Dropping vote",
        },
        Episode {
            name: "drop proposals (always)",
            behaviour: engine(json!({ "drop_proposals": { "mode": "always" } })),
            evidence: "BYZANTINE: Dropping proposal",
        },
        Episode {
            // Its nil prevotes (it judges every proposal invalid, so the
            // rules make it prevote nil) become votes for the block it
            // saw: among honest peers, whose rounds do not fail, no lock
            // forms for it to ignore otherwise.
            name: "ignore locks (always): prevotes for blocks it judged invalid",
            behaviour: json!({
                "engine": { "ignore_locks": { "mode": "always" } },
                "lie": "rejects_proposals",
            }),
            evidence: "BYZANTINE AMNESIA: Overriding nil prevote",
        },
        Episode {
            name: "force nil precommits (random, p = 0.7, seed 3)",
            behaviour: engine(json!({ "force_precommit_nil": { "mode": "random", "probability": 0.7 }, "seed": 3 })),
            evidence: "BYZANTINE: precommitting nil",
        },
        Episode {
            name: "drop incoming proposals (heights 1 to 100000)",
            behaviour: engine(json!({ "drop_inbound_proposals": { "mode": "height_range", "from": 1, "to": 100000 } })),
            evidence: "BYZANTINE: Dropping inbound proposal",
        },
        Episode {
            name: "lie: a wrong state root",
            behaviour: json!({ "lie": "wrong_state_root" }),
            evidence: "BYZANTINE: proposing a lie",
        },
        Episode {
            name: "lie: a transaction that does not verify",
            behaviour: json!({ "lie": "invalid_transaction" }),
            evidence: "BYZANTINE: proposing a lie",
        },
    ]
}

/// `wasmvisor run` of `config` misbehaving as `behaviour` says, its log in
/// `log`.
fn run_lying(config: &Path, behaviour: &Value, log: &Path) -> RunningNode {
    RunningNode::run_with(config, |command| {
        command
            .env("WASMVISOR_BYZANTINE", behaviour.to_string())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
    })
}

/// How many lines of the log at `path` contain `evidence`.
fn evidence_in(path: &Path, evidence: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(evidence))
        .count()
}

/// Guestbook entries signed by fresh authors, submitted to the honest
/// validators in turn; their hashes.
fn submit(honest: &[&RunningNode], count: usize, tag: &str) -> Vec<String> {
    (0..count)
        .map(|index| {
            let author = SigningKey::from_bytes(&rand_seed());
            sign_entry(
                honest[index % honest.len()],
                &author,
                GUESTBOOK,
                &format!("{tag} {index}"),
            )
        })
        .collect()
}

fn rand_seed() -> [u8; 32] {
    std::array::from_fn(|_| fastrand::u8(..))
}

/// Waits until every transaction in `hashes` is in a block on every node
/// of `nodes`.
fn all_recorded(nodes: &[&RunningNode], hashes: &[String]) {
    wait_for("every acknowledged transaction in a block on every node", || {
        nodes.iter().all(|node| hashes.iter().all(|hash| recorded(node, hash)))
    });
}

#[test]
fn one_byzantine_validator_of_four_neither_forks_nor_stops_the_chain() {
    let network = configure();
    let dir = network.dir.path();
    std::fs::copy(wasmvisor_artifacts::GUESTBOOK.path, dir.join("guestbook.wasm")).unwrap();
    for config in &network.configs {
        edit_toml(config, config, |table| {
            let service: toml::Table = toml::from_str(&format!(
                "[guestbook]\nartifact = \"guestbook:1.0.0\"\ncomponent = \"{}\"\n",
                dir.join("guestbook.wasm").display()
            ))
            .unwrap();
            table.insert("system_services".into(), toml::Value::Table(service));
        });
    }
    let mut honest: Vec<RunningNode> = network.configs[..3]
        .iter()
        .map(|config| RunningNode::run(config))
        .collect();
    let liar_config: PathBuf = network.configs[3].clone();
    let (mut episodes_run, mut lying_heights, mut transactions, mut slowest) = (0, 0, 0, Duration::ZERO);
    for (index, episode) in episodes().iter().enumerate() {
        let log = dir.join(format!("liar-{index}.log"));
        let started = Instant::now();
        let liar = run_lying(&liar_config, &episode.behaviour, &log);
        let start = height(&honest[0]);
        let views: Vec<&RunningNode> = honest.iter().collect();
        let hashes = submit(&views, TRANSACTIONS_PER_EPISODE, episode.name);
        let target = start + BLOCKS_PER_EPISODE;
        wait_for(episode.name, || {
            honest.iter().chain([&liar]).all(|node| height(node) >= target) && evidence_in(&log, episode.evidence) > 0
        });
        let mut all: Vec<&RunningNode> = honest.iter().collect();
        all.push(&liar);
        all_recorded(&all, &hashes);
        let took = started.elapsed();
        let common = assert_same_chain(&all);
        println!(
            "byzantine: {:<52} heights {start}..{common}, {} transactions, 0 lost, 0 divergences, evidence {}, \
             converged in {took:.1?}",
            episode.name,
            hashes.len(),
            evidence_in(&log, episode.evidence)
        );
        (episodes_run, lying_heights, transactions) = (
            episodes_run + 1,
            lying_heights + common - start,
            transactions + hashes.len(),
        );
        slowest = slowest.max(took);
        liar.stop();
    }

    // Tampered sync: one honest validator stopped while the chain grows,
    // then brought back with the liar as the only peer that has the blocks
    // it lacks — every block it is served is tampered, and it commits
    // none — then with the others back it catches up with the true chain.
    let log = dir.join("liar-sync.log");
    let behaviour = json!({ "lie": "tampered_sync" });
    let liar = run_lying(&liar_config, &behaviour, &log);
    let start = height(&honest[0]);
    honest.remove(2).stop();
    let views: Vec<&RunningNode> = honest.iter().collect();
    let hashes = submit(&views, TRANSACTIONS_PER_EPISODE, "tampered sync");
    let mut running: Vec<&RunningNode> = honest.iter().collect();
    running.push(&liar);
    all_recorded(&running, &hashes);
    let target = height(&honest[0]) + BLOCKS_PER_EPISODE;
    wait_for("blocks while one validator is away", || {
        running.iter().all(|node| height(node) >= target)
    });
    let halted = height(&honest[0]);
    for node in honest.drain(..) {
        node.stop();
    }
    let served_before = evidence_in(&log, "BYZANTINE: serving a tampered block");
    let behind_log = dir.join("behind.log");
    let behind = RunningNode::run_with(&network.configs[2], |command| {
        command.stderr(Stdio::from(std::fs::File::create(&behind_log).unwrap()));
    });
    let behind_height = height(&behind);
    assert!(
        behind_height + 1 < halted,
        "the validator is behind: {behind_height} + 1 < {halted}"
    );
    wait_for_within("the liar to serve it tampered blocks", Duration::from_secs(60), || {
        evidence_in(&log, "BYZANTINE: serving a tampered block") > served_before
            // and it refused them: the transactions changed under a header
            // (this node's check), or the header itself (the engine's).
            && evidence_in(&behind_log, "with other transactions than its header's; asking another")
                + evidence_in(&behind_log, "Synced value id does not match commit certificate")
                > 0
    });
    // A few more seconds of tampered answers: none is taken. (It may
    // finish the one height it was deciding when it stopped, from the
    // votes its own consensus log kept; every block it holds is compared
    // with the honest chain below.)
    let watch = Instant::now();
    while watch.elapsed() < Duration::from_secs(5) {
        assert!(
            height(&behind) <= behind_height + 1,
            "a syncing validator committed a block only the liar served"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let healed = Instant::now();
    let honest: Vec<RunningNode> = network.configs[..2]
        .iter()
        .map(|config| RunningNode::run(config))
        .collect();
    let mut all: Vec<&RunningNode> = honest.iter().collect();
    all.push(&behind);
    all.push(&liar);
    wait_for("the stopped validator to catch up with the true chain", || {
        all.iter().all(|node| height(node) > halted + 2)
    });
    all_recorded(&all, &hashes);
    let took = healed.elapsed();
    let common = assert_same_chain(&all);
    println!(
        "byzantine: {:<52} heights {start}..{common} (the syncing one from {behind_height}), {} transactions, 0 lost, \
         0 divergences, evidence {}, caught up in {took:.1?}",
        "lie: tampered blocks to a syncing peer",
        hashes.len(),
        evidence_in(&log, "BYZANTINE: serving a tampered block")
    );
    (episodes_run, lying_heights, transactions) = (
        episodes_run + 1,
        lying_heights + common - start,
        transactions + hashes.len(),
    );
    slowest = slowest.max(took);

    // Every node's stored chain replays identically.
    for node in honest.into_iter().chain([behind, liar]) {
        node.stop();
    }
    let mut replayed = 0;
    for config in &network.configs {
        replayed = replays(config).0;
    }
    println!(
        "byzantine summary: {episodes_run} episodes, byzantine heights {lying_heights}, {common} blocks on every node \
         ({replayed} replayed identically on each), {transactions} transactions, 0 divergences, 0 lost, max time to \
         converge {slowest:.1?}, seeds 7 and 3"
    );
}
