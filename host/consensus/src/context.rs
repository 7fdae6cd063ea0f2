//! The consensus types: what the Malachite engine's [`Context`] names.
//!
//! - [`Height`]: a block height (the engine's heights start at 1; the
//!   genesis block is height 0 and never decided).
//! - [`Address`]: a validator's Ed25519 consensus key.
//! - [`Block`]: the value validators agree on — the proposer's block
//!   header (encoded) and its signed transactions; its id, [`BlockId`], is
//!   the block hash (blake3 of the encoded header), the same hash the
//!   chain's precommits name.
//! - [`Vote`], [`Proposal`], [`ProposalPart`], [`Validator`],
//!   [`ValidatorSet`] (from the chain's consensus configuration, one vote
//!   per validator).

use std::fmt;

use malachitebft_core_types::{self as core, LinearTimeouts, NilOrVal, Round, SignedExtension, VoteType, VotingPower};
use malachitebft_signing_ed25519::{Ed25519, PublicKey};
use wasmvisor_proto::blockchain::ConsensusConfig;

/// A block height.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl core::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);

    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }

    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }

    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator: its Ed25519 consensus key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..8] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl core::Address for Address {}

/// A block's identity: blake3 of its encoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub [u8; 32]);

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The value a height decides: a block as its proposer executed it.
///
/// A block is the same value as another when their headers are equal
/// (`==`, ordering and hashing look at the header only): the header commits
/// to the transactions (count and root), its hash is the block's id, and
/// the engine's own proposal messages carry the header alone
/// ([`crate::codec::signed_proposal_header_to_proto`]) while the block
/// travels once, whole, in the proposal part. Whether two blocks also hold
/// the same transactions is [`Block::same_transactions`].
#[derive(Clone, Debug)]
pub struct Block {
    /// The encoded `BlockHeader` (state, transaction and error roots).
    pub header: Vec<u8>,
    /// The block's signed transactions, in order.
    pub transactions: Vec<Vec<u8>>,
}

impl Block {
    /// Whether `other` holds exactly these transactions.
    pub fn same_transactions(&self, other: &Block) -> bool {
        self.transactions == other.transactions
    }

    /// Whether `other` is this block byte for byte: the same header and
    /// the same transactions.
    pub fn identical(&self, other: &Block) -> bool {
        self == other && self.same_transactions(other)
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.header == other.header
    }
}

impl Eq for Block {}

impl PartialOrd for Block {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Block {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.header.cmp(&other.header)
    }
}

impl core::Value for Block {
    type Id = BlockId;

    fn id(&self) -> BlockId {
        BlockId(*blake3::hash(&self.header).as_bytes())
    }
}

/// A prevote or a precommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vote {
    /// The height voted on.
    pub height: Height,
    /// The round voted in.
    pub round: Round,
    /// The block voted for, or nil.
    pub value: NilOrVal<BlockId>,
    /// Prevote or precommit.
    pub vote_type: VoteType,
    /// The voter.
    pub validator: Address,
    /// A signed vote extension (unused by wasmvisor; kept for the engine).
    pub extension: Option<SignedExtension<WasmvisorContext>>,
}

impl core::Vote<WasmvisorContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }

    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }

    fn vote_type(&self) -> VoteType {
        self.vote_type
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }

    fn extension(&self) -> Option<&SignedExtension<WasmvisorContext>> {
        self.extension.as_ref()
    }

    fn take_extension(&mut self) -> Option<SignedExtension<WasmvisorContext>> {
        self.extension.take()
    }

    fn extend(self, extension: SignedExtension<WasmvisorContext>) -> Self {
        Self {
            extension: Some(extension),
            ..self
        }
    }
}

/// A proposer's block for a height and round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    /// The height.
    pub height: Height,
    /// The round.
    pub round: Round,
    /// The proposed block.
    pub value: Block,
    /// The round in which the block was last locked (proof of lock), or nil.
    pub pol_round: Round,
    /// The proposer.
    pub validator: Address,
}

impl core::Proposal<WasmvisorContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }

    fn round(&self) -> Round {
        self.round
    }

    fn value(&self) -> &Block {
        &self.value
    }

    fn take_value(self) -> Block {
        self.value
    }

    fn pol_round(&self) -> Round {
        self.pol_round
    }

    fn validator_address(&self) -> &Address {
        &self.validator
    }
}

/// A streamed piece of a proposal. wasmvisor sends a block whole, so a
/// part is the whole proposal (both the first and the last), with the
/// proposer's signature of it: a receiver knows who proposed a block
/// before it spends the work of executing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalPart {
    /// The proposal.
    pub proposal: Proposal,
    /// Its proposer's signature ([`crate::signing::proposal_sign_bytes`]).
    pub signature: malachitebft_signing_ed25519::Signature,
}

impl core::ProposalPart<WasmvisorContext> for ProposalPart {
    fn is_first(&self) -> bool {
        true
    }

    fn is_last(&self) -> bool {
        true
    }
}

/// A validator with its public key and voting power.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its address (the consensus key's bytes).
    pub address: Address,
    /// Its consensus key.
    pub public_key: PublicKey,
    /// Its voting power.
    pub voting_power: VotingPower,
}

impl core::Validator<WasmvisorContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }

    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of a height, in the consensus configuration's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    validators: Vec<Validator>,
}

/// Why a consensus configuration does not give a validator set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidatorSetError {
    /// No validators.
    #[error("the consensus configuration names no validators")]
    Empty,
    /// A consensus key is not a valid Ed25519 public key.
    #[error("validator {0}'s consensus key is not a valid Ed25519 public key")]
    BadKey(usize),
    /// The same consensus key twice.
    #[error("validator {0}'s consensus key appears twice")]
    Duplicate(usize),
}

impl ValidatorSet {
    /// The validator set a consensus configuration names: one vote each.
    pub fn from_config(config: &ConsensusConfig) -> Result<Self, ValidatorSetError> {
        if config.validator_keys.is_empty() {
            return Err(ValidatorSetError::Empty);
        }
        let mut validators: Vec<Validator> = Vec::with_capacity(config.validator_keys.len());
        for (index, keys) in config.validator_keys.iter().enumerate() {
            let bytes: [u8; 32] = keys
                .consensus_key
                .as_slice()
                .try_into()
                .map_err(|_| ValidatorSetError::BadKey(index))?;
            let public_key = PublicKey::from_bytes(bytes).map_err(|_| ValidatorSetError::BadKey(index))?;
            if validators.iter().any(|validator| validator.address.0 == bytes) {
                return Err(ValidatorSetError::Duplicate(index));
            }
            validators.push(Validator {
                address: Address(bytes),
                public_key,
                voting_power: 1,
            });
        }
        Ok(Self { validators })
    }

    /// The validators, in order.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }
}

impl core::ValidatorSet<WasmvisorContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }

    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|validator| validator.voting_power).sum()
    }

    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators.iter().find(|validator| validator.address == *address)
    }

    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// wasmvisor's context for the engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct WasmvisorContext;

/// What a misbehaving validator puts in its own votes instead of what the
/// consensus rules chose: the Byzantine suite's behaviours that act before
/// a vote is signed (ignoring a lock, forcing a nil precommit), which no
/// network proxy can do. Only the node's test build (feature `byzantine`
/// of `wasmvisor-node`) installs one.
pub trait VoteRewrite: Send + Sync {
    /// The value of this validator's prevote at `height`/`round`.
    fn prevote(&self, height: Height, round: Round, value: NilOrVal<BlockId>) -> NilOrVal<BlockId>;
    /// The value of this validator's precommit at `height`/`round`.
    fn precommit(&self, height: Height, round: Round, value: NilOrVal<BlockId>) -> NilOrVal<BlockId>;
}

/// The installed rewrite and the validator whose votes it rewrites (the
/// engine also builds votes of other validators, to check their
/// signatures: those are left alone).
static VOTE_REWRITE: std::sync::OnceLock<(Address, Box<dyn VoteRewrite>)> = std::sync::OnceLock::new();

/// Installs `rewrite` for the votes of `own` in this process; the first
/// installation stays.
pub fn install_vote_rewrite(own: Address, rewrite: Box<dyn VoteRewrite>) -> Result<(), &'static str> {
    VOTE_REWRITE
        .set((own, rewrite))
        .map_err(|_| "a vote rewrite is already installed")
}

fn own_vote_rewrite(address: &Address) -> Option<&'static dyn VoteRewrite> {
    VOTE_REWRITE
        .get()
        .filter(|(own, _)| own == address)
        .map(|(_, rewrite)| rewrite.as_ref())
}

impl core::Context for WasmvisorContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = Block;
    type Vote = Vote;
    type Extension = Vec<u8>;
    type SigningScheme = Ed25519;

    /// Round-robin: the validator at `(height + round) mod n` proposes, so
    /// every validator proposes in turn and a failed proposer is skipped by
    /// the next round.
    fn select_proposer<'a>(&self, validator_set: &'a ValidatorSet, height: Height, round: Round) -> &'a Validator {
        let count = validator_set.validators.len() as u64;
        assert!(count > 0, "a validator set is never empty (ValidatorSet::from_config)");
        let round = u64::from(round.as_u32().unwrap_or(0));
        let index = height.0.wrapping_add(round) % count;
        &validator_set.validators[index as usize]
    }

    fn new_proposal(&self, height: Height, round: Round, value: Block, pol_round: Round, address: Address) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            validator: address,
        }
    }

    fn new_prevote(&self, height: Height, round: Round, value_id: NilOrVal<BlockId>, address: Address) -> Vote {
        let value_id = match own_vote_rewrite(&address) {
            Some(rewrite) => rewrite.prevote(height, round, value_id),
            None => value_id,
        };
        Vote {
            height,
            round,
            value: value_id,
            vote_type: VoteType::Prevote,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(&self, height: Height, round: Round, value_id: NilOrVal<BlockId>, address: Address) -> Vote {
        let value_id = match own_vote_rewrite(&address) {
            Some(rewrite) => rewrite.precommit(height, round, value_id),
            None => value_id,
        };
        Vote {
            height,
            round,
            value: value_id,
            vote_type: VoteType::Precommit,
            validator: address,
            extension: None,
        }
    }
}
