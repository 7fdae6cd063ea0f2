//! The replay oracle: re-executes a stored block log on a fresh chain from
//! the same genesis and checks that every block comes out the same.
//!
//! Determinism is a correctness property of the chain: the same blocks must
//! give the same state root on every node and after every restart. A replay
//! re-verifies each stored transaction, executes each block's transactions
//! in order, compares the header it gets with the stored one (state,
//! transaction and error roots, and the header as a whole), and commits it
//! with the stored precommits, which the fresh chain checks again.

use wasmvisor_proto::blockchain::{BlockHeader, Precommit};
use wasmvisor_storage::{Fork, Hash};

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

/// A block log the oracle can replay: the stored chain of a node (a
/// [`Fork`] of its database) or a recording kept elsewhere.
pub trait BlockLog {
    /// Blocks in the log, the genesis block included.
    fn block_count(&mut self) -> Result<u64, String>;
    /// The header of the block at `height`, if the log has it.
    fn header(&mut self, height: u64) -> Result<Option<BlockHeader>, String>;
    /// The signed transactions of the block at `height` with their hashes,
    /// in block order.
    fn signed_transactions(&mut self, height: u64) -> Result<Vec<(Hash, Vec<u8>)>, String>;
    /// The precommits that committed the block at `height` (none for the
    /// genesis block).
    fn precommits(&mut self, height: u64) -> Result<Vec<Precommit>, String>;
}

impl BlockLog for Fork {
    fn block_count(&mut self) -> Result<u64, String> {
        blocks::block_count(self).map_err(|error| error.to_string())
    }

    fn header(&mut self, height: u64) -> Result<Option<BlockHeader>, String> {
        blocks::header(self, height).map_err(|error| error.to_string())
    }

    fn signed_transactions(&mut self, height: u64) -> Result<Vec<(Hash, Vec<u8>)>, String> {
        blocks::signed_transactions(self, height).map_err(|error| error.to_string())
    }

    fn precommits(&mut self, height: u64) -> Result<Vec<Precommit>, String> {
        Ok(blocks::precommits(self, height)
            .map_err(|error| error.to_string())?
            .map(|stored| stored.precommits)
            .unwrap_or_default())
    }
}

/// Replays every block of `original` on `fresh`, a chain at its genesis
/// block. Stops at the first block that differs.
pub fn replay(original: &mut impl BlockLog, fresh: &mut Blockchain) -> Result<ReplayReport, ReplayMismatch> {
    let mismatch = |height: u64, what: String| ReplayMismatch { height, what };
    let count = original.block_count().map_err(|error| mismatch(0, error))?;
    let genesis = stored_header(original, 0)?;
    let fresh_genesis = fresh.last_header().map_err(|error| mismatch(0, error.to_string()))?;
    if fresh_genesis.height != 0 {
        return Err(mismatch(0, "the fresh chain is not at its genesis block".into()));
    }
    compare(0, &genesis, &fresh_genesis)?;
    let mut transactions = 0;
    for height in 1..count {
        let expected = stored_header(original, height)?;
        let stored = original
            .signed_transactions(height)
            .map_err(|error| mismatch(height, error))?;
        let signed: Vec<Vec<u8>> = stored.iter().map(|(_, signed)| signed.clone()).collect();
        let mut verified = Vec::with_capacity(stored.len());
        for ((hash, _), transaction) in stored.iter().zip(fresh.verify_each(&signed)) {
            let transaction = transaction
                .map_err(|error| mismatch(height, format!("a stored transaction does not verify: {error}")))?;
            if transaction.hash != *hash {
                return Err(mismatch(height, "a stored transaction has another hash".into()));
            }
            verified.push(transaction);
        }
        let precommits = original.precommits(height).map_err(|error| mismatch(height, error))?;
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

fn stored_header(original: &mut impl BlockLog, height: u64) -> Result<BlockHeader, ReplayMismatch> {
    original
        .header(height)
        .map_err(|what| ReplayMismatch { height, what })?
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
