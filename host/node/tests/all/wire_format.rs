//! The wire-format test vectors (`docs/wire-format-vectors.json`, described
//! in `docs/WIRE-FORMAT.md`): generated here by the chain's own code and
//! compared with the committed file, which the TypeScript client's tests
//! read too. `WASMVISOR_BLESS_VECTORS=1` rewrites the file instead.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use wasmvisor_blockchain::blocks::{block_hash, precommit_message, sign_precommit, transactions_root};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_proto::dispatcher::InstanceRecord;
use wasmvisor_proto::messages::{AnyTx, SignedMessage};
use wasmvisor_proto::runtime::{ArtifactId, InstanceSpec};
use wasmvisor_proto::token::{Transfer, Wallet};
use wasmvisor_runtime::CallInfo;
use wasmvisor_storage::proof::{EntryProof, ListProof, MapProof, SmtTerminal};
use wasmvisor_storage::{Database, Fork, IndexAddress, MemoryDatabase, Namespace};

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/wire-format-vectors.json")
}

/// One transaction: the key's seed, the call, and every intermediate form.
fn transaction(seed: [u8; 32], chain_id: &[u8; 32], call: CallInfo, arguments: Vec<u8>) -> Value {
    let key = SigningKey::from_bytes(&seed);
    let signed = wasmvisor_blockchain::sign(&key, chain_id, call, arguments.clone());
    let decoded = SignedMessage::decode(signed.as_slice()).unwrap();
    // The payload is the canonical `AnyTx` of the call.
    let payload = AnyTx::decode(decoded.payload.as_slice()).unwrap();
    assert_eq!(payload.encode_to_vec(), decoded.payload);
    let verified = wasmvisor_blockchain::verify(&signed, chain_id, usize::MAX).expect("the vector is valid");
    json!({
        "secret_key": hex::encode(seed),
        "public_key": hex::encode(key.verifying_key().as_bytes()),
        "chain_id": hex::encode(chain_id),
        "instance_id": call.instance_id,
        "method_id": call.method_id,
        "arguments": hex::encode(&arguments),
        "payload": hex::encode(&decoded.payload),
        "signature": hex::encode(&decoded.signature),
        "signed": hex::encode(&signed),
        "hash": hex::encode(verified.hash),
    })
}

/// The vectors, from the chain's code alone (no clock, no randomness).
fn generate() -> Value {
    let chain_id: [u8; 32] = *blake3::hash(b"wire-format vectors: a chain id").as_bytes();
    let recipient = SigningKey::from_bytes(&[2; 32]);
    let transfer = Transfer {
        to: recipient.verifying_key().to_bytes().to_vec(),
        amount: 250,
        seed: 7,
    }
    .encode_to_vec();
    let transactions = vec![
        transaction(
            [1; 32],
            &chain_id,
            CallInfo {
                instance_id: 3,
                method_id: 2,
            },
            transfer,
        ),
        // Every field of the call at its default: `call_info` is still
        // present, as an empty message.
        transaction(
            [1; 32],
            &chain_id,
            CallInfo {
                instance_id: 0,
                method_id: 0,
            },
            Vec::new(),
        ),
    ];
    let hashes: Vec<[u8; 32]> = transactions
        .iter()
        .map(|tx| hex::decode(tx["hash"].as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();

    // A state with one proof map, list and entry in service 3's namespace.
    let db = MemoryDatabase::new();
    let mut fork = Fork::new(db.snapshot());
    let address = |name: &str| IndexAddress::new(Namespace::Service(3), name).unwrap();
    let owner = SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes();
    let wallet = Wallet {
        owner: owner.to_vec(),
        name: "alice".into(),
        balance: 750,
    }
    .encode_to_vec();
    {
        let mut wallets = fork.proof_map(&address("wallets")).unwrap();
        wallets.put(&owner, &wallet).unwrap();
        for byte in 10..16u8 {
            wallets.put(&[byte; 32], &[byte; 3]).unwrap();
        }
    }
    {
        let mut list = fork.proof_list(&address("history")).unwrap();
        for item in 0..5u8 {
            list.push(&[item; 2]).unwrap();
        }
    }
    fork.proof_entry(&address("config"))
        .unwrap()
        .set(b"issue_max=5000")
        .unwrap();
    // Instance 3 in the dispatcher's registry, named "coins".
    let registry = IndexAddress::new(Namespace::Dispatcher, "instances").unwrap();
    let record = InstanceRecord {
        spec: Some(InstanceSpec {
            id: 3,
            name: "coins".into(),
            artifact: Some(ArtifactId {
                runtime_id: 1,
                name: "token".into(),
                version: "1.0.0".into(),
            }),
        }),
        ..InstanceRecord::default()
    };
    fork.proof_map(&registry)
        .unwrap()
        .put(&3u32.to_le_bytes(), &record.encode_to_vec())
        .unwrap();
    let state_root = fork.state_root().unwrap();
    let map_present = fork.map_proof(&address("wallets"), &owner).unwrap();
    let map_absent = fork.map_proof(&address("wallets"), &[0xee; 32]).unwrap();
    let list = fork.list_proof(&address("history"), 1, 3).unwrap();
    let entry = fork.entry_proof(&address("config")).unwrap();
    let no_index = fork.map_proof(&address("nothing"), b"key").unwrap();
    let instance = fork.map_proof(&registry, &3u32.to_le_bytes()).unwrap();
    // An absent key whose path ends at another key's leaf.
    let (absent_key, map_absent_leaf) = (0..=u8::MAX)
        .map(|byte| ([byte; 32], fork.map_proof(&address("wallets"), &[byte; 32]).unwrap()))
        .find(|(_, proof)| proof.value.is_none() && matches!(proof.entry.terminal, SmtTerminal::Leaf { .. }))
        .expect("some absent key ends at another key's leaf");
    assert!(map_present.verify(&state_root).is_ok() && map_absent.verify(&state_root).is_ok());
    assert!(list.verify(&state_root).is_ok() && entry.verify(&state_root).is_ok());
    assert!(no_index.verify(&state_root).is_ok() && instance.verify(&state_root).is_ok());
    assert!(map_absent_leaf.verify(&state_root).is_ok());

    let header = BlockHeader {
        height: 5,
        tx_count: 2,
        prev_hash: blake3::hash(b"the previous header").as_bytes().to_vec(),
        tx_hash: transactions_root(&hashes).to_vec(),
        state_hash: state_root.to_vec(),
        error_hash: vec![0; 32],
    };
    let hash = block_hash(&header);
    let validator = SigningKey::from_bytes(&[9; 32]);
    let precommit = sign_precommit(&validator, 0, &chain_id, header.height, 1, &hash);
    let preimage = precommit_message(&chain_id, header.height, 1, &hash, validator.verifying_key().as_bytes());

    let proof_json = |proof: Value, service_id: u32, index: &str| json!({ "service_id": service_id, "index": index, "address": hex::encode(address(index).to_bytes()), "proof": proof });
    json!({
        "about": "Generated by host/node/tests/all/wire_format.rs; described in docs/WIRE-FORMAT.md.",
        "transactions": transactions,
        "transactions_root": { "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(), "root": hex::encode(transactions_root(&hashes)) },
        "block": {
            "height": header.height,
            "tx_count": header.tx_count,
            "prev_hash": hex::encode(&header.prev_hash),
            "tx_hash": hex::encode(&header.tx_hash),
            "state_hash": hex::encode(&header.state_hash),
            "error_hash": hex::encode(&header.error_hash),
            "header": hex::encode(header.encode_to_vec()),
            "hash": hex::encode(hash),
        },
        "precommit": {
            "secret_key": hex::encode([9u8; 32]),
            "validator": precommit.validator,
            "validator_key": hex::encode(&precommit.validator_key),
            "chain_id": hex::encode(chain_id),
            "height": header.height,
            "round": precommit.round,
            "block_hash": hex::encode(hash),
            "preimage": hex::encode(&preimage),
            "signature": hex::encode(&precommit.signature),
        },
        "proofs": {
            "state_root": hex::encode(state_root),
            "map_present": proof_json(serde_json::to_value(&map_present).unwrap(), 3, "wallets"),
            "map_absent": proof_json(serde_json::to_value(&map_absent).unwrap(), 3, "wallets"),
            "map_absent_leaf": proof_json(serde_json::to_value(&map_absent_leaf).unwrap(), 3, "wallets"),
            "map_absent_leaf_key": hex::encode(absent_key),
            "map_no_index": proof_json(serde_json::to_value(&no_index).unwrap(), 3, "nothing"),
            "instance": {
                "address": hex::encode(registry.to_bytes()),
                "key": hex::encode(3u32.to_le_bytes()),
                "name": "coins",
                "proof": serde_json::to_value(&instance).unwrap(),
            },
            "list": proof_json(serde_json::to_value(&list).unwrap(), 3, "history"),
            "entry": proof_json(serde_json::to_value(&entry).unwrap(), 3, "config"),
        },
    })
}

#[test]
fn the_committed_wire_format_vectors_are_what_the_chain_computes() {
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    let path = vectors_path();
    if std::env::var_os("WASMVISOR_BLESS_VECTORS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} differs from what the chain computes; if the change is intended, rerun with \
         WASMVISOR_BLESS_VECTORS=1 and describe it in docs/WIRE-FORMAT.md",
        path.display()
    );
    // The file's proofs read back and verify through the Rust verifier.
    let vectors: Value = serde_json::from_str(&committed).unwrap();
    let root: [u8; 32] = hex::decode(vectors["proofs"]["state_root"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let proof = |name: &str| vectors["proofs"][name]["proof"].clone();
    let map: MapProof = serde_json::from_value(proof("map_present")).unwrap();
    assert!(map.verify(&root).unwrap().value.is_some());
    let list: ListProof = serde_json::from_value(proof("list")).unwrap();
    assert_eq!(list.verify(&root).unwrap().items.len(), 2);
    let entry: EntryProof = serde_json::from_value(proof("entry")).unwrap();
    assert_eq!(entry.verify(&root).unwrap().1, Some(&b"issue_max=5000"[..]));
}
