//! wasmvisor's side of the Malachite BFT engine (issue 11, in progress):
//! the engine's [`Context`](malachitebft_core_types::Context) for
//! wasmvisor's blocks and validators ([`context`]), and the signing of
//! votes and proposals with validators' consensus keys ([`signing`]).
//!
//! Not yet built: the codecs for the engine's network and write-ahead log,
//! the adapter between the engine's application messages and the node
//! (propose from the mempool, validate by executing on a fork, commit the
//! decided block with its certificate), transaction gossip and catch-up.

pub mod context;
pub mod signing;

pub use context::{
    Address, Block, BlockId, Height, Proposal, ProposalPart, Validator, ValidatorSet, ValidatorSetError, Vote,
    WasmvisorContext,
};
pub use signing::{ConsensusSigner, ConsensusVerifier};
