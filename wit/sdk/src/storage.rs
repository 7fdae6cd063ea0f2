//! Typed indexes over the host's scoped storage.
//!
//! An index is addressed by name inside the calling instance's namespace
//! and bound to one kind. Constructing an index value is free: nothing is
//! read or written until a method is called. The `Proof*` kinds enter the
//! block's state root; the plain kinds do not and are cheaper.

use std::marker::PhantomData;

use crate::bindings::wasmvisor::service::storage::{self as host, IndexKind, IndexRef};
use crate::{ExecutionError, StorageKey, StorageValue, storage_failure};

/// The key of entries (which have a single value).
const NO_KEY: &[u8] = &[];

/// How many entries one host `range` call fetches while iterating.
const PAGE_LEN: u32 = 256;

#[derive(Debug, Clone)]
struct RawIndex {
    index: IndexRef,
}

impl RawIndex {
    fn new(name: &str, kind: IndexKind) -> Self {
        Self {
            index: IndexRef {
                name: name.to_owned(),
                kind,
            },
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ExecutionError> {
        host::get(&self.index, key).map_err(storage_failure)
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<(), ExecutionError> {
        host::put(&self.index, key, value).map_err(storage_failure)
    }

    fn remove(&self, key: &[u8]) -> Result<bool, ExecutionError> {
        host::remove(&self.index, key).map_err(storage_failure)
    }

    fn push(&self, value: &[u8]) -> Result<u64, ExecutionError> {
        host::push(&self.index, value).map_err(storage_failure)
    }

    fn len(&self) -> Result<u64, ExecutionError> {
        host::len(&self.index).map_err(storage_failure)
    }

    fn clear(&self) -> Result<(), ExecutionError> {
        host::clear(&self.index).map_err(storage_failure)
    }

    fn range(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        limit: u32,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ExecutionError> {
        host::range(&self.index, from, to, limit).map_err(storage_failure)
    }

    /// Every entry with `from <= key < to`, fetched page by page (a page
    /// may be shorter than asked when its bytes reach the host's limit; the
    /// range is done when a page is empty).
    fn collect_range(
        &self,
        from: Option<Vec<u8>>,
        to: Option<Vec<u8>>,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ExecutionError> {
        let mut entries = Vec::new();
        let mut cursor = from;
        loop {
            let page = self.range(cursor.as_deref(), to.as_deref(), PAGE_LEN)?;
            let Some((last_key, _)) = page.last() else {
                return Ok(entries);
            };
            // The next page starts just after the last key returned.
            let mut next = last_key.clone();
            next.push(0);
            cursor = Some(next);
            entries.extend(page);
        }
    }
}

/// A single optional value. `PROOF = true` is [`ProofEntry`].
#[derive(Debug, Clone)]
pub struct EntryIndex<V, const PROOF: bool> {
    raw: RawIndex,
    _value: PhantomData<V>,
}

/// A single optional value, outside the state commitment.
pub type Entry<V> = EntryIndex<V, false>;
/// A single optional value that enters the state commitment.
pub type ProofEntry<V> = EntryIndex<V, true>;

impl<V: StorageValue, const PROOF: bool> EntryIndex<V, PROOF> {
    /// The entry called `name` in this instance's namespace.
    pub fn new(name: &str) -> Self {
        let kind = if PROOF { IndexKind::ProofEntry } else { IndexKind::Entry };
        Self {
            raw: RawIndex::new(name, kind),
            _value: PhantomData,
        }
    }

    /// The stored value, if any.
    pub fn get(&self) -> Result<Option<V>, ExecutionError> {
        self.raw.get(NO_KEY)?.map(|bytes| V::from_bytes(&bytes)).transpose()
    }

    /// Stores `value`.
    pub fn set(&self, value: &V) -> Result<(), ExecutionError> {
        self.raw.put(NO_KEY, &value.to_bytes())
    }

    /// Removes the value; returns whether there was one.
    pub fn remove(&self) -> Result<bool, ExecutionError> {
        self.raw.remove(NO_KEY)
    }
}

/// An ordered map. `PROOF = true` is [`ProofMap`].
#[derive(Debug, Clone)]
pub struct MapIndex<K, V, const PROOF: bool> {
    raw: RawIndex,
    _types: PhantomData<(K, V)>,
}

/// An ordered map outside the state commitment.
pub type Map<K, V> = MapIndex<K, V, false>;
/// An ordered map whose entries enter the state commitment and can be
/// proven (inclusion and absence) against a block header.
pub type ProofMap<K, V> = MapIndex<K, V, true>;

impl<K: StorageKey, V: StorageValue, const PROOF: bool> MapIndex<K, V, PROOF> {
    /// The map called `name` in this instance's namespace.
    pub fn new(name: &str) -> Self {
        let kind = if PROOF { IndexKind::ProofMap } else { IndexKind::Map };
        Self {
            raw: RawIndex::new(name, kind),
            _types: PhantomData,
        }
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>, ExecutionError> {
        self.raw
            .get(&key.to_key())?
            .map(|bytes| V::from_bytes(&bytes))
            .transpose()
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &K) -> Result<bool, ExecutionError> {
        Ok(self.raw.get(&key.to_key())?.is_some())
    }

    /// Stores `value` under `key`.
    pub fn put(&self, key: &K, value: &V) -> Result<(), ExecutionError> {
        self.raw.put(&key.to_key(), &value.to_bytes())
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&self, key: &K) -> Result<bool, ExecutionError> {
        self.raw.remove(&key.to_key())
    }

    /// Number of entries.
    pub fn len(&self) -> Result<u64, ExecutionError> {
        self.raw.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> Result<bool, ExecutionError> {
        Ok(self.len()? == 0)
    }

    /// Every entry with `from <= key < to`, in key order.
    pub fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>, ExecutionError> {
        self.raw
            .collect_range(from.map(StorageKey::to_key), to.map(StorageKey::to_key))?
            .into_iter()
            .map(|(key, value)| Ok((K::from_key(&key)?, V::from_bytes(&value)?)))
            .collect()
    }

    /// Every entry, in key order.
    pub fn entries(&self) -> Result<Vec<(K, V)>, ExecutionError> {
        self.range(None, None)
    }

    /// At most `count` of the first entries with `from <= key < to`, in key
    /// order, read with one host call (fewer when the host's byte limit on
    /// one answer is reached first).
    pub fn first(&self, from: Option<&K>, to: Option<&K>, count: u32) -> Result<Vec<(K, V)>, ExecutionError> {
        let from = from.map(StorageKey::to_key);
        let to = to.map(StorageKey::to_key);
        self.raw
            .range(from.as_deref(), to.as_deref(), count)?
            .into_iter()
            .map(|(key, value)| Ok((K::from_key(&key)?, V::from_bytes(&value)?)))
            .collect()
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<(), ExecutionError> {
        self.raw.clear()
    }
}

impl<K: StorageKey, const PROOF: bool> MapIndex<K, crate::RawBytes, PROOF> {
    /// Stores the bytes `value` under `key` as they are, without copying
    /// them in the guest first.
    pub fn put_slice(&self, key: &K, value: &[u8]) -> Result<(), ExecutionError> {
        self.raw.put(&key.to_key(), value)
    }
}

/// A list addressed by position. `PROOF = true` is [`ProofList`].
#[derive(Debug, Clone)]
pub struct ListIndex<V, const PROOF: bool> {
    raw: RawIndex,
    _value: PhantomData<V>,
}

/// A list outside the state commitment.
pub type List<V> = ListIndex<V, false>;
/// A list whose items enter the state commitment and can be proven by
/// position ranges.
pub type ProofList<V> = ListIndex<V, true>;

impl<V: StorageValue, const PROOF: bool> ListIndex<V, PROOF> {
    /// The list called `name` in this instance's namespace.
    pub fn new(name: &str) -> Self {
        let kind = if PROOF { IndexKind::ProofList } else { IndexKind::List };
        Self {
            raw: RawIndex::new(name, kind),
            _value: PhantomData,
        }
    }

    /// Number of items.
    pub fn len(&self) -> Result<u64, ExecutionError> {
        self.raw.len()
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> Result<bool, ExecutionError> {
        Ok(self.len()? == 0)
    }

    /// The item at `position`, if the list is that long.
    pub fn get(&self, position: u64) -> Result<Option<V>, ExecutionError> {
        self.raw
            .get(&position.to_le_bytes())?
            .map(|bytes| V::from_bytes(&bytes))
            .transpose()
    }

    /// Appends an item; returns its position.
    pub fn push(&self, value: &V) -> Result<u64, ExecutionError> {
        self.raw.push(&value.to_bytes())
    }

    /// Replaces the item at an existing `position`.
    pub fn set(&self, position: u64, value: &V) -> Result<(), ExecutionError> {
        self.raw.put(&position.to_le_bytes(), &value.to_bytes())
    }

    /// Every item, in order.
    pub fn items(&self) -> Result<Vec<V>, ExecutionError> {
        // List keys are little-endian positions, which do not sort
        // numerically as bytes, so pages advance by position.
        let mut items = Vec::new();
        let mut position = 0u64;
        loop {
            let page = self.raw.range(Some(&position.to_le_bytes()), None, PAGE_LEN)?;
            if page.is_empty() {
                return Ok(items);
            }
            position += page.len() as u64;
            for (_, value) in page {
                items.push(V::from_bytes(&value)?);
            }
        }
    }

    /// Removes every item.
    pub fn clear(&self) -> Result<(), ExecutionError> {
        self.raw.clear()
    }
}

/// An ordered set of keys, outside the state commitment.
#[derive(Debug, Clone)]
pub struct KeySet<K> {
    raw: RawIndex,
    _key: PhantomData<K>,
}

impl<K: StorageKey> KeySet<K> {
    /// The set called `name` in this instance's namespace.
    pub fn new(name: &str) -> Self {
        Self {
            raw: RawIndex::new(name, IndexKind::KeySet),
            _key: PhantomData,
        }
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &K) -> Result<bool, ExecutionError> {
        Ok(self.raw.get(&key.to_key())?.is_some())
    }

    /// Adds `key`.
    pub fn insert(&self, key: &K) -> Result<(), ExecutionError> {
        self.raw.put(&key.to_key(), NO_KEY)
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&self, key: &K) -> Result<bool, ExecutionError> {
        self.raw.remove(&key.to_key())
    }

    /// Number of keys.
    pub fn len(&self) -> Result<u64, ExecutionError> {
        self.raw.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> Result<bool, ExecutionError> {
        Ok(self.len()? == 0)
    }

    /// Every key, in order.
    pub fn keys(&self) -> Result<Vec<K>, ExecutionError> {
        self.raw
            .collect_range(None, None)?
            .into_iter()
            .map(|(key, _)| K::from_key(&key))
            .collect()
    }
}
