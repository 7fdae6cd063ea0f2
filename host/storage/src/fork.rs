//! Forks: a snapshot plus changes, with checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use crate::address::IndexAddress;
use crate::backend::{Change, Entries, Patch, Snapshot};
use crate::error::StorageError;
use crate::limits::{FORK_READ_CACHE_BYTES_MAX, SNAPSHOT_PAGE_LEN};

/// A position in a fork's current checkpoint (see [`Fork::savepoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Savepoint(usize);

/// A snapshot plus changes.
///
/// Changes since the last checkpoint can be undone with [`Fork::rollback`];
/// [`Fork::flush`] makes them part of the fork for good. Each transaction
/// and each hook runs between two checkpoints, so an error rolls back only
/// its own changes. A finished fork becomes a [`Patch`] with
/// [`Fork::into_patch`]; a fork that is dropped (a discarded proposal, a read
/// query) leaves no trace.
pub struct Fork {
    snapshot: Arc<dyn Snapshot>,
    overlay: BTreeMap<Vec<u8>, Change>,
    /// Previous overlay values of keys changed since the last checkpoint,
    /// oldest first.
    undo: Vec<(Vec<u8>, Option<Change>)>,
    /// Proof indexes changed since the state aggregator was last updated.
    /// A superset is harmless: recomputing an unchanged index gives the
    /// same hash.
    pub(crate) touched: BTreeSet<IndexAddress>,
    /// Point reads answered by the snapshot. The snapshot never changes,
    /// so an answer stays true for the fork's whole life; the overlay is
    /// always consulted first.
    read_cache: Mutex<ReadCache>,
}

/// Snapshot answers kept by a fork, up to [`FORK_READ_CACHE_BYTES_MAX`].
#[derive(Default)]
struct ReadCache {
    answers: HashMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

impl std::fmt::Debug for Fork {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Fork")
            .field("changes", &self.overlay.len())
            .field("since_checkpoint", &self.undo.len())
            .finish_non_exhaustive()
    }
}

impl Fork {
    /// A fork with no changes over `snapshot`.
    pub fn new(snapshot: Arc<dyn Snapshot>) -> Self {
        Self {
            snapshot,
            overlay: BTreeMap::new(),
            undo: Vec::new(),
            touched: BTreeSet::new(),
            read_cache: Mutex::default(),
        }
    }

    /// Marks a checkpoint: changes so far can no longer be rolled back.
    pub fn flush(&mut self) {
        self.undo.clear();
    }

    /// Discards every change since the last checkpoint.
    pub fn rollback(&mut self) {
        while let Some((key, previous)) = self.undo.pop() {
            match previous {
                Some(change) => self.overlay.insert(key, change),
                None => self.overlay.remove(&key),
            };
        }
    }

    /// A mark inside the current checkpoint, for nested calls: rolling back
    /// to it undoes only what happened after it.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint(self.undo.len())
    }

    /// Undoes every change made since `savepoint` (which must belong to the
    /// current checkpoint; a mark from before a flush undoes nothing).
    pub fn rollback_to(&mut self, savepoint: Savepoint) {
        while self.undo.len() > savepoint.0 {
            let (key, previous) = self.undo.pop().expect("the length was checked");
            match previous {
                Some(change) => self.overlay.insert(key, change),
                None => self.overlay.remove(&key),
            };
        }
    }

    /// Number of keys changed in this fork.
    pub fn change_count(&self) -> usize {
        self.overlay.len()
    }

    /// Finishes the fork: brings the state commitment up to date (see
    /// [`Fork::state_root`]) and returns every change as a patch, including
    /// those since the last checkpoint.
    pub fn into_patch(mut self) -> Result<Patch, StorageError> {
        self.state_root()?;
        Ok(Patch { changes: self.overlay })
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.overlay.get(key) {
            Some(Change::Put(value)) => Ok(Some(value.clone())),
            Some(Change::Delete) => Ok(None),
            None => self.snapshot_get(key),
        }
    }

    /// A snapshot read, answered from the read cache when it was made
    /// before.
    fn snapshot_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        // A panic while holding the lock leaves the map consistent (one
        // insert at a time), so poisoning is ignored.
        let mut cache = self.read_cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(answer) = cache.answers.get(key) {
            return Ok(answer.clone());
        }
        let answer = self.snapshot.get(key)?;
        let size = key.len() + answer.as_ref().map_or(0, Vec::len);
        if cache.bytes + size <= FORK_READ_CACHE_BYTES_MAX {
            cache.bytes += size;
            cache.answers.insert(key.to_vec(), answer.clone());
        }
        Ok(answer)
    }

    fn record(&mut self, key: Vec<u8>, change: Change) {
        let previous = self.overlay.insert(key.clone(), change);
        self.undo.push((key, previous));
    }

    pub(crate) fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record(key, Change::Put(value));
    }

    pub(crate) fn delete_raw(&mut self, key: Vec<u8>) {
        self.record(key, Change::Delete);
    }

    /// Up to `limit` entries with `from <= key < to` as the fork sees them:
    /// its own changes over the snapshot.
    pub(crate) fn range_raw(&self, from: &[u8], to: Option<&[u8]>, limit: usize) -> Result<Entries, StorageError> {
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        let mut overlay = self.overlay.range::<[u8], _>((Bound::Included(from), upper)).peekable();
        let mut page = self.snapshot.range(from, to, SNAPSHOT_PAGE_LEN)?;
        let mut page_position = 0;
        let mut entries = Vec::new();
        while entries.len() < limit {
            if page_position == page.len() && page.len() == SNAPSHOT_PAGE_LEN {
                let mut next = page[page.len() - 1].0.clone();
                next.push(0);
                page = self.snapshot.range(&next, to, SNAPSHOT_PAGE_LEN)?;
                page_position = 0;
            }
            let from_snapshot = page.get(page_position);
            let from_overlay = overlay.peek();
            let take_overlay = match (from_snapshot, from_overlay) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some((snapshot_key, _)), Some((overlay_key, _))) => {
                    if snapshot_key.as_slice() == overlay_key.as_slice() {
                        // The fork's change shadows the snapshot's value.
                        page_position += 1;
                    }
                    snapshot_key.as_slice() >= overlay_key.as_slice()
                }
            };
            if take_overlay {
                let (key, change) = overlay.next().expect("peeked above");
                if let Change::Put(value) = change {
                    entries.push((key.clone(), value.clone()));
                }
            } else {
                entries.push(page[page_position].clone());
                page_position += 1;
            }
        }
        Ok(entries)
    }

    /// Every key starting with `prefix`, as the fork sees them.
    pub(crate) fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let end = prefix_end(prefix);
        let mut keys = Vec::new();
        let mut cursor = prefix.to_vec();
        loop {
            let page = self.range_raw(&cursor, end.as_deref(), SNAPSHOT_PAGE_LEN)?;
            let full = page.len() == SNAPSHOT_PAGE_LEN;
            if let Some((last, _)) = page.last() {
                cursor = last.clone();
                cursor.push(0);
            }
            keys.extend(page.into_iter().map(|(key, _)| key));
            if !full {
                return Ok(keys);
            }
        }
    }
}

/// The smallest key greater than every key starting with `prefix`
/// (`None` if there is none: the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
