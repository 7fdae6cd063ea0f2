//! Four `wasmvisor` processes on loopback ports agree on blocks with the
//! consensus engine: identical blocks and state roots, decentralized
//! governance across processes, three keep going without the fourth, and
//! the fourth catches up after a restart.

use std::path::{Path, PathBuf};
use std::process::Command;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use wasmvisor_proto::Message;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigPropose, DeployRequest, DeployState, DeployStatus, StartService, config_change,
};
use wasmvisor_runtime::CallInfo;

use crate::support::{
    Mounted, RunningNode, answer, chain_id, cli_ok, deploy_file, edit_toml, exits_non_zero, fill, get, passphrase_file,
    post, private_token, refused_to_start, replays, try_get, wait_for, wasmvisor, wasmvisor_ok, write_secret,
};

/// A port free at the time of asking, below the kernel's ephemeral range
/// (32768 and up here): a port the kernel handed out would be free again
/// for it to give to any outgoing connection — the other tests' — before
/// the node configured with it binds it.
fn free_port() -> u16 {
    loop {
        let port = fastrand::u16(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A Prometheus server (Debian's `prometheus` package, which
/// `scripts/setup.sh` installs) scraping nodes' private APIs every second,
/// on a free loopback port; stopped when dropped.
struct Prometheus {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn scraping(nodes: &[&RunningNode]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n".to_owned();
        for (index, node) in nodes.iter().enumerate() {
            let token = dir.path().join(format!("token-{index}"));
            write_secret(&token, &private_token(node));
            config.push_str(&format!(
                "  - job_name: wasmvisor-{index}\n    authorization:\n      credentials_file: {}\n    \
                 static_configs:\n      - targets: [\"{}\"]\n",
                token.display(),
                node.private.trim_start_matches("http://")
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let url = format!("http://127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={}", url.trim_start_matches("http://")))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus runs (Debian's prometheus package: scripts/setup.sh installs it)");
        Self { child, url, _dir: dir }
    }

    /// The series an instant query of `expression` answers now (none if
    /// the server does not answer yet).
    fn query(&self, expression: &str) -> Vec<Value> {
        let encoded: String = expression
            .bytes()
            .map(|byte| {
                if byte.is_ascii_alphanumeric() {
                    (byte as char).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            })
            .collect();
        let Some((200, answer)) = try_get(&format!("{}/api/v1/query?query={encoded}", self.url)) else {
            return Vec::new();
        };
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The expression of the alert rule `alert` in deploy/prometheus/alerts.yml.
fn alert_expression(alert: &str) -> String {
    let rules = std::fs::read_to_string(deploy_file("prometheus/alerts.yml")).unwrap();
    let mut lines = rules
        .lines()
        .skip_while(|line| line.trim() != format!("- alert: {alert}"));
    lines
        .find_map(|line| line.trim().strip_prefix("expr:"))
        .unwrap_or_else(|| panic!("no rule {alert}"))
        .trim()
        .to_owned()
}

/// `wasmvisor generate-config` of `template` into `dir` with its APIs and
/// peer address on free loopback ports, and `extra` arguments.
fn generate_config_on_loopback(template: &str, dir: &str, extra: &[&str]) {
    let address = || format!("127.0.0.1:{}", free_port());
    let (public, private, peer) = (address(), address(), address());
    let passphrase = passphrase_file(Path::new(dir).parent().unwrap());
    let mut args = vec![
        "generate-config",
        template,
        dir,
        "--public-api",
        &public,
        "--private-api",
        &private,
        "--peer-address",
        &peer,
        "--passphrase-file",
        &passphrase,
    ];
    args.extend(extra);
    wasmvisor_ok(&args);
}

fn wasmvisor_err(args: &[&str]) -> String {
    let output = wasmvisor(args);
    assert!(!output.status.success(), "wasmvisor {args:?} should fail");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The running nodes.
fn live(nodes: &[Option<RunningNode>]) -> Vec<&RunningNode> {
    nodes.iter().flatten().collect()
}

/// A consensus change to `validators`, enacted `ahead` blocks from now:
/// `proposer` proposes it, every voter confirms once the proposal is in a
/// block on each of `nodes`, and it is waited for on all of them.
fn change_validators(
    nodes: &[&RunningNode],
    proposer: &RunningNode,
    voters: &[&RunningNode],
    validators: &[Value],
    ahead: u64,
) {
    let change = json!({
        "actual_from": height(proposer) + ahead,
        "changes": [{ "action": "consensus", "validators": validators }],
    });
    let proposed = supervisor(proposer, "propose-config", &change)["tx_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for("the change's proposal", || {
        nodes.iter().all(|node| committed(node, &proposed))
    });
    for voter in voters {
        supervisor(voter, "confirm-config", &json!({}));
    }
    wait_for_validators(nodes, validators.len());
}

/// Waits until every node of `nodes` counts `count` validators in force.
fn wait_for_validators(nodes: &[&RunningNode], count: usize) {
    wait_for(&format!("{count} validators"), || {
        nodes.iter().all(|node| {
            get(&format!("{}/api/system/v1/info", node.public)).1["validators"]
                .as_array()
                .unwrap()
                .len()
                == count
        })
    });
}

/// The stopped validator's peers go on without it; `restart` brings it
/// back, and it catches up to the same blocks and roots.
fn peers_go_on_and_it_rejoins(peers: &[RunningNode], restart: impl FnOnce() -> RunningNode) {
    let after = height(&peers[0]) + 5;
    wait_for("blocks without the stopped validator", || {
        peers.iter().all(|node| height(node) >= after)
    });
    let rejoined = restart();
    let target = height(&peers[0]);
    wait_for("the restarted validator to catch up", || height(&rejoined) >= target);
    let mut all: Vec<&RunningNode> = peers.iter().collect();
    all.push(&rejoined);
    assert!(assert_same_chain(&all) >= target);
}

pub(crate) fn height(node: &RunningNode) -> u64 {
    get(&format!("{}/api/system/v1/info", node.public)).1["height"]
        .as_u64()
        .unwrap()
}

/// `(block hash, state root)` of each block `0..=up_to`.
fn blocks(node: &RunningNode, up_to: u64) -> Vec<(String, String)> {
    (0..=up_to)
        .map(|height| {
            let (status, block) = get(&format!("{}/api/explorer/v1/block?height={height}", node.public));
            assert_eq!(status, 200, "block {height}: {block}");
            (
                block["hash"].as_str().unwrap().to_owned(),
                block["state_hash"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Every node holds the same blocks and state roots up to the lowest
/// height among them; answers that height.
pub(crate) fn assert_same_chain(nodes: &[&RunningNode]) -> u64 {
    let common = nodes.iter().map(|node| height(node)).min().unwrap();
    let reference = blocks(nodes[0], common);
    for (index, node) in nodes.iter().enumerate().skip(1) {
        let theirs = blocks(node, common);
        for (height, (mine, theirs)) in reference.iter().zip(&theirs).enumerate() {
            assert_eq!(mine, theirs, "node {index} differs from node 0 at height {height}");
        }
    }
    common
}

/// Posts `body` (JSON) to a node's private supervisor endpoint.
fn supervisor(node: &RunningNode, action: &str, body: &Value) -> Value {
    let (status, reply) = post(
        &format!("{}/api/services/supervisor/{action}", node.private),
        "application/json",
        body.to_string().into_bytes(),
    );
    assert_eq!(status, 200, "{action}: {reply}");
    reply
}

/// Whether the transaction is in a block on `node`; panics with its
/// error if it failed there.
fn committed(node: &RunningNode, tx_hash: &str) -> bool {
    let (_, outcome) = get(&format!("{}/api/explorer/v1/transactions?hash={tx_hash}", node.public));
    assert_ne!(outcome["status"], "failed", "{outcome}");
    outcome["status"] == "committed"
}

fn deploy_state(node: &RunningNode, request: &DeployRequest) -> Option<DeployState> {
    let (status, body) = get(&format!(
        "{}/api/services/supervisor/deploy-status-by-hash?arguments={}",
        node.private,
        hex::encode(wasmvisor_node::requests::deploy_request_key(request))
    ));
    (status == 200).then(|| DeployState::decode(answer(&body).as_slice()).unwrap())
}

fn deploy_status(node: &RunningNode, request: &DeployRequest) -> Option<i32> {
    deploy_state(node, request).map(|state| state.status)
}

/// The pending configuration proposal's approvals on `node` (validators'
/// service keys), if one is pending.
fn proposal_approvals(node: &RunningNode) -> Option<Vec<Vec<u8>>> {
    let (status, body) = get(&format!("{}/api/services/supervisor/config-proposal", node.public));
    (status == 200).then(|| {
        wasmvisor_proto::supervisor::ConfigProposalState::decode(answer(&body).as_slice())
            .unwrap()
            .approvals
    })
}

pub(crate) struct Network {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) configs: Vec<PathBuf>,
}

/// Four validators' configurations from the documented commands.
pub(crate) fn configure() -> Network {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    wasmvisor_ok(&[
        "generate-template",
        &path("template.toml"),
        "--validators-count",
        "4",
        "--supervisor-mode",
        "decentralized",
        "--block-interval-ms",
        "100",
    ]);
    // Without a peer address a validator of four cannot be reached.
    let error = wasmvisor_err(&["generate-config", &path("template.toml"), &path("nowhere")]);
    assert!(error.contains("needs this validator's --peer-address"), "{error}");
    for index in 0..4 {
        generate_config_on_loopback(&path("template.toml"), &path(&format!("v{index}")), &[]);
    }
    // A second generate-config in the same directory would replace a
    // validator's keys: refused.
    let error = wasmvisor_err(&[
        "generate-config",
        &path("template.toml"),
        &path("v0"),
        "--peer-address",
        "127.0.0.1:1",
    ]);
    assert!(error.contains("already holds a validator"), "{error}");
    // Each validator finalizes with the public parts in its own order.
    let publics: Vec<String> = (0..4).map(|index| path(&format!("v{index}/public.toml"))).collect();
    let mut configs = Vec::new();
    for index in 0..4 {
        let mut order = publics.clone();
        order.rotate_left(index);
        let config = path(&format!("v{index}/node.toml"));
        let mut args = vec![
            "finalize".to_owned(),
            path(&format!("v{index}/private.toml")),
            config.clone(),
            "--public-configs".to_owned(),
        ];
        args.extend(order);
        wasmvisor_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        configs.push(PathBuf::from(config));
    }
    // Too few public parts for the template: refused.
    let error = wasmvisor_err(&[
        "finalize",
        &path("v0/private.toml"),
        &path("v0/bad.toml"),
        "--public-configs",
        &publics[0],
    ]);
    assert!(error.contains("names 4 validators"), "{error}");
    Network { dir, configs }
}

/// Validator `index`'s consensus key (hex), from its public part.
fn consensus_key(network: &Network, index: usize) -> String {
    let public = std::fs::read_to_string(network.dir.path().join(format!("v{index}/public.toml"))).unwrap();
    let public: toml::Value = toml::from_str(&public).unwrap();
    public["consensus_key"].as_str().unwrap().to_owned()
}

/// A guestbook entry signed by `author`, submitted to `node`; its hash.
pub(crate) fn sign_entry(node: &RunningNode, author: &SigningKey, instance_id: u32, text: &str) -> String {
    let call = CallInfo {
        instance_id,
        method_id: 0,
    };
    let signed = wasmvisor_blockchain::sign(author, &chain_id(node), call, text.as_bytes().to_vec());
    let (status, reply) = post(
        &format!("{}/api/explorer/v1/transactions", node.public),
        "application/octet-stream",
        signed,
    );
    assert_eq!(status, 200, "{reply}");
    reply["tx_hash"].as_str().unwrap().to_owned()
}

fn guestbook_count(node: &RunningNode) -> Option<u64> {
    let (status, body) = get(&format!("{}/api/services/guestbook/count", node.public));
    (status == 200).then(|| u64::from_le_bytes(answer(&body).try_into().unwrap()))
}

/// Whether the transaction is in a block on `node` (committed or failed).
pub(crate) fn recorded(node: &RunningNode, tx_hash: &str) -> bool {
    let (_, outcome) = get(&format!("{}/api/explorer/v1/transactions?hash={tx_hash}", node.public));
    outcome["status"] == "committed" || outcome["status"] == "failed"
}

fn transactions_at_the_size_limit(nodes: &[&RunningNode]) {
    let chain = chain_id(nodes[0]);
    let limit = wasmvisor_limits::TRANSACTION_BYTES_MAX;
    let call = CallInfo {
        instance_id: 0,
        method_id: 2,
    };
    let url = format!("{}/api/explorer/v1/transactions", nodes[0].public);
    for (seed, size) in [(201u8, 1_052_816), (202, limit - 1), (203, limit), (204, limit + 1)] {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let signed = wasmvisor_blockchain::sign_to_size(&key, &chain, call, 0xff, size).unwrap();
        let (status, reply) = post(&url, "application/octet-stream", signed);
        if size > limit {
            assert_eq!(status, 413, "{reply}");
            continue;
        }
        assert_eq!(status, 200, "{size} bytes: {reply}");
        let hash = reply["tx_hash"].as_str().unwrap().to_owned();
        wait_for("a transaction at the size limit on every validator", || {
            nodes.iter().all(|node| recorded(node, &hash))
        });
    }
    let after = height(nodes[0]) + 3;
    wait_for("blocks after them", || nodes.iter().all(|node| height(node) >= after));
    assert_same_chain(nodes);
}

#[test]
fn four_validators_agree_govern_and_catch_up() {
    let network = configure();
    let mut nodes: Vec<Option<RunningNode>> = network
        .configs
        .iter()
        .map(|config| Some(RunningNode::run(config)))
        .collect();
    // Blocks are agreed: every node moves on, with the same blocks.
    wait_for("the first blocks", || live(&nodes).iter().all(|node| height(node) >= 3));
    let (_, info) = get(&format!("{}/api/system/v1/info", live(&nodes)[0].public));
    assert_eq!(info["validators"].as_array().unwrap().len(), 4);
    assert_same_chain(&live(&nodes));

    // Transactions up to the size limit, posted to one validator by a
    // stranger and relayed, are recorded by every validator and the chain
    // goes on (one of a little over a mebibyte once stopped every
    // validator's proposals for good); one byte over is refused.
    transactions_at_the_size_limit(&live(&nodes));

    // Decentralized governance across processes: the same deploy request
    // from 3 of the 4 validators (2 are not enough), then every validator
    // deploys and reports.
    let artifact = ArtifactId {
        runtime_id: 1,
        name: "guestbook".into(),
        version: "1.0.0".into(),
    };
    // Written once by the operator's CLI, the same bytes posted by each
    // validator's.
    let request_file = network.dir.path().join("guestbook.request");
    let request_path = request_file.to_str().unwrap();
    let written = cli_ok(
        live(&nodes)[0],
        &[
            "deploy",
            wasmvisor_artifacts::GUESTBOOK.path,
            "--name",
            "guestbook",
            "--version",
            "1.0.0",
            "--request-out",
            request_path,
        ],
    );
    assert_eq!(written["artifact"], "guestbook:1.0.0");
    let request = DeployRequest::decode(std::fs::read(&request_file).unwrap().as_slice()).unwrap();
    assert_eq!(request.artifact.as_ref(), Some(&artifact));
    let post_request = |node: &RunningNode| cli_ok(node, &["deploy", "--request", request_path]);
    // Each of the first two answers once its request is in a block, with
    // the approvals so far.
    let first = post_request(live(&nodes)[0]);
    assert_eq!(
        (&first["status"], &first["approvals"]),
        (&json!("waiting for approvals"), &json!("1/3")),
        "{first}"
    );
    let second = post_request(live(&nodes)[1]);
    assert_eq!(second["approvals"], "2/3", "{second}");
    let (first, second) = (first["tx_hash"].as_str().unwrap(), second["tx_hash"].as_str().unwrap());
    wait_for("two deploy requests", || {
        committed(live(&nodes)[2], first) && committed(live(&nodes)[2], second)
    });
    // Ten more blocks — time enough for a deploy to be reported — and still
    // no validator has deployed: every one records the two approvals only.
    let after_two = height(live(&nodes)[0]) + 10;
    wait_for("ten blocks", || {
        live(&nodes).iter().all(|node| height(node) >= after_two)
    });
    let two_of_four = live(&nodes)
        .iter()
        .map(|node| deploy_state(node, &request))
        .collect::<Vec<_>>();
    assert!(
        two_of_four.iter().all(|state| state.as_ref().is_some_and(|state| {
            state.status != DeployStatus::DeploySucceeded as i32
                && state.approvals.len() == 2
                && state.reported_ok.is_empty()
        })),
        "two requests of four validators do not deploy: {two_of_four:?}"
    );
    // The explorer's governance view shows it pending with two approvals
    // of the three the decentralized supervisor needs.
    let (status, governance) = get(&format!("{}/api/explorer/v1/governance", live(&nodes)[3].public));
    assert_eq!(status, 200, "{governance}");
    assert_eq!(
        (
            &governance["mode"],
            &governance["validators"],
            &governance["approvals_needed"]
        ),
        (&json!("decentralized"), &json!(4), &json!(3)),
        "{governance}"
    );
    assert!(
        governance["deploys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|deploy| deploy["artifact"] == "wasm:guestbook:1.0.0"
                && deploy["status"] == "pending"
                && deploy["approvals"] == 2),
        "{governance}"
    );
    // The third completes the approvals: its command waits until the
    // artifact is active.
    let third = post_request(live(&nodes)[2]);
    assert_eq!(
        (&third["status"], &third["approvals"]),
        (&json!("active"), &json!("3/3")),
        "{third}"
    );
    wait_for("the deploy on every validator", || {
        live(&nodes)
            .iter()
            .all(|node| deploy_status(node, &request) == Some(DeployStatus::DeploySucceeded as i32))
    });

    // Starting it: proposed by one validator, approved by two more.
    let (_, number) = get(&format!(
        "{}/api/services/supervisor/configuration-number",
        live(&nodes)[0].private
    ));
    // Enacted at a height far enough ahead for the votes to arrive first.
    let propose = ConfigPropose {
        actual_from: height(live(&nodes)[0]) + 40,
        changes: vec![ConfigChange {
            kind: Some(config_change::Kind::StartService(StartService {
                artifact: Some(artifact),
                name: "guestbook".into(),
                config: Vec::new(),
            })),
        }],
        configuration_number: u64::decode(answer(&number).as_slice()).unwrap(),
    };
    let proposed = supervisor(
        live(&nodes)[0],
        "propose-config",
        &json!({ "payload": hex::encode(propose.encode_to_vec()) }),
    );
    let proposed = proposed["tx_hash"].as_str().unwrap().to_owned();
    wait_for("the proposal", || committed(live(&nodes)[1], &proposed));
    let vote = supervisor(live(&nodes)[1], "confirm-config", &json!({}));
    let vote = vote["tx_hash"].as_str().unwrap().to_owned();
    wait_for("the first vote on every validator", || {
        live(&nodes).iter().all(|node| committed(node, &vote))
    });
    // The operator's CLI shows it pending, with two approvals of the three
    // needed and what it changes.
    let shown = cli_ok(live(&nodes)[3], &["proposals"]);
    assert_eq!(shown["pending"]["approvals"], "2/3", "{shown}");
    let governance = get(&format!("{}/api/explorer/v1/governance", live(&nodes)[3].public)).1;
    assert_eq!(
        (&governance["proposal"]["approvals"], &governance["proposal"]["changes"]),
        (&json!(2), &shown["pending"]["changes"]),
        "{governance}"
    );
    assert_eq!(
        shown["pending"]["changes"],
        json!([{ "action": "start", "artifact": "guestbook:1.0.0", "instance": "guestbook", "config_bytes": 0 }])
    );
    // Every validator holds the proposal with two approvals (the proposer's
    // and one vote), not yet enough; the service is not running.
    for node in live(&nodes) {
        assert_eq!(proposal_approvals(node).map(|approvals| approvals.len()), Some(2));
        assert!(guestbook_count(node).is_none(), "a pending proposal starts nothing");
    }
    supervisor(live(&nodes)[2], "confirm-config", &json!({}));
    wait_for("the service on every validator", || {
        live(&nodes).iter().all(|node| guestbook_count(node) == Some(0))
    });
    assert_eq!(cli_ok(live(&nodes)[0], &["proposals"]), json!({ "pending": null }));
    let services = get(&format!("{}/api/services/supervisor/services", live(&nodes)[0].public)).1;
    let services = wasmvisor_proto::supervisor::ServicesView::decode(answer(&services).as_slice()).unwrap();
    let instance_id = services
        .instances
        .iter()
        .filter_map(|record| record.spec.as_ref())
        .find(|spec| spec.name == "guestbook")
        .unwrap()
        .id;

    // A transaction submitted to any validator reaches the proposers.
    let author = SigningKey::from_bytes(&[7; 32]);
    let entries: Vec<String> = (0..8)
        .map(|index| sign_entry(live(&nodes)[index % 4], &author, instance_id, &format!("entry {index}")))
        .collect();
    wait_for("the entries", || {
        entries
            .iter()
            .all(|hash| live(&nodes).iter().all(|node| committed(node, hash)))
    });
    assert!(live(&nodes).iter().all(|node| guestbook_count(node) == Some(8)));
    assert_same_chain(&live(&nodes));

    // One validator killed: the other three keep committing.
    nodes[3].take().unwrap().kill();
    let at_kill = height(live(&nodes)[0]);
    let while_down: Vec<String> = (0..6)
        .map(|index| {
            sign_entry(
                live(&nodes)[index % 3],
                &author,
                instance_id,
                &format!("while down {index}"),
            )
        })
        .collect();
    wait_for("blocks without the fourth", || {
        live(&nodes).iter().all(|node| height(node) >= at_kill + 10)
            && while_down.iter().all(|hash| committed(live(&nodes)[0], hash))
    });
    assert_same_chain(&live(&nodes));

    // Restarted, it catches up (re-executing what it missed) and matches
    // every block and state root.
    nodes[3] = Some(RunningNode::run(&network.configs[3]));
    let target = height(live(&nodes)[0]);
    wait_for("the catch-up", || height(nodes[3].as_ref().unwrap()) >= target);
    assert_eq!(guestbook_count(nodes[3].as_ref().unwrap()), Some(14));
    let common = assert_same_chain(&live(&nodes));
    assert!(common >= target, "compared up to {common}");
    // ... and takes part again: the four go on together.
    let last = sign_entry(nodes[3].as_ref().unwrap(), &author, instance_id, "after the restart");
    wait_for("an entry through the restarted node", || {
        live(&nodes).iter().all(|node| committed(node, &last))
    });
    assert_same_chain(&live(&nodes));

    // A consensus configuration change through the supervisor — the
    // fourth validator leaves the set — takes effect in the engine at the
    // height it is enacted: the three go on alone (their commit
    // certificates must match the new set, or the chain would refuse
    // them), and the fourth, still running, follows as a full node.
    let leaving = consensus_key(&network, 3);
    let (_, info) = get(&format!("{}/api/system/v1/info", live(&nodes)[0].public));
    let remaining: Vec<Value> = info["validators"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|validator| validator["consensus_key"] != leaving.as_str())
        .cloned()
        .collect();
    assert_eq!(remaining.len(), 3);
    let live_nodes = live(&nodes);
    change_validators(&live_nodes, live_nodes[0], &live_nodes[1..3], &remaining, 40);
    let after_change = height(live(&nodes)[0]);
    let three = sign_entry(live(&nodes)[2], &author, instance_id, "three validators");
    wait_for("blocks of the three", || {
        live(&nodes)
            .iter()
            .all(|node| height(node) >= after_change + 5 && committed(node, &three))
    });
    assert_eq!(guestbook_count(nodes[3].as_ref().unwrap()), Some(16));
    assert_same_chain(&live(&nodes));

    // Readiness: all four make or follow blocks. Two of the three
    // validators stopped, the validator and the follower left commit
    // nothing and say so; they are still alive.
    let readyz = |node: &RunningNode| get(&format!("{}/readyz", node.public));
    for node in live(&nodes) {
        let (status, ready) = readyz(node);
        assert_eq!(status, 200, "{ready}");
    }
    // Prometheus scrapes the two that stay: the no-new-block alert's
    // expression holds for neither while blocks come, for both once two
    // of the three validators are stopped.
    let no_new_block = alert_expression("WasmvisorNoNewBlock");
    let prometheus = Prometheus::scraping(&[nodes[0].as_ref().unwrap(), nodes[3].as_ref().unwrap()]);
    wait_for("both scraped as ready", || {
        prometheus.query("wasmvisor_ready == 1").len() == 2
    });
    assert_eq!(prometheus.query(&no_new_block), Vec::<Value>::new());
    nodes[1].take().unwrap().stop();
    nodes[2].take().unwrap().stop();
    wait_for("the others not ready", || {
        live(&nodes).iter().all(|node| readyz(node).0 == 503)
    });
    wait_for("the no-new-block alert's expression on both", || {
        prometheus.query(&no_new_block).len() == 2
    });
    drop(prometheus);
    for node in live(&nodes) {
        let (_, ready) = readyz(node);
        assert!(
            ready["reason"].as_str().unwrap().starts_with("no block committed for"),
            "{ready}"
        );
        assert_eq!(get(&format!("{}/healthz", node.public)).0, 200);
    }

    for node in nodes.into_iter().flatten() {
        node.stop();
    }
    // The stored chain of a validator replays identically.
    replays(&network.configs[1]);
    drop(network.dir);
}

#[test]
fn a_validator_whose_disk_fills_stops_its_peers_go_on_and_it_rejoins() {
    let network = configure();
    // Validator 3's data directory on a small tmpfs (its keys copied over).
    let data = network.dir.path().join("v3/data");
    let kept = network.dir.path().join("v3/data-kept");
    std::fs::rename(&data, &kept).unwrap();
    let Some(_unmount) = Mounted::tmpfs(&data) else {
        return;
    };
    for entry in std::fs::read_dir(&kept).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
    }
    let log = network.dir.path().join("v3.log");
    let start_failing = || {
        RunningNode::spawn(
            std::process::Command::new(env!("CARGO_BIN_EXE_wasmvisor"))
                .args(["run", "--config"])
                .arg(&network.configs[3])
                .stderr(std::fs::File::create(&log).unwrap()),
            data.clone(),
            None,
        )
    };
    let others: Vec<RunningNode> = network.configs[..3]
        .iter()
        .map(|config| RunningNode::run(config))
        .collect();
    let mut failing = start_failing();
    wait_for("blocks on every validator", || {
        others.iter().chain([&failing]).all(|node| height(node) >= 3)
    });

    // Its disk fills: it stops on its own, exits non-zero and says why.
    let filler = fill(&data);
    exits_non_zero(
        &mut failing.child,
        std::time::Duration::from_secs(120),
        "the validator went on with a full disk",
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(
        stderr.to_lowercase().contains("no space left"),
        "the cause is named: {stderr}"
    );
    drop(failing);

    // Three of four go on; with space again it restarts, catches up and
    // holds the same chain.
    peers_go_on_and_it_rejoins(&others, || {
        std::fs::remove_file(&filler).unwrap();
        start_failing()
    });
}

#[test]
fn a_validator_missing_a_runtime_the_chain_uses_stops_naming_it_and_rejoins() {
    let network = configure();
    // Every validator starts the native token at genesis.
    let params = hex::encode(wasmvisor_proto::token::TokenConfig { issue_max: 100 }.encode_to_vec());
    for config in &network.configs {
        edit_toml(config, config, |table| {
            let service: toml::Table = toml::from_str(&format!(
                "enable = [\"coins\"]\n[coins]\nartifact = \"native:wasmvisor.token:1.0.0\"\nparams = \"{params}\"\n"
            ))
            .unwrap();
            table.insert("system_services".into(), toml::Value::Table(service));
        });
    }
    let others: Vec<RunningNode> = network.configs[..3]
        .iter()
        .map(|config| RunningNode::run(config))
        .collect();
    let third = RunningNode::run(&network.configs[3]);
    wait_for("blocks on every validator", || {
        others.iter().chain([&third]).all(|node| height(node) >= 3)
    });
    let (_, services) = get(&format!("{}/api/system/v1/services", third.public));
    let coins = services["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| instance["name"] == "coins")
        .cloned()
        .unwrap();
    assert_eq!(coins["artifact"], "native:wasmvisor.token:1.0.0", "{coins}");
    third.stop();

    // Restarted without the native runtime (and without the service, which
    // its configuration would otherwise refuse), it cannot follow the
    // chain: it exits non-zero naming the runtime, recording nothing.
    let kept = std::fs::read_to_string(&network.configs[3]).unwrap();
    edit_toml(&network.configs[3], &network.configs[3], |table| {
        table.remove("system_services");
        let runtimes: toml::Table = toml::from_str("enabled = [\"wasm\"]").unwrap();
        table.insert("runtimes".into(), toml::Value::Table(runtimes));
    });
    let stderr = refused_to_start(
        std::process::Command::new(env!("CARGO_BIN_EXE_wasmvisor"))
            .args(["run", "--config"])
            .arg(&network.configs[3]),
    );
    assert!(
        stderr.contains("runtime 0") && stderr.contains("not enabled"),
        "the cause is named: {stderr}"
    );

    // Three of four go on; with the runtime enabled again it catches up and
    // holds the same chain.
    peers_go_on_and_it_rejoins(&others, || {
        std::fs::write(&network.configs[3], kept).unwrap();
        RunningNode::run(&network.configs[3])
    });
}

#[test]
fn an_auditor_follows_the_chain_and_joins_the_validators_when_voted_in() {
    let network = configure();
    let path = |name: &str| network.dir.path().join(name).to_str().unwrap().to_owned();
    // The genesis block deploys a wasm system service on every validator.
    std::fs::copy(wasmvisor_artifacts::GUESTBOOK.path, path("guestbook.wasm")).unwrap();
    for config in &network.configs {
        edit_toml(config, config, |table| {
            let service: toml::Table = toml::from_str(&format!(
                "[guestbook]\nartifact = \"guestbook:1.0.0\"\ncomponent = \"{}\"\n",
                path("guestbook.wasm")
            ))
            .unwrap();
            table.insert("system_services".into(), toml::Value::Table(service));
        });
    }
    let validators: Vec<RunningNode> = network.configs.iter().map(|config| RunningNode::run(config)).collect();
    // Any node exports the network's genesis (a running one: its chain id
    // asked of its API); the operators give a newcomer the chain id.
    let export = |config: &Path, output: &str| {
        wasmvisor(&[
            "genesis",
            "export",
            "--config",
            config.to_str().unwrap(),
            "--output",
            &path(output),
        ])
    };
    let exported = export(&network.configs[1], "genesis.toml");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    let exported: Value = serde_json::from_slice(&exported.stdout).unwrap();
    let chain_id = exported["chain_id"].as_str().unwrap().to_owned();
    assert_eq!(hex::encode(crate::support::chain_id(&validators[0])), chain_id);
    // A configuration changed since genesis no longer describes it: refused.
    let mut changed = network.configs[1].clone();
    changed.set_file_name("changed-node.toml");
    edit_toml(&network.configs[1], &changed, |table| {
        table.insert("transactions_per_block_max".into(), toml::Value::Integer(999));
    });
    let refused = export(&changed, "wrong-genesis.toml");
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains("changed since genesis"),
        "{error}"
    );
    // An auditor needs a peer address to follow the network from.
    let error = wasmvisor_err(&["generate-config", &path("genesis.toml"), &path("nowhere"), "--auditor"]);
    assert!(error.contains("auditor's --peer-address"), "{error}");
    // The genesis file serves as its template.
    generate_config_on_loopback(&path("genesis.toml"), &path("auditor"), &["--auditor"]);
    let publics: Vec<String> = (0..4).map(|index| path(&format!("v{index}/public.toml"))).collect();
    // Its own public part among the validators' would make it one: refused.
    let mut with_itself = publics[..3].to_vec();
    with_itself.push(path("auditor/public.toml"));
    let mut args = vec![
        "finalize".to_owned(),
        path("auditor/private.toml"),
        path("auditor/bad.toml"),
        "--public-configs".to_owned(),
    ];
    args.extend(with_itself);
    let error = wasmvisor_err(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(error.contains("holds no place in the validator set"), "{error}");
    // It starts from the exported genesis, checked against the chain id:
    // a file naming another chain, or whose contents were changed, is
    // refused.
    let finalize = |genesis: &str, chain_id: &str| {
        let mut args = vec![
            "finalize".to_owned(),
            path("auditor/private.toml"),
            path("auditor/node.toml"),
            "--genesis".to_owned(),
            genesis.to_owned(),
            "--chain-id".to_owned(),
            chain_id.to_owned(),
            "--public-configs".to_owned(),
        ];
        args.extend(publics.clone());
        wasmvisor(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let mut other_chain = hex::decode(&chain_id).unwrap();
    other_chain[0] ^= 1;
    let refused = finalize(&path("genesis.toml"), &hex::encode(&other_chain));
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains("names the chain"),
        "{error}"
    );
    edit_toml(
        &PathBuf::from(path("genesis.toml")),
        &PathBuf::from(path("changed.toml")),
        |table| {
            table.insert("transactions_per_block_max".into(), toml::Value::Integer(999));
        },
    );
    let refused = finalize(&path("changed.toml"), &chain_id);
    let error = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && error.contains("contents were changed"),
        "{error}"
    );
    let done = finalize(&path("genesis.toml"), &chain_id);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

    let auditor = RunningNode::run(&PathBuf::from(path("auditor/node.toml")));
    // It follows: the same blocks and roots as the validators, block after
    // block, and the set it reports is the four validators.
    wait_for("blocks on every node", || {
        validators.iter().chain([&auditor]).all(|node| height(node) >= 5)
    });
    let (_, info) = get(&format!("{}/api/system/v1/info", auditor.public));
    assert_eq!(info["validators"].as_array().unwrap().len(), 4, "{info}");
    assert_eq!(info["chain_id"], chain_id.as_str(), "{info}");
    let mut all: Vec<&RunningNode> = validators.iter().collect();
    all.push(&auditor);
    let common = assert_same_chain(&all);
    assert!(common >= 5);
    // Its restart resumes and catches up like any node.
    auditor.stop();
    let auditor = RunningNode::run(&PathBuf::from(path("auditor/node.toml")));
    let target = height(&validators[0]) + 2;
    let mut all: Vec<&RunningNode> = validators.iter().collect();
    all.push(&auditor);
    wait_for("the auditor to catch up", || {
        all.iter().all(|node| height(node) >= target)
    });
    assert!(assert_same_chain(&all) >= target);

    // The validators vote it in (3 of 4): from the enacting height on it is
    // the fifth validator, and the quorum is 4 of 5 — so with one of the
    // original four stopped, blocks come only if it votes.
    let public: toml::Table = toml::from_str(&std::fs::read_to_string(path("auditor/public.toml")).unwrap()).unwrap();
    let mut validators_after = info["validators"].as_array().unwrap().clone();
    validators_after.push(json!({
        "consensus_key": public["consensus_key"].as_str().unwrap(),
        "service_key": public["service_key"].as_str().unwrap(),
    }));
    let everyone: Vec<&RunningNode> = validators.iter().chain([&auditor]).collect();
    change_validators(
        &everyone,
        &validators[0],
        &[&validators[1], &validators[2]],
        &validators_after,
        20,
    );
    let mut validators = validators.into_iter();
    validators.next().unwrap().stop();
    // A stopped node exports too (its chain id read from its database).
    let exported = export(&network.configs[0], "genesis-again.toml");
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(path("genesis-again.toml")).unwrap(),
        std::fs::read_to_string(path("genesis.toml")).unwrap()
    );
    let rest: Vec<RunningNode> = validators.collect();
    let after = height(&rest[0]) + 5;
    wait_for("blocks of four of five, the new validator among them", || {
        rest.iter().chain([&auditor]).all(|node| height(node) >= after)
    });
    let mut all: Vec<&RunningNode> = rest.iter().collect();
    all.push(&auditor);
    assert!(assert_same_chain(&all) >= after);
    // Its precommit is in the block's commit certificate (four of five
    // signed it, and only four run).
    let (_, proof) = get(&format!(
        "{}/api/proofs/v1/entry?service=supervisor&index=anything",
        rest[0].public
    ));
    let signers: Vec<&str> = proof["precommits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|precommit| precommit["validator_key"].as_str().unwrap())
        .collect();
    assert!(
        signers.contains(&public["consensus_key"].as_str().unwrap()),
        "the new validator signed the latest block: {signers:?}"
    );

    // The stopped one is voted out (4 of 5, the new validator among the
    // approvals); restarted, it follows the chain as a full node.
    let leaving = consensus_key(&network, 0);
    let remaining: Vec<Value> = validators_after
        .iter()
        .filter(|validator| validator["consensus_key"] != leaving.as_str())
        .cloned()
        .collect();
    let everyone: Vec<&RunningNode> = rest.iter().chain([&auditor]).collect();
    change_validators(&everyone, &rest[0], &[&rest[1], &rest[2], &auditor], &remaining, 20);
    let removed = RunningNode::run(&network.configs[0]);
    let target = height(&rest[0]) + 3;
    let mut all: Vec<&RunningNode> = rest.iter().collect();
    all.push(&auditor);
    all.push(&removed);
    wait_for("the removed validator to follow", || {
        all.iter().all(|node| height(node) >= target)
    });
    assert!(assert_same_chain(&all) >= target);

    // The node checks its genesis file and its chain against the chain id
    // its configuration holds: a file naming another chain, or a data
    // directory holding another chain, and it refuses to start, saying so.
    auditor.stop();
    let run_auditor = || {
        refused_to_start(
            std::process::Command::new(env!("CARGO_BIN_EXE_wasmvisor"))
                .args(["run", "--config"])
                .arg(path("auditor/node.toml")),
        )
    };
    let kept = PathBuf::from(path("auditor/data/genesis.toml"));
    let other = toml::Value::String(hex::encode(&other_chain));
    edit_toml(&kept, &kept, |table| {
        table.insert("chain_id".into(), other.clone());
    });
    let stderr = run_auditor();
    assert!(stderr.contains("not this configuration's chain_id"), "{stderr}");
    let node_config = PathBuf::from(path("auditor/node.toml"));
    edit_toml(&node_config, &node_config, |table| {
        table.insert("chain_id".into(), other.clone());
    });
    let stderr = run_auditor();
    assert!(stderr.contains("another network's chain"), "{stderr}");
}
