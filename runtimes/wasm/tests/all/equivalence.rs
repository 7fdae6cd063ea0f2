//! The wasm token and the native token on identical work: same service
//! state root after every block, same error kinds and codes, same query
//! answers. Both run under the real dispatcher on real storage.

use std::sync::Arc;

use crate::support::block;
use proptest::prelude::*;
use wasmvisor_artifacts::TOKEN;
use wasmvisor_dispatcher::{Dispatcher, GenesisConfig, Transaction};
use wasmvisor_native::{NativeArtifact, NativeRuntime, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, WalletQuery};
use wasmvisor_runtime::{ArtifactId, CallInfo, InstanceSpec, Runtime, runtime_id};
use wasmvisor_storage::{Database, MemoryDatabase, Namespace, RocksDatabase};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

const TOKEN_ID: u32 = 2;

fn wasm_token_spec() -> (ArtifactId, Vec<u8>) {
    let artifact = ArtifactId::new(runtime_id::WASM, "wasmvisor.token", "1.0.0").unwrap();
    (artifact, wasmvisor_wasm::deploy_spec(TOKEN.bytes).encode_to_vec())
}

fn genesis(artifact: ArtifactId, spec: Vec<u8>) -> GenesisConfig {
    let params = TokenConfig { issue_max: 1_000 }.encode_to_vec();
    GenesisConfig {
        consensus: Default::default(),
        artifacts: vec![(artifact.clone(), spec)],
        instances: vec![(
            InstanceSpec {
                id: TOKEN_ID,
                name: "token".into(),
                artifact,
            },
            params,
        )],
    }
}

fn native_chain() -> Dispatcher {
    let runtime: Arc<dyn Runtime> = Arc::new(NativeRuntime::new(vec![Arc::new(TokenService)]));
    let mut dispatcher = Dispatcher::new(Arc::new(MemoryDatabase::new()), vec![runtime]);
    dispatcher.genesis(genesis(TokenService.artifact_id(), vec![])).unwrap();
    dispatcher
}

fn wasm_runtime() -> Arc<dyn Runtime> {
    Arc::new(WasmRuntime::new(WasmRuntimeConfig::default()).unwrap())
}

fn wasm_chain(database: Arc<dyn Database>) -> Dispatcher {
    let mut dispatcher = Dispatcher::new(database, vec![wasm_runtime()]);
    let (artifact, spec) = wasm_token_spec();
    dispatcher.genesis(genesis(artifact, spec)).unwrap();
    dispatcher
}

fn key(owner: u8) -> [u8; 32] {
    [owner + 1; 32]
}

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Issue(u8, u64),
    Transfer(u8, u8, u64),
    Garbage(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u8..5).prop_map(Op::Create),
        3 => (0u8..5, 0u64..1_500).prop_map(|(owner, amount)| Op::Issue(owner, amount)),
        5 => (0u8..5, 0u8..6, 0u64..700).prop_map(|(from, to, amount)| Op::Transfer(from, to, amount)),
        1 => (0u8..5).prop_map(Op::Garbage),
    ]
}

fn transaction(op: &Op, seed: u64) -> Transaction {
    let (author, method_id, arguments) = match op {
        Op::Create(owner) => (
            key(*owner),
            0,
            CreateWallet {
                name: format!("w{owner}"),
            }
            .encode_to_vec(),
        ),
        Op::Issue(owner, amount) => (key(*owner), 1, Issue { amount: *amount, seed }.encode_to_vec()),
        Op::Transfer(from, to, amount) => (
            key(*from),
            2,
            Transfer {
                to: key(*to).to_vec(),
                amount: *amount,
                seed,
            }
            .encode_to_vec(),
        ),
        Op::Garbage(owner) => (key(*owner), 2, vec![0xff, 0x01, 0xff]),
    };
    let mut hash = [0; 32];
    hash[..8].copy_from_slice(&seed.to_le_bytes());
    Transaction {
        author,
        hash,
        call: CallInfo {
            instance_id: TOKEN_ID,
            method_id,
        },
        arguments,
    }
}

fn service_root(dispatcher: &Dispatcher) -> wasmvisor_storage::Hash {
    dispatcher
        .read_fork()
        .namespace_root(Namespace::Service(TOKEN_ID))
        .unwrap()
}

fn wallet(dispatcher: &Dispatcher, owner: u8) -> Result<Vec<u8>, wasmvisor_runtime::QueryError> {
    dispatcher.query(
        "token",
        "wallet",
        &WalletQuery {
            owner: key(owner).to_vec(),
        }
        .encode_to_vec(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn wasm_and_native_tokens_agree_block_by_block(blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..6), 1..6)) {
        let mut native = native_chain();
        let mut wasm = wasm_chain(Arc::new(MemoryDatabase::new()));
        prop_assert_eq!(service_root(&native), service_root(&wasm), "after genesis");
        let mut seed = 0;
        for ops in &blocks {
            let transactions: Vec<Transaction> = ops.iter().map(|op| { seed += 1; transaction(op, seed) }).collect();
            let native_block = block(&mut native, &transactions);
            let wasm_block = block(&mut wasm, &transactions);
            let kinds = |block: &wasmvisor_dispatcher::CommittedBlock| {
                block.errors.iter().map(|(location, error)| (*location, error.kind)).collect::<Vec<_>>()
            };
            prop_assert_eq!(kinds(&native_block), kinds(&wasm_block));
            prop_assert_eq!(native_block.error_root, wasm_block.error_root);
            prop_assert_eq!(service_root(&native), service_root(&wasm));
        }
        for owner in 0..5 {
            prop_assert_eq!(wallet(&native, owner), wallet(&wasm, owner));
        }
    }
}

#[test]
fn a_changed_service_state_changes_the_root_in_both_runtimes() {
    let mut native = native_chain();
    let mut wasm = wasm_chain(Arc::new(MemoryDatabase::new()));
    let before = service_root(&wasm);
    let create = transaction(&Op::Create(0), 1);
    block(&mut native, std::slice::from_ref(&create));
    block(&mut wasm, &[create]);
    assert_ne!(service_root(&wasm), before);
    assert_eq!(service_root(&native), service_root(&wasm));
}

#[test]
fn a_wasm_chain_restarts_from_the_stored_deploy_spec() {
    let directory = tempfile::tempdir().unwrap();
    let directory = directory.path().to_path_buf();
    let root = {
        let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(&directory).unwrap());
        let mut chain = wasm_chain(database);
        let transactions = [transaction(&Op::Create(0), 1), transaction(&Op::Issue(0, 40), 2)];
        block(&mut chain, &transactions);
        let root = chain.state_root().unwrap();
        chain.shutdown();
        root
    };
    let database: Arc<dyn Database> = Arc::new(RocksDatabase::open(&directory).unwrap());
    let mut chain = Dispatcher::new(database, vec![wasm_runtime()]);
    chain.resume().unwrap();
    assert_eq!(chain.state_root().unwrap(), root);
    let wallet = wasmvisor_proto::token::Wallet::decode(wallet(&chain, 0).unwrap().as_slice()).unwrap();
    assert_eq!(wallet.balance, 40);
    let proposal = chain.execute_proposal(&[transaction(&Op::Issue(0, 2), 3)]).unwrap();
    assert!(proposal.errors.is_empty());
    chain.commit(proposal).unwrap();
}
