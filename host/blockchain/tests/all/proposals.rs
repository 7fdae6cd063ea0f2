//! Proposals between validators: a proposer's block validates on another
//! node's own chain and commits there with the same header; a proposal
//! whose header does not match its transactions, or whose transactions do
//! not verify, is refused with the reason; several proposals may be
//! validated at one height and only the decided one commits.

use std::sync::Arc;

use wasmvisor_blockchain::{Blockchain, InvalidBlock};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_storage::MemoryDatabase;

use crate::blocks::{VALIDATORS, genesis, precommits, runtimes, wallet_transaction};

fn node() -> Blockchain {
    Blockchain::genesis(Arc::new(MemoryDatabase::new()), runtimes(), genesis(), None).unwrap()
}

fn all_validators() -> Vec<u8> {
    (0..VALIDATORS).collect()
}

#[test]
fn a_proposal_validates_and_commits_identically_on_another_node() {
    let (mut proposer, mut validator) = (node(), node());
    let transactions = [
        wallet_transaction(&proposer, 1, "a"),
        wallet_transaction(&proposer, 2, "b"),
    ];
    let (pending, value) = proposer.propose(&transactions).unwrap();
    let validated = validator.validate(&value).unwrap();
    assert_eq!(validated.header, pending.header);
    let signatures = precommits(&proposer.chain_id(), 1, &pending.hash, &all_validators());
    let committed = [
        proposer.commit(pending, signatures.clone()).unwrap(),
        validator.commit(validated, signatures).unwrap(),
    ];
    assert_eq!(committed[0], committed[1]);
    assert_eq!(
        proposer.read_fork().state_root().unwrap(),
        validator.read_fork().state_root().unwrap()
    );
}

#[test]
fn proposals_that_do_not_match_their_execution_are_refused_with_the_reason() {
    let (mut proposer, mut validator) = (node(), node());
    let transactions = [wallet_transaction(&proposer, 1, "a")];
    let (_, value) = proposer.propose(&transactions).unwrap();
    let header = BlockHeader::decode(value.header.as_slice()).unwrap();
    let with_header = |header: &BlockHeader| wasmvisor_consensus::Block {
        header: header.encode_to_vec(),
        transactions: value.transactions.clone(),
    };
    let refused = |validator: &mut Blockchain, block: &wasmvisor_consensus::Block| match validator.validate(block) {
        Err(wasmvisor_blockchain::Rejection::Invalid(invalid)) => invalid,
        Err(wasmvisor_blockchain::Rejection::Node(error)) => panic!("not a verdict: {error}"),
        Ok(_) => panic!("the block was accepted"),
    };

    let mut wrong_state = header.clone();
    wrong_state.state_hash[0] ^= 1;
    assert_eq!(
        refused(&mut validator, &with_header(&wrong_state)),
        InvalidBlock("the proposed state root differs from this node's".into())
    );
    let mut wrong_height = header.clone();
    wrong_height.height = 2;
    assert_eq!(
        refused(&mut validator, &with_header(&wrong_height)),
        InvalidBlock("the block is for height 2; the next is 1".into())
    );
    let missing_transaction = wasmvisor_consensus::Block {
        header: value.header.clone(),
        transactions: Vec::new(),
    };
    assert_eq!(
        refused(&mut validator, &missing_transaction),
        InvalidBlock("the proposed transaction root differs from this node's".into())
    );
    let mut forged = value.clone();
    let last = forged.transactions[0].len() - 1;
    forged.transactions[0][last] ^= 1;
    assert!(
        refused(&mut validator, &forged).0.starts_with("transaction 0: "),
        "a transaction that does not verify"
    );
    let garbage = wasmvisor_consensus::Block {
        header: vec![0xff; 8],
        transactions: Vec::new(),
    };
    assert!(
        refused(&mut validator, &garbage)
            .0
            .starts_with("the header does not decode")
    );
    let mut padded = value.header.clone();
    padded.extend([15 << 3, 1]);
    assert_eq!(
        refused(
            &mut validator,
            &wasmvisor_consensus::Block {
                header: padded,
                transactions: value.transactions.clone()
            }
        ),
        InvalidBlock("the header is not canonically encoded".into())
    );

    // More transactions than the consensus configuration allows a block.
    let mut strict = Blockchain::genesis(
        Arc::new(MemoryDatabase::new()),
        runtimes(),
        wasmvisor_dispatcher::GenesisConfig {
            consensus: wasmvisor_proto::blockchain::ConsensusConfig {
                transactions_per_block_max: 1,
                ..genesis().consensus
            },
            ..genesis()
        },
        None,
    )
    .unwrap();
    let two = wasmvisor_consensus::Block {
        header: value.header.clone(),
        transactions: vec![value.transactions[0].clone(); 2],
    };
    assert_eq!(
        refused(&mut strict, &two),
        InvalidBlock("2 transactions; a block holds at most 1".into())
    );

    // Nothing was committed by any of it; the honest proposal still
    // validates.
    assert_eq!(validator.last_header().unwrap().height, 0);
    validator.validate(&value).unwrap();
}

#[test]
fn of_several_proposals_at_a_height_only_the_decided_one_commits() {
    let (mut first, mut second, mut validator) = (node(), node(), node());
    let (transaction_a, transaction_b) = (wallet_transaction(&first, 1, "a"), wallet_transaction(&second, 2, "b"));
    let (_, value_a) = first.propose(std::slice::from_ref(&transaction_a)).unwrap();
    let (decided, value_b) = second.propose(std::slice::from_ref(&transaction_b)).unwrap();
    let pending_a = validator.validate(&value_a).unwrap();
    let pending_b = validator.validate(&value_b).unwrap();
    assert_ne!(pending_a.hash, pending_b.hash);
    drop(pending_a);
    let signatures = precommits(&validator.chain_id(), 1, &pending_b.hash, &all_validators());
    let header = validator.commit(pending_b, signatures.clone()).unwrap();
    assert_eq!(header, second.commit(decided, signatures).unwrap().clone());
    assert_eq!(
        validator.read_fork().state_root().unwrap(),
        second.read_fork().state_root().unwrap(),
        "the decided block's state, not the other proposal's"
    );
    // The undecided proposal's transaction was not committed.
    assert!(!validator.is_committed(&transaction_a.hash).unwrap());
    assert!(validator.is_committed(&transaction_b.hash).unwrap());
}
