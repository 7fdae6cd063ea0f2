//! Four validators, each in a network namespace of its own, through
//! partitions: one node cut off, a 2|2 split, a one-way drop, links cut and
//! restored one by one, a bandwidth cap — each healed, each twice. During a
//! fault blocks keep coming where three of four can still talk, and stop
//! where they cannot (at most the block in flight); after every episode all
//! four hold the same blocks and roots; and every transaction a node
//! acknowledged during the faults, whichever side it was on, ends up in a
//! block on every node.
//!
//! The layout (verified on these machines; nothing in the host's own
//! namespace): the nodes' data links are ports of a bridge in `wvt-hub`
//! (10.77.0.N), and a harness namespace `wvt-ctl` reaches each node's API
//! over a point-to-point link of its own (10.78.N.2) that no fault touches.
//! The test sets it up, runs itself again inside `wvt-ctl`, and always tears
//! it down (killing what still runs in the namespaces). It needs root and
//! `ip netns`; elsewhere it says why it skips — unless
//! `WASMVISOR_PARTITIONS_REQUIRED` is set (as `scripts/test.sh` does), when
//! it fails instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use ed25519_dalek::SigningKey;
use wasmvisor_runtime::CallInfo;

use crate::support::{chain_id_at, edit_toml, get, is_root, post, replays, try_get, wait_for_within, wasmvisor_ok};

const NODES: [&str; 4] = ["a", "b", "c", "d"];
const API_PORT: u16 = 8080;
const PEER_PORT: u16 = 26656;
/// Set in the run inside `wvt-ctl`: the directory of the nodes' configurations.
const INNER: &str = "WASMVISOR_NETNS_CONFIGS";

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// `ip netns exec <namespace> <command...>`, which must succeed.
fn in_ns(namespace: &str, command: &[&str]) {
    let mut args = vec!["netns", "exec", namespace];
    args.extend(command);
    ip(&args).unwrap_or_else(|error| panic!("{error}"));
}

fn namespace(name: &str) -> String {
    format!("wvt-{name}")
}

/// The namespaces, removed when dropped (and before they are made, in
/// case a killed run left them).
struct Topology;

impl Topology {
    fn remove() {
        for name in NODES.iter().chain(&["hub", "ctl"]) {
            let name = namespace(name);
            // What still runs there (a harness killed before its own
            // cleanup) goes with the namespace.
            if let Ok(output) = Command::new("ip").args(["netns", "pids", &name]).output() {
                for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
            let _ = ip(&["netns", "del", &name]);
        }
    }

    fn create() -> Result<Self, String> {
        Self::remove();
        let topology = Topology;
        let (hub, ctl) = (namespace("hub"), namespace("ctl"));
        // `ip <args>` inside namespace `ns`.
        let at = |ns: &str, args: &[&str]| {
            let mut all = vec!["netns", "exec", ns, "ip"];
            all.extend(args);
            ip(&all)
        };
        for ns in [&hub, &ctl] {
            ip(&["netns", "add", ns])?;
        }
        for bridge in ["br0", "br1"] {
            at(&hub, &["link", "add", bridge, "type", "bridge"])?;
            at(&hub, &["link", "set", bridge, "up"])?;
        }
        at(&ctl, &["link", "set", "lo", "up"])?;
        for (index, name) in NODES.iter().enumerate() {
            let (node, number) = (namespace(name), index + 1);
            ip(&["netns", "add", &node])?;
            at(&node, &["link", "set", "lo", "up"])?;
            // Data link: the node's eth0, a port of br0 in the hub.
            let port = format!("v{name}");
            at(
                &hub,
                &[
                    "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &node,
                ],
            )?;
            at(&hub, &["link", "set", &port, "master", "br0", "up"])?;
            at(&node, &["addr", "add", &format!("10.77.0.{number}/24"), "dev", "eth0"])?;
            at(&node, &["link", "set", "eth0", "up"])?;
            // Control link: the harness's own point-to-point link.
            let control = format!("c{name}");
            at(
                &ctl,
                &[
                    "link", "add", &control, "type", "veth", "peer", "name", "ctl0", "netns", &node,
                ],
            )?;
            at(&ctl, &["addr", "add", &format!("10.78.{number}.1/30"), "dev", &control])?;
            at(&ctl, &["link", "set", &control, "up"])?;
            at(&node, &["addr", "add", &format!("10.78.{number}.2/30"), "dev", "ctl0"])?;
            at(&node, &["link", "set", "ctl0", "up"])?;
        }
        Ok(topology)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        Self::remove();
    }
}

/// The four validators' configurations: peers and relays on the data
/// addresses, the public API bound to every address of the node's namespace
/// (the harness reaches it on the control link).
fn configure(dir: &Path) -> Vec<PathBuf> {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    wasmvisor_ok(&[
        "generate-template",
        &path("template.toml"),
        "--validators-count",
        "4",
        "--supervisor-mode",
        "decentralized",
        "--block-interval-ms",
        "200",
    ]);
    for (index, name) in NODES.iter().enumerate() {
        let data = format!("10.77.0.{}", index + 1);
        wasmvisor_ok(&[
            "generate-config",
            &path("template.toml"),
            &path(name),
            "--public-api",
            &format!("{data}:{API_PORT}"),
            "--private-api",
            "127.0.0.1:9090",
            "--peer-address",
            &format!("{data}:{PEER_PORT}"),
            "--passphrase-file",
            &crate::support::passphrase_file(dir),
        ]);
    }
    let publics: Vec<String> = NODES.iter().map(|name| path(&format!("{name}/public.toml"))).collect();
    NODES
        .iter()
        .map(|name| {
            let config = path(&format!("{name}/node.toml"));
            let mut args = vec![
                "finalize".to_owned(),
                path(&format!("{name}/private.toml")),
                config.clone(),
                "--public-configs".to_owned(),
            ];
            args.extend(publics.iter().cloned());
            wasmvisor_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
            let config = PathBuf::from(config);
            edit_toml(&config, &config, |table| {
                table.insert("public_api".into(), toml::Value::String(format!("0.0.0.0:{API_PORT}")));
            });
            config
        })
        .collect()
}

/// A validator running in its namespace; killed when dropped.
struct Validator {
    child: Child,
    api: String,
}

impl Drop for Validator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(index: usize, config: &Path) -> Validator {
    let child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &namespace(NODES[index]),
            env!("CARGO_BIN_EXE_wasmvisor"),
            "run",
            "--config",
        ])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Validator {
        child,
        api: format!("http://10.78.{}.2:{API_PORT}", index + 1),
    }
}

fn height(node: &Validator) -> Option<u64> {
    try_get(&format!("{}/api/system/v1/info", node.api)).and_then(|(_, info)| info["height"].as_u64())
}

fn block_hash(node: &Validator, height: u64) -> String {
    let (status, block): (u16, Value) = get(&format!("{}/api/explorer/v1/block?height={height}", node.api));
    assert_eq!(status, 200, "{block}");
    format!("{}/{}", block["hash"], block["state_hash"])
}

/// Every node holds the same blocks (hashes and state roots) up to the
/// lowest height among them; the number of blocks compared.
fn divergences(nodes: &[Validator]) -> (u64, usize) {
    let common = nodes.iter().filter_map(height).min().unwrap();
    let mut differing = 0;
    for height in 1..=common {
        let reference = block_hash(&nodes[0], height);
        differing += nodes[1..]
            .iter()
            .filter(|node| block_hash(node, height) != reference)
            .count();
    }
    (common, differing)
}

/// What blocks do while a step of a fault holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Three of four can talk: blocks keep coming.
    Progress,
    /// No three can: no node gains more than the block in flight.
    Stall,
}

/// Transactions submitted during the faults, and the hashes the nodes
/// acknowledged: each must end up in a block on every node.
struct Load {
    chain_id: [u8; 32],
    key: SigningKey,
    sent: u64,
    acknowledged: Vec<String>,
}

impl Load {
    /// One transaction to each node (to the supervisor, which records it as
    /// a stranger's failed call: what counts is that a block holds it).
    fn round(&mut self, nodes: &[Validator]) {
        for node in nodes {
            self.sent += 1;
            let call = CallInfo {
                instance_id: 0,
                method_id: 1,
            };
            let signed = wasmvisor_blockchain::sign(&self.key, &self.chain_id, call, self.sent.to_le_bytes().to_vec());
            let (status, reply) = post(
                &format!("{}/api/explorer/v1/transactions", node.api),
                "application/octet-stream",
                signed,
            );
            if status == 200 {
                self.acknowledged.push(reply["tx_hash"].as_str().unwrap().to_owned());
            }
        }
    }

    /// Whether every acknowledged transaction is in a block on every node.
    fn all_recorded(&self, nodes: &[Validator]) -> bool {
        self.acknowledged.iter().all(|hash| {
            nodes.iter().all(|node| {
                let (_, outcome) = get(&format!("{}/api/explorer/v1/transactions?hash={hash}", node.api));
                outcome["status"] == "committed" || outcome["status"] == "failed"
            })
        })
    }
}

/// A fault on the data links: steps applied in turn (each held until its
/// expectation is seen), then healed.
struct Shape {
    name: &'static str,
    steps: &'static [(&'static [&'static [&'static str]], Expect)],
    heal: &'static [&'static [&'static str]],
    /// A command whose output must show the fault touched traffic, and the
    /// text that shows it.
    evidence: Option<(&'static [&'static str], &'static str)>,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "node d cut off",
        steps: &[(&[&["ip", "link", "set", "vd", "down"]], Expect::Progress)],
        heal: &[&["ip", "link", "set", "vd", "up"]],
        evidence: None,
    },
    Shape {
        name: "split a b | c d",
        steps: &[(
            &[
                &["ip", "link", "set", "vc", "master", "br1"],
                &["ip", "link", "set", "vd", "master", "br1"],
            ],
            Expect::Stall,
        )],
        heal: &[
            &["ip", "link", "set", "vc", "master", "br0"],
            &["ip", "link", "set", "vd", "master", "br0"],
        ],
        evidence: None,
    },
    Shape {
        // Frames from a to c are redirected into a veth that is down (the
        // kernel here has no `drop` action): a and c cannot talk, every
        // other pair can.
        name: "one-way drop a -> c",
        steps: &[(
            &[
                &["ip", "link", "add", "sink0", "type", "veth", "peer", "name", "sink1"],
                &["tc", "qdisc", "add", "dev", "vc", "clsact"],
                &[
                    "tc",
                    "filter",
                    "add",
                    "dev",
                    "vc",
                    "egress",
                    "protocol",
                    "ip",
                    "prio",
                    "1",
                    "u32",
                    "match",
                    "ip",
                    "src",
                    "10.77.0.1/32",
                    "action",
                    "mirred",
                    "egress",
                    "redirect",
                    "dev",
                    "sink0",
                ],
            ],
            Expect::Progress,
        )],
        heal: &[
            &["tc", "qdisc", "del", "dev", "vc", "clsact"],
            &["ip", "link", "del", "sink0"],
        ],
        evidence: Some((&["tc", "-s", "filter", "show", "dev", "vc", "egress"], "pkt")),
    },
    Shape {
        name: "links cut and restored one by one",
        steps: &[
            (&[&["ip", "link", "set", "va", "down"]], Expect::Progress),
            (&[&["ip", "link", "set", "vb", "down"]], Expect::Stall),
            (&[&["ip", "link", "set", "va", "up"]], Expect::Progress),
            (&[&["ip", "link", "set", "vb", "up"]], Expect::Progress),
        ],
        heal: &[],
        evidence: None,
    },
    Shape {
        name: "bandwidth cap on b (1 mbit)",
        steps: &[(
            &[&[
                "tc", "qdisc", "add", "dev", "vb", "root", "tbf", "rate", "1mbit", "burst", "16kbit", "latency",
                "500ms",
            ]],
            Expect::Progress,
        )],
        heal: &[&["tc", "qdisc", "del", "dev", "vb", "root"]],
        evidence: Some((&["tc", "-s", "qdisc", "show", "dev", "vb"], "Sent")),
    },
];

/// How long a stall is watched.
const STALL_WATCH: Duration = Duration::from_secs(5);

const EPISODES_PER_SHAPE: usize = 2;

/// The episodes, run inside `wvt-ctl`.
fn episodes(configs: &[PathBuf]) {
    let nodes: Vec<Validator> = configs
        .iter()
        .enumerate()
        .map(|(index, config)| start(index, config))
        .collect();
    let converge_limit = Duration::from_secs(90);
    wait_for_within("the first blocks", converge_limit, || {
        nodes.iter().all(|node| height(node).is_some_and(|h| h >= 3))
    });
    let (mut episodes, mut compared, mut divergent, mut slowest) = (0, 0, 0, Duration::ZERO);
    let mut load = Load {
        chain_id: chain_id_at(&nodes[0].api),
        key: SigningKey::from_bytes(&[77; 32]),
        sent: 0,
        acknowledged: Vec::new(),
    };
    for round in 0..EPISODES_PER_SHAPE {
        for shape in SHAPES {
            for (commands, expect) in shape.steps {
                for command in *commands {
                    in_ns("wvt-hub", command);
                }
                let before = nodes.iter().filter_map(height).max().unwrap();
                load.round(&nodes);
                match expect {
                    Expect::Progress => {
                        wait_for_within(&format!("blocks during {}", shape.name), converge_limit, || {
                            nodes.iter().filter_map(height).max().unwrap() >= before + 3
                        });
                    }
                    Expect::Stall => {
                        std::thread::sleep(STALL_WATCH);
                        let after = nodes.iter().filter_map(height).max().unwrap();
                        assert!(
                            after <= before + 1,
                            "{}: blocks went on without a quorum ({before} -> {after})",
                            shape.name
                        );
                    }
                }
            }
            if let Some((command, shown)) = shape.evidence {
                let mut args = vec!["netns", "exec", "wvt-hub"];
                args.extend(command);
                let output = Command::new("ip").args(&args).output().unwrap();
                let text = String::from_utf8_lossy(&output.stdout);
                let touched = text.lines().any(|line| {
                    line.contains(shown)
                        && line
                            .split_whitespace()
                            .any(|word| word.parse::<u64>().is_ok_and(|n| n > 0))
                });
                assert!(touched, "{}: the fault touched no traffic: {text}", shape.name);
            }
            for command in shape.heal {
                in_ns("wvt-hub", command);
            }
            let target = nodes.iter().filter_map(height).max().unwrap() + 2;
            let took = wait_for_within(&format!("convergence after {}", shape.name), converge_limit, || {
                nodes.iter().all(|node| height(node).is_some_and(|h| h >= target))
            });
            slowest = slowest.max(took);
            let (blocks, differing) = divergences(&nodes);
            compared = blocks;
            divergent += differing;
            episodes += 1;
            println!(
                "partitions: episode {episodes} (round {round}): {} — converged in {took:?} at height {blocks}",
                shape.name
            );
        }
    }
    // Every transaction a node acknowledged, whichever side of a fault it
    // was on, ends up in a block on every node.
    wait_for_within(
        "every acknowledged transaction in a block on every node",
        converge_limit,
        || load.all_recorded(&nodes),
    );
    let (blocks, differing) = divergences(&nodes);
    divergent += differing;
    println!(
        "partitions: {episodes} episodes, {} shapes, {blocks} blocks on every node, {} transactions sent, {} \
         acknowledged, 0 lost, {divergent} divergences, max time to converge {slowest:?} ({compared} blocks compared after the last episode)",
        SHAPES.len(),
        load.sent,
        load.acknowledged.len()
    );
    assert_eq!(divergent, 0);
}

#[test]
fn four_validators_survive_partitions_and_converge_after_each() {
    if let Ok(dir) = std::env::var(INNER) {
        let configs: Vec<PathBuf> = NODES
            .iter()
            .map(|name| Path::new(&dir).join(name).join("node.toml"))
            .collect();
        episodes(&configs);
        return;
    }
    let skip = |why: String| {
        assert!(
            std::env::var_os("WASMVISOR_PARTITIONS_REQUIRED").is_none(),
            "partitions: required, but {why}"
        );
        println!("partitions: skipped: {why}");
    };
    if !is_root() {
        return skip("network namespaces need root".into());
    }
    let topology = match Topology::create() {
        Ok(topology) => topology,
        Err(error) => return skip(format!("cannot make network namespaces: {error}")),
    };
    let dir = tempfile::tempdir().unwrap();
    configure(dir.path());
    // The same test again, as the harness inside `wvt-ctl`.
    let status = Command::new("ip")
        .args(["netns", "exec", "wvt-ctl"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "partitions::four_validators_survive_partitions_and_converge_after_each",
            "--nocapture",
        ])
        .env(INNER, dir.path())
        .status()
        .unwrap();
    drop(topology);
    assert!(status.success(), "the episodes failed: {status:?}");
    // Every node's stored chain (its process killed at the end) replays
    // identically.
    for name in NODES {
        let (blocks, transactions) = replays(&dir.path().join(name).join("node.toml"));
        println!("partitions: node {name}: {blocks} blocks and {transactions} transactions replayed identically");
    }
}
