//! Signing and verifying consensus messages with a validator's Ed25519
//! consensus key.
//!
//! Every signed message is domain-separated: a tag naming the message kind
//! and version, then the chain id (the genesis block hash), so a vote or a
//! proposal of one chain never verifies on another, then the message's
//! fields in a fixed big-endian layout in which no two messages share
//! bytes. Proposals sign the block id (the header hash, which commits to
//! the transactions' root); the transactions are checked against the
//! header when the block is validated. Validator proofs use the engine's
//! own preimage (`ValidatorProof::signing_bytes`, no prefix), as the
//! engine requires.

use async_trait::async_trait;
use malachitebft_core_types::{NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType};
use malachitebft_signing::{Error, Signer, VerificationResult, Verifier};
use malachitebft_signing_ed25519::{PrivateKey, PublicKey, Signature};

use crate::context::{BlockId, Proposal, ProposalPart, Vote, WasmvisorContext};

const VOTE_TAG: &[u8] = b"wasmvisor/consensus/vote/v1\0";
const PROPOSAL_TAG: &[u8] = b"wasmvisor/consensus/proposal/v1\0";
const EXTENSION_TAG: &[u8] = b"wasmvisor/consensus/extension/v1\0";

fn round_bytes(round: Round) -> [u8; 8] {
    round.as_i64().to_be_bytes()
}

fn value_bytes(value: &NilOrVal<BlockId>, bytes: &mut Vec<u8>) {
    match value {
        NilOrVal::Nil => bytes.push(0),
        NilOrVal::Val(id) => {
            bytes.push(1);
            bytes.extend_from_slice(&id.0);
        }
    }
}

/// The bytes a vote's signature covers.
pub fn vote_sign_bytes(chain_id: &[u8; 32], vote: &Vote) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(VOTE_TAG.len() + 32 + 8 + 8 + 1 + 33 + 32);
    bytes.extend_from_slice(VOTE_TAG);
    bytes.extend_from_slice(chain_id);
    bytes.extend_from_slice(&vote.height.0.to_be_bytes());
    bytes.extend_from_slice(&round_bytes(vote.round));
    bytes.push(match vote.vote_type {
        VoteType::Prevote => 0,
        VoteType::Precommit => 1,
    });
    value_bytes(&vote.value, &mut bytes);
    bytes.extend_from_slice(&vote.validator.0);
    bytes
}

/// The bytes a validator's precommit for block `block_hash` at `height`
/// and `round` covers: a precommit vote's preimage. The chain stores these
/// signatures beside each block, so the engine's commit certificate and
/// the chain's precommits are the same signatures.
pub fn precommit_sign_bytes(
    chain_id: &[u8; 32],
    height: u64,
    round: u32,
    block_hash: &[u8; 32],
    validator: &[u8; 32],
) -> Vec<u8> {
    vote_sign_bytes(
        chain_id,
        &Vote {
            height: crate::context::Height(height),
            round: Round::new(round),
            value: NilOrVal::Val(BlockId(*block_hash)),
            vote_type: VoteType::Precommit,
            validator: crate::context::Address(*validator),
            extension: None,
        },
    )
}

/// The bytes a proposal's signature covers.
pub fn proposal_sign_bytes(chain_id: &[u8; 32], proposal: &Proposal) -> Vec<u8> {
    use malachitebft_core_types::Value;
    let mut bytes = Vec::with_capacity(PROPOSAL_TAG.len() + 32 + 8 + 8 + 8 + 32 + 32);
    bytes.extend_from_slice(PROPOSAL_TAG);
    bytes.extend_from_slice(chain_id);
    bytes.extend_from_slice(&proposal.height.0.to_be_bytes());
    bytes.extend_from_slice(&round_bytes(proposal.round));
    bytes.extend_from_slice(&round_bytes(proposal.pol_round));
    bytes.extend_from_slice(&proposal.value.id().0);
    bytes.extend_from_slice(&proposal.validator.0);
    bytes
}

/// The bytes a vote extension's signature covers (bound to its scope).
pub fn extension_sign_bytes(
    chain_id: &[u8; 32],
    scope: &VoteExtensionScope<WasmvisorContext>,
    extension: &[u8],
) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(EXTENSION_TAG.len() + 32 + 8 + 8 + 32 + 32 + 8 + extension.len());
    bytes.extend_from_slice(EXTENSION_TAG);
    bytes.extend_from_slice(chain_id);
    bytes.extend_from_slice(&scope.height.0.to_be_bytes());
    bytes.extend_from_slice(&round_bytes(scope.round));
    bytes.extend_from_slice(&scope.value_id.0);
    bytes.extend_from_slice(&scope.validator_address.0);
    bytes.extend_from_slice(&(extension.len() as u64).to_be_bytes());
    bytes.extend_from_slice(extension);
    bytes
}

/// Whether `signature` is `public_key`'s over `message` under the rule the
/// chain applies to precommits and transactions (`wasmvisor_signature`:
/// canonical, not small-order keys and `R`, reduced `S`, the cofactored
/// equation). The engine's own keys verify with plain ZIP-215, which also
/// accepts small-order keys and non-canonical encodings; a vote it took
/// that the chain then refused would make a certificate no node can
/// commit.
fn strictly_signed(public_key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
    wasmvisor_signature::verify(public_key.as_bytes(), message, &signature.to_bytes()).is_ok()
}

fn verified(public_key: &PublicKey, message: &[u8], signature: &Signature) -> VerificationResult {
    VerificationResult::from_bool(strictly_signed(public_key, message, signature))
}

/// Verifies consensus messages of one chain (every node needs one).
#[derive(Clone, Debug)]
pub struct ConsensusVerifier {
    chain_id: [u8; 32],
}

impl ConsensusVerifier {
    /// A verifier for the chain whose genesis block hash is `chain_id`.
    pub fn new(chain_id: [u8; 32]) -> Self {
        Self { chain_id }
    }

    /// Whether `part` carries its proposal signed by `public_key`.
    pub fn verify_proposal_part(&self, part: &ProposalPart, public_key: &PublicKey) -> bool {
        strictly_signed(
            public_key,
            &proposal_sign_bytes(&self.chain_id, &part.proposal),
            &part.signature,
        )
    }
}

#[async_trait]
impl Verifier<WasmvisorContext> for ConsensusVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verified(public_key, &vote_sign_bytes(&self.chain_id, vote), signature))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verified(
            public_key,
            &proposal_sign_bytes(&self.chain_id, proposal),
            signature,
        ))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<WasmvisorContext>,
        extension: &Vec<u8>,
        signature: &Signature,
        public_key: &PublicKey,
    ) -> Result<VerificationResult, Error> {
        Ok(verified(
            public_key,
            &extension_sign_bytes(&self.chain_id, scope, extension),
            signature,
        ))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<WasmvisorContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(public_key) = proof.decoded_public_key() else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(verified(&public_key, &proof.preimage(), &proof.signature))
    }
}

/// Signs this validator's consensus messages with its consensus key.
#[derive(Clone)]
pub struct ConsensusSigner {
    key: PrivateKey,
    verifier: ConsensusVerifier,
}

impl ConsensusSigner {
    /// A signer with the validator's consensus key (its 32-byte seed) for
    /// the chain `chain_id`.
    pub fn new(seed: [u8; 32], chain_id: [u8; 32]) -> Self {
        Self {
            key: PrivateKey::from(seed),
            verifier: ConsensusVerifier::new(chain_id),
        }
    }

    /// The public half of the key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> &ConsensusVerifier {
        &self.verifier
    }

    /// `proposal` as a signed proposal part, ready to stream.
    pub fn sign_proposal_part(&self, proposal: Proposal) -> ProposalPart {
        let signature = self.key.sign(&proposal_sign_bytes(&self.verifier.chain_id, &proposal));
        ProposalPart { proposal, signature }
    }
}

#[async_trait]
impl Signer<WasmvisorContext> for ConsensusSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<WasmvisorContext, Vote>, Error> {
        let signature = self.key.sign(&vote_sign_bytes(&self.verifier.chain_id, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(&self, proposal: Proposal) -> Result<SignedMessage<WasmvisorContext, Proposal>, Error> {
        let signature = self.key.sign(&proposal_sign_bytes(&self.verifier.chain_id, &proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<WasmvisorContext>,
        extension: Vec<u8>,
    ) -> Result<SignedMessage<WasmvisorContext, Vec<u8>>, Error> {
        let signature = self
            .key
            .sign(&extension_sign_bytes(&self.verifier.chain_id, &scope, &extension));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<WasmvisorContext>, Error> {
        let signature = self.key.sign(&ValidatorProof::<WasmvisorContext>::signing_bytes(
            &public_key,
            &peer_id,
        ));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}
