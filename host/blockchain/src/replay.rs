//! The replay oracle: re-executes a stored block log on a fresh chain from
//! the same genesis and checks that every block comes out the same.
//!
//! Determinism is a correctness property of the chain: the same blocks must
//! give the same state root on every node and after every restart. A replay
//! re-verifies each stored transaction, executes each block's transactions
//! in order, compares the header it gets with the stored one (state,
//! transaction and error roots, and the header as a whole), and commits it
//! with the stored precommits, which the fresh chain checks again.

use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_storage::Fork;

use crate::blocks::{self, block_hash};
use crate::chain::Blockchain;

/// The first block a replay could not reproduce.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("replay diverged at height {height}: {what}")]
pub struct ReplayMismatch {
    /// The first height that differs.
    pub height: u64,
    /// What differs.
    pub what: String,
}

/// What a replay covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    /// Blocks compared, the genesis block included.
    pub blocks: u64,
    /// Transactions re-executed.
    pub transactions: u64,
}

/// Replays every block stored in `original` on `fresh`, a chain at its
/// genesis block. Stops at the first block that differs.
pub fn replay(original: &mut Fork, fresh: &mut Blockchain) -> Result<ReplayReport, ReplayMismatch> {
    let mismatch = |height: u64, what: String| ReplayMismatch { height, what };
    let count = blocks::block_count(original).map_err(|error| mismatch(0, error.to_string()))?;
    let genesis = stored_header(original, 0)?;
    let fresh_genesis = fresh.last_header().map_err(|error| mismatch(0, error.to_string()))?;
    if fresh_genesis.height != 0 {
        return Err(mismatch(0, "the fresh chain is not at its genesis block".into()));
    }
    compare(0, &genesis, &fresh_genesis)?;
    let mut transactions = 0;
    for height in 1..count {
        let expected = stored_header(original, height)?;
        let stored =
            blocks::signed_transactions(original, height).map_err(|error| mismatch(height, error.to_string()))?;
        let mut verified = Vec::with_capacity(stored.len());
        for (hash, signed) in &stored {
            let transaction = fresh
                .verify(signed)
                .map_err(|error| mismatch(height, format!("a stored transaction does not verify: {error}")))?;
            if transaction.hash != *hash {
                return Err(mismatch(height, "a stored transaction has another hash".into()));
            }
            verified.push(transaction);
        }
        let precommits = blocks::precommits(original, height)
            .map_err(|error| mismatch(height, error.to_string()))?
            .map(|stored| stored.precommits)
            .unwrap_or_default();
        let block = fresh
            .execute(&verified)
            .map_err(|error| mismatch(height, format!("the block does not execute: {error}")))?;
        compare(height, &expected, &block.header)?;
        fresh
            .commit(block, precommits)
            .map_err(|error| mismatch(height, format!("the block does not commit: {error}")))?;
        transactions += stored.len() as u64;
    }
    Ok(ReplayReport {
        blocks: count,
        transactions,
    })
}

fn stored_header(original: &mut Fork, height: u64) -> Result<BlockHeader, ReplayMismatch> {
    blocks::header(original, height)
        .map_err(|error| ReplayMismatch {
            height,
            what: error.to_string(),
        })?
        .ok_or_else(|| ReplayMismatch {
            height,
            what: "the original block is missing".into(),
        })
}

fn compare(height: u64, expected: &BlockHeader, replayed: &BlockHeader) -> Result<(), ReplayMismatch> {
    for (what, left, right) in [
        ("state root", &expected.state_hash, &replayed.state_hash),
        ("transaction root", &expected.tx_hash, &replayed.tx_hash),
        ("error root", &expected.error_hash, &replayed.error_hash),
    ] {
        if left != right {
            return Err(ReplayMismatch {
                height,
                what: format!("{what} differs"),
            });
        }
    }
    if block_hash(expected) != block_hash(replayed) {
        return Err(ReplayMismatch {
            height,
            what: "the block hash differs".into(),
        });
    }
    Ok(())
}
