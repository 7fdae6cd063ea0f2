//! The replay oracle: a stored block log replays on a fresh chain, and a
//! log whose stored outcome differs from what its transactions do is
//! caught at the first differing block.

use std::sync::Arc;

use wasmvisor_blockchain::{Blockchain, ReplayMismatch, ReplayReport, replay};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_storage::{Database, Fork, IndexAddress, MemoryDatabase, Namespace};

use crate::blocks::{VALIDATORS, genesis, precommits, runtimes, wallet_transaction};

/// A chain of three blocks with two wallets each, on `database`.
fn three_blocks(database: Arc<dyn Database>) {
    let mut chain = Blockchain::genesis(database, runtimes(), genesis(), None).unwrap();
    let voters: Vec<u8> = (0..VALIDATORS).collect();
    for height in 1..=3u64 {
        let transactions = [
            wallet_transaction(&chain, height as u8 * 2, "a"),
            wallet_transaction(&chain, height as u8 * 2 + 1, "b"),
        ];
        let block = chain.execute(&transactions).unwrap();
        let signatures = precommits(&chain.chain_id(), height, &block.hash, &voters);
        chain.commit(block, signatures).unwrap();
    }
    chain.shutdown();
}

fn fresh() -> Blockchain {
    Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap()
}

#[test]
fn a_stored_log_replays_and_a_tampered_one_is_caught_where_it_differs() {
    let database = Arc::new(MemoryDatabase::new());
    three_blocks(Arc::clone(&database) as Arc<dyn Database>);
    assert_eq!(
        replay(&mut Fork::new(database.snapshot()), &mut fresh()),
        Ok(ReplayReport {
            blocks: 4,
            transactions: 6
        })
    );

    // Block 2's header claims another state root than its transactions
    // give.
    let mut fork = Fork::new(database.snapshot());
    let blocks = IndexAddress::new(Namespace::Core, "blocks").unwrap();
    let mut header = BlockHeader::decode(fork.list(&blocks).unwrap().get(2).unwrap().unwrap().as_slice()).unwrap();
    header.state_hash[0] ^= 1;
    fork.list(&blocks).unwrap().set(2, &header.encode_to_vec()).unwrap();
    database.merge(fork.into_patch().unwrap()).unwrap();
    assert_eq!(
        replay(&mut Fork::new(database.snapshot()), &mut fresh()),
        Err(ReplayMismatch {
            height: 2,
            what: "state root differs".into()
        })
    );
}
