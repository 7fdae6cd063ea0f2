//! The database interface every backend implements, and patches.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::StorageError;

/// Key-value pairs in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// A consistent, read-only view of the database at one moment.
pub trait Snapshot: Send + Sync {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;

    /// Entries with `from <= key` and (if given) `key < to`, in key order:
    /// at most `items_max` of them, and no more than `bytes_max` bytes of
    /// keys and values — except that the first entry is answered whatever
    /// its size. An answer shorter than `items_max` does not mean the range
    /// is exhausted; an empty one does.
    fn range(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
    ) -> Result<Entries, StorageError>;
}

/// Takes entries from `entries` while they fit `items_max` and
/// `bytes_max` (the first always does): the paging rule of
/// [`Snapshot::range`], for its implementations.
pub(crate) fn take_page(
    entries: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>>,
    items_max: usize,
    bytes_max: usize,
) -> Result<Entries, StorageError> {
    let mut page = Vec::new();
    let mut bytes = 0usize;
    for entry in entries.take(items_max) {
        let (key, value) = entry?;
        let size = key.len() + value.len();
        if !page.is_empty() && bytes.saturating_add(size) > bytes_max {
            break;
        }
        bytes = bytes.saturating_add(size);
        page.push((key, value));
    }
    Ok(page)
}

/// A database: snapshots to read, patches to write.
pub trait Database: Send + Sync {
    /// A snapshot of the current state.
    fn snapshot(&self) -> Arc<dyn Snapshot>;

    /// Applies `patch` atomically and durably: after `Ok`, a crash loses
    /// nothing of it; after `Err` or a crash during the call, nothing of it
    /// is visible after reopening.
    fn merge(&self, patch: Patch) -> Result<(), StorageError>;
}

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Set the key to this value.
    Put(Vec<u8>),
    /// Remove the key.
    Delete,
}

/// The changes of a finished fork, ready to be merged into the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    pub(crate) changes: BTreeMap<Vec<u8>, Change>,
}

impl Patch {
    /// Number of changed keys.
    pub fn len(&self) -> usize {
        self.changes.len()
    }

    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes, in key order.
    pub fn changes(&self) -> impl Iterator<Item = (&[u8], &Change)> {
        self.changes.iter().map(|(key, change)| (key.as_slice(), change))
    }
}
