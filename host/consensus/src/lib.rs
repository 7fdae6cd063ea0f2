//! wasmvisor's side of the Malachite BFT engine: the engine's
//! [`Context`](malachitebft_core_types::Context) for wasmvisor's blocks and
//! validators ([`context`]), the signing of votes, proposals and proposal
//! parts with validators' consensus keys ([`signing`]), and their wire
//! form, checked when decoded ([`codec`]).
//!
//! The engine itself (its network, write-ahead log and sync) and the
//! adapter to the node live in the node crate (`wasmvisor_node::engine`),
//! so nothing below the node links libp2p.

pub mod codec;
pub mod context;
pub mod signing;

pub use context::{
    Address, Block, BlockId, Height, Proposal, ProposalPart, Validator, ValidatorSet, ValidatorSetError, Vote,
    VoteRewrite, WasmvisorContext, install_vote_rewrite,
};
pub use signing::{ConsensusSigner, ConsensusVerifier};
