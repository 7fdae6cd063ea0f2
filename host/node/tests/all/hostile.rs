//! Hostile callers against the real binary: each gets its exact refusal,
//! and the chain keeps committing honest transactions afterwards.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use wasmvisor_proto::Message;
use wasmvisor_proto::messages::SignedMessage;
use wasmvisor_proto::supervisor::{ConfigChange, ConfigPropose, StopService, config_change};
use wasmvisor_proto::token::{CreateWallet, TokenConfig};
use wasmvisor_runtime::CallInfo;

use crate::support::{RunningNode, agent, chain_id, get, outcome, post, submit, wait_for, write_config};

const COINS: u32 = 1;

fn wallet(node: &RunningNode, key: &SigningKey, name: &str) -> Vec<u8> {
    wasmvisor_blockchain::sign(
        key,
        &chain_id(node),
        CallInfo {
            instance_id: COINS,
            method_id: 0,
        },
        CreateWallet { name: name.into() }.encode_to_vec(),
    )
}

/// An honest transaction still commits.
fn chain_goes_on(node: &RunningNode, seed: u8) {
    let (status, answer) = submit(node, wallet(node, &SigningKey::from_bytes(&[seed; 32]), "honest"));
    assert_eq!(status, 200, "{answer}");
    let answer = outcome(node, answer["tx_hash"].as_str().unwrap());
    assert_eq!(answer["status"], "committed", "{answer}");
}

fn refused(answer: &Value) -> &str {
    answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("a JSON error: {answer}"))
}

fn coins_node(dir: &std::path::Path) -> RunningNode {
    std::fs::copy(wasmvisor_artifacts::TOKEN.path, dir.join("token.wasm")).unwrap();
    let config = write_config(
        dir,
        &format!(
            "[system_services]\nenable = [\"coins\"]\n\n[system_services.coins]\nartifact = \"token:1.0.0\"\ncomponent = \"token.wasm\"\nparams = \"{}\"\n",
            hex::encode(TokenConfig { issue_max: 0 }.encode_to_vec())
        ),
    );
    RunningNode::run(&config)
}

#[test]
fn hostile_transactions_are_refused_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = coins_node(dir.path());
    let alice = SigningKey::from_bytes(&[1; 32]);

    // A non-validator signs a supervisor proposal: it is executed and fails
    // with UnauthorizedCaller (common error 2); nothing stops.
    let proposal = ConfigPropose {
        actual_from: 0,
        changes: vec![ConfigChange {
            kind: Some(config_change::Kind::StopService(StopService { instance_id: COINS })),
        }],
        configuration_number: 0,
    };
    let signed = wasmvisor_blockchain::sign(
        &alice,
        &chain_id(&node),
        CallInfo {
            instance_id: 0,
            method_id: 2,
        },
        proposal.encode_to_vec(),
    );
    let (status, answer) = submit(&node, signed);
    assert_eq!(status, 200, "{answer}");
    let answer = outcome(&node, answer["tx_hash"].as_str().unwrap());
    assert_eq!(answer["status"], "failed");
    assert_eq!(answer["error"]["kind"], "Common(2)", "{answer}");
    let (_, services) = get(&format!("{}/api/system/v1/services", node.public));
    let coins = services["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|instance| instance["name"] == "coins")
        .unwrap();
    assert_eq!(coins["status"], "active", "the service was not stopped");

    // Replays: the same transaction again, pooled and then committed.
    let signed = wallet(&node, &alice, "alice");
    let (status, first) = submit(&node, signed.clone());
    assert_eq!(status, 200, "{first}");
    let (status, again) = submit(&node, signed.clone());
    assert_eq!(status, 409, "a repeated transaction was accepted: {again}");
    assert!(refused(&again).contains("already"), "{again}");
    assert_eq!(
        outcome(&node, first["tx_hash"].as_str().unwrap())["status"],
        "committed"
    );
    let (status, again) = submit(&node, signed.clone());
    assert_eq!(
        (status, refused(&again)),
        (409, "the transaction is already committed"),
        "{again}"
    );
    // ... and the same transaction with an extra protobuf field: the same
    // signed payload under a fresh hash.
    let mut reencoded = signed.clone();
    reencoded.extend([15 << 3, 1]);
    assert_eq!(
        SignedMessage::decode(reencoded.as_slice()).unwrap(),
        SignedMessage::decode(signed.as_slice()).unwrap()
    );
    let (status, answer) = submit(&node, reencoded);
    assert_eq!(
        (status, refused(&answer)),
        (
            400,
            "malformed transaction: the signed message is not in its canonical encoding"
        )
    );

    // Another chain's transaction.
    let foreign = wasmvisor_blockchain::sign(
        &alice,
        &[9; 32],
        CallInfo {
            instance_id: COINS,
            method_id: 0,
        },
        CreateWallet { name: "x".into() }.encode_to_vec(),
    );
    let (status, answer) = submit(&node, foreign);
    assert_eq!(
        (status, refused(&answer)),
        (400, "the transaction is for another chain")
    );

    // A forged signature, a bad author, garbage.
    let mut forged = SignedMessage::decode(wallet(&node, &alice, "forged").as_slice()).unwrap();
    forged.signature[5] ^= 0x40;
    let (status, answer) = submit(&node, forged.encode_to_vec());
    assert_eq!((status, refused(&answer)), (400, "the signature does not verify"));
    forged.author.truncate(7);
    let (status, answer) = submit(&node, forged.encode_to_vec());
    assert_eq!(
        (status, refused(&answer)),
        (400, "the author is not a valid Ed25519 public key")
    );
    let (status, answer) = submit(&node, vec![0xff; 64]);
    assert_eq!(status, 400);
    assert!(refused(&answer).starts_with("malformed transaction: "), "{answer}");

    // A transaction for a service that does not exist.
    let nowhere = wasmvisor_blockchain::sign(
        &alice,
        &chain_id(&node),
        CallInfo {
            instance_id: 77,
            method_id: 0,
        },
        Vec::new(),
    );
    let (status, answer) = submit(&node, nowhere);
    assert_eq!(
        (status, refused(&answer)),
        (404, "instance 77 does not exist or is not active")
    );

    chain_goes_on(&node, 2);
}

#[test]
fn oversized_and_malformed_requests_are_refused_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let node = coins_node(dir.path());
    let limit = wasmvisor_limits::TRANSACTION_BYTES_MAX;

    // Over the transaction size limit, under the body limit: refused before
    // decoding, with both sizes.
    let big = vec![0u8; limit + 1];
    let (status, answer) = submit(&node, big);
    assert_eq!(
        (status, refused(&answer).to_owned()),
        (
            413,
            format!("the transaction has {} bytes; the maximum is {limit}", limit + 1)
        )
    );
    // Over the body limit: the connection's body is refused by size.
    let huge = vec![0u8; wasmvisor_limits::HTTP_LARGE_BODY_BYTES_MAX + 1];
    let (status, answer) = submit(&node, huge);
    assert_eq!(status, 413, "{answer}");
    assert!(!refused(&answer).is_empty());

    // Malformed JSON and queries.
    let (status, answer) = post(
        &format!("{}/api/explorer/v1/transactions", node.public),
        "application/json",
        b"{\"tx_body\": ".to_vec(),
    );
    assert_eq!(status, 400, "{answer}");
    refused(&answer);
    for (path, expected) in [
        (
            "/api/explorer/v1/transactions?hash=zz",
            (400, "a hash is 64 hex characters"),
        ),
        ("/api/explorer/v1/block?height=-1", (400, "")),
        ("/api/explorer/v1/block?height=99999999", (404, "")),
        ("/api/services/nowhere/query", (404, "")),
        ("/api/proofs/v1/map?service=coins&index=wallets&key=xyz", (400, "")),
        ("/no/such/endpoint", (404, "no such endpoint")),
    ] {
        let (status, answer) = get(&format!("{}{path}", node.public));
        assert_eq!(status, expected.0, "{path}: {answer}");
        let message = refused(&answer);
        assert!(message.contains(expected.1) && !message.is_empty(), "{path}: {answer}");
    }
    chain_goes_on(&node, 3);
}

/// An address of this machine other than loopback, if it has one.
fn non_loopback_address() -> Option<IpAddr> {
    // Connecting a UDP socket sends nothing; it only picks the route's
    // source address.
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let address = socket.local_addr().ok()?.ip();
    (!address.is_loopback() && !address.is_unspecified()).then_some(address)
}

#[test]
fn the_private_api_off_loopback_answers_only_its_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\npublic_api = \"127.0.0.1:0\"\nprivate_api = \"0.0.0.0:0\"\nprivate_api_token = \"s3cret-token-0123456789\"\nblock_interval_ms = 100\n",
    )
    .unwrap();
    let node = RunningNode::run(&config);
    let port = node.private.rsplit(':').next().unwrap().to_owned();
    // From another address of this machine when it has one (a request from
    // off loopback); loopback otherwise: the token is required either way.
    let host = non_loopback_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let url = format!("http://{host}:{port}/metrics");
    let call = |token: Option<&str>| {
        let mut request = agent().get(&url);
        if let Some(token) = token {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let mut response = request.call().expect("the private API answers");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    };
    for token in [
        None,
        Some("wrong"),
        Some(""),
        Some("s3cret-token-012345678"),
        Some("s3cret-token-01234567890"),
    ] {
        let (status, answer) = call(token);
        assert_eq!(
            (status, refused(&answer)),
            (401, "a valid bearer token is required"),
            "{token:?} from {host}"
        );
    }
    let (status, answer) = call(Some("s3cret-token-0123456789"));
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer.as_str().is_some_and(|metrics| metrics.contains("wasmvisor_")),
        "{answer}"
    );
    // The refusals changed nothing: blocks keep coming.
    let height = |node: &RunningNode| {
        get(&format!("{}/api/explorer/v1/blocks?count=1", node.public)).1["blocks"][0]["height"]
            .as_u64()
            .unwrap()
    };
    let before = height(&node);
    wait_for("another block", || height(&node) > before);
}
