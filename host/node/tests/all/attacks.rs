//! The standing attack suite against the real binary: every attack is
//! named, each is followed by an honest transaction that must commit, and
//! the suite ends by printing how many attacks the chain went on after, how
//! many committed transactions were lost (none) and the node's peak
//! resident memory. `scripts/test.sh` runs it with its output shown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{DeployRequest, DeployState, DeployStatus};
use wasmvisor_proto::token::{CreateWallet, TokenConfig};
use wasmvisor_runtime::CallInfo;

use crate::support::{RunningNode, answer, chain_id, get, outcome, post, submit, wait_for, write_config};

/// The token system service's instance id.
const COINS: u32 = 1;
/// The hostile guest's instance id.
const HOSTILE: u32 = 2;
/// Resident memory the node may reach under the whole suite, in MiB: the
/// mempool's byte budget (256 MiB) and large request bodies (8 × 16 MiB)
/// held at once, the blocks being executed, RocksDB and wasmtime's pool.
const RSS_BOUND_MIB: u64 = 1_536;
/// Longest a hostile guest's transaction may take from submission to its
/// block (the node is a debug build here; a block interval is 100 ms).
const GUEST_ATTACK_SECONDS_MAX: u64 = 30;

/// A transaction of exactly `size` bytes, signed by a fresh key (`seed`),
/// to `instance_id` with arguments that are not a valid message.
fn of_size(chain: &[u8; 32], seed: u8, instance_id: u32, size: usize) -> Vec<u8> {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let call = CallInfo {
        instance_id,
        method_id: 1,
    };
    let overhead = wasmvisor_blockchain::sign(&key, chain, call, Vec::new()).len();
    let mut length = size - overhead;
    loop {
        let signed = wasmvisor_blockchain::sign(&key, chain, call, vec![0xff; length]);
        match signed.len().cmp(&size) {
            std::cmp::Ordering::Equal => return signed,
            std::cmp::Ordering::Greater => length -= signed.len() - size,
            std::cmp::Ordering::Less => length += size - signed.len(),
        }
    }
}

fn coins_and_hostile_node(dir: &std::path::Path) -> RunningNode {
    std::fs::copy(wasmvisor_artifacts::TOKEN.path, dir.join("token.wasm")).unwrap();
    std::fs::copy(wasmvisor_artifacts::HOSTILE.path, dir.join("hostile.wasm")).unwrap();
    let config = write_config(
        dir,
        &format!(
            "[system_services]\nenable = [\"coins\", \"hostile\"]\n\n\
             [system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"token.wasm\"\nparams = \"{}\"\n\n\
             [system_services.hostile]\nartifact = \"hostile:1.0.0\"\ncomponent = \"hostile.wasm\"\n",
            hex::encode(TokenConfig { issue_max: 0 }.encode_to_vec())
        ),
    );
    RunningNode::run(&config)
}

/// The node's resident memory now and at its peak, in MiB.
fn rss_mib(node: &RunningNode) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What the suite has seen: attacks survived, honest transactions and the
/// height each was committed at.
struct Suite {
    node: RunningNode,
    chain: [u8; 32],
    attacks: Vec<&'static str>,
    honest: Vec<(String, u64)>,
    next_seed: u8,
}

impl Suite {
    fn new(node: RunningNode) -> Self {
        let chain = chain_id(&node);
        Self {
            node,
            chain,
            attacks: Vec::new(),
            honest: Vec::new(),
            next_seed: 1,
        }
    }

    fn seed(&mut self) -> u8 {
        self.next_seed = self.next_seed.wrapping_add(1).max(1);
        self.next_seed
    }

    /// An honest transaction (a new wallet) is admitted and committed.
    fn honest_transaction_commits(&mut self) {
        let key = SigningKey::from_bytes(&[self.seed(); 32]);
        let signed = wasmvisor_blockchain::sign(
            &key,
            &self.chain,
            CallInfo {
                instance_id: COINS,
                method_id: 0,
            },
            CreateWallet { name: "honest".into() }.encode_to_vec(),
        );
        let (status, reply) = submit(&self.node, signed);
        assert_eq!(status, 200, "an honest transaction was refused: {reply}");
        let hash = reply["tx_hash"].as_str().unwrap().to_owned();
        let done = outcome(&self.node, &hash);
        assert_eq!(done["status"], "committed", "{done}");
        self.honest.push((hash, done["height"].as_u64().unwrap()));
    }

    /// Runs one named attack, then an honest transaction must commit.
    fn attack(&mut self, name: &'static str, attack: impl FnOnce(&mut Suite)) {
        let start = Instant::now();
        attack(self);
        self.honest_transaction_commits();
        let (rss, peak) = rss_mib(&self.node);
        println!(
            "attack {}: {name}: the chain went on ({:.1} s, RSS {rss} MiB, peak {peak} MiB)",
            self.attacks.len() + 1,
            start.elapsed().as_secs_f64()
        );
        self.attacks.push(name);
    }

    /// Submits a hostile guest's method and waits for its block: the
    /// recorded error (kind text) and how long it took.
    fn hostile_call(&mut self, method_id: u32, arguments: Vec<u8>) -> (String, Duration) {
        let (error, elapsed) = self.hostile_outcome(method_id, arguments);
        (error["kind"].as_str().unwrap_or("none").to_owned(), elapsed)
    }

    /// Submits a hostile guest's method and waits for its block: the
    /// recorded error (`null` if none) and how long it took.
    fn hostile_outcome(&mut self, method_id: u32, arguments: Vec<u8>) -> (Value, Duration) {
        let key = SigningKey::from_bytes(&[self.seed(); 32]);
        let signed = wasmvisor_blockchain::sign(
            &key,
            &self.chain,
            CallInfo {
                instance_id: HOSTILE,
                method_id,
            },
            arguments,
        );
        let start = Instant::now();
        let (status, reply) = submit(&self.node, signed);
        assert_eq!(status, 200, "{reply}");
        let done = outcome(&self.node, reply["tx_hash"].as_str().unwrap());
        (done["error"].clone(), start.elapsed())
    }

    /// A hostile guest's attack ends with `expected`, within the time and
    /// memory bounds.
    fn hostile_attack_ends_with(&mut self, method_id: u32, arguments: Vec<u8>, expected: &str) {
        let (kind, elapsed) = self.hostile_call(method_id, arguments);
        assert_eq!(kind, expected, "method {method_id}");
        assert!(
            elapsed < Duration::from_secs(GUEST_ATTACK_SECONDS_MAX),
            "method {method_id} took {elapsed:?}"
        );
        let (rss, _) = rss_mib(&self.node);
        assert!(rss < RSS_BOUND_MIB, "method {method_id}: RSS {rss} MiB");
    }

    /// Every honest transaction is still committed at its height.
    fn lost_transactions(&self) -> usize {
        self.honest
            .iter()
            .filter(|(hash, height)| {
                let (_, answer) = get(&format!(
                    "{}/api/explorer/v1/transactions?hash={hash}",
                    self.node.public
                ));
                answer["status"] != "committed" || answer["height"].as_u64() != Some(*height)
            })
            .count()
    }
}

/// The size limit of transactions that once stopped every chain: a
/// stranger's transaction of a little over one mebibyte was admitted but
/// could not be recorded in a block, so no block was made again.
#[test]
fn a_transaction_over_a_mebibyte_is_recorded_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut suite = Suite::new(coins_and_hostile_node(dir.path()));
    let signed = of_size(&suite.chain, 200, COINS, 1_052_816);
    let (status, reply) = submit(&suite.node, signed);
    assert_eq!(status, 200, "{reply}");
    let done = outcome(&suite.node, reply["tx_hash"].as_str().unwrap());
    assert_eq!(done["status"], "failed", "recorded in a block: {done}");
    suite.honest_transaction_commits();
    suite.honest_transaction_commits();
}

/// Sizes at the limit − 1 and the limit are recorded; the limit + 1 is
/// refused before decoding and never reaches a block.
fn transactions_at_the_size_limit(suite: &mut Suite) {
    let limit = wasmvisor_limits::TRANSACTION_BYTES_MAX;
    for size in [limit - 1, limit] {
        let seed = suite.seed();
        let (status, reply) = submit(&suite.node, of_size(&suite.chain, seed, COINS, size));
        assert_eq!(status, 200, "{size} bytes: {reply}");
        let done = outcome(&suite.node, reply["tx_hash"].as_str().unwrap());
        assert_eq!(done["status"], "failed", "{size} bytes recorded: {done}");
    }
    let seed = suite.seed();
    let (status, reply) = submit(&suite.node, of_size(&suite.chain, seed, COINS, limit + 1));
    assert_eq!(status, 413, "{reply}");
}

/// A component padded (with a custom section) to exactly `size` bytes.
fn component_of_size(size: usize) -> Vec<u8> {
    let mut component = wasmvisor_artifacts::TOKEN.bytes.to_vec();
    let name = b"padding";
    // A custom section: id 0, its size (LEB128, 5 bytes padded), the name.
    let header = 1 + 5 + 1 + name.len();
    let payload = size - component.len() - header;
    let content = 1 + name.len() + payload;
    component.push(0);
    let mut value = content as u32;
    for index in 0..5 {
        let more = if index < 4 { 0x80 } else { 0 };
        component.push((value & 0x7f) as u8 | more);
        value >>= 7;
    }
    component.push(name.len() as u8);
    component.extend_from_slice(name);
    component.resize(size, 0);
    component
}

/// A deploy of a component at the size limit becomes Active; one byte more
/// fails its deploy, with the reason, on every validator alike.
fn deploys_at_the_component_limit(suite: &mut Suite) {
    let limit = wasmvisor_limits::COMPONENT_BYTES_MAX;
    let height = get(&format!("{}/api/system/v1/info", suite.node.public)).1["height"]
        .as_u64()
        .unwrap();
    for (size, version, expected) in [
        (limit, "1.0.0", DeployStatus::DeploySucceeded),
        (limit + 1, "1.0.1", DeployStatus::DeployFailed),
    ] {
        let request = DeployRequest {
            artifact: Some(wasmvisor_proto::runtime::ArtifactId {
                runtime_id: wasmvisor_runtime::runtime_id::WASM,
                name: "padded".into(),
                version: version.into(),
            }),
            spec: wasmvisor_wasm::deploy_spec(&component_of_size(size)).encode_to_vec(),
            deadline_height: height + 1000,
            seed: 0,
        };
        let (status, reply) = post(
            &format!("{}/api/services/supervisor/deploy-artifact", suite.node.private),
            "application/x-protobuf",
            request.encode_to_vec(),
        );
        assert_eq!(status, 200, "{reply}");
        let url = format!(
            "{}/api/services/supervisor/deploy-status-by-hash?arguments={}",
            suite.node.private,
            hex::encode(wasmvisor_node::requests::deploy_request_key(&request))
        );
        wait_for("the deploy's end", || {
            let (status, reply) = get(&url);
            status == 200 && {
                let state = DeployState::decode(answer(&reply).as_slice()).unwrap();
                state.status != DeployStatus::DeployPending as i32
            }
        });
        let state = DeployState::decode(answer(&get(&url).1).as_slice()).unwrap();
        assert_eq!(state.status, expected as i32, "a component of {size} bytes: {state:?}");
    }
}

/// Many transactions of the largest size at once: each is admitted or
/// refused because the mempool is full (503), none breaks anything, and
/// every admitted one reaches a block.
fn a_flood_of_the_largest_transactions(suite: &mut Suite) {
    let limit = wasmvisor_limits::TRANSACTION_BYTES_MAX;
    let transactions: Vec<Vec<u8>> = (0..40)
        .map(|_| {
            let seed = suite.seed();
            of_size(&suite.chain, seed, COINS, limit)
        })
        .collect();
    let url = format!("{}/api/explorer/v1/transactions", suite.node.public);
    let replies: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = transactions
            .into_iter()
            .map(|signed| {
                let url = url.clone();
                scope.spawn(move || post(&url, "application/octet-stream", signed))
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let mut admitted = Vec::new();
    for (status, reply) in &replies {
        match status {
            200 => admitted.push(reply["tx_hash"].as_str().unwrap().to_owned()),
            503 => assert!(reply["error"].as_str().unwrap().contains("mempool is full"), "{reply}"),
            other => panic!("a flood transaction got {other}: {reply}"),
        }
    }
    assert!(!admitted.is_empty());
    for hash in &admitted {
        let done = outcome(&suite.node, hash);
        assert_eq!(done["status"], "failed", "recorded: {done}");
    }
    println!(
        "  {} of {} admitted, the rest refused with 503; all admitted ones recorded",
        admitted.len(),
        replies.len()
    );
}

/// Clients that send part of a request's head and stall, and one that sends a body a
/// byte a second, hold a connection no longer than the time limits (the
/// head's, then 408 for the request); the API answers others meanwhile.
fn slow_clients(suite: &mut Suite) {
    let address = suite.node.public.trim_start_matches("http://").to_owned();
    let mut slow: Vec<TcpStream> = (0..32)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /api/system/v1/info HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    // One client sends its head at once and its body a byte a second: the
    // request is answered 408 once it has taken the request time limit.
    let trickle = {
        let address = address.clone();
        std::thread::spawn(move || {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream
                .write_all(
                    b"POST /api/explorer/v1/transactions HTTP/1.1\r\nHost: x\r\n\
                      Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n",
                )
                .unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(1_000))).unwrap();
            let start = Instant::now();
            let mut answer = Vec::new();
            while start.elapsed() < Duration::from_millis(wasmvisor_limits::HTTP_REQUEST_TIMEOUT_MS + 10_000) {
                if stream.write_all(b"x").is_err() {
                    break;
                }
                let mut buffer = [0u8; 512];
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(read) => answer.extend_from_slice(&buffer[..read]),
                    Err(_) => {}
                }
                if !answer.is_empty() {
                    break;
                }
            }
            (String::from_utf8_lossy(&answer).into_owned(), start.elapsed())
        })
    };
    // The API answers meanwhile, and blocks go on.
    suite.honest_transaction_commits();
    let limit = Duration::from_millis(wasmvisor_limits::HTTP_HEADER_TIMEOUT_MS);
    std::thread::sleep(limit + Duration::from_secs(2));
    for stream in &mut slow {
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buffer = [0u8; 512];
        // Closed by the node (possibly after a 408), not left open.
        let mut closed = false;
        for _ in 0..4 {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => {
                    closed = true;
                    break;
                }
                Ok(_) => continue,
            }
        }
        assert!(closed, "a slow client's connection stayed open");
    }
    let (answer, elapsed) = trickle.join().unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a slow body was answered {answer:?} after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_millis(wasmvisor_limits::HTTP_REQUEST_TIMEOUT_MS + 5_000));
}

/// More connections at once than the API serves: the node holds them in
/// its backlog without failing, and serves again once they go.
fn many_concurrent_clients(suite: &mut Suite) {
    let address = suite.node.public.trim_start_matches("http://").to_owned();
    let crowd: Vec<TcpStream> = (0..wasmvisor_limits::HTTP_CONNECTIONS_ITEMS_MAX + 64)
        .filter_map(|_| TcpStream::connect(&address).ok())
        .collect();
    assert!(crowd.len() > wasmvisor_limits::HTTP_CONNECTIONS_ITEMS_MAX);
    // The other API has its own connections: it answers, and blocks go on.
    let height = |suite: &Suite| {
        let (status, metrics) = get(&format!("{}/metrics", suite.node.private));
        assert_eq!(status, 200);
        let text = metrics.as_str().unwrap().to_owned();
        text.lines()
            .find_map(|line| line.strip_prefix("wasmvisor_block_height "))
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap()
    };
    let before = height(suite);
    wait_for("blocks while the public API is crowded", || height(suite) > before + 2);
    drop(crowd);
}

/// Clients that ask, many at once and again and again, a query that takes
/// 48 MiB of guest memory and spins: each ends when its fuel does, only a
/// few run at once, and blocks go on meanwhile.
fn a_flood_of_hungry_queries(suite: &mut Suite) {
    let url = format!("{}/api/services/hostile/hog", suite.node.public);
    let clients = 32;
    let replies: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let url = url.clone();
                scope.spawn(move || (0..3).map(|_| get(&url)).collect::<Vec<_>>())
            })
            .collect();
        // An honest transaction commits while they run.
        suite.honest_transaction_commits();
        let (rss, _) = rss_mib(&suite.node);
        assert!(rss < RSS_BOUND_MIB, "RSS {rss} MiB under the query flood");
        handles.into_iter().flat_map(|handle| handle.join().unwrap()).collect()
    });
    for (status, reply) in &replies {
        assert_eq!(*status, 500, "{reply}");
        assert!(reply["error"].as_str().unwrap_or_default().contains("fuel"), "{reply}");
    }
    println!("  {} queries, each ended by its fuel", replies.len());
}

#[test]
fn the_standing_attack_suite() {
    let dir = tempfile::tempdir().unwrap();
    let mut suite = Suite::new(coins_and_hostile_node(dir.path()));
    suite.honest_transaction_commits();

    suite.attack("a stranger's transaction of one mebibyte and a byte", |suite| {
        let seed = suite.seed();
        let signed = of_size(&suite.chain, seed, COINS, wasmvisor_limits::SERVICE_VALUE_BYTES_MAX + 1);
        let (status, reply) = submit(&suite.node, signed);
        assert_eq!(status, 200, "{reply}");
        let done = outcome(&suite.node, reply["tx_hash"].as_str().unwrap());
        assert_eq!(done["status"], "failed", "{done}");
    });
    suite.attack(
        "transactions at the size limit - 1, the limit and + 1",
        transactions_at_the_size_limit,
    );
    suite.attack(
        "deploys of a component at the size limit and + 1",
        deploys_at_the_component_limit,
    );
    suite.attack(
        "a flood of the largest transactions",
        a_flood_of_the_largest_transactions,
    );
    suite.attack("slow clients (stalled heads, a body a byte a second)", slow_clients);
    suite.attack("more connections than the API serves", many_concurrent_clients);
    suite.attack("a nested-call fuel bomb (depth x fan-out)", |suite| {
        suite.hostile_attack_ends_with(13, 8u32.to_le_bytes().to_vec(), "Runtime(0)");
    });
    suite.attack("a host-call loop (1 MiB reads)", |suite| {
        suite.hostile_attack_ends_with(14, Vec::new(), "Runtime(0)");
    });
    suite.attack("a write bomb (large values under fresh keys)", |suite| {
        suite.hostile_attack_ends_with(15, Vec::new(), "Core(16)");
    });
    suite.attack("a range bomb", |suite| {
        let (kind, _) = suite.hostile_call(16, 200u32.to_le_bytes().to_vec());
        assert_eq!(kind, "none", "the range's data is written");
        suite.hostile_attack_ends_with(17, Vec::new(), "Runtime(0)");
    });
    suite.attack("ranges that pass over removed entries", |suite| {
        suite.hostile_attack_ends_with(22, Vec::new(), "Runtime(0)");
    });
    suite.attack("an error description of 16 MiB", |suite| {
        let (error, _) = suite.hostile_outcome(21, (16u32 << 20).to_le_bytes().to_vec());
        assert_eq!(error["kind"], "Service(7)", "{error}");
        let description = error["description"].as_str().unwrap();
        assert_eq!(description.len(), wasmvisor_limits::ERROR_DESCRIPTION_BYTES_MAX);
    });
    suite.attack(
        "a flood of queries that take memory and spin",
        a_flood_of_hungry_queries,
    );
    suite.attack("a clear of a large index", |suite| {
        for _ in 0..4 {
            let (kind, _) = suite.hostile_call(18, 15_000u32.to_le_bytes().to_vec());
            assert_eq!(kind, "none", "the index is filled");
        }
        suite.hostile_attack_ends_with(19, Vec::new(), "Core(16)");
    });

    let lost = suite.lost_transactions();
    let (_, peak) = rss_mib(&suite.node);
    println!(
        "{} attacks, chain went on after each, {lost} committed transactions lost, peak RSS {peak} MiB",
        suite.attacks.len()
    );
    assert_eq!(lost, 0);
    assert!(peak < RSS_BOUND_MIB, "peak RSS {peak} MiB");
    suite.node.stop();
}
