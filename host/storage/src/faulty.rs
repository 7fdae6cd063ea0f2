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
//!
//! It also counts every read of its snapshots (a `get` or a `range`), and
//! can make one of them fail with an I/O error
//! ([`FaultyDatabase::failing_read`]), as a disk does that returns a bad
//! sector once.

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
    reads: Arc<Reads>,
}

/// The reads of a database's snapshots, and the one that fails.
#[derive(Debug)]
struct Reads {
    made: AtomicU64,
    /// The read (counted from 0) that fails; `u64::MAX`: none.
    failing: AtomicU64,
}

impl Reads {
    fn next(&self) -> Result<(), StorageError> {
        let read = self.made.fetch_add(1, Ordering::SeqCst);
        if read == self.failing.load(Ordering::SeqCst) {
            return Err(StorageError::Backend(format!("injected failure of read {read}")));
        }
        Ok(())
    }
}

/// A snapshot of the disk whose reads count, and may fail.
struct FaultySnapshot {
    inner: Arc<dyn Snapshot>,
    reads: Arc<Reads>,
}

impl Snapshot for FaultySnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.reads.next()?;
        self.inner.get(key)
    }

    fn range(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
    ) -> Result<crate::backend::Entries, StorageError> {
        self.reads.next()?;
        self.inner.range(from, to, items_max, bytes_max)
    }
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
            reads: Arc::new(Reads {
                made: AtomicU64::new(0),
                failing: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// This database, with read number `read` of its snapshots (counted
    /// from 0 across all of them) failing with an I/O error; the reads
    /// before and after it succeed.
    pub fn failing_read(self, read: u64) -> Self {
        self.reads.failing.store(read, Ordering::SeqCst);
        self
    }

    /// Reads of its snapshots so far (each `get` and each `range`).
    pub fn reads_made(&self) -> u64 {
        self.reads.made.load(Ordering::SeqCst)
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
        Arc::new(FaultySnapshot {
            inner: self.disk.snapshot(),
            reads: Arc::clone(&self.reads),
        })
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
