//! Chains of 1, 4 and 7 validators with a native and a wasm token.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use wasmvisor_artifacts::TOKEN;
use wasmvisor_native::TokenService;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind, InstanceStatus};
use wasmvisor_testkit::{PoolError, TestKit, TestKitBuilder};

const NATIVE_TOKEN: u32 = 2;
const WASM_TOKEN: u32 = 3;
const SERVICES: [(u32, &str); 2] = [(NATIVE_TOKEN, "native-token"), (WASM_TOKEN, "wasm-token")];

fn testkit(validators: u8) -> TestKit {
    let params = TokenConfig { issue_max: 1_000 }.encode_to_vec();
    TestKitBuilder::new(validators)
        .with_native_service(NATIVE_TOKEN, "native-token", Arc::new(TokenService), params.clone())
        .with_wasm_service(WASM_TOKEN, "wasm-token", "wasmvisor.token", TOKEN.bytes, params)
        .build()
}

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn balance(testkit: &TestKit, service: &str, owner: &SigningKey) -> Option<u64> {
    let query = WalletQuery {
        owner: owner.verifying_key().to_bytes().to_vec(),
    }
    .encode_to_vec();
    let answer = testkit.query(service, "wallet", &query).ok()?;
    Some(Wallet::decode(answer.as_slice()).unwrap().balance)
}

/// The same transaction to both token services.
fn to_both(testkit: &TestKit, author: &SigningKey, method_id: u32, arguments: Vec<u8>) -> Vec<Vec<u8>> {
    SERVICES
        .iter()
        .map(|(instance_id, _)| {
            testkit.sign(
                author,
                CallInfo {
                    instance_id: *instance_id,
                    method_id,
                },
                arguments.clone(),
            )
        })
        .collect()
}

fn exercise(validators: u8) {
    let mut testkit = testkit(validators);
    assert_eq!(testkit.validators().len(), usize::from(validators));
    let (alice, bob) = (key(1), key(2));

    // Wallets and an issue, through the pool.
    for signed in [
        to_both(
            &testkit,
            &alice,
            0,
            CreateWallet { name: "alice".into() }.encode_to_vec(),
        ),
        to_both(&testkit, &bob, 0, CreateWallet { name: "bob".into() }.encode_to_vec()),
        to_both(&testkit, &alice, 1, Issue { amount: 900, seed: 1 }.encode_to_vec()),
    ]
    .into_iter()
    .flatten()
    {
        testkit.add_to_pool(signed).unwrap();
    }
    let block = testkit.create_block();
    assert_eq!((block.header.height, block.header.tx_count), (1, 6));
    assert!(block.errors.is_empty(), "{:?}", block.errors);

    // A transfer and a failing one, after a discarded proposal.
    let bob_key = bob.verifying_key().to_bytes().to_vec();
    let mut transactions = to_both(
        &testkit,
        &alice,
        2,
        Transfer {
            to: bob_key.clone(),
            amount: 300,
            seed: 1,
        }
        .encode_to_vec(),
    );
    transactions.extend(to_both(
        &testkit,
        &alice,
        2,
        Transfer {
            to: bob_key.clone(),
            amount: 5_000,
            seed: 2,
        }
        .encode_to_vec(),
    ));
    let block = testkit.create_block_after_discarded_proposal(transactions);
    assert_eq!(block.header.height, 2);
    assert_eq!(block.errors.len(), 2);
    for position in [2, 3] {
        assert_eq!(
            block.errors[&CallLocation::Transaction(position)].kind,
            ErrorKind::Service(3),
            "InsufficientFunds"
        );
    }
    for (instance_id, service) in SERVICES {
        assert_eq!(balance(&testkit, service, &alice), Some(600), "{service}");
        assert_eq!(balance(&testkit, service, &bob), Some(300), "{service}");
        assert_eq!(testkit.instance_status(instance_id), Some(InstanceStatus::Active));
    }

    // A balance is provable against the block header.
    let (header, proof) = testkit.map_proof(WASM_TOKEN, "wallets", &alice.verifying_key().to_bytes());
    let root: [u8; 32] = header.state_hash.as_slice().try_into().unwrap();
    let proven = proof.verify(&root).unwrap();
    assert_eq!(Wallet::decode(proven.value.unwrap()).unwrap().balance, 600);

    // Checkpoint, a block, rollback: as if the block never happened.
    testkit.checkpoint();
    let transfer = to_both(
        &testkit,
        &bob,
        2,
        Transfer {
            to: alice.verifying_key().to_bytes().to_vec(),
            amount: 100,
            seed: 3,
        }
        .encode_to_vec(),
    );
    testkit.create_block_with(transfer);
    assert_eq!(balance(&testkit, "wasm-token", &bob), Some(200));
    testkit.rollback();
    assert_eq!(testkit.height(), 2);
    for (_, service) in SERVICES {
        assert_eq!(balance(&testkit, service, &bob), Some(300), "{service} after rollback");
    }

    // Restart on the same storage; the chain goes on.
    let header_before = testkit.last_header();
    testkit.restart();
    assert_eq!(testkit.last_header(), header_before);
    assert_eq!(balance(&testkit, "native-token", &alice), Some(600));
    testkit.create_blocks_until(4);
    assert_eq!(testkit.height(), 4);

    // Someone without a wallet is refused in both runtimes alike.
    let stranger = to_both(
        &testkit,
        &key(9),
        2,
        Transfer {
            to: bob_key,
            amount: 1,
            seed: 4,
        }
        .encode_to_vec(),
    );
    let block = testkit.create_block_with(stranger);
    for position in [0, 1] {
        assert_eq!(
            block.errors[&CallLocation::Transaction(position)].kind,
            ErrorKind::Service(1),
            "WalletNotFound"
        );
    }

    // The replay oracle: a fresh chain reproduces every root.
    testkit.replay().unwrap();
}

#[test]
fn one_validator() {
    exercise(1);
}

#[test]
fn four_validators() {
    exercise(4);
}

#[test]
fn seven_validators() {
    exercise(7);
}

#[test]
fn transactions_signed_for_another_chain_are_refused() {
    let mut testkit = testkit(1);
    let foreign = wasmvisor_blockchain::sign(
        &key(1),
        &[0; 32],
        CallInfo {
            instance_id: 2,
            method_id: 0,
        },
        vec![],
    );
    assert_eq!(
        testkit.add_to_pool(foreign).unwrap_err(),
        PoolError::Invalid(wasmvisor_blockchain::TransactionError::WrongChain)
    );
    let validator_signed = testkit.sign_as_validator(
        0,
        CallInfo {
            instance_id: 2,
            method_id: 0,
        },
        CreateWallet { name: "v".into() }.encode_to_vec(),
    );
    testkit.add_to_pool(validator_signed.clone()).unwrap();
    assert_eq!(
        testkit.add_to_pool(validator_signed.clone()).unwrap_err(),
        PoolError::AlreadyPooled
    );
    assert!(testkit.create_block().errors.is_empty());
    assert_eq!(
        testkit.add_to_pool(validator_signed).unwrap_err(),
        PoolError::AlreadyCommitted,
        "no replay"
    );
}

#[test]
fn the_supervisor_runs_in_its_mode_and_blocks_respect_the_size_limit() {
    use wasmvisor_proto::supervisor::SupervisorConfig;
    use wasmvisor_testkit::SupervisorMode;

    let params = TokenConfig { issue_max: 0 }.encode_to_vec();
    let mut testkit = TestKitBuilder::new(4)
        .with_supervisor(SupervisorMode::Decentralized)
        .with_native_service(NATIVE_TOKEN, "native-token", Arc::new(TokenService), params)
        .with_transactions_per_block_max(2)
        .build();
    let config = SupervisorConfig::decode(
        testkit
            .query("supervisor", "supervisor-config", &[])
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(config.mode, SupervisorMode::Decentralized as i32);
    assert_eq!(testkit.instance_status(0), Some(InstanceStatus::Active));
    // Through the dispatcher interface the supervisor sees the validator set
    // of the committed consensus configuration.
    let count = testkit.query("supervisor", "validator-count", &[]).unwrap();
    assert_eq!(<u32 as Message>::decode(count.as_slice()).unwrap(), 4);

    for seed in 10..15 {
        let signed = testkit.sign(
            &key(seed),
            CallInfo {
                instance_id: NATIVE_TOKEN,
                method_id: 0,
            },
            CreateWallet {
                name: format!("w{seed}"),
            }
            .encode_to_vec(),
        );
        testkit.add_to_pool(signed).unwrap();
    }
    let sizes: Vec<u32> = (0..3).map(|_| testkit.create_block().header.tx_count).collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(testkit.pool_len(), 0);
    testkit.replay().unwrap();
}

/// Four validators whose instance 0 is the intruder guest, deployed under
/// the supervisor's artifact name: it broadcasts method 1 ("ping") from
/// every after-commit.
fn intruder_as_supervisor() -> TestKit {
    TestKitBuilder::new(4)
        .with_wasm_service(
            0,
            "supervisor",
            wasmvisor_testkit::SUPERVISOR_ARTIFACT_NAME,
            wasmvisor_artifacts::DISPATCHER_INTRUDER.bytes,
            vec![],
        )
        .build()
}

#[test]
fn broadcasts_from_after_commit_enter_the_pool_signed_by_the_node() {
    let mut testkit = intruder_as_supervisor();
    assert_eq!(testkit.pool_len(), 1, "the genesis block's after-commit broadcast");
    let block = testkit.create_block();
    assert_eq!(block.header.tx_count, 1);
    // The intruder has no method 1: the pooled broadcast ran and failed.
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Common(1));
    // The next after-commit broadcasts the same transaction again; being
    // committed already, it is dropped, not replayed.
    assert_eq!(testkit.pool_len(), 0, "a committed transaction is not pooled again");
    let mut fork = testkit.read_fork();
    let hash = wasmvisor_blockchain::blocks::block_transactions(&mut fork, 1).unwrap()[0];
    let (signed, _) = wasmvisor_blockchain::blocks::transaction(&mut fork, &hash)
        .unwrap()
        .unwrap();
    let verified = wasmvisor_blockchain::verify(&signed, &testkit.chain_id(), usize::MAX).unwrap();
    assert_eq!(
        verified.author,
        testkit.validators()[0].service_key.verifying_key().to_bytes(),
        "signed by the node"
    );
    assert_eq!(
        (
            verified.call.instance_id,
            verified.call.method_id,
            verified.arguments.as_slice()
        ),
        (0, 1, &b"ping"[..])
    );
}

/// Every committed transaction to the supervisor: (method, arguments).
fn committed_supervisor_calls(testkit: &TestKit) -> Vec<(u32, Vec<u8>)> {
    let mut fork = testkit.read_fork();
    let mut calls = Vec::new();
    for height in 1..=testkit.height() {
        for hash in wasmvisor_blockchain::blocks::block_transactions(&mut fork, height).unwrap() {
            let (signed, _) = wasmvisor_blockchain::blocks::transaction(&mut fork, &hash)
                .unwrap()
                .unwrap();
            let verified = wasmvisor_blockchain::verify(&signed, &testkit.chain_id(), usize::MAX).unwrap();
            if verified.call.instance_id == 0 {
                calls.push((verified.call.method_id, verified.arguments));
            }
        }
    }
    calls
}

#[test]
fn after_commit_sees_the_node_key_and_local_deploys() {
    let mut testkit = intruder_as_supervisor();
    let probe = testkit.sign(
        &key(5),
        CallInfo {
            instance_id: 0,
            method_id: 2,
        },
        vec![],
    );
    testkit.add_to_pool(probe).unwrap();
    // Blocks until the bogus deploy's failure came back as a broadcast
    // (the deploy runs in the background; bounded).
    let mut reason = None;
    for _ in 0..50 {
        testkit.create_block();
        let calls = committed_supervisor_calls(&testkit);
        reason = calls
            .iter()
            .find(|(method, _)| *method == 4)
            .map(|(_, arguments)| arguments.clone());
        if reason.is_some() {
            break;
        }
    }
    let reason = String::from_utf8(reason.expect("the failure was broadcast")).unwrap();
    assert!(reason.contains("does not decode"), "{reason}");
    let calls = committed_supervisor_calls(&testkit);
    let node_key = calls
        .iter()
        .find(|(method, _)| *method == 3)
        .expect("the node's key was broadcast");
    assert_eq!(
        node_key.1,
        testkit.validators()[0].service_key.verifying_key().to_bytes().to_vec()
    );
}
