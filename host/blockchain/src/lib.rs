//! Signed transactions and committed blocks of wasmvisor.
//!
//! [`Blockchain`] executes blocks of [`VerifiedTransaction`]s through the
//! dispatcher and commits each together with its header (height, previous
//! hash, transaction root, state root, error root), its transactions, their
//! results and its precommits, in one atomic write. The block layer knows
//! nothing of networking: who proposes and who votes is the caller's.

pub mod blocks;
mod chain;
pub mod replay;
pub mod transactions;

pub use chain::{
    BlockError, BlockFill, Blockchain, ChainReader, InvalidBlock, NewBlock, PendingBlock, Rejection, ServiceOutcome,
    block_transactions_max, byzantine_quorum, check_block_size,
};
pub use replay::{BlockLog, ReplayMismatch, ReplayReport, replay};
pub use transactions::{
    TransactionError, VerifiedTransaction, sign, sign_to_size, verify, verify_each, verify_each_unless_signed_checked,
};
pub use wasmvisor_proto::blockchain::{BlockHeader, Precommit};
