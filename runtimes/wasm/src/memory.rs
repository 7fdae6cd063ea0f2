//! An in-memory [`InstanceStorage`]: one instance's namespace in ordered
//! maps. Used by tests and tools that run a guest without a database; it
//! implements the contract's index semantics exactly (kinds bound on first
//! write, entry keys empty, list keys as little-endian positions).
//!
//! A `MemoryStorage` is a handle: clones share one namespace, so a caller
//! can keep a clone and inspect the data after handing another to a call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::bindings::{IndexKind, IndexRef, StorageError};
use crate::state::{Entries, InstanceStorage};

#[derive(Debug, Clone)]
struct Index {
    kind: IndexKind,
    /// Lists are stored under big-endian positions so that byte order is
    /// numeric order; the guest sees little-endian positions.
    items: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// One instance's storage, held in memory; clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    namespace: Arc<Mutex<Namespace>>,
}

#[derive(Debug, Default)]
struct Namespace {
    indexes: BTreeMap<String, Index>,
}

fn is_list(kind: IndexKind) -> bool {
    matches!(kind, IndexKind::List | IndexKind::ProofList)
}

fn is_entry(kind: IndexKind) -> bool {
    matches!(kind, IndexKind::Entry | IndexKind::ProofEntry)
}

fn list_position(key: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StorageError::Unsupported("list keys are 8-byte little-endian positions".into()))?;
    Ok(u64::from_le_bytes(bytes))
}

impl MemoryStorage {
    /// An empty namespace.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Namespace> {
        // A panic while holding the lock leaves the maps consistent (every
        // operation mutates them in one step), so poisoning is ignored.
        self.namespace.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Number of indexes that were ever written.
    pub fn index_count(&self) -> usize {
        self.lock().indexes.len()
    }
}

impl Namespace {
    fn existing(&self, index: &IndexRef) -> Result<Option<&Index>, StorageError> {
        match self.indexes.get(&index.name) {
            Some(found) if found.kind != index.kind => Err(StorageError::KindMismatch(index.name.clone())),
            found => Ok(found),
        }
    }

    fn writable(&mut self, index: &IndexRef) -> Result<&mut Index, StorageError> {
        let found = self.indexes.entry(index.name.clone()).or_insert_with(|| Index {
            kind: index.kind,
            items: BTreeMap::new(),
        });
        if found.kind != index.kind {
            return Err(StorageError::KindMismatch(index.name.clone()));
        }
        Ok(found)
    }
}

/// Translates a guest key into the stored key, checking its shape.
fn stored_key(kind: IndexKind, key: &[u8]) -> Result<Vec<u8>, StorageError> {
    if is_list(kind) {
        return Ok(list_position(key)?.to_be_bytes().to_vec());
    }
    if is_entry(kind) && !key.is_empty() {
        return Err(StorageError::Unsupported("entry keys must be empty".into()));
    }
    Ok(key.to_vec())
}

impl InstanceStorage for MemoryStorage {
    fn get(&mut self, index: &IndexRef, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let stored_key = stored_key(index.kind, key)?;
        Ok(self
            .lock()
            .existing(index)?
            .and_then(|found| found.items.get(&stored_key).cloned()))
    }

    fn put(&mut self, index: &IndexRef, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        let stored_key = stored_key(index.kind, key)?;
        if index.kind == IndexKind::KeySet && !value.is_empty() {
            return Err(StorageError::Unsupported("key-set values must be empty".into()));
        }
        let mut namespace = self.lock();
        let found = namespace.writable(index)?;
        if is_list(index.kind) {
            let position = list_position(key)?;
            if position >= found.items.len() as u64 {
                return Err(StorageError::OutOfRange(position));
            }
        }
        found.items.insert(stored_key, value.to_vec());
        Ok(())
    }

    fn remove(&mut self, index: &IndexRef, key: &[u8]) -> Result<bool, StorageError> {
        if is_list(index.kind) {
            return Err(StorageError::Unsupported(
                "list items cannot be removed; use clear".into(),
            ));
        }
        let stored_key = stored_key(index.kind, key)?;
        Ok(self.lock().writable(index)?.items.remove(&stored_key).is_some())
    }

    fn push(&mut self, index: &IndexRef, value: &[u8]) -> Result<u64, StorageError> {
        if !is_list(index.kind) {
            return Err(StorageError::Unsupported("push applies to lists only".into()));
        }
        let mut namespace = self.lock();
        let found = namespace.writable(index)?;
        let position = found.items.len() as u64;
        found.items.insert(position.to_be_bytes().to_vec(), value.to_vec());
        Ok(position)
    }

    fn len(&mut self, index: &IndexRef) -> Result<u64, StorageError> {
        Ok(self.lock().existing(index)?.map_or(0, |found| found.items.len() as u64))
    }

    fn range(
        &mut self,
        index: &IndexRef,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, StorageError> {
        let namespace = self.lock();
        let Some(found) = namespace.existing(index)? else {
            return Ok(Vec::new());
        };
        let lower = from.map(|key| stored_key(index.kind, key)).transpose()?;
        let upper = to.map(|key| stored_key(index.kind, key)).transpose()?;
        let list = is_list(index.kind);
        Ok(found
            .items
            .iter()
            .filter(|(key, _)| lower.as_ref().is_none_or(|lower| *key >= lower))
            .take_while(|(key, _)| upper.as_ref().is_none_or(|upper| *key < upper))
            .take(limit as usize)
            .map(|(key, value)| {
                let guest_key = if list {
                    let position: [u8; 8] = key.as_slice().try_into().expect("list keys are stored as 8 bytes");
                    u64::from_be_bytes(position).to_le_bytes().to_vec()
                } else {
                    key.clone()
                };
                (guest_key, value.clone())
            })
            .collect())
    }

    fn clear(&mut self, index: &IndexRef) -> Result<(), StorageError> {
        self.lock().writable(index)?.items.clear();
        Ok(())
    }
}
