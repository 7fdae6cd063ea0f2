//! The wire form: every message round-trips, and bytes from the network
//! that are not a well-shaped message are refused with the reason.

use malachitebft_core_types::{NilOrVal, Round, VoteType};
use malachitebft_signing_ed25519::Signature;
use wasmvisor_consensus::codec::{
    BLOCK_TRANSACTIONS_BYTES_MAX, BLOCK_TRANSACTIONS_ITEMS_MAX, CONSENSUS_MESSAGE_BYTES_MAX, DecodeError, decode_block,
    decode_signed_proposal, decode_signed_vote, encode_block, encode_signed_proposal, encode_signed_vote,
};
use wasmvisor_consensus::{Address, Block, BlockId, Height, Proposal, Vote};
use wasmvisor_proto::Message;
use wasmvisor_proto::consensus as proto;

fn block() -> Block {
    Block {
        header: b"header".to_vec(),
        transactions: vec![b"one".to_vec(), b"two".to_vec()],
    }
}

fn signature() -> Signature {
    Signature::from_bytes([3; 64])
}

#[test]
fn every_message_round_trips() {
    let decoded = decode_block(&encode_block(&block())).unwrap();
    assert!(decoded == block() && decoded.same_transactions(&block()));
    // Blocks are the same value when their headers are; their transactions
    // are compared apart.
    let other_transactions = Block {
        transactions: vec![vec![9; 3]],
        ..block()
    };
    assert!(other_transactions == block() && !other_transactions.same_transactions(&block()));
    for (round, value, vote_type) in [
        (Round::new(0), NilOrVal::Nil, VoteType::Prevote),
        (Round::new(7), NilOrVal::Val(BlockId([4; 32])), VoteType::Precommit),
        (Round::Nil, NilOrVal::Val(BlockId([5; 32])), VoteType::Prevote),
    ] {
        let vote = Vote {
            height: Height(9),
            round,
            value,
            vote_type,
            validator: Address([6; 32]),
            extension: None,
        };
        assert_eq!(
            decode_signed_vote(&encode_signed_vote(&vote, &signature())).unwrap(),
            (vote, signature())
        );
    }
    let proposal = Proposal {
        height: Height(2),
        round: Round::new(1),
        value: block(),
        pol_round: Round::Nil,
        validator: Address([8; 32]),
    };
    let decoded = decode_signed_proposal(&encode_signed_proposal(&proposal, &signature())).unwrap();
    assert!(decoded.0.value.same_transactions(&proposal.value));
    assert_eq!(decoded, (proposal, signature()));
}

fn vote(change: impl FnOnce(&mut proto::Vote)) -> Vec<u8> {
    let mut vote = proto::Vote {
        height: 1,
        round: 0,
        vote_type: 1,
        block_id: vec![1; 32],
        validator: vec![2; 32],
    };
    change(&mut vote);
    proto::SignedVote {
        vote: Some(vote),
        signature: vec![3; 64],
    }
    .encode_to_vec()
}

#[test]
fn malformed_messages_are_refused_with_the_reason() {
    let invalid = |bytes: Vec<u8>| decode_signed_vote(&bytes).unwrap_err();
    assert_eq!(
        invalid(vote(|vote| vote.vote_type = 2)),
        DecodeError::Invalid("vote type")
    );
    assert_eq!(
        invalid(vote(|vote| vote.round = -2)),
        DecodeError::Invalid("vote round")
    );
    assert_eq!(
        invalid(vote(|vote| vote.round = i64::from(u32::MAX) + 1)),
        DecodeError::Invalid("vote round")
    );
    assert_eq!(
        invalid(vote(|vote| vote.block_id = vec![1; 31])),
        DecodeError::Invalid("block id")
    );
    assert_eq!(
        invalid(vote(|vote| vote.validator = vec![2; 33])),
        DecodeError::Invalid("validator key")
    );
    let mut short_signature = proto::SignedVote::decode(vote(|_| {}).as_slice()).unwrap();
    short_signature.signature.pop();
    assert_eq!(
        invalid(short_signature.encode_to_vec()),
        DecodeError::Invalid("signature")
    );
    assert_eq!(
        invalid(proto::SignedVote::default().encode_to_vec()),
        DecodeError::Invalid("signed vote: no vote")
    );
    assert!(matches!(invalid(vec![0xff; 16]), DecodeError::Malformed(_)));
    assert_eq!(
        invalid(vec![0; CONSENSUS_MESSAGE_BYTES_MAX + 1]),
        DecodeError::TooLarge {
            size: CONSENSUS_MESSAGE_BYTES_MAX + 1,
            max: CONSENSUS_MESSAGE_BYTES_MAX
        }
    );

    let no_block = proto::SignedProposal {
        proposal: Some(proto::Proposal {
            validator: vec![1; 32],
            ..proto::Proposal::default()
        }),
        signature: vec![3; 64],
    };
    assert_eq!(
        decode_signed_proposal(&no_block.encode_to_vec()).unwrap_err(),
        DecodeError::Invalid("proposal: no block")
    );
    let crowded = proto::Block {
        header: Vec::new(),
        transactions: vec![Vec::new(); BLOCK_TRANSACTIONS_ITEMS_MAX + 1],
    };
    assert_eq!(
        decode_block(&crowded.encode_to_vec()).unwrap_err(),
        DecodeError::Invalid("block: too many transactions")
    );
    let full = vec![vec![0; 1 << 20]; BLOCK_TRANSACTIONS_BYTES_MAX >> 20];
    let at_the_limit = proto::Block {
        header: Vec::new(),
        transactions: full.clone(),
    };
    assert_eq!(
        decode_block(&at_the_limit.encode_to_vec()).unwrap().transactions.len(),
        full.len()
    );
    let mut over = full;
    over.push(vec![0]);
    let over_the_limit = proto::Block {
        header: Vec::new(),
        transactions: over,
    };
    assert_eq!(
        decode_block(&over_the_limit.encode_to_vec()).unwrap_err(),
        DecodeError::Invalid("block: too many bytes of transactions")
    );
}
