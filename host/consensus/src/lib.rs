//! wasmvisor's side of the Malachite BFT engine (issue 11, in progress):
//! the engine's [`Context`](malachitebft_core_types::Context) for
//! wasmvisor's blocks and validators ([`context`]), the signing of votes
//! and proposals with validators' consensus keys ([`signing`]), and their
//! wire form, checked when decoded ([`codec`]).
//!
//! Not yet built: the engine's own codec traits over these encodings, the
//! adapter between the engine's application messages and the node
//! (propose from the mempool, validate by executing on a fork, commit the
//! decided block with its certificate), transaction gossip and catch-up.

pub mod codec;
pub mod context;
pub mod signing;

pub use context::{
    Address, Block, BlockId, Height, Proposal, ProposalPart, Validator, ValidatorSet, ValidatorSetError, Vote,
    WasmvisorContext,
};
pub use signing::{ConsensusSigner, ConsensusVerifier};
