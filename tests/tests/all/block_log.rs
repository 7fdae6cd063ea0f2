//! The block-log fixture: a recording of the scenario's chain
//! (`scenario::whole_life`: token traffic in both runtimes, deploys,
//! configuration, freezing, a data migration, unloading, the supervisor's
//! own upgrade), kept in `tests/fixtures/block-log/` and replayed here to
//! the same headers and the same proofs. It pins the state commitment: a
//! change to how roots are computed must replay it unchanged. Its
//! `README.md` says how it was made and its format.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use wasmvisor_blockchain::{BlockHeader, BlockLog, Blockchain, Precommit, replay};
use wasmvisor_dispatcher::GenesisConfig;
use wasmvisor_native::{NativeRuntime, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, Precommits};
use wasmvisor_runtime::{ArtifactId, InstanceSpec, Runtime};
use wasmvisor_storage::proof::MapProof;
use wasmvisor_storage::{Hash, IndexAddress, MemoryDatabase, Namespace};
use wasmvisor_testkit::{TestKit, Validator};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

use crate::scenario::{self, NATIVE_TOKEN, WASM_TOKEN};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/block-log")
}

/// One block of the log: the encoded header, the encoded precommits and
/// the signed transactions, as the chain stored them.
struct Block {
    header: Vec<u8>,
    precommits: Vec<u8>,
    transactions: Vec<Vec<u8>>,
}

/// A block log read from `blocks.bin`.
struct Recording {
    blocks: Vec<Block>,
}

impl BlockLog for Recording {
    fn block_count(&mut self) -> Result<u64, String> {
        Ok(self.blocks.len() as u64)
    }

    fn header(&mut self, height: u64) -> Result<Option<BlockHeader>, String> {
        let Some(block) = self.blocks.get(height as usize) else {
            return Ok(None);
        };
        BlockHeader::decode(block.header.as_slice())
            .map(Some)
            .map_err(|error| error.to_string())
    }

    fn signed_transactions(&mut self, height: u64) -> Result<Vec<(Hash, Vec<u8>)>, String> {
        let block = self.blocks.get(height as usize).ok_or("no such block")?;
        Ok(block
            .transactions
            .iter()
            .map(|signed| (*blake3::hash(signed).as_bytes(), signed.clone()))
            .collect())
    }

    fn precommits(&mut self, height: u64) -> Result<Vec<Precommit>, String> {
        let block = self.blocks.get(height as usize).ok_or("no such block")?;
        Precommits::decode(block.precommits.as_slice())
            .map(|stored| stored.precommits)
            .map_err(|error| error.to_string())
    }
}

/// `blocks.bin`: for each height from 0, the header, the precommits and
/// the transactions, each a little-endian `u32` length then its bytes (the
/// transactions preceded by their count as a `u32`).
fn encode_log(log: &mut impl BlockLog) -> Vec<u8> {
    let mut bytes = Vec::new();
    let put = |bytes: &mut Vec<u8>, item: &[u8]| {
        bytes.extend_from_slice(&u32::try_from(item.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(item);
    };
    for height in 0..log.block_count().unwrap() {
        let header = log.header(height).unwrap().expect("every block is stored");
        put(&mut bytes, &header.encode_to_vec());
        let precommits = Precommits {
            precommits: log.precommits(height).unwrap(),
        };
        put(&mut bytes, &precommits.encode_to_vec());
        let transactions = log.signed_transactions(height).unwrap();
        bytes.extend_from_slice(&u32::try_from(transactions.len()).unwrap().to_le_bytes());
        for (_, signed) in &transactions {
            put(&mut bytes, signed);
        }
    }
    bytes
}

fn decode_log(mut bytes: &[u8]) -> Recording {
    fn take<'a>(bytes: &mut &'a [u8], count: usize) -> &'a [u8] {
        assert!(bytes.len() >= count, "blocks.bin is cut short");
        let (taken, rest) = bytes.split_at(count);
        *bytes = rest;
        taken
    }
    fn length(bytes: &mut &[u8]) -> usize {
        u32::from_le_bytes(take(bytes, 4).try_into().unwrap()) as usize
    }
    fn item(bytes: &mut &[u8]) -> Vec<u8> {
        let count = length(bytes);
        take(bytes, count).to_vec()
    }
    let mut blocks = Vec::new();
    while !bytes.is_empty() {
        let header = item(&mut bytes);
        let precommits = item(&mut bytes);
        let count = length(&mut bytes);
        let transactions = (0..count).map(|_| item(&mut bytes)).collect();
        blocks.push(Block {
            header,
            precommits,
            transactions,
        });
    }
    Recording { blocks }
}

/// `genesis.json` and the artifact specs it names (`artifact-<n>.spec`).
fn encode_genesis(config: &GenesisConfig, directory: &Path) -> Value {
    let artifacts: Vec<Value> = config
        .artifacts
        .iter()
        .enumerate()
        .map(|(position, (artifact, spec))| {
            let file = format!("artifact-{position}.spec");
            fs::write(directory.join(&file), spec).unwrap();
            json!({
                "runtime_id": artifact.runtime_id,
                "name": artifact.name,
                "version": artifact.version.to_string(),
                "spec": file,
            })
        })
        .collect();
    let instances: Vec<Value> = config
        .instances
        .iter()
        .map(|(spec, params)| {
            json!({
                "id": spec.id,
                "name": spec.name,
                "artifact": config.artifacts.iter().position(|(artifact, _)| *artifact == spec.artifact).unwrap(),
                "params": hex::encode(params),
            })
        })
        .collect();
    json!({
        "consensus": hex::encode(config.consensus.encode_to_vec()),
        "artifacts": artifacts,
        "instances": instances,
    })
}

fn decode_genesis(genesis: &Value, directory: &Path) -> GenesisConfig {
    let text = |value: &Value| value.as_str().unwrap().to_owned();
    let artifacts: Vec<(ArtifactId, Vec<u8>)> = genesis["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|artifact| {
            let id = ArtifactId::new(
                artifact["runtime_id"].as_u64().unwrap() as u32,
                &text(&artifact["name"]),
                &text(&artifact["version"]),
            )
            .unwrap();
            (id, fs::read(directory.join(text(&artifact["spec"]))).unwrap())
        })
        .collect();
    let instances = genesis["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|instance| {
            let spec = InstanceSpec {
                id: instance["id"].as_u64().unwrap() as u32,
                name: text(&instance["name"]),
                artifact: artifacts[instance["artifact"].as_u64().unwrap() as usize].0.clone(),
            };
            (spec, hex::decode(text(&instance["params"])).unwrap())
        })
        .collect();
    GenesisConfig {
        artifacts,
        instances,
        consensus: ConsensusConfig::decode(hex::decode(text(&genesis["consensus"])).unwrap().as_slice()).unwrap(),
    }
}

/// The keys whose proofs the fixture keeps: some wallets' owners and a
/// key no wallet has, in each token.
fn proved_keys() -> Vec<(u32, Vec<u8>)> {
    let owners = [0u8, 5, 11].map(|index| scenario::wallet(index).verifying_key().to_bytes().to_vec());
    [NATIVE_TOKEN, WASM_TOKEN]
        .into_iter()
        .flat_map(|instance| {
            owners
                .iter()
                .cloned()
                .chain([vec![0xee; 32]])
                .map(move |key| (instance, key))
        })
        .collect()
}

fn wallet_proof(fork: &mut wasmvisor_storage::Fork, instance: u32, key: &[u8]) -> MapProof {
    let address = IndexAddress::new(Namespace::Service(instance), "wallets").unwrap();
    fork.map_proof(&address, key).unwrap()
}

#[test]
#[ignore = "writes the fixture: run only to record it anew (see its README)"]
fn record_the_block_log_fixture() {
    let testkit: TestKit = scenario::whole_life();
    let directory = fixture();
    fs::create_dir_all(&directory).unwrap();
    let genesis = encode_genesis(&scenario::genesis().genesis_config(), &directory);
    fs::write(directory.join("genesis.json"), format!("{genesis:#}\n")).unwrap();
    fs::write(directory.join("blocks.bin"), encode_log(&mut testkit.read_fork())).unwrap();
    let proofs: Vec<Value> = proved_keys()
        .into_iter()
        .map(|(instance, key)| {
            let proof = wallet_proof(&mut testkit.read_fork(), instance, &key);
            json!({ "instance": instance, "key": hex::encode(&key), "proof": proof })
        })
        .collect();
    fs::write(directory.join("proofs.json"), format!("{:#}\n", Value::from(proofs))).unwrap();
}

#[test]
fn the_recorded_block_log_replays_to_the_same_headers_and_proofs() {
    let directory = fixture();
    let genesis: Value = serde_json::from_slice(&fs::read(directory.join("genesis.json")).unwrap()).unwrap();
    let mut recording = decode_log(&fs::read(directory.join("blocks.bin")).unwrap());
    assert!(recording.blocks.len() > 200, "{} blocks", recording.blocks.len());
    let runtimes: Vec<Arc<dyn Runtime>> = vec![
        Arc::new(NativeRuntime::new(vec![Arc::new(TokenService)])),
        Arc::new(WasmRuntime::new(WasmRuntimeConfig::default()).unwrap()),
    ];
    let node_key = Validator::numbered(0).service_key.verifying_key().to_bytes();
    let mut fresh = Blockchain::genesis(
        Arc::new(MemoryDatabase::new()),
        runtimes,
        decode_genesis(&genesis, &directory),
        Some(node_key),
    )
    .unwrap();
    // Every block: its transactions verify, execute to the recorded
    // header (state, transaction and error roots, block hash) and commit
    // with the recorded precommits.
    let report = replay(&mut recording, &mut fresh).expect("the recording replays");
    assert_eq!(report.blocks, recording.blocks.len() as u64);
    // And byte for byte: each replayed header is the recorded one.
    let mut replayed = fresh.read_fork();
    for (height, block) in recording.blocks.iter().enumerate() {
        let header = replayed.header(height as u64).unwrap().unwrap();
        assert_eq!(header.encode_to_vec(), block.header, "header {height}");
    }

    // Proofs served on the recorded chain are the proofs the replayed one
    // serves, and both verify against its last state root.
    let state_root: Hash = fresh.last_header().unwrap().state_hash.try_into().unwrap();
    let recorded: Vec<Value> = serde_json::from_slice(&fs::read(directory.join("proofs.json")).unwrap()).unwrap();
    let keys = proved_keys();
    assert_eq!(recorded.len(), keys.len());
    for ((instance, key), recorded) in keys.iter().zip(&recorded) {
        assert_eq!(recorded["instance"], json!(instance));
        assert_eq!(recorded["key"], json!(hex::encode(key)));
        let proof = wallet_proof(&mut fresh.read_fork(), *instance, key);
        assert_eq!(
            json!(proof),
            recorded["proof"],
            "the proof of {} in {instance}",
            hex::encode(key)
        );
        let recorded: MapProof = serde_json::from_value(recorded["proof"].clone()).unwrap();
        let proven = recorded.verify(&state_root).expect("the recorded proof verifies");
        assert_eq!(proven.key, key.as_slice());
        assert_eq!(
            proven.value.is_some(),
            key != &vec![0xee; 32],
            "present wallets, an absent key"
        );
    }
}
