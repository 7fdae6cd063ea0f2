//! The pool of verified transactions waiting for a block, and what each
//! one costs it in bytes.

use std::collections::{HashSet, VecDeque};

use wasmvisor_blockchain::VerifiedTransaction;
use wasmvisor_storage::Hash;

/// Bytes a pooled transaction of `signed_bytes` holds at most: its signed
/// form and its decoded arguments (a part of it).
pub fn pooled_bytes(signed_bytes: usize) -> usize {
    signed_bytes.saturating_mul(2)
}

/// The pool of verified transactions waiting for a block, bounded in count
/// and in bytes (`mempool_size_max`, `mempool_bytes_max`).
#[derive(Default)]
pub(crate) struct Mempool {
    pub(crate) queue: VecDeque<VerifiedTransaction>,
    pub(crate) hashes: HashSet<Hash>,
    /// Bytes the queued transactions hold ([`pooled_bytes`] each).
    pub(crate) bytes: usize,
}

impl Mempool {
    /// Removes the transactions `leave` picks (by hash, from the queue and
    /// the hashes alike).
    pub(crate) fn remove_where(&mut self, leave: impl Fn(&Hash) -> bool) {
        let mut freed = 0;
        self.queue.retain(|transaction| {
            let gone = leave(&transaction.hash);
            if gone {
                freed += pooled_bytes(transaction.signed.len());
            }
            !gone
        });
        self.hashes.retain(|hash| !leave(hash));
        self.bytes -= freed;
    }
}
