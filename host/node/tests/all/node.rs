//! Starts the real binary, deploys and starts a wasm service through the
//! private API, transacts through the public API, restarts, and checks
//! that bad input gets the right 4xx.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigPropose, DeployRequest, DeployState, DeployStatus, StartService, config_change,
};
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet};
use wasmvisor_runtime::CallInfo;
use wasmvisor_storage::proof::MapProof;

use crate::support::{
    Mounted, RunningNode, agent, answer, chain_id, cli, cli_ok, deploy_file, edit_toml, fill, get, metric_names, post,
    promtool_ok, refused_to_start, run_dev, try_get, wait_for, wasmvisor, wasmvisor_ok, write_config,
};

#[test]
fn a_node_deploys_runs_and_restarts_a_wasm_service_over_http() {
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    let (status, info) = get(&format!("{}/api/system/v1/info", node.public));
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["validators"].as_array().unwrap().len(), 1);
    assert_eq!(info["runtimes"], serde_json::json!(["native", "wasm"]));

    // The operator deploys the guestbook through the private API.
    let component = wasmvisor_artifacts::GUESTBOOK.bytes;
    let artifact = ArtifactId {
        runtime_id: 1,
        name: "guestbook".into(),
        version: "1.0.0".into(),
    };
    let height = info["height"].as_u64().unwrap();
    let request = DeployRequest {
        artifact: Some(artifact.clone()),
        spec: wasmvisor_wasm::deploy_spec(component).encode_to_vec(),
        deadline_height: height + 1000,
        seed: 0,
    };
    let deploy_url = format!("{}/api/services/supervisor/deploy-artifact", node.private);
    let (status, body) = post(&deploy_url, "application/x-protobuf", request.encode_to_vec());
    assert_eq!(status, 200, "{body}");
    let status_url = format!(
        "{}/api/services/supervisor/deploy-status-by-hash?arguments={}",
        node.private,
        hex::encode(wasmvisor_node::requests::deploy_request_key(&request))
    );
    wait_for("the deploy", || {
        let (status, body) = get(&status_url);
        status == 200
            && DeployState::decode(answer(&body).as_slice()).unwrap().status == DeployStatus::DeploySucceeded as i32
    });
    // The deploy status is private: the public API does not serve it.
    let public_status = status_url.replace(&node.private, &node.public);
    assert_eq!(get(&public_status).0, 404);

    // ... and starts it (one admin: the proposal is enacted at once).
    let (_, number) = get(&format!(
        "{}/api/services/supervisor/configuration-number",
        node.private
    ));
    let propose = ConfigPropose {
        actual_from: 0,
        changes: vec![ConfigChange {
            kind: Some(config_change::Kind::StartService(StartService {
                artifact: Some(artifact),
                name: "guestbook".into(),
                config: Vec::new(),
            })),
        }],
        configuration_number: u64::decode(answer(&number).as_slice()).unwrap(),
    };
    let body = serde_json::json!({ "payload": hex::encode(propose.encode_to_vec()) }).to_string();
    let (status, reply) = post(
        &format!("{}/api/services/supervisor/propose-config", node.private),
        "application/json",
        body.into_bytes(),
    );
    assert_eq!(status, 200, "{reply}");
    let count_url = format!("{}/api/services/guestbook/count", node.public);
    wait_for("the service", || get(&count_url).0 == 200);

    // A client signs an entry; it is committed.
    let author = SigningKey::from_bytes(&[5; 32]);
    let services: Value = get(&format!("{}/api/services/supervisor/services", node.public)).1;
    let services = wasmvisor_proto::supervisor::ServicesView::decode(answer(&services).as_slice()).unwrap();
    let instance_id = services
        .instances
        .iter()
        .filter_map(|record| record.spec.as_ref())
        .find(|spec| spec.name == "guestbook")
        .unwrap()
        .id;
    let call = CallInfo {
        instance_id,
        method_id: 0,
    };
    let signed = wasmvisor_blockchain::sign(&author, &chain_id(&node), call, b"hello".to_vec());
    let body = serde_json::json!({ "tx_body": hex::encode(&signed) }).to_string();
    let tx_url = format!("{}/api/explorer/v1/transactions", node.public);
    let (status, reply) = post(&tx_url, "application/json", body.clone().into_bytes());
    assert_eq!(status, 200, "{reply}");
    let hash = reply["tx_hash"].as_str().unwrap().to_owned();
    wait_for("the transaction", || {
        get(&format!("{tx_url}?hash={hash}")).1["status"] == "committed"
    });
    assert_eq!(answer(&get(&count_url).1), 1u64.to_le_bytes());
    // The same transaction again: refused.
    assert_eq!(post(&tx_url, "application/json", body.into_bytes()).0, 409);

    // Bad input gets the right 4xx.
    assert_eq!(
        post(&tx_url, "application/json", b"{not json".to_vec()).0,
        400,
        "malformed body"
    );
    let mut forged = signed.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert_eq!(
        post(&tx_url, "application/octet-stream", forged).0,
        400,
        "a wrong signature"
    );
    let oversized = vec![0u8; wasmvisor_limits::TRANSACTION_BYTES_MAX + 1];
    assert_eq!(
        post(&tx_url, "application/octet-stream", oversized).0,
        413,
        "an oversized transaction"
    );
    assert_eq!(
        get(&format!("{}/api/services/nobody/count", node.public)).0,
        404,
        "an unknown service"
    );
    assert_eq!(get(&format!("{tx_url}?hash=zz")).0, 400, "a malformed hash");

    // Stopped and started again: the same state.
    let (_, before) = get(&format!("{}/api/system/v1/info", node.public));
    node.stop();
    let node = RunningNode::start(data.path());
    let (_, after) = get(&format!("{}/api/system/v1/info", node.public));
    assert!(after["height"].as_u64() >= before["height"].as_u64());
    let count_url = format!("{}/api/services/guestbook/count", node.public);
    assert_eq!(
        answer(&get(&count_url).1),
        1u64.to_le_bytes(),
        "the entry survived the restart"
    );
    node.stop();
}

#[test]
fn a_private_api_off_loopback_needs_a_token() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\npublic_api = \"127.0.0.1:0\"\nprivate_api = \"0.0.0.0:0\"\n",
            data.path().join("data")
        ),
    )
    .unwrap();
    let stderr = refused_to_run(&config);
    assert!(stderr.contains("private_api_token"), "{stderr}");
}

#[test]
fn the_documented_example_configuration_loads() {
    // Read at run time: a target directory shared between clones may hold
    // a test binary compiled in another one.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let path = std::path::Path::new(&manifest_dir).join("../../docs/node.example.toml");
    let config = wasmvisor_node::NodeConfig::load(&path).expect("the example is valid");
    assert_eq!(config, {
        let mut expected = wasmvisor_node::NodeConfig::development("/var/lib/wasmvisor".into());
        expected.block_interval_ms = 1000;
        expected
    });
    // The container image's: the same, its public API on every address.
    let container = wasmvisor_node::NodeConfig::load(&crate::support::deploy_file("docker/node.toml"))
        .expect("the container's configuration is valid");
    assert_eq!(container, {
        let mut expected = config.clone();
        expected.public_api = "0.0.0.0:8080".parse().unwrap();
        expected
    });
    // An unknown key is refused with its name.
    let data = tempfile::tempdir().unwrap();
    let bad = data.path().join("bad.toml");
    std::fs::write(&bad, "data_dir = \"x\"\nblock_interval = 5\n").unwrap();
    let error = wasmvisor_node::NodeConfig::load(&bad).unwrap_err().to_string();
    assert!(error.contains("block_interval"), "{error}");
}

#[test]
fn service_settings_are_checked_when_loaded() {
    use wasmvisor_limits::{
        SERVICE_SETTING_KEY_BYTES_MAX, SERVICE_SETTING_VALUE_BYTES_MAX, SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX,
    };
    // The example's commented [service_settings.book], uncommented, loads.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let example =
        std::fs::read_to_string(std::path::Path::new(&manifest_dir).join("../../docs/node.example.toml")).unwrap();
    let start = example
        .find("# [service_settings.book]")
        .expect("the example documents [service_settings]");
    let section: String = example[start..]
        .lines()
        .take(2)
        .map(|line| line.trim_start_matches("# "))
        .collect::<Vec<_>>()
        .join("\n");
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("node.toml");
    let load = |settings: &str| {
        std::fs::write(&path, format!("data_dir = \"x\"\n\n{settings}\n")).unwrap();
        wasmvisor_node::NodeConfig::load(&path)
    };
    let config = load(&section).expect("the example's [service_settings.book] is valid");
    assert_eq!(config.service_settings["book"]["announce"], "hello from this node");
    // At the limits they load; one over, they are refused with the reason.
    let entries = |count: usize| -> String { (0..count).map(|index| format!("k{index} = \"v\"\n")).collect() };
    let key = |len: usize| format!("{} = \"v\"", "k".repeat(len));
    let value = |len: usize| format!("k = \"{}\"", "v".repeat(len));
    for accepted in [
        entries(SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX),
        key(SERVICE_SETTING_KEY_BYTES_MAX),
        value(SERVICE_SETTING_VALUE_BYTES_MAX),
    ] {
        load(&format!("[service_settings.book]\n{accepted}")).expect("at the limit");
    }
    for (refused, reason) in [
        (
            entries(SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX + 1),
            "65 settings exceed the maximum of 64",
        ),
        (
            key(SERVICE_SETTING_KEY_BYTES_MAX + 1),
            "a setting's name is 1 to 64 bytes",
        ),
        ("\"\" = \"v\"".to_owned(), "a setting's name is 1 to 64 bytes"),
        (value(SERVICE_SETTING_VALUE_BYTES_MAX + 1), "a value is at most 4096"),
        ("k = 5".to_owned(), "invalid type"),
    ] {
        let error = load(&format!("[service_settings.book]\n{refused}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains(reason), "{reason:?} in {error}");
        assert!(
            error.contains("service_settings") || reason == "invalid type",
            "{error}"
        );
    }
}

#[test]
fn consensus_settings_are_checked_when_loaded() {
    // The example's commented [consensus] section, uncommented, loads.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let example =
        std::fs::read_to_string(std::path::Path::new(&manifest_dir).join("../../docs/node.example.toml")).unwrap();
    let section = &example[example
        .find("# [consensus]")
        .expect("the example documents [consensus]")..];
    let section: String = section
        .lines()
        .map(|line| line.strip_prefix("# ").unwrap_or(line.trim_start_matches('#')))
        .collect::<Vec<_>>()
        .join("\n");
    let data = tempfile::tempdir().unwrap();
    let path = data.path().join("node.toml");
    let write = |consensus: &str| std::fs::write(&path, format!("data_dir = \"x\"\n\n{consensus}\n")).unwrap();
    write(&section);
    let config = wasmvisor_node::NodeConfig::load(&path).expect("the example's [consensus] is valid");
    let consensus = config.consensus.expect("a consensus section");
    assert_eq!(consensus.peers.len(), 1);
    assert_eq!(consensus.peers[0].public_api, "http://10.0.0.2:8080");
    assert_eq!((consensus.propose_timeout_ms, consensus.vote_timeout_ms), (1000, 500));
    // Each rule, with its reason.
    for (broken, reason) in [
        (
            section.replace("propose_timeout_ms = 1000", "propose_timeout_ms = 0"),
            "propose_timeout_ms must be 1..=60000",
        ),
        (
            section.replace("vote_timeout_ms = 500", "vote_timeout_ms = 60001"),
            "vote_timeout_ms must be 1..=60000",
        ),
        (
            section.replace("10.0.0.2:27000", "0.0.0.0:27000"),
            "the address 0.0.0.0:27000 is named twice",
        ),
        (
            section.replace("http://10.0.0.2:8080", "10.0.0.2:8080"),
            "is not an http:// URL",
        ),
    ] {
        write(&broken);
        let error = wasmvisor_node::NodeConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains(reason), "{error}");
    }
}

/// `wasmvisor run --config <config>` must refuse to start: its stderr.
fn refused_to_run(config: &Path) -> String {
    let output = wasmvisor(&["run", "--config", config.to_str().unwrap()]);
    assert!(!output.status.success(), "the node must not start");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Submits a signed token transaction and waits for its block; answers
/// its status.
fn transact(node: &RunningNode, key: &SigningKey, instance_id: u32, method_id: u32, arguments: Vec<u8>) -> Value {
    let call = CallInfo { instance_id, method_id };
    let signed = wasmvisor_blockchain::sign(key, &chain_id(node), call, arguments);
    let tx_url = format!("{}/api/explorer/v1/transactions", node.public);
    let (status, reply) = post(&tx_url, "application/octet-stream", signed);
    assert_eq!(status, 200, "{reply}");
    let hash = reply["tx_hash"].as_str().unwrap().to_owned();
    let mut outcome = Value::Null;
    wait_for("the transaction", || {
        outcome = get(&format!("{tx_url}?hash={hash}")).1;
        outcome["status"] != "pending"
    });
    outcome
}

/// A wallet's balance as a light client sees it: the proof must verify
/// against a block header precommitted by the validator.
fn proven_balance(node: &RunningNode, owner: &SigningKey) -> (Option<u64>, String) {
    let (status, answer) = get(&format!(
        "{}/api/proofs/v1/map?service=coins&index=wallets&key={}",
        node.public,
        hex::encode(owner.verifying_key().to_bytes())
    ));
    assert_eq!(status, 200, "{answer}");
    // The header: its hash is what the validator precommitted.
    let header = BlockHeader::decode(
        hex::decode(answer["block"]["header"].as_str().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    let block_hash = wasmvisor_blockchain::blocks::block_hash(&header);
    let (_, info) = get(&format!("{}/api/system/v1/info", node.public));
    let validator: [u8; 32] = hex::decode(info["validators"][0]["consensus_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let validator = ed25519_dalek::VerifyingKey::from_bytes(&validator).unwrap();
    let precommit = &answer["precommits"][0];
    let signature: [u8; 64] = hex::decode(precommit["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    validator
        .verify_strict(
            &wasmvisor_blockchain::blocks::precommit_message(
                &chain_id(node),
                header.height,
                u32::try_from(precommit["round"].as_u64().unwrap()).unwrap(),
                &block_hash,
                validator.as_bytes(),
            ),
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .expect("the header is precommitted by the validator");
    // The proof leads to the header's state root.
    let proof: MapProof = serde_json::from_value(answer["proof"].clone()).unwrap();
    let state_root: [u8; 32] = header.state_hash.as_slice().try_into().unwrap();
    let proven = proof.verify(&state_root).expect("the proof verifies");
    assert_eq!(proven.key, owner.verifying_key().as_bytes());
    // A forged value does not.
    let mut forged = proof.clone();
    forged.value = Some(
        Wallet {
            owner: vec![],
            name: "forged".into(),
            balance: 1_000_000,
        }
        .encode_to_vec(),
    );
    assert!(forged.verify(&state_root).is_err(), "a forged balance is refused");
    let balance = proven.value.map(|value| Wallet::decode(value).unwrap().balance);
    (balance, hex::encode(&header.state_hash))
}

#[test]
fn the_operator_cli_runs_a_token_service_with_proofs_across_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    let token = wasmvisor_artifacts::TOKEN.path;
    let output = cli(&node, &["deploy", token, "--name", "token", "--version", "1.0.0"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let deployed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&deployed["artifact"], &deployed["status"], &deployed["approvals"]),
        (&json!("token:1.0.0"), &json!("active"), &json!("1/1"))
    );
    // Piped, its output carries no progress dots or escape codes.
    assert!(
        !output.stderr.contains(&b'.') && !output.stderr.contains(&0x1b),
        "{output:?}"
    );

    // For people: the same result as indented `key: value` lines.
    let output = cli(&node, &["status", "--format", "text"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let height = text
        .lines()
        .find_map(|line| line.strip_prefix("height: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(height.parse::<u64>().is_ok(), "{text}");
    assert!(text.lines().any(|line| line.starts_with("chain_id: ")), "{text}");
    assert!(
        text.lines().any(|line| line == "runtimes:") && text.contains("  - wasm"),
        "{text}"
    );
    assert!(!text.contains('{') && !text.contains('"'), "{text}");

    // Deploying it again is refused, with the reason.
    let output = cli(&node, &["deploy", token, "--name", "token", "--version", "1.0.0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AlreadyDeployed"), "{stderr}");

    // An instance with constructor parameters in JSON, encoded through the
    // token's interface; ones that do not fit it are refused.
    let start_coins = |params: &str| {
        let args = ["start-service", "--artifact", "token:1.0.0", "--instance", "coins"];
        cli(&node, &[&args[..], &["--params-json", params]].concat())
    };
    let output = start_coins(r#"{"issue_maximum": 5000}"#);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("params_json"),
        "{output:?}"
    );
    let output = start_coins(r#"{"issue_max": 5000}"#);
    assert!(output.status.success(), "{output:?}");
    let started: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(started["proposal"]["status"], "enacted", "{started}");
    assert_eq!(started["service"]["status"], "active", "{started}");
    let instance_id = u32::try_from(started["service"]["id"].as_u64().unwrap()).unwrap();
    let services = cli_ok(&node, &["services"]);
    assert!(
        services["artifacts"]
            .as_array()
            .unwrap()
            .contains(&Value::from("wasm:token:1.0.0")),
        "{services}"
    );
    // A name that is not an artifact gets a clear refusal.
    let output = cli(
        &node,
        &["start-service", "--artifact", "nothing:1.0.0", "--instance", "x"],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no artifact nothing:1.0.0 is deployed"));

    // Clients sign transactions: wallets, an issue, transfers.
    let alice = SigningKey::from_bytes(&[11; 32]);
    let bob = SigningKey::from_bytes(&[12; 32]);
    for (key, name) in [(&alice, "alice"), (&bob, "bob")] {
        let outcome = transact(
            &node,
            key,
            instance_id,
            0,
            CreateWallet { name: name.into() }.encode_to_vec(),
        );
        assert_eq!(outcome["status"], "committed", "{outcome}");
    }
    let issue = |amount, seed| Issue { amount, seed }.encode_to_vec();
    assert_eq!(
        transact(&node, &alice, instance_id, 1, issue(1000, 1))["status"],
        "committed"
    );
    // The constructor's limit holds (the parameters file reached it).
    assert_eq!(
        transact(&node, &alice, instance_id, 1, issue(6000, 2))["status"],
        "failed"
    );
    for seed in 0..5 {
        let transfer = Transfer {
            to: bob.verifying_key().to_bytes().to_vec(),
            amount: 30,
            seed,
        };
        assert_eq!(
            transact(&node, &alice, instance_id, 2, transfer.encode_to_vec())["status"],
            "committed"
        );
    }
    let (bob_balance, _) = proven_balance(&node, &bob);
    assert_eq!(bob_balance, Some(150));
    let (alice_balance, _) = proven_balance(&node, &alice);
    assert_eq!(alice_balance, Some(850));

    // The token's interface, embedded in its component, names everything.
    let (status, interface) = get(&format!("{}/api/services/coins/interface", node.public));
    assert_eq!(status, 200, "{interface}");
    let names = |list: &str| -> Vec<String> {
        let entries = interface[list]
            .as_array()
            .unwrap_or_else(|| panic!("{list} in {interface}"));
        entries
            .iter()
            .map(|entry| entry["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names("methods"), ["create_wallet", "issue", "transfer"]);
    assert_eq!(names("queries"), ["wallet"]);
    assert!(names("errors").contains(&"InsufficientFunds".to_owned()), "{interface}");
    assert_eq!(interface["constructor"]["message"], "wasmvisor.token.TokenConfig");
    // Queries take and answer JSON through it (bytes in base64, as the
    // protobuf JSON mapping has them); raw hex still answers hex.
    let owner = BASE64.encode(alice.verifying_key().to_bytes());
    let query_url = format!("{}/api/services/coins/wallet", node.public);
    let (status, reply) = post(
        &query_url,
        "application/json",
        json!({ "owner": owner }).to_string().into_bytes(),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["answer"]["balance"], "850", "{reply}");
    assert_eq!(reply["answer"]["name"], "alice", "{reply}");
    let args = json!({ "owner": owner }).to_string();
    let (status, reply) = get(&format!(
        "{query_url}?args={}",
        wasmvisor_node::client::url_encode(&args)
    ));
    assert_eq!((status, &reply["answer"]["balance"]), (200, &json!("850")), "{reply}");
    let (status, reply) = post(&query_url, "application/json", br#"{"owner": 5}"#.to_vec());
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("arguments of wallet"),
        "{reply}"
    );
    let (status, _) = post(
        &format!("{}/api/services/coins/nothing", node.public),
        "application/json",
        b"null".to_vec(),
    );
    assert_eq!(status, 404);
    // A failed transfer's status names the call and the error.
    let overdraft = Transfer {
        to: bob.verifying_key().to_bytes().to_vec(),
        amount: 10_000,
        seed: 99,
    };
    let outcome = transact(&node, &alice, instance_id, 2, overdraft.encode_to_vec());
    assert_eq!(outcome["status"], "failed", "{outcome}");
    assert_eq!(outcome["error"]["name"], "InsufficientFunds", "{outcome}");
    assert_eq!(outcome["call"]["service"], "coins", "{outcome}");
    assert_eq!(outcome["call"]["method"], "transfer", "{outcome}");
    assert_eq!(outcome["call"]["arguments"]["amount"], "10000", "{outcome}");

    // From the command line: a key file, calls by name with JSON
    // arguments, a query.
    let carol = data.path().join("carol.key");
    let carol_path = carol.to_str().unwrap();
    let made = wasmvisor(&["keys", "new", carol_path]);
    assert!(made.status.success(), "{made:?}");
    let shown: Value = serde_json::from_slice(&made.stdout).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&carol).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a key file is its user's alone");
    }
    assert!(
        !wasmvisor(&["keys", "new", carol_path]).status.success(),
        "a key file is never overwritten"
    );
    let again = wasmvisor(&["keys", "show", carol_path]);
    assert_eq!(serde_json::from_slice::<Value>(&again.stdout).unwrap(), shown);
    let created = cli_ok(
        &node,
        &[
            "call",
            "coins",
            "create_wallet",
            "--args",
            r#"{"name": "carol"}"#,
            "--key",
            carol_path,
        ],
    );
    assert_eq!(created["status"], "committed", "{created}");
    assert_eq!(created["call"]["method"], "create_wallet", "{created}");
    let to_alice = json!({ "to": BASE64.encode(alice.verifying_key().to_bytes()), "amount": "5" }).to_string();
    let failed = cli(
        &node,
        &["call", "coins", "transfer", "--args", &to_alice, "--key", carol_path],
    );
    assert!(!failed.status.success(), "a failed transaction fails the command");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("the transaction failed: InsufficientFunds"), "{stderr}");
    let outcome: Value = serde_json::from_slice(&failed.stdout).unwrap();
    assert_eq!(outcome["error"]["name"], "InsufficientFunds", "{outcome}");
    let wallet = cli_ok(
        &node,
        &[
            "query",
            "coins",
            "wallet",
            "--args",
            &json!({ "owner": shown["public_key_base64"] }).to_string(),
        ],
    );
    assert_eq!(
        (&wallet["name"], &wallet["balance"]),
        (&json!("carol"), &json!("0")),
        "{wallet}"
    );
    let unknown = cli(&node, &["call", "coins", "mint", "--key", carol_path]);
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no method \"mint\"; it has: create_wallet, issue, transfer")
    );
    // Absence is provable too.
    assert_eq!(proven_balance(&node, &SigningKey::from_bytes(&[13; 32])).0, None);

    // The operator's metrics count what happened (9 client transactions,
    // plus the supervisor's).
    let (status, metrics) = get(&format!("{}/metrics", node.private));
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_str().expect("metrics are text").to_owned();
    let sample = |line_start: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(line_start))
            .unwrap_or_else(|| panic!("no {line_start} in {metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert!(sample("wasmvisor_transactions_committed_total ") >= 9, "{metrics}");
    assert!(sample("wasmvisor_block_height ") > 0);
    assert!(sample("wasmvisor_runtime_calls_total{runtime=\"wasm\"} ") >= 9);
    assert!(sample("wasmvisor_runtime_fuel_consumed_total{runtime=\"wasm\"} ") > 0);
    assert_eq!(
        sample("wasmvisor_runtime_calls_total{runtime=\"native\"} "),
        0,
        "no native service runs"
    );
    assert_eq!(
        sample("wasmvisor_runtime_compilations_total{runtime=\"wasm\"} "),
        2,
        "the supervisor and the token"
    );
    // Per service: the token's transactions, one of which failed
    // (InsufficientFunds above).
    let service_sample = |metric: &str| -> u64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{metric}{{service=\"coins\",instance_id=")))
            .and_then(|rest| rest.split_once("} "))
            .map(|(_, value)| value.parse().unwrap())
            .unwrap_or_else(|| panic!("no {metric} of coins in {metrics}"))
    };
    assert!(service_sample("wasmvisor_service_transactions_total") >= 5, "{metrics}");
    assert!(service_sample("wasmvisor_service_errors_total") >= 1, "{metrics}");
    // The text passes promtool's checks, and every metric the alert rules
    // and the dashboard under deploy/ use is in it (rules pass promtool).
    promtool_ok(&["check", "metrics"], metrics.as_bytes());
    let alerts = deploy_file("prometheus/alerts.yml");
    promtool_ok(&["check", "rules", alerts.to_str().unwrap()], b"");
    let served = metric_names(&metrics);
    for file in ["prometheus/alerts.yml", "grafana/wasmvisor-node.json"] {
        let text = std::fs::read_to_string(deploy_file(file)).unwrap();
        let used = metric_names(&text);
        assert!(used.len() >= 4, "{file} names {used:?}");
        let unknown: Vec<&String> = used.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics the node does not serve: {unknown:?}"
        );
    }
    assert_eq!(
        get(&format!("{}/metrics", node.public)).0,
        404,
        "metrics are for operators"
    );

    // Frozen: queries answer, transactions are refused at the door.
    let frozen = cli_ok(&node, &["freeze", "--instance", "coins"]);
    assert_eq!(frozen["proposal"]["status"], "enacted", "{frozen}");
    wait_for("the freeze", || {
        cli_ok(&node, &["services"])["instances"][1]["status"] == "frozen"
    });
    let signed = wasmvisor_blockchain::sign(
        &alice,
        &chain_id(&node),
        CallInfo {
            instance_id,
            method_id: 1,
        },
        issue(1, 3),
    );
    let (status, reply) = post(
        &format!("{}/api/explorer/v1/transactions", node.public),
        "application/octet-stream",
        signed,
    );
    assert_eq!(status, 404, "a frozen service takes no transactions: {reply}");
    assert_eq!(proven_balance(&node, &bob).0, Some(150));
    cli_ok(&node, &["resume", "--instance", "coins"]);
    wait_for("the resume", || {
        cli_ok(&node, &["services"])["instances"][1]["status"] == "active"
    });

    // Stopped and started again: the same state, provably.
    let (_, before) = get(&format!("{}/api/system/v1/info", node.public));
    node.stop();
    let node = RunningNode::start(data.path());
    let (_, after) = get(&format!("{}/api/system/v1/info", node.public));
    assert!(after["height"].as_u64() >= before["height"].as_u64());
    let (_, block) = get(&format!(
        "{}/api/explorer/v1/block?height={}",
        node.public, before["height"]
    ));
    assert_eq!(
        block["state_hash"], before["state_hash"],
        "the stored blocks are unchanged"
    );
    assert_eq!(proven_balance(&node, &bob).0, Some(150));
    assert_eq!(proven_balance(&node, &alice).0, Some(850));
    // ... and it keeps working.
    let transfer = Transfer {
        to: alice.verifying_key().to_bytes().to_vec(),
        amount: 50,
        seed: 9,
    };
    assert_eq!(
        transact(&node, &bob, instance_id, 2, transfer.encode_to_vec())["status"],
        "committed"
    );
    assert_eq!(proven_balance(&node, &bob).0, Some(100));

    // Stopping it through the CLI.
    cli_ok(&node, &["stop", "--instance", "coins"]);
    wait_for("the stop", || {
        cli_ok(&node, &["services"])["instances"][1]["status"] == "stopped"
    });

    let status = cli_ok(&node, &["status"]);
    assert!(status["height"].as_u64().unwrap() > 0);
    let output = cli(&node, &["tx", &"00".repeat(32)]);
    assert!(!output.status.success(), "an unknown transaction");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no such transaction"));
    node.stop();
}

fn services(node: &RunningNode) -> Vec<Value> {
    get(&format!("{}/api/system/v1/services", node.public)).1["instances"]
        .as_array()
        .unwrap()
        .clone()
}

fn service<'a>(services: &'a [Value], name: &str) -> Option<&'a Value> {
    services.iter().find(|instance| instance["name"] == name)
}

#[test]
fn system_services_start_at_genesis_and_follow_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // The component files sit beside the configuration (relative paths).
    std::fs::copy(wasmvisor_artifacts::TOKEN.path, dir.path().join("token.wasm")).unwrap();
    std::fs::copy(wasmvisor_artifacts::NOTEBOOK.path, dir.path().join("notebook.wasm")).unwrap();
    std::fs::copy(wasmvisor_artifacts::GUESTBOOK.path, dir.path().join("guestbook.wasm")).unwrap();
    let coins = format!(
        "[system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"token.wasm\"\nparams = \"{}\"\n",
        hex::encode(TokenConfig { issue_max: 5000 }.encode_to_vec())
    );
    let notes = |version: &str| {
        format!(
            "[system_services.notes]\nartifact = \"notebook:{version}\"\ncomponent = \"notebook.wasm\"\nparams = \"{}\"\n",
            hex::encode("Field notes")
        )
    };
    let config = write_config(
        dir.path(),
        &format!(
            "[system_services]\nenable = [\"coins\", \"notes\"]\n\n{coins}\n{}",
            notes("1.0.0")
        ),
    );

    // Genesis: both run from block 0 with their parameters.
    let node = RunningNode::run(&config);
    let (_, genesis) = get(&format!("{}/api/explorer/v1/block?height=0", node.public));
    assert_eq!(genesis["height"], 0);
    let running = services(&node);
    assert_eq!(service(&running, "coins").unwrap()["artifact"], "wasm:token:1.0.0");
    assert_eq!(service(&running, "coins").unwrap()["status"], "active");
    assert_eq!(service(&running, "notes").unwrap()["artifact"], "wasm:notebook:1.0.0");
    assert_eq!(service(&running, "notes").unwrap()["status"], "active");
    let (_, title) = get(&format!("{}/api/services/notes/title", node.public));
    assert_eq!(answer(&title), b"Field notes");
    // A note, for the data migration to carry over.
    let notes_id = u32::try_from(service(&running, "notes").unwrap()["id"].as_u64().unwrap()).unwrap();
    let writer = SigningKey::from_bytes(&[21; 32]);
    assert_eq!(
        transact(&node, &writer, notes_id, 0, b"first light".to_vec())["status"],
        "committed"
    );
    node.stop();

    // Restart with a new version of one and a service that is absent: the
    // node upgrades the first (deploy, stop, data migration, resume) and
    // deploys and starts the second, through the supervisor.
    let book = "[system_services.book]\nartifact = \"guestbook:1.0.0\"\ncomponent = \"guestbook.wasm\"\n";
    write_config(dir.path(), &format!("{coins}\n{}\n{book}", notes("2.0.0")));
    let node = RunningNode::run(&config);
    wait_for("the upgrade and the new service", || {
        let running = services(&node);
        service(&running, "notes")
            .is_some_and(|notes| notes["artifact"] == "wasm:notebook:2.0.0" && notes["status"] == "active")
            && service(&running, "book").is_some_and(|book| book["status"] == "active")
    });
    let running = services(&node);
    assert_eq!(
        service(&running, "coins").unwrap()["artifact"],
        "wasm:token:1.0.0",
        "unchanged"
    );
    assert_eq!(
        service(&running, "notes").unwrap()["id"],
        notes_id,
        "the same instance, upgraded"
    );
    // The 2.x layout was produced by the data migration from the 1.x data.
    let (status, count) = get(&format!("{}/api/services/notes/note-count", node.public));
    assert_eq!(status, 200, "{count}");
    assert_eq!(answer(&count), 1u64.to_le_bytes());
    let (_, title) = get(&format!("{}/api/services/notes/title", node.public));
    assert_eq!(answer(&title), b"Field notes");
    node.stop();

    // The same configuration again: nothing to do, nothing changes.
    let node = RunningNode::run(&config);
    let before = services(&node);
    let (_, info) = get(&format!("{}/api/system/v1/info", node.public));
    let height = info["height"].as_u64().unwrap();
    wait_for("a few blocks", || crate::network::height(&node) >= height + 5);
    assert_eq!(services(&node), before);
    node.stop();

    // A restart whose configured component is missing: refused, naming it.
    std::fs::remove_file(dir.path().join("guestbook.wasm")).unwrap();
    let stderr = refused_to_run(&config);
    assert!(stderr.contains("system service \"book\""), "{stderr}");
    assert!(stderr.contains("guestbook.wasm"), "{stderr}");
}

#[test]
fn a_system_service_that_cannot_be_deployed_stops_the_node_at_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let run = |system_services: &str| refused_to_run(&write_config(dir.path(), system_services));
    // A missing component file.
    let stderr = run("[system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"missing.wasm\"\n");
    assert!(stderr.contains("system service \"coins\""), "{stderr}");
    assert!(stderr.contains("missing.wasm"), "{stderr}");
    assert!(stderr.contains("No such file"), "{stderr}");
    // An enabled service without its table.
    let stderr = run("[system_services]\nenable = [\"coins\"]\n");
    assert!(stderr.contains("has no [system_services.coins] table"), "{stderr}");
    // Nothing was created by these: the configuration is refused first.
    assert!(!dir.path().join("data").exists());
    // A file that is not a component.
    std::fs::write(dir.path().join("junk.wasm"), b"not a component").unwrap();
    let stderr = run("[system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"junk.wasm\"\n");
    assert!(
        stderr.contains("system service \"coins\" (1:token:1.0.0) cannot be deployed"),
        "{stderr}"
    );
}

#[test]
fn a_node_logs_each_block_once_and_answers_whether_it_is_alive_and_ready() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("node.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let node = RunningNode::spawn(
        run_dev(&data.path().join("data"))
            .args(["--log-format", "json"])
            .stderr(log),
        data.path().join("data"),
        None,
    );
    let (status, alive) = get(&format!("{}/healthz", node.public));
    assert_eq!((status, &alive), (200, &json!({ "status": "alive" })));
    let height = || crate::network::height(&node);
    wait_for("three blocks", || height() >= 3);
    let (status, ready) = get(&format!("{}/readyz", node.public));
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["ready"], true);
    assert!(ready["height"].as_u64().unwrap() >= 3, "{ready}");
    assert!(
        ready["last_block_age_ms"].as_u64().unwrap() < ready["block_age_max_ms"].as_u64().unwrap(),
        "{ready}"
    );
    assert_eq!(ready["reason"], Value::Null);
    // Neither is on the private API (404 with its token), and neither
    // takes a token.
    assert_eq!(get(&format!("{}/readyz", node.private)).0, 404);
    assert_eq!(get(&format!("{}/healthz", node.private)).0, 404);
    node.stop();

    // One JSON object per line; one INFO line per committed block with its
    // height, transactions and the start of its hash.
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let blocks: Vec<&Value> = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "block committed")
        .collect();
    let heights: Vec<u64> = blocks
        .iter()
        .map(|line| line["fields"]["height"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=heights.len() as u64).collect();
    assert!(heights.len() >= 3, "{text}");
    assert_eq!(heights, expected, "each block once, in order");
    for line in &blocks {
        assert_eq!(line["level"], "INFO");
        assert!(line["fields"]["transactions"].is_u64(), "{line}");
        assert_eq!(line["fields"]["hash"].as_str().unwrap().len(), 16, "{line}");
    }
    assert!(blocks[1]["fields"]["interval_ms"].is_u64(), "{}", blocks[1]);

    // The default, text, written to a file: the same line, and no terminal
    // escape codes.
    let log = std::fs::File::create(&log_path).unwrap();
    let node = RunningNode::spawn(
        run_dev(&data.path().join("data")).stderr(log),
        data.path().join("data"),
        None,
    );
    let height = || crate::network::height(&node);
    let restarted_at = height();
    wait_for("a block after the restart", || height() > restarted_at);
    node.stop();
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        text.lines().any(|line| line.contains(" INFO ")
            && line.contains("block committed")
            && line.contains(&format!("height={}", restarted_at + 1))),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[test]
fn a_node_is_not_ready_before_it_commits_a_block() {
    use wasmvisor_node::testing::InProcessNode;

    let node = InProcessNode::new().unwrap();
    let (status, ready) = node.get_public("/readyz");
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["ready"], false);
    assert_eq!(ready["height"], 0);
    assert_eq!(ready["last_block_age_ms"], Value::Null);
    assert_eq!(ready["reason"], "no block committed since this node started");
    // Alive all the same.
    assert_eq!(node.get_public("/healthz").0, 200);
    node.create_block();
    let (status, ready) = node.get_public("/readyz");
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        (ready["ready"].clone(), ready["height"].clone()),
        (json!(true), json!(1))
    );
    // The development chain makes a block each 200 ms or so: a node is
    // not ready after the floor of 10 s without one.
    assert_eq!(
        ready["block_age_max_ms"].as_u64(),
        Some(wasmvisor_node::node::READY_BLOCK_AGE_FLOOR.as_millis() as u64)
    );
}

#[test]
fn service_authors_test_their_endpoints_in_process_with_human_json() {
    use wasmvisor_node::testing::InProcessNode;

    let node = InProcessNode::new().unwrap();
    // Deploy: the human JSON form of the request.
    let (status, reply) = node.post_private(
        "/api/services/supervisor/deploy-artifact",
        &serde_json::json!({
            "artifact": "guestbook:1.0.0",
            "component": hex::encode(wasmvisor_artifacts::GUESTBOOK.bytes),
        }),
    );
    assert_eq!(status, 200, "{reply}");
    // The deploy compiles in the background; blocks go on meanwhile.
    let start = Instant::now();
    while !node.get_public("/api/system/v1/services").1["artifacts"]
        .as_array()
        .unwrap()
        .contains(&Value::from("wasm:guestbook:1.0.0"))
    {
        node.create_block();
        assert!(start.elapsed() < Duration::from_secs(120), "the deploy completes");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Start: a proposal naming the artifact and the instance.
    let (status, reply) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [{ "action": "start", "artifact": "guestbook:1.0.0", "instance": "book" }] }),
    );
    assert_eq!(status, 200, "{reply}");
    node.create_block();
    let (_, services) = node.get_public("/api/system/v1/services");
    let book = &services["instances"][1];
    assert_eq!(book["name"], "book");
    assert_eq!(book["status"], "active");

    // A client's signed entry, then the service's own query endpoint.
    let chain_id: [u8; 32] = hex::decode(
        node.get_public("/api/explorer/v1/block?height=0").1["hash"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let call = CallInfo {
        instance_id: u32::try_from(book["id"].as_u64().unwrap()).unwrap(),
        method_id: 0,
    };
    let signed = wasmvisor_blockchain::sign(&SigningKey::from_bytes(&[7; 32]), &chain_id, call, b"hi".to_vec());
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", signed);
    assert_eq!(status, 200, "{reply}");
    node.create_block();
    let (status, count) = node.get_public("/api/services/book/count");
    assert_eq!(status, 200, "{count}");
    assert_eq!(answer(&count), 1u64.to_le_bytes());
    let (status, count) = node.get_public("/api/services/book/count?args=null");
    assert_eq!((status, &count["answer"]), (200, &Value::from("1")), "{count}");
    // A private query is not found on the public API, in either form, and
    // is answered on the private one.
    for path in [
        "/api/services/book/latest-entry",
        "/api/services/book/latest-entry?args=null",
    ] {
        let (status, reply) = node.get_public(path);
        assert_eq!(status, 404, "{reply}");
        assert!(reply["error"].as_str().unwrap().contains("private API"), "{reply}");
    }
    // The supervisor declares its interface too: its methods by name, its
    // operators' reads as private queries, and JSON answers.
    let (status, interface) = node.get_public("/api/services/supervisor/interface");
    assert_eq!(status, 200, "{interface}");
    let methods: Vec<&str> = interface["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(methods.contains(&"confirm_config_change"), "{methods:?}");
    let private: Vec<&str> = interface["queries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|query| query["private"] == true)
        .map(|query| query["name"].as_str().unwrap())
        .collect();
    assert!(
        private.contains(&"deploy-status") && private.contains(&"supervisor-config"),
        "{private:?}"
    );
    let (status, services) = node.get_public("/api/services/supervisor/services?args=null");
    assert_eq!(status, 200, "{services}");
    assert_eq!(services["answer"]["instances"][1]["spec"]["name"], "book", "{services}");
    // JSON that is not the query's arguments, or both forms at once, is a
    // clear 400; an unknown service or query a 404.
    for (path, status_expected, reason) in [
        ("/api/services/book/count?args=5", 400, "takes no arguments"),
        ("/api/services/book/count?args={", 400, "`args` is not JSON"),
        ("/api/services/book/count?args=null&arguments=00", 400, "not both"),
        ("/api/services/book/nothing?args=null", 404, "no query named"),
        ("/api/services/nobody/interface", 404, "no service named"),
        ("/api/services/nobody/count?args=null", 404, "no service named"),
    ] {
        let (status, reply) = node.get_public(path);
        assert_eq!(status, status_expected, "{path}: {reply}");
        assert!(
            reply["error"].as_str().unwrap().contains(reason),
            "{path}: {reason:?} in {reply}"
        );
    }
    let (status, reply) = node.post_public("/api/services/book/latest-entry", &Value::Null);
    assert_eq!(status, 404, "{reply}");
    let (status, reply) = node.get_private("/api/services/supervisor/deploy-status?args=null");
    assert_eq!(status, 400, "the supervisor's private reads take hex: {reply}");
    let (status, latest) = node.get_private("/api/services/book/latest-entry?args=null");
    assert_eq!(status, 200, "{latest}");
    let author = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    assert_eq!(
        latest["answer"],
        Value::from(hex::encode([&author[..], b"hi"].concat()))
    );
    let (status, latest) = node.get_private("/api/services/book/latest-entry");
    assert_eq!(
        (status, latest["answer"].as_str().unwrap().len()),
        (200, 2 * (32 + 2)),
        "{latest}"
    );

    // Human forms are checked with clear refusals.
    let (status, reply) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [{ "action": "stop", "instance": "nobody" }] }),
    );
    assert_eq!(
        (status, reply["error"].as_str().unwrap()),
        (400, "no service named \"nobody\"")
    );
    let (status, reply) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [{ "action": "stop", "instance": "book", "colour": "red" }] }),
    );
    assert_eq!(status, 400);
    assert!(reply["error"].as_str().unwrap().contains("colour"), "{reply}");
    let (status, reply) = node.post_private(
        "/api/services/supervisor/migrate",
        &serde_json::json!({ "artifact": "guestbook", "instance": "book" }),
    );
    assert_eq!(status, 400);
    assert!(reply["error"].as_str().unwrap().contains("not name:version"), "{reply}");
    let (status, _) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [] }),
    );
    assert_eq!(status, 400, "an empty proposal");
    // JSON parameters need the service to state them.
    let (status, reply) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [{ "action": "configure", "instance": "book", "params_json": "00" }] }),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(
        reply["error"].as_str().unwrap().contains("states no such parameters"),
        "{reply}"
    );
    let (status, reply) = node.post_private(
        "/api/services/supervisor/propose-config",
        &serde_json::json!({ "changes": [{ "action": "configure", "instance": "book", "params": "00", "params_json": "00" }] }),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("not both"), "{reply}");

    // The framework's own rejections are JSON errors too.
    let (status, reply) = node.get_public("/api/explorer/v1/block?height=tall");
    assert_eq!(status, 400);
    assert!(reply["error"].as_str().unwrap().contains("height"), "{reply}");
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/block", Vec::new());
    assert_eq!(status, 405);
    assert!(reply["error"].is_string(), "{reply}");
    let oversized = vec![0u8; wasmvisor_limits::HTTP_LARGE_BODY_BYTES_MAX + 1];
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", oversized);
    assert_eq!(status, 413);
    assert!(reply["error"].is_string(), "{reply}");
}

/// A one-validator network in `dir` from the documented commands: the
/// template `solo.toml` (50 ms blocks), keys sealed with the tests'
/// passphrase file, and `solo/node.toml` finalized on loopback ports.
fn configure_solo(dir: &Path) {
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    wasmvisor_ok(&[
        "generate-template",
        &path("solo.toml"),
        "--validators-count",
        "1",
        "--block-interval-ms",
        "50",
    ]);
    wasmvisor_ok(&[
        "generate-config",
        &path("solo.toml"),
        &path("solo"),
        "--public-api",
        "127.0.0.1:0",
        "--private-api",
        "127.0.0.1:0",
        "--passphrase-file",
        &crate::support::passphrase_file(dir),
    ]);
    wasmvisor_ok(&[
        "finalize",
        &path("solo/private.toml"),
        &path("solo/node.toml"),
        "--public-configs",
        &path("solo/public.toml"),
    ]);
}

#[test]
fn a_one_validator_network_runs_by_itself() {
    // (Four validators: `network.rs`.)
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // A one-validator network from the same commands runs by itself.
    configure_solo(dir.path());
    // The same configuration naming its validator twice: refused at start,
    // as a consensus change naming one twice would be.
    let solo = Path::new(&path("solo/node.toml")).to_owned();
    edit_toml(&solo, Path::new(&path("solo/twice.toml")), |table| {
        let validators = table["genesis_validators"].as_array_mut().unwrap();
        validators.push(validators[0].clone());
    });
    let stderr = refused_to_run(Path::new(&path("solo/twice.toml")));
    assert!(
        stderr.contains("genesis consensus configuration") && stderr.contains("used twice"),
        "{stderr}"
    );
    // A set without this node's keys, and no [consensus] section to follow
    // it by: it cannot be a validator, nor an auditor. Refused.
    let key = |seed: u8| hex::encode(SigningKey::from_bytes(&[seed; 32]).verifying_key().to_bytes());
    edit_toml(&solo, Path::new(&path("solo/outsider.toml")), |table| {
        let other: toml::Table = toml::from_str(&format!(
            "consensus_key = \"{}\"\nservice_key = \"{}\"",
            key(31),
            key(32)
        ))
        .unwrap();
        table.insert(
            "genesis_validators".into(),
            toml::Value::Array(vec![toml::Value::Table(other)]),
        );
    });
    let stderr = refused_to_run(Path::new(&path("solo/outsider.toml")));
    assert!(
        stderr.contains("not among genesis_validators") && stderr.contains("[consensus]"),
        "{stderr}"
    );
    let node = RunningNode::run(Path::new(&path("solo/node.toml")));
    let height = || crate::network::height(&node);
    wait_for("blocks", || height() >= 3);
    // Voting in a second validator would leave a node that makes its blocks
    // alone unable to make another: it refuses to sign that proposal, and
    // its chain goes on.
    let (_, info) = get(&format!("{}/api/system/v1/info", node.public));
    let mut validators = info["validators"].as_array().unwrap().clone();
    validators.push(serde_json::json!({ "consensus_key": key(41), "service_key": key(42) }));
    let body = serde_json::json!({ "changes": [{ "action": "consensus", "validators": validators }] });
    let (status, reply) = post(
        &format!("{}/api/services/supervisor/propose-config", node.private),
        "application/json",
        body.to_string().into_bytes(),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("[consensus]"), "{reply}");
    let after = height() + 3;
    wait_for("blocks after the refusal", || height() >= after);
    node.stop();
}

#[test]
fn reads_and_queries_answer_while_a_block_holds_the_chain() {
    use std::sync::mpsc;
    let node = std::sync::Arc::new(wasmvisor_node::testing::InProcessNode::new().unwrap());
    let (held, chain_held) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let holder = {
        let node = std::sync::Arc::clone(node.node());
        std::thread::spawn(move || {
            node.with_chain(|_| {
                held.send(()).unwrap();
                released.recv().unwrap();
            })
        })
    };
    chain_held.recv().unwrap();
    // While the chain is held (as a block being executed holds it), the
    // reads of the API and a service's query are answered.
    let (answered, answers) = mpsc::channel();
    let reader = {
        let node = std::sync::Arc::clone(&node);
        std::thread::spawn(move || {
            let info = node.get_public("/api/system/v1/info").0;
            let blocks = node.get_public("/api/explorer/v1/blocks?count=1").0;
            let query = node.get_public("/api/services/supervisor/validator-count").0;
            answered.send((info, blocks, query)).unwrap();
        })
    };
    let statuses = answers.recv_timeout(std::time::Duration::from_secs(30));
    release.send(()).unwrap();
    holder.join().unwrap();
    reader.join().unwrap();
    assert_eq!(statuses, Ok((200, 200, 200)), "reads waited for the chain");
}

/// Transactions committed and pooled on `node`: what the node has signed
/// and submitted shows in one of them.
fn transactions_seen(node: &RunningNode) -> (u64, u64) {
    let (status, metrics) = get(&format!("{}/metrics", node.private));
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_str().expect("metrics are text").to_owned();
    let committed = metrics
        .lines()
        .find_map(|line| line.strip_prefix("wasmvisor_transactions_committed_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the committed transactions metric");
    let info = get(&format!("{}/api/system/v1/info", node.public)).1;
    (committed, info["mempool_size"].as_u64().unwrap())
}

#[test]
fn the_private_api_refuses_web_pages_and_callers_without_its_token() {
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    let token = std::fs::read_to_string(data.path().join("private-api-token")).unwrap();
    let token = token.trim().to_owned();
    let url = format!("{}/api/services/supervisor/propose-config", node.private);
    // What a page can make the node sign if it gets through: any payload.
    let body = br#"{"payload":"0a00"}"#;
    let send = |content_type: Option<&str>, origin: Option<&str>, token: Option<&str>| -> (u16, String) {
        let mut request = agent().post(&url);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(token) = token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let mut response = request.send(&body[..]).expect("the private API answers");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    };
    let before = transactions_seen(&node);
    let token = Some(token.as_str());
    let page = Some("http://attacker.example");
    // A cross-site "simple" request, as a browser sends it.
    assert_eq!(send(Some("text/plain"), page, None).0, 403);
    // A page's request is refused with the right token and type too.
    assert_eq!(send(Some("application/json"), page, token).0, 403);
    assert_eq!(send(Some("application/json"), Some("null"), token).0, 403);
    // Bodies a page can post without asking first: refused whoever sends them.
    for content_type in [
        None,
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let (status, answer) = send(content_type, None, token);
        assert_eq!(status, 415, "{content_type:?}: {answer}");
    }
    // Without the token, or with another one: refused on loopback too.
    for wrong in [None, Some(""), Some("0".repeat(64)).as_deref()] {
        assert_eq!(send(Some("application/json"), None, wrong).0, 401, "{wrong:?}");
    }
    // Nothing was signed: after three more blocks, nothing pooled or
    // committed beyond what there was.
    let height = crate::network::height;
    let later = height(&node) + 3;
    wait_for("three blocks", || height(&node) >= later);
    assert_eq!(transactions_seen(&node), before, "refused requests sign nothing");
    // The operator's own request: signed and submitted.
    let (status, answer) = send(Some("application/json"), None, token);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("tx_hash"), "{answer}");
    // The CLI finds the token in the data directory; elsewhere it says how
    // to give one.
    let cli_with = |data_dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_wasmvisor"))
            .args([
                "stop",
                "--instance",
                "nothing",
                "--public-api",
                &node.public,
                "--private-api",
                &node.private,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("WASMVISOR_TOKEN")
            .output()
            .unwrap()
    };
    let elsewhere = tempfile::tempdir().unwrap();
    let output = cli_with(elsewhere.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("401") && stderr.contains("--token"), "{stderr}");
    let output = cli_with(data.path());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("401"), "the CLI used the node's token: {stderr}");
    node.stop();
}

/// Runs `wasmvisor run-dev` on `data_dir`, which must refuse to start:
/// its stderr.
fn refused_to_run_dev(data_dir: &Path) -> String {
    refused_to_start(&mut run_dev(data_dir))
}

#[cfg(unix)]
#[test]
fn key_files_are_private_and_a_node_refuses_exposed_ones() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    RunningNode::start(data.path()).stop();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for file in ["validator-keys.json", "private-api-token"] {
        let path = data.path().join(file);
        assert_eq!(mode(&path), 0o600, "{file}");
        for exposed in [0o644, 0o640, 0o604] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(exposed)).unwrap();
            let stderr = refused_to_run_dev(data.path());
            assert!(
                stderr.contains(&path.display().to_string()) && stderr.contains("chmod 600"),
                "{file} {exposed:o}: {stderr}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Private again: it starts, on the same keys.
    let node = RunningNode::start(data.path());
    let height = crate::network::height(&node);
    wait_for("a block after the restart", || crate::network::height(&node) > height);
    node.stop();
}

#[test]
fn a_node_whose_disk_fills_stops_naming_the_cause_and_resumes_once_freed() {
    // A real write failure in the middle of block production: the data
    // directory on a small tmpfs, filled while the node runs.
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let Some(_unmount) = Mounted::tmpfs(&disk) else {
        return;
    };
    let data = disk.join("node");
    let log = dir.path().join("stderr.log");
    let mut node = RunningNode::spawn(
        run_dev(&data).stderr(std::fs::File::create(&log).unwrap()),
        data.clone(),
        None,
    );
    let height = |node: &RunningNode| {
        try_get(&format!("{}/api/system/v1/info", node.public)).and_then(|(_, info)| info["height"].as_u64())
    };
    wait_for("two blocks", || height(&node).is_some_and(|height| height >= 2));
    let before = height(&node).unwrap();

    let filler = fill(&disk);

    // The node stops on its own, exits non-zero and says why.
    let start = Instant::now();
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the node went on with a full disk"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !status.success(),
        "a node that cannot write its block exits non-zero: {status:?}"
    );
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("block production failed"), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("no space left"),
        "the cause is named: {stderr}"
    );
    assert!(
        try_get(&format!("{}/api/system/v1/info", node.public)).is_none(),
        "it no longer answers"
    );
    let stopped_at = stderr.matches("fatal:").count();
    assert_eq!(stopped_at, 1, "the cause is logged once: {stderr}");

    // Space again: it resumes from its last whole block and goes on.
    std::fs::remove_file(&filler).unwrap();
    let node = RunningNode::start(&data);
    let resumed = height(&node).unwrap();
    assert!(resumed >= before, "resumed at {resumed}, had {before}");
    wait_for("a block after the restart", || {
        height(&node).is_some_and(|height| height > resumed)
    });
    node.stop();
}

/// `command` without the settings of the cargo running this test (so a
/// nested cargo builds the project with its own).
fn without_outer_cargo(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if (key.starts_with("CARGO_") && key != "CARGO_HOME") || key.starts_with("RUST") {
            command.env_remove(&key);
        }
    }
    command
}

fn succeeded(what: &str, output: std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

/// The repository's `git status`, if it is a git checkout.
fn repository_status() -> Option<String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let output = Command::new("git")
        .args(["status", "--porcelain", "--ignored=no"])
        .current_dir(Path::new(&manifest_dir).join("../.."))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn a_service_author_goes_from_an_empty_directory_to_a_called_service() {
    let before = repository_status();
    let authors = tempfile::tempdir().unwrap();
    // The project's builds keep their own target directory beside this
    // test's (`<target>/author-project`), so later runs are incremental.
    let target = std::env::current_exe()
        .unwrap()
        .ancestors()
        .nth(3)
        .unwrap()
        .join("author-project");
    let wasmvisor_in = |dir: &Path, args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wasmvisor"));
        without_outer_cargo(&mut command)
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap()
    };

    // `wasmvisor new` writes a project; a second time it refuses.
    let made = succeeded("wasmvisor new", wasmvisor_in(authors.path(), &["new", "hello"]));
    assert_eq!(made["service"], "hello", "{made}");
    assert!(!wasmvisor_in(authors.path(), &["new", "hello"]).status.success());
    assert!(!wasmvisor_in(authors.path(), &["new", "Hello_World"]).status.success());
    let project = authors.path().join("hello");

    // `wasmvisor build` compiles and checks the component.
    let built = succeeded("wasmvisor build", wasmvisor_in(&project, &["build"]));
    assert_eq!(built["interface"]["methods"], json!(["greet"]), "{built}");
    assert_eq!(built["interface"]["errors"], json!(["EmptyName"]), "{built}");
    let component = project.join("build/hello.wasm");
    let bytes = std::fs::read(&component).unwrap();
    assert_eq!(built["blake3"], blake3::hash(&bytes).to_hex().to_string());

    // `cargo test` in the project runs its test on the testkit.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    let tested = without_outer_cargo(&mut command)
        .arg("test")
        .current_dir(&project)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&tested.stdout).into_owned();
    succeeded("cargo test in the project", tested);
    assert!(
        stdout.contains("test visitors_are_greeted_and_counted ... ok"),
        "{stdout}"
    );

    // On a development node: deploy, start, call and query by name.
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    cli_ok(
        &node,
        &[
            "deploy",
            component.to_str().unwrap(),
            "--name",
            "hello",
            "--version",
            "0.1.0",
        ],
    );
    let started = cli_ok(
        &node,
        &["start-service", "--artifact", "hello:0.1.0", "--instance", "hello"],
    );
    assert_eq!(started["service"]["status"], "active", "{started}");
    let declared = cli_ok(&node, &["interface", "hello"]);
    assert_eq!(declared["methods"][0]["name"], "greet", "{declared}");
    assert_eq!(
        declared["messages"]["hello.Greet"]["fields"][0]["name"], "name",
        "{declared}"
    );
    let key = data.path().join("author.key");
    let key = key.to_str().unwrap();
    succeeded("wasmvisor keys new", wasmvisor(&["keys", "new", key]));
    let greeted = cli_ok(
        &node,
        &["call", "hello", "greet", "--args", r#"{"name": "alice"}"#, "--key", key],
    );
    assert_eq!(greeted["status"], "committed", "{greeted}");
    let answer = cli_ok(
        &node,
        &["query", "hello", "greetings", "--args", r#"{"name": "alice"}"#],
    );
    assert_eq!(answer, json!({ "name": "alice", "count": "1" }));
    let refused = cli(
        &node,
        &["call", "hello", "greet", "--args", r#"{"name": ""}"#, "--key", key],
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the transaction failed: EmptyName"));

    // None of it touched the repository.
    assert_eq!(repository_status(), before, "the repository is unchanged");
}

#[test]
fn a_batch_of_transactions_is_judged_item_by_item_as_single_submissions_are() {
    use wasmvisor_node::testing::InProcessNode;

    let node = InProcessNode::new().unwrap();
    let chain_id = chain_id_of(&node);
    // The supervisor (instance 0) is active; admission does not judge what
    // a call will do.
    let signed = |seed: u8, instance_id: u32| {
        let call = CallInfo {
            instance_id,
            method_id: 0,
        };
        wasmvisor_blockchain::sign(&SigningKey::from_bytes(&[seed; 32]), &chain_id, call, vec![seed])
    };
    let first = signed(1, 0);
    let second = signed(2, 0);
    let mut forged = signed(3, 0);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let inactive = signed(4, 99);
    let batch = vec![
        first.clone(),
        second.clone(),
        first.clone(),
        forged.clone(),
        inactive.clone(),
        b"not a transaction".to_vec(),
    ];
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(&batch),
    );
    assert_eq!(status, 200, "{reply}");
    let results = reply["results"].as_array().unwrap();
    assert_eq!(results.len(), batch.len(), "{reply}");
    let hash = |signed: &[u8]| hex::encode(blake3::hash(signed).as_bytes());
    assert_eq!(results[0], serde_json::json!({ "tx_hash": hash(&first) }));
    assert_eq!(results[1], serde_json::json!({ "tx_hash": hash(&second) }));
    // Each refusal is what a single submission of it gets.
    let single = |signed: &[u8]| node.post_public_bytes("/api/explorer/v1/transactions", signed.to_vec());
    for (index, signed) in batch.iter().enumerate().skip(2) {
        let (status, reply) = single(signed);
        assert_eq!(
            (results[index]["status"].as_u64(), results[index]["error"].as_str()),
            (Some(u64::from(status)), reply["error"].as_str()),
            "item {index}: {}",
            results[index]
        );
    }
    let statuses: Vec<u64> = results[2..].iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [409, 400, 404, 400], "{reply}");
    assert_eq!(node.node().mempool_len(), 2);

    // Committed, a transaction is refused in a batch as it is alone.
    node.create_block();
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(std::slice::from_ref(&first)),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["results"][0]["status"], 409, "{reply}");
    assert!(
        reply["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("already committed"),
        "{reply}"
    );

    // Refused whole: one transaction over the count, a malformed body, JSON.
    let limit = wasmvisor_limits::SUBMIT_BATCH_ITEMS_MAX;
    let full: Vec<Vec<u8>> = (0..limit).map(|_| Vec::new()).collect();
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(&full),
    );
    assert_eq!((status, reply["results"].as_array().map(Vec::len)), (200, Some(limit)));
    let over: Vec<Vec<u8>> = (0..=limit).map(|_| Vec::new()).collect();
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(&over),
    );
    assert_eq!(status, 413, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("at most 1024"), "{reply}");
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions/batch", vec![0x12, 0x00]);
    assert_eq!(status, 400, "{reply}");
    let (status, reply) = node.post_public("/api/explorer/v1/transactions/batch", &serde_json::json!({}));
    assert_eq!(status, 415, "{reply}");
    let oversized = vec![0u8; wasmvisor_limits::SUBMIT_BATCH_BYTES_MAX + 1];
    let (status, _) = node.post_public_bytes("/api/explorer/v1/transactions/batch", oversized);
    assert_eq!(status, 413);
}

#[test]
fn the_relay_hands_a_peer_every_transaction_it_is_given() {
    let data = tempfile::tempdir().unwrap();
    let node = RunningNode::start(data.path());
    let chain_id = chain_id(&node);
    let gossip = wasmvisor_node::gossip::Gossip::start(std::slice::from_ref(&node.public)).unwrap();
    // More than a batch's worth, queued at once: the relay sends them in
    // batches (the supervisor refuses these callers, so each is recorded
    // as failed: what counts is that the peer has every one).
    let count = wasmvisor_limits::SUBMIT_BATCH_ITEMS_MAX + 10;
    let signed: Vec<Vec<u8>> = (0..count)
        .map(|index| {
            let call = CallInfo {
                instance_id: 0,
                method_id: 0,
            };
            let seed = u8::try_from(index % 200).unwrap();
            let key = SigningKey::from_bytes(&[seed; 32]);
            wasmvisor_blockchain::sign(&key, &chain_id, call, (index as u64).to_le_bytes().to_vec())
        })
        .collect();
    for transaction in &signed {
        gossip.relay(transaction);
    }
    // One given twice is admitted once.
    gossip.relay(&signed[0]);
    for transaction in &signed {
        let hash = hex::encode(blake3::hash(transaction).as_bytes());
        wait_for("every relayed transaction recorded", || {
            crate::network::recorded(&node, &hash)
        });
    }
    // The repeat left the queue (the relay sent it too), and a few blocks
    // later every transaction is committed exactly once: the repeat was
    // refused, not admitted again.
    wait_for("the relay's queue drained", || gossip.queued_bytes() == 0);
    let height = crate::network::height(&node);
    wait_for("three more blocks", || crate::network::height(&node) >= height + 3);
    assert_eq!(transactions_seen(&node), (count as u64, 0));
    node.stop();
}

#[test]
fn a_full_mempool_refuses_before_it_checks_a_signature() {
    use wasmvisor_node::testing::InProcessNode;

    let mut config = wasmvisor_node::NodeConfig::development("in-memory".into());
    config.mempool_size_max = 2;
    let node = InProcessNode::with_config(config).unwrap();
    let chain_id = chain_id_of(&node);
    let signed = |seed: u8| {
        let call = CallInfo {
            instance_id: 0,
            method_id: 0,
        };
        wasmvisor_blockchain::sign(&SigningKey::from_bytes(&[seed; 32]), &chain_id, call, vec![seed])
    };
    let mut forged = signed(9);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    // With room, a forged signature is refused as such.
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", forged.clone());
    assert_eq!(status, 400, "{reply}");
    // A batch the pool has room for two of: the third is refused as full,
    // forged or not, and so is a forged one alone afterwards.
    let batch = [signed(1), signed(2), forged.clone()];
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(&batch),
    );
    assert_eq!(status, 200, "{reply}");
    let statuses: Vec<Value> = reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["status"].clone())
        .collect();
    assert_eq!(statuses, [Value::Null, Value::Null, Value::from(503)], "{reply}");
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", forged.clone());
    assert_eq!(status, 503, "{reply}");
    assert!(reply["error"].as_str().unwrap().contains("mempool is full"), "{reply}");
    // One over the size limit is refused as such, full pool or not: no
    // retry would ever admit it.
    let call = CallInfo {
        instance_id: 0,
        method_id: 0,
    };
    let key = SigningKey::from_bytes(&[10; 32]);
    let limit = wasmvisor_limits::TRANSACTION_BYTES_MAX;
    let oversized = wasmvisor_blockchain::sign_to_size(&key, &chain_id, call, 0xff, limit + 1).unwrap();
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", oversized);
    assert_eq!(status, 413, "{reply}");
    // A block frees the pool. With room for one, a refused transaction
    // takes no room: the one after it is admitted, as it would be alone.
    node.create_block();
    let (status, reply) = node.post_public_bytes("/api/explorer/v1/transactions", signed(3));
    assert_eq!(status, 200, "{reply}");
    let batch = [forged, signed(3), signed(4), signed(5)];
    let (status, reply) = node.post_public_bytes(
        "/api/explorer/v1/transactions/batch",
        wasmvisor_node::batch::encode(&batch),
    );
    assert_eq!(status, 200, "{reply}");
    let statuses: Vec<Value> = reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [Value::from(400), Value::from(409), Value::Null, Value::from(503)],
        "{reply}"
    );
}

/// The chain id an in-process node's transactions sign.
fn chain_id_of(node: &wasmvisor_node::testing::InProcessNode) -> [u8; 32] {
    hex::decode(
        node.get_public("/api/explorer/v1/block?height=0").1["hash"]
            .as_str()
            .unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap()
}

#[test]
fn a_data_directory_in_another_format_is_refused_naming_the_version() {
    use wasmvisor_node::datadir::{DATA_FORMAT_VERSION, FORMAT_FILE};

    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("data");
    let node = RunningNode::start(&dir);
    let height = crate::network::height;
    wait_for("a block", || height(&node) >= 1);
    node.stop();
    let format = dir.join(FORMAT_FILE);
    assert_eq!(
        std::fs::read_to_string(&format).unwrap(),
        format!("{DATA_FORMAT_VERSION}\n")
    );

    // A directory a later release wrote: refused, naming both versions,
    // and left as it was.
    let later = DATA_FORMAT_VERSION + 1;
    std::fs::write(&format, format!("{later}\n")).unwrap();
    let stderr = refused_to_start(&mut run_dev(&dir));
    assert!(
        stderr.contains(&format!("is in format version {later}"))
            && stderr.contains(&format!("reads format version {DATA_FORMAT_VERSION} only")),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&format).unwrap(), format!("{later}\n"));
    // Not a number: refused, naming the file.
    std::fs::write(&format, "latest").unwrap();
    let stderr = refused_to_start(&mut run_dev(&dir));
    assert!(
        stderr.contains("format-version does not hold a data format version"),
        "{stderr}"
    );

    // A directory from before versions were recorded is this version: it
    // starts with its chain and gets the file.
    std::fs::remove_file(&format).unwrap();
    let node = RunningNode::start(&dir);
    assert!(height(&node) >= 1);
    node.stop();
    assert_eq!(
        std::fs::read_to_string(&format).unwrap(),
        format!("{DATA_FORMAT_VERSION}\n")
    );
}

#[test]
fn a_validator_with_sealed_keys_starts_only_with_its_passphrase() {
    use crate::support::{PASSPHRASE, passphrase_file, write_secret};

    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    configure_solo(dir.path());
    let passphrase = passphrase_file(dir.path());
    // Without a passphrase and no terminal to ask on: refused, naming the ways.
    let refused = wasmvisor(&["generate-config", &path("solo.toml"), &path("nowhere")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("--passphrase-file"),
        "{stderr}"
    );
    // The key file names the public keys, and holds no seed in clear text.
    let key_file = std::fs::read_to_string(path("solo/data/validator-keys.json")).unwrap();
    let public: toml::Table = toml::from_str(&std::fs::read_to_string(path("solo/public.toml")).unwrap()).unwrap();
    let shown: Value = serde_json::from_str(&wasmvisor_ok(&[
        "keys",
        "validator",
        "show",
        "--data-dir",
        &path("solo/data"),
    ]))
    .unwrap();
    assert_eq!(shown["sealed"], true);
    assert_eq!(shown["consensus_key"].as_str(), public["consensus_key"].as_str());
    assert!(key_file.contains(public["service_key"].as_str().unwrap()));
    assert!(!key_file.contains("seed"), "{key_file}");

    // It starts with the passphrase file its configuration names.
    let config = Path::new(&path("solo/node.toml")).to_owned();
    let run = |config: &Path| RunningNode::run(config);
    let node = run(&config);
    let height = crate::network::height;
    wait_for("a block", || height(&node) >= 1);
    node.stop();

    // No passphrase: refused, naming the ways to give one.
    let without = Path::new(&path("solo/without.toml")).to_owned();
    edit_toml(&config, &without, |table| {
        table.remove("key_passphrase_file");
    });
    let stderr = refused_to_run(&without);
    assert!(
        stderr.contains("is encrypted and no passphrase was given") && stderr.contains("WASMVISOR_KEY_PASSPHRASE"),
        "{stderr}"
    );
    // A wrong one: refused.
    write_secret(&dir.path().join("wrong"), "not the passphrase\n");
    let wrong = Path::new(&path("solo/wrong.toml")).to_owned();
    edit_toml(&config, &wrong, |table| {
        table.insert("key_passphrase_file".into(), path("wrong").into());
    });
    let stderr = refused_to_run(&wrong);
    assert!(stderr.contains("the passphrase does not open"), "{stderr}");
    // An exposed passphrase file: refused, naming the file and the fix.
    let exposed = dir.path().join("exposed");
    write_secret(&exposed, &format!("{PASSPHRASE}\n"));
    std::fs::set_permissions(&exposed, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    edit_toml(&config, &wrong, |table| {
        table.insert("key_passphrase_file".into(), exposed.to_str().unwrap().into());
    });
    let stderr = refused_to_run(&wrong);
    assert!(
        stderr.contains("is readable by group or others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // From the environment instead of a file.
    let node = RunningNode::run_with(&without, |command| {
        command
            .env("WASMVISOR_KEY_PASSPHRASE", PASSPHRASE)
            .stderr(std::process::Stdio::null());
    });
    assert!(height(&node) >= 1);
    node.stop();

    // A new passphrase: the old one no longer opens the keys, the new one does.
    write_secret(&dir.path().join("new"), "a new passphrase\n");
    let changed: Value = serde_json::from_str(&wasmvisor_ok(&[
        "keys",
        "validator",
        "change-passphrase",
        "--data-dir",
        &path("solo/data"),
        "--passphrase-file",
        &passphrase,
        "--new-passphrase-file",
        &path("new"),
    ]))
    .unwrap();
    for field in ["consensus_key", "service_key", "sealed"] {
        assert_eq!(changed[field], shown[field], "{field}");
    }
    assert!(
        changed["note"].as_str().unwrap().contains("key_passphrase_file"),
        "{changed}"
    );
    let stderr = refused_to_run(&config);
    assert!(stderr.contains("the passphrase does not open"), "{stderr}");
    edit_toml(&config, &wrong, |table| {
        table.insert("key_passphrase_file".into(), path("new").into());
    });
    let node = run(&wrong);
    assert!(height(&node) >= 1);
    node.stop();
}

#[test]
fn environment_variables_override_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let run = |variables: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wasmvisor"));
        command.args(["run", "--config", config.to_str().unwrap()]);
        for (name, value) in variables {
            command.env(name, value);
        }
        command
    };
    // A key of the file, and a nested table's key, from the environment.
    let log_path = dir.path().join("node.log");
    let node = RunningNode::spawn(
        run(&[
            ("WASMVISOR_CONFIG_MEMPOOL_SIZE_MAX", "1234"),
            ("WASMVISOR_CONFIG_RUNTIMES__ENABLED", "[\"wasm\"]"),
        ])
        .stderr(std::fs::File::create(&log_path).unwrap()),
        dir.path().join("data"),
        None,
    );
    let (_, metrics) = get(&format!("{}/metrics", node.private));
    let metrics = metrics.as_str().unwrap().to_owned();
    assert!(
        metrics
            .lines()
            .any(|line| line == "wasmvisor_mempool_transactions_max 1234"),
        "{metrics}"
    );
    let (_, info) = get(&format!("{}/api/system/v1/info", node.public));
    assert_eq!(info["runtimes"], json!(["wasm"]));
    node.stop();
    // The log names the keys taken from the environment, not their values.
    let log = std::fs::read_to_string(&log_path).unwrap();
    let line = log
        .lines()
        .find(|line| line.contains("configuration keys set from the environment"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("mempool_size_max") && line.contains("runtimes__enabled"),
        "{line}"
    );
    assert!(!line.contains("1234"), "{line}");
    // An unknown key is refused, naming it; a value breaking a rule is
    // refused by the rule.
    let stderr = refused_to_start(&mut run(&[("WASMVISOR_CONFIG_NO_SUCH_KEY", "1")]));
    assert!(stderr.contains("no_such_key"), "{stderr}");
    let stderr = refused_to_start(&mut run(&[("WASMVISOR_CONFIG_BLOCK_INTERVAL_MS", "0")]));
    assert!(stderr.contains("block_interval_ms must be"), "{stderr}");
    // Without them, the file's values.
    let node = RunningNode::spawn(
        run(&[]).stderr(std::process::Stdio::null()),
        dir.path().join("data"),
        None,
    );
    let (_, info) = get(&format!("{}/api/system/v1/info", node.public));
    assert_eq!(info["runtimes"], json!(["native", "wasm"]));
    node.stop();
}
