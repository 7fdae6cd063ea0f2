//! The wire form of consensus messages (`wit/proto/schemas/consensus.proto`)
//! and their checks when decoded: everything here arrives from other
//! validators over the network, so sizes are checked before decoding and
//! every field against its shape (32-byte keys and block ids, 64-byte
//! signatures, known vote types, rounds in range).

use malachitebft_core_types::{NilOrVal, Round, VoteType};
use malachitebft_signing_ed25519::Signature;
use wasmvisor_proto::Message;
use wasmvisor_proto::consensus as proto;

use crate::context::{Address, Block, BlockId, Height, Proposal, Vote};

pub use wasmvisor_limits::{BLOCK_TRANSACTIONS_BYTES_MAX, BLOCK_TRANSACTIONS_ITEMS_MAX, CONSENSUS_MESSAGE_BYTES_MAX};

/// Why bytes from the network are not a consensus message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`CONSENSUS_MESSAGE_BYTES_MAX`].
    #[error("the message has {size} bytes; the maximum is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not the protobuf message expected.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A field has the wrong shape.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

fn check_size(bytes: &[u8]) -> Result<(), DecodeError> {
    if bytes.len() > CONSENSUS_MESSAGE_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            size: bytes.len(),
            max: CONSENSUS_MESSAGE_BYTES_MAX,
        });
    }
    Ok(())
}

/// Decodes a protobuf message of at most [`CONSENSUS_MESSAGE_BYTES_MAX`] bytes.
pub fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, DecodeError> {
    check_size(bytes)?;
    M::decode(bytes).map_err(|error| DecodeError::Malformed(error.to_string()))
}

/// A round from its wire form (-1 = nil); `what` names the field.
pub fn round_from(value: i64, what: &'static str) -> Result<Round, DecodeError> {
    match value {
        -1 => Ok(Round::Nil),
        0.. => u32::try_from(value)
            .map(Round::new)
            .map_err(|_| DecodeError::Invalid(what)),
        _ => Err(DecodeError::Invalid(what)),
    }
}

/// A 32-byte key or block id; `what` names the field.
pub fn key(bytes: &[u8], what: &'static str) -> Result<[u8; 32], DecodeError> {
    bytes.try_into().map_err(|_| DecodeError::Invalid(what))
}

/// A 64-byte Ed25519 signature.
pub fn signature(bytes: &[u8]) -> Result<Signature, DecodeError> {
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| DecodeError::Invalid("signature"))?;
    Ok(Signature::from_bytes(bytes))
}

/// A block id (32 bytes).
pub fn block_id(bytes: &[u8]) -> Result<BlockId, DecodeError> {
    Ok(BlockId(key(bytes, "block id")?))
}

/// A validator's address: its consensus key (32 bytes).
pub fn address(bytes: &[u8]) -> Result<Address, DecodeError> {
    Ok(Address(key(bytes, "validator key")?))
}

/// A vote type's wire form: 0 prevote, 1 precommit.
pub fn vote_type_to_proto(vote_type: VoteType) -> u32 {
    match vote_type {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    }
}

/// A vote type from its wire form.
pub fn vote_type_from_proto(vote_type: u32) -> Result<VoteType, DecodeError> {
    match vote_type {
        0 => Ok(VoteType::Prevote),
        1 => Ok(VoteType::Precommit),
        _ => Err(DecodeError::Invalid("vote type")),
    }
}

/// What a vote names: a block id, or empty for nil.
pub fn value_id_to_proto(value: &NilOrVal<BlockId>) -> Vec<u8> {
    match value {
        NilOrVal::Nil => Vec::new(),
        NilOrVal::Val(id) => id.0.to_vec(),
    }
}

/// What a vote names, from its wire form (empty: nil).
pub fn value_id_from_proto(bytes: &[u8]) -> Result<NilOrVal<BlockId>, DecodeError> {
    if bytes.is_empty() {
        Ok(NilOrVal::Nil)
    } else {
        block_id(bytes).map(NilOrVal::Val)
    }
}

/// A block's wire form.
pub fn block_to_proto(block: &Block) -> proto::Block {
    proto::Block {
        header: block.header.clone(),
        transactions: block.transactions.clone(),
    }
}

/// A block from its wire form: at most [`BLOCK_TRANSACTIONS_ITEMS_MAX`]
/// transactions of at most [`BLOCK_TRANSACTIONS_BYTES_MAX`] bytes in all.
pub fn block_from_proto(block: proto::Block) -> Result<Block, DecodeError> {
    if block.transactions.len() > BLOCK_TRANSACTIONS_ITEMS_MAX {
        return Err(DecodeError::Invalid("block: too many transactions"));
    }
    if block.transactions.iter().map(Vec::len).sum::<usize>() > BLOCK_TRANSACTIONS_BYTES_MAX {
        return Err(DecodeError::Invalid("block: too many bytes of transactions"));
    }
    Ok(Block {
        header: block.header,
        transactions: block.transactions,
    })
}

/// A vote's wire form (without extension: wasmvisor does not extend votes).
pub fn vote_to_proto(vote: &Vote) -> proto::Vote {
    proto::Vote {
        height: vote.height.0,
        round: vote.round.as_i64(),
        vote_type: vote_type_to_proto(vote.vote_type),
        block_id: value_id_to_proto(&vote.value),
        validator: vote.validator.0.to_vec(),
    }
}

/// A vote from its wire form.
pub fn vote_from_proto(vote: proto::Vote) -> Result<Vote, DecodeError> {
    Ok(Vote {
        height: Height(vote.height),
        round: round_from(vote.round, "vote round")?,
        vote_type: vote_type_from_proto(vote.vote_type)?,
        value: value_id_from_proto(&vote.block_id)?,
        validator: address(&vote.validator)?,
        extension: None,
    })
}

/// A proposal's wire form.
pub fn proposal_to_proto(proposal: &Proposal) -> proto::Proposal {
    proto::Proposal {
        height: proposal.height.0,
        round: proposal.round.as_i64(),
        block: Some(block_to_proto(&proposal.value)),
        pol_round: proposal.pol_round.as_i64(),
        validator: proposal.validator.0.to_vec(),
    }
}

/// A proposal from its wire form.
pub fn proposal_from_proto(proposal: proto::Proposal) -> Result<Proposal, DecodeError> {
    Ok(Proposal {
        height: Height(proposal.height),
        round: round_from(proposal.round, "proposal round")?,
        value: block_from_proto(proposal.block.ok_or(DecodeError::Invalid("proposal: no block"))?)?,
        pol_round: round_from(proposal.pol_round, "proof-of-lock round")?,
        validator: Address(key(&proposal.validator, "proposer key")?),
    })
}

/// Encodes a block for the wire.
pub fn encode_block(block: &Block) -> Vec<u8> {
    block_to_proto(block).encode_to_vec()
}

/// Decodes a block from the wire.
pub fn decode_block(bytes: &[u8]) -> Result<Block, DecodeError> {
    block_from_proto(decode(bytes)?)
}

/// Encodes a signed vote for the wire.
pub fn encode_signed_vote(vote: &Vote, signature: &Signature) -> Vec<u8> {
    signed_vote_to_proto(vote, signature).encode_to_vec()
}

/// A signed vote's wire form.
pub fn signed_vote_to_proto(vote: &Vote, signature: &Signature) -> proto::SignedVote {
    proto::SignedVote {
        vote: Some(vote_to_proto(vote)),
        signature: signature.to_bytes().to_vec(),
    }
}

/// A signed vote from its wire form (the signature is not checked here).
pub fn signed_vote_from_proto(signed: proto::SignedVote) -> Result<(Vote, Signature), DecodeError> {
    let vote = vote_from_proto(signed.vote.ok_or(DecodeError::Invalid("signed vote: no vote"))?)?;
    Ok((vote, signature(&signed.signature)?))
}

/// Decodes a signed vote from the wire (the signature is not checked here).
pub fn decode_signed_vote(bytes: &[u8]) -> Result<(Vote, Signature), DecodeError> {
    signed_vote_from_proto(decode(bytes)?)
}

/// Encodes a signed proposal for the wire.
pub fn encode_signed_proposal(proposal: &Proposal, signature: &Signature) -> Vec<u8> {
    signed_proposal_to_proto(proposal, signature).encode_to_vec()
}

/// A signed proposal's wire form.
pub fn signed_proposal_to_proto(proposal: &Proposal, signature: &Signature) -> proto::SignedProposal {
    proto::SignedProposal {
        proposal: Some(proposal_to_proto(proposal)),
        signature: signature.to_bytes().to_vec(),
    }
}

/// The wire form of a signed proposal as the engine sends it (gossip, its
/// write-ahead log): the block's header only. The proposal part carries the
/// whole block ([`signed_proposal_to_proto`]), so a block crosses the
/// network once; a proposal's signature covers the block's id (the header's
/// hash), which the header alone gives.
pub fn signed_proposal_header_to_proto(proposal: &Proposal, signature: &Signature) -> proto::SignedProposal {
    let mut signed = signed_proposal_to_proto(proposal, signature);
    if let Some(block) = signed.proposal.as_mut().and_then(|proposal| proposal.block.as_mut()) {
        block.transactions.clear();
    }
    signed
}

/// A signed proposal from its wire form (the signature is not checked
/// here).
pub fn signed_proposal_from_proto(signed: proto::SignedProposal) -> Result<(Proposal, Signature), DecodeError> {
    let proposal = proposal_from_proto(
        signed
            .proposal
            .ok_or(DecodeError::Invalid("signed proposal: no proposal"))?,
    )?;
    Ok((proposal, signature(&signed.signature)?))
}

/// Decodes a signed proposal from the wire (the signature is not checked
/// here).
pub fn decode_signed_proposal(bytes: &[u8]) -> Result<(Proposal, Signature), DecodeError> {
    signed_proposal_from_proto(decode(bytes)?)
}
