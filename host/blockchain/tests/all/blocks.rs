//! Blocks: headers chained by hash, records committed with the state,
//! precommits checked against the validator set.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::blocks::{self, block_hash, sign_precommit, transactions_root};
use wasmvisor_blockchain::{BlockError, Blockchain, Precommit, sign};
use wasmvisor_dispatcher::GenesisConfig;
use wasmvisor_native::{NativeArtifact, NativeRuntime, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, ValidatorKeys};
use wasmvisor_proto::token::{CreateWallet, TokenConfig};
use wasmvisor_runtime::{CallInfo, InstanceSpec, Runtime};
use wasmvisor_storage::{Database, MemoryDatabase};

pub const VALIDATORS: u8 = 4;

fn consensus_key(validator: u8) -> SigningKey {
    SigningKey::from_bytes(&[100 + validator; 32])
}

pub fn runtimes() -> Vec<Arc<dyn Runtime>> {
    vec![Arc::new(NativeRuntime::new(vec![Arc::new(TokenService)]))]
}

pub fn genesis() -> GenesisConfig {
    let token = TokenService.artifact_id();
    GenesisConfig {
        artifacts: vec![(token.clone(), vec![])],
        instances: vec![(
            InstanceSpec {
                id: 2,
                name: "token".into(),
                artifact: token,
            },
            TokenConfig { issue_max: 0 }.encode_to_vec(),
        )],
        consensus: ConsensusConfig {
            validator_keys: (0..VALIDATORS)
                .map(|validator| ValidatorKeys {
                    consensus_key: consensus_key(validator).verifying_key().to_bytes().to_vec(),
                    service_key: vec![0; 32],
                })
                .collect(),
            ..Default::default()
        },
    }
}

pub fn precommits(chain_id: &[u8; 32], height: u64, hash: &[u8; 32], voters: &[u8]) -> Vec<Precommit> {
    voters
        .iter()
        .map(|validator| {
            sign_precommit(
                &consensus_key(*validator),
                u32::from(*validator),
                chain_id,
                height,
                0,
                hash,
            )
        })
        .collect()
}

pub fn wallet_transaction(chain: &Blockchain, seed: u8, name: &str) -> wasmvisor_blockchain::VerifiedTransaction {
    let bytes = sign(
        &SigningKey::from_bytes(&[seed; 32]),
        &chain.chain_id(),
        CallInfo {
            instance_id: 2,
            method_id: 0,
        },
        CreateWallet { name: name.into() }.encode_to_vec(),
    );
    chain.verify(&bytes).unwrap()
}

#[test]
fn committed_blocks_chain_by_hash_and_record_their_transactions() {
    let database: Arc<dyn Database> = Arc::new(MemoryDatabase::new());
    let mut chain = Blockchain::genesis(Arc::clone(&database), runtimes(), genesis(), None).unwrap();
    let genesis_header = chain.last_header().unwrap();
    assert_eq!(chain.chain_id(), block_hash(&genesis_header));

    let first = wallet_transaction(&chain, 1, "alice");
    let duplicate = wallet_transaction(&chain, 1, "alice again");
    let block = chain.execute(&[first.clone(), duplicate.clone()]).unwrap();
    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 3]);
    let header = chain.commit(block, votes).unwrap();

    assert_eq!(header.height, 1);
    assert_eq!(header.prev_hash, block_hash(&genesis_header).to_vec());
    assert_eq!(
        header.tx_hash,
        transactions_root(&[first.hash, duplicate.hash]).to_vec()
    );
    assert_eq!(header.state_hash, chain.dispatcher().state_root().unwrap().to_vec());
    let mut fork = chain.read_fork();
    assert_eq!(blocks::header(&mut fork, 1).unwrap(), Some(header.clone()));
    assert_eq!(
        blocks::block_transactions(&mut fork, 1).unwrap(),
        vec![first.hash, duplicate.hash]
    );
    let (signed, record) = blocks::transaction(&mut fork, &first.hash).unwrap().unwrap();
    assert_eq!(signed, first.signed);
    assert_eq!((record.height, record.index, record.error), (1, 0, None));
    let (_, record) = blocks::transaction(&mut fork, &duplicate.hash).unwrap().unwrap();
    let error = blocks::from_proto_error(record.error.as_ref().unwrap());
    assert_eq!(error.kind, wasmvisor_runtime::ErrorKind::Service(0), "WalletExists");
    assert_eq!(blocks::precommits(&mut fork, 1).unwrap().unwrap().precommits.len(), 3);

    // A restart finds the same chain.
    let chain_id = chain.chain_id();
    chain.shutdown();
    let resumed = Blockchain::resume(database, runtimes(), None).unwrap();
    assert_eq!(resumed.chain_id(), chain_id);
    assert_eq!(resumed.last_header().unwrap(), header);
}

#[test]
fn a_block_without_a_quorum_of_valid_precommits_is_not_committed() {
    let mut chain = Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap();
    let transaction = wallet_transaction(&chain, 1, "alice");

    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let too_few = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1]);
    assert!(matches!(chain.commit(block, too_few), Err(BlockError::Precommits(_))));

    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let mut forged = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    forged[2].signature[0] ^= 1;
    assert!(matches!(chain.commit(block, forged), Err(BlockError::Precommits(_))));

    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let wrong_block = precommits(&chain.chain_id(), 1, &[9; 32], &[0, 1, 2]);
    assert!(matches!(
        chain.commit(block, wrong_block),
        Err(BlockError::Precommits(_))
    ));

    // Precommits of another chain, or claiming another round than they
    // signed, are not this block's.
    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let other_chain = precommits(&[5; 32], 1, &block.hash, &[0, 1, 2]);
    assert!(matches!(
        chain.commit(block, other_chain),
        Err(BlockError::Precommits(_))
    ));
    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let mut other_round = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    other_round[0].round = 1;
    assert!(matches!(
        chain.commit(block, other_round),
        Err(BlockError::Precommits(_))
    ));

    // A precommit must name the key configured at its position (a commit
    // certificate is rebuilt from these keys for peers catching up).
    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let mut other_key = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    other_key[1].validator_key = other_key[2].validator_key.clone();
    match chain.commit(block, other_key) {
        Err(BlockError::Precommits(reason)) => assert!(reason.contains("names another key"), "{reason}"),
        other => panic!("a precommit naming another key was accepted: {other:?}"),
    }

    assert_eq!(chain.last_header().unwrap().height, 0, "nothing was committed");
    let block = chain.execute(&[transaction]).unwrap();
    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[1, 2, 3]);
    assert_eq!(chain.commit(block, votes).unwrap().height, 1);
}

#[test]
fn committed_or_repeated_transactions_are_refused() {
    let mut chain = Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap();
    let transaction = wallet_transaction(&chain, 1, "alice");
    assert!(matches!(
        chain.execute(&[transaction.clone(), transaction.clone()]),
        Err(BlockError::DuplicateTransaction(hash)) if hash == transaction.hash
    ));
    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    chain.commit(block, votes).unwrap();
    assert!(chain.is_committed(&transaction.hash).unwrap());
    assert!(
        matches!(chain.execute(&[transaction]), Err(BlockError::DuplicateTransaction(_))),
        "a replay"
    );
}

#[test]
fn a_block_of_pooled_candidates_leaves_out_the_committed_and_repeated_ones() {
    let mut chain = Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap();
    let committed = wallet_transaction(&chain, 1, "alice");
    let block = chain.execute(std::slice::from_ref(&committed)).unwrap();
    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    chain.commit(block, votes).unwrap();

    let bob = wallet_transaction(&chain, 2, "bob");
    let carol = wallet_transaction(&chain, 3, "carol");
    // What `execute` makes of the new ones alone (a height may be executed
    // several times; this one is dropped).
    let expected = chain.execute(&[bob.clone(), carol.clone()]).unwrap().header;
    let new = chain
        .execute_leaving_out_committed(vec![committed.clone(), bob.clone(), bob.clone(), carol.clone()])
        .unwrap();
    let hashes = |transactions: &[wasmvisor_blockchain::VerifiedTransaction]| -> Vec<[u8; 32]> {
        transactions.iter().map(|transaction| transaction.hash).collect()
    };
    assert_eq!(hashes(&new.transactions), [bob.hash, carol.hash]);
    assert_eq!(hashes(&new.left_out), [committed.hash, bob.hash]);
    assert_eq!(new.block.header, expected);
    // Proposed the same way, the block is one another validator (a chain
    // with the same history) validates to the same header.
    let (proposed, value) = chain
        .propose_leaving_out_committed(vec![committed.clone(), bob.clone(), bob.clone(), carol.clone()])
        .unwrap();
    assert_eq!(proposed.block.header, expected);
    assert_eq!(value.transactions, [bob.signed.clone(), carol.signed.clone()]);
    let mut other = Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap();
    let first = other.execute(std::slice::from_ref(&committed)).unwrap();
    let votes = precommits(&other.chain_id(), 1, &first.hash, &[0, 1, 2]);
    other.commit(first, votes).unwrap();
    assert_eq!(other.validate(&value).unwrap().header, expected);

    let votes = precommits(&chain.chain_id(), 2, &new.block.hash, &[0, 1, 2]);
    chain.commit(new.block, votes).unwrap();
    assert!(chain.is_committed(&carol.hash).unwrap());
    // Nothing new: an empty block, everything left out.
    let new = chain.execute_leaving_out_committed(vec![bob.clone(), carol]).unwrap();
    assert_eq!(new.block.header.tx_count, 0);
    assert_eq!(new.left_out.len(), 2);
}

#[test]
fn open_creates_a_chain_once_and_resumes_it_even_without_its_genesis_header() {
    let database: Arc<dyn Database> = Arc::new(MemoryDatabase::new());
    let (chain, created) = Blockchain::open(Arc::clone(&database), runtimes(), genesis, None).unwrap();
    assert!(created);
    let chain_id = chain.chain_id();
    chain.shutdown();
    let (chain, created) = Blockchain::open(Arc::clone(&database), runtimes(), || unreachable!(), None).unwrap();
    assert!(!created, "a chain with a genesis block resumes");
    assert_eq!(chain.chain_id(), chain_id);
    chain.shutdown();

    // A node that stopped after the genesis state but before its header
    // was written: the state is there, so the chain resumes (and writes
    // the header) rather than trying a second genesis.
    let database: Arc<dyn Database> = Arc::new(MemoryDatabase::new());
    let mut dispatcher = wasmvisor_dispatcher::Dispatcher::new(Arc::clone(&database), runtimes());
    dispatcher.genesis(genesis()).unwrap();
    dispatcher.shutdown();
    let (chain, created) = Blockchain::open(Arc::clone(&database), runtimes(), || unreachable!(), None).unwrap();
    assert!(!created);
    assert_eq!(chain.chain_id(), chain_id, "the same genesis, the same header");
    assert_eq!(chain.last_header().unwrap().height, 0);
}

#[test]
fn a_reader_sees_each_newly_committed_block_from_another_thread() {
    let mut chain = Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap();
    let reader = chain.reader();
    assert_eq!(reader.chain_id(), chain.chain_id());
    let transaction = wallet_transaction(&chain, 1, "alice");
    let signed = transaction.signed.clone();
    assert_eq!(reader.verify(&signed).unwrap(), transaction);
    assert!(!reader.is_committed(&transaction.hash).unwrap());

    // An executed block is not committed: the reader still sees the last
    // committed state.
    let block = chain.execute(std::slice::from_ref(&transaction)).unwrap();
    let hash = transaction.hash;
    let unchanged = {
        let reader = reader.clone();
        std::thread::spawn(move || reader.is_committed(&hash).unwrap())
    };
    assert!(!unchanged.join().unwrap());

    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 2]);
    chain.commit(block, votes).unwrap();
    let committed = std::thread::spawn(move || (reader.is_committed(&hash).unwrap(), reader.instance(2).unwrap()));
    let (committed, token) = committed.join().unwrap();
    assert!(committed, "the reader made before the commit sees it");
    assert_eq!(token.unwrap().spec.name, "token");
}

#[test]
fn a_committed_transaction_without_its_record_is_this_nodes_corruption_not_a_duplicate() {
    let database: Arc<dyn Database> = Arc::new(MemoryDatabase::new());
    let mut chain = Blockchain::genesis(Arc::clone(&database), runtimes(), genesis(), None).unwrap();
    let first = wallet_transaction(&chain, 1, "alice");
    let block = chain.execute(std::slice::from_ref(&first)).unwrap();
    let votes = precommits(&chain.chain_id(), 1, &block.hash, &[0, 1, 3]);
    chain.commit(block, votes).unwrap();
    // Committed: a repeat is a duplicate, which refuses the block.
    assert!(matches!(
        chain.execute(std::slice::from_ref(&first)),
        Err(BlockError::DuplicateTransaction(hash)) if hash == first.hash
    ));
    // The store loses the record (a corrupt database).
    let records =
        wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Core, "transaction_records").unwrap();
    let mut fork = chain.read_fork();
    assert!(fork.map(&records).unwrap().remove(&first.hash).unwrap());
    database.merge(fork.into_patch().unwrap()).unwrap();
    // Now the check is this node's failure, not a verdict on the block.
    let mut fork = chain.read_fork();
    assert!(matches!(
        blocks::committed_each(&mut fork, [&first.hash]),
        Err(wasmvisor_storage::StorageError::Corrupt(_))
    ));
    let error = chain.execute(std::slice::from_ref(&first)).unwrap_err();
    assert!(error.is_node_local(), "{error}");
}
