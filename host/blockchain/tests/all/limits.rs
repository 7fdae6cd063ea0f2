//! Whatever admission accepts, a block records and commits: transactions
//! up to the size limit (the largest, and the one-mebibyte-and-a-byte
//! transaction that once stopped every chain), at the limit − 1, the limit
//! and the limit + 1; and a block holds at most its bytes of transactions.

use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::{BlockError, BlockFill, Blockchain, TransactionError, blocks, sign_to_size};
use wasmvisor_limits::{BLOCK_TRANSACTIONS_BYTES_MAX, SERVICE_VALUE_BYTES_MAX, TRANSACTION_BYTES_MAX};
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind};
use wasmvisor_storage::MemoryDatabase;

use crate::blocks::{VALIDATORS, genesis, precommits, runtimes};

/// A transaction of exactly `size` bytes to the token (its arguments are
/// not a token message: the call fails, and is recorded).
fn of_size(chain: &Blockchain, seed: u8, size: usize) -> Vec<u8> {
    let call = CallInfo {
        instance_id: 2,
        method_id: 1,
    };
    sign_to_size(
        &SigningKey::from_bytes(&[seed; 32]),
        &chain.chain_id(),
        call,
        0xff,
        size,
    )
    .unwrap()
}

fn commit(chain: &mut Blockchain, block: wasmvisor_blockchain::PendingBlock) {
    let voters: Vec<u8> = (0..VALIDATORS).collect();
    let precommits = precommits(&chain.chain_id(), block.header.height, &block.hash, &voters);
    chain.commit(block, precommits).unwrap();
}

#[test]
fn every_transaction_admission_accepts_is_recorded_and_committed() {
    let database = std::sync::Arc::new(MemoryDatabase::new());
    let mut chain = Blockchain::genesis(database, runtimes(), genesis(), None).unwrap();
    let sizes = [
        // Over one service value: the record of such a transaction once
        // failed its block, and every block after it.
        SERVICE_VALUE_BYTES_MAX + 1,
        1_052_816,
        TRANSACTION_BYTES_MAX - 1,
        TRANSACTION_BYTES_MAX,
    ];
    for (seed, size) in sizes.into_iter().enumerate() {
        let signed = of_size(&chain, seed as u8 + 1, size);
        assert_eq!(signed.len(), size);
        let transaction = chain.verify(&signed).unwrap();
        let hash = transaction.hash;
        let block = chain.execute(&[transaction]).unwrap();
        assert_eq!(
            block.errors()[&CallLocation::Transaction(0)].kind,
            ErrorKind::Common(3),
            "the token refuses the arguments: MalformedArguments"
        );
        let height = block.header.height;
        commit(&mut chain, block);
        let (stored, record) = blocks::transaction(&mut chain.read_fork(), &hash).unwrap().unwrap();
        assert_eq!(stored, signed, "{size} bytes recorded as signed");
        assert_eq!(record.height, height);
    }
    let over = of_size(&chain, 9, TRANSACTION_BYTES_MAX + 1);
    assert_eq!(
        chain.verify(&over).unwrap_err(),
        TransactionError::TooLarge {
            size: TRANSACTION_BYTES_MAX + 1,
            max: TRANSACTION_BYTES_MAX
        }
    );
    assert_eq!(chain.last_header().unwrap().height, sizes.len() as u64);
}

#[test]
fn a_block_holds_at_most_its_bytes_of_transactions() {
    let database = std::sync::Arc::new(MemoryDatabase::new());
    let mut chain = Blockchain::genesis(database, runtimes(), genesis(), None).unwrap();
    let fit = BLOCK_TRANSACTIONS_BYTES_MAX / TRANSACTION_BYTES_MAX;
    let largest: Vec<_> = (0..=fit)
        .map(|seed| {
            chain
                .verify(&of_size(&chain, seed as u8 + 1, TRANSACTION_BYTES_MAX))
                .unwrap()
        })
        .collect();
    // One more than fits is refused before anything executes.
    assert!(matches!(chain.execute(&largest), Err(BlockError::TooLarge(_))));
    // A proposer fills a block up to the bytes, in order, and stops there.
    let mut fill = BlockFill::new(&chain.consensus_config().unwrap());
    let admitted = largest
        .iter()
        .take_while(|transaction| fill.admit(transaction.signed.len()))
        .count();
    assert_eq!(admitted, fit);
    let block = chain.execute(&largest[..admitted]).unwrap();
    commit(&mut chain, block);
    let block = chain.execute(&largest[admitted..]).unwrap();
    commit(&mut chain, block);
    assert_eq!(chain.last_header().unwrap().height, 2);
}
