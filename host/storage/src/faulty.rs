//! A fault-injecting backend for crash tests.
//!
//! It wraps a [`MemoryDatabase`] standing for the disk and counts every key
//! written. When a merge would pass the configured number of writes, the
//! merge is lost entirely and the database either reports an I/O error
//! ([`FaultMode::Fail`]) or "crashes" ([`FaultMode::Crash`]): every later
//! call fails with [`StorageError::Crashed`] until the test reopens the
//! disk with [`FaultyDatabase::reopen`]. This models a store whose batches
//! are atomic, as RocksDB's write batches with a synced WAL are: a crash
//! at any write position loses at most the batch in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::backend::{Database, Patch, Snapshot};
use crate::error::StorageError;
use crate::memory::MemoryDatabase;

/// What happens when the write budget runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultMode {
    /// The merge fails with an I/O error; the database stays usable.
    Fail,
    /// The merge is lost and the database stops working until reopened.
    Crash,
}

/// A database that fails after a set number of key writes.
#[derive(Debug)]
pub struct FaultyDatabase {
    disk: MemoryDatabase,
    writes_left: AtomicU64,
    writes_made: AtomicU64,
    mode: FaultMode,
    crashed: AtomicBool,
}

impl FaultyDatabase {
    /// A fresh disk that fails once `writes_allowed` keys have been written.
    pub fn new(writes_allowed: u64, mode: FaultMode) -> Self {
        Self::on_disk(MemoryDatabase::new(), writes_allowed, mode)
    }

    fn on_disk(disk: MemoryDatabase, writes_allowed: u64, mode: FaultMode) -> Self {
        Self {
            disk,
            writes_left: AtomicU64::new(writes_allowed),
            writes_made: AtomicU64::new(0),
            mode,
            crashed: AtomicBool::new(false),
        }
    }

    /// Reopens what survived on the disk, as a healthy database.
    pub fn reopen(&self) -> MemoryDatabase {
        self.disk.clone()
    }

    /// Keys written so far by merges that succeeded (the write positions
    /// a run passed).
    pub fn writes_made(&self) -> u64 {
        self.writes_made.load(Ordering::SeqCst)
    }

    /// Whether the database has crashed.
    pub fn has_crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }
}

impl Database for FaultyDatabase {
    fn snapshot(&self) -> Arc<dyn Snapshot> {
        self.disk.snapshot()
    }

    fn merge(&self, patch: Patch) -> Result<(), StorageError> {
        if self.has_crashed() {
            return Err(StorageError::Crashed);
        }
        let writes = patch.len() as u64;
        let left = self.writes_left.load(Ordering::SeqCst);
        if writes > left {
            self.writes_left.store(0, Ordering::SeqCst);
            return match self.mode {
                FaultMode::Fail => Err(StorageError::Backend("injected write failure".into())),
                FaultMode::Crash => {
                    self.crashed.store(true, Ordering::SeqCst);
                    Err(StorageError::Crashed)
                }
            };
        }
        self.writes_left.store(left - writes, Ordering::SeqCst);
        self.writes_made.fetch_add(writes, Ordering::SeqCst);
        self.disk.merge(patch)
    }
}
