//! The in-memory backend, for tests and tools.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use crate::backend::{Change, Database, Entries, Patch, Snapshot, take_page};
use crate::error::StorageError;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// A database held in memory. Snapshots share the map they were taken
/// from; a merge copies it (fine for tests, not for production sizes).
#[derive(Debug, Default, Clone)]
pub struct MemoryDatabase {
    state: Arc<RwLock<Arc<Map>>>,
}

impl MemoryDatabase {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    fn current(&self) -> Arc<Map> {
        Arc::clone(
            &self
                .state
                .read()
                .expect("a lock is poisoned only by a panic, and a panic stops the node"),
        )
    }

    /// The whole current contents, to restore later (cheap: shared).
    pub fn checkpoint(&self) -> MemoryCheckpoint {
        MemoryCheckpoint(self.current())
    }

    /// Replaces the contents with a checkpoint's.
    pub fn restore(&self, checkpoint: &MemoryCheckpoint) {
        *self
            .state
            .write()
            .expect("a lock is poisoned only by a panic, and a panic stops the node") = Arc::clone(&checkpoint.0);
    }

    /// Number of keys stored.
    pub fn key_count(&self) -> usize {
        self.current().len()
    }
}

/// The contents of a [`MemoryDatabase`] at one moment.
#[derive(Debug, Clone)]
pub struct MemoryCheckpoint(Arc<Map>);

/// A snapshot of a [`MemoryDatabase`].
#[derive(Debug, Clone)]
pub struct MemorySnapshot(Arc<Map>);

impl Snapshot for MemorySnapshot {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.0.get(key).cloned())
    }

    fn range(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
    ) -> Result<Entries, StorageError> {
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        let entries = self
            .0
            .range::<[u8], _>((Bound::Included(from), upper))
            .map(|(key, value)| Ok((key.clone(), value.clone())));
        take_page(entries, items_max, bytes_max)
    }
}

impl Database for MemoryDatabase {
    fn snapshot(&self) -> Arc<dyn Snapshot> {
        Arc::new(MemorySnapshot(self.current()))
    }

    fn merge(&self, patch: Patch) -> Result<(), StorageError> {
        let mut state = self
            .state
            .write()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        let mut next = Map::clone(&state);
        for (key, change) in patch.changes {
            match change {
                Change::Put(value) => next.insert(key, value),
                Change::Delete => next.remove(&key),
            };
        }
        *state = Arc::new(next);
        Ok(())
    }
}
