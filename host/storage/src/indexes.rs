//! Indexes: named, typed collections inside a namespace.
//!
//! Open one from a fork (`fork.proof_map(&address)`); opening checks that
//! the name is not bound to another kind, and the first write binds it.
//! Keys and values are bytes; typed wrappers belong to the callers.

use crate::address::{IndexAddress, IndexKind, SUBSPACE_DATA, SUBSPACE_NODES, SUBSPACE_STATE};
use crate::backend::Entries;
use crate::error::StorageError;
use crate::fork::{Fork, Scan, prefix_end};
use crate::hash::{Hash, entry_hash};
use crate::limits::{KEY_BYTES_MAX, RANGE_BYTES_MAX, RANGE_ITEMS_MAX};
use crate::list_tree::ListTree;
use crate::smt::Smt;

pub(crate) fn check_key(key: &[u8]) -> Result<(), StorageError> {
    if key.len() > KEY_BYTES_MAX {
        return Err(StorageError::KeyTooLarge {
            size: key.len(),
            max: KEY_BYTES_MAX,
        });
    }
    Ok(())
}

/// The kind an address is bound to, if the index exists.
pub(crate) fn stored_kind(fork: &Fork, address: &IndexAddress) -> Result<Option<IndexKind>, StorageError> {
    match fork.get_raw(&address.metadata_key())? {
        None => Ok(None),
        Some(bytes) => match bytes.as_slice() {
            [kind] => IndexKind::from_byte(*kind).map(Some),
            _ => Err(StorageError::Corrupt("malformed index metadata".into())),
        },
    }
}

/// What every index kind shares: its address, kind and key prefixes.
#[derive(Debug, Clone)]
pub(crate) struct IndexCore {
    pub(crate) address: IndexAddress,
    pub(crate) kind: IndexKind,
    prefix: Vec<u8>,
}

impl IndexCore {
    pub(crate) fn open(fork: &Fork, address: &IndexAddress, kind: IndexKind) -> Result<Self, StorageError> {
        if let Some(existing) = stored_kind(fork, address)?
            && existing != kind
        {
            return Err(StorageError::KindMismatch {
                name: address.name().to_owned(),
                existing,
                requested: kind,
            });
        }
        Ok(Self {
            address: address.clone(),
            kind,
            prefix: address.index_prefix(),
        })
    }

    fn check_value(&self, value: &[u8]) -> Result<(), StorageError> {
        let max = self.address.value_bytes_max();
        if value.len() > max {
            return Err(StorageError::ValueTooLarge { size: value.len(), max });
        }
        Ok(())
    }

    /// Counts a write of `key` and `value` against the fork's write
    /// budgets (if metered) before it is made.
    fn charge_write(fork: &mut Fork, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        fork.charge_write(key.len() + value.len())
    }

    fn subspace(&self, subspace: u8) -> Vec<u8> {
        let mut key = self.prefix.clone();
        key.push(subspace);
        key
    }

    pub(crate) fn data_key(&self, key: &[u8]) -> Vec<u8> {
        let mut full = self.subspace(SUBSPACE_DATA);
        full.extend_from_slice(key);
        full
    }

    pub(crate) fn smt(&self) -> Smt {
        Smt::new(self.subspace(SUBSPACE_NODES))
    }

    pub(crate) fn list_tree(&self) -> ListTree {
        ListTree::new(self.subspace(SUBSPACE_NODES))
    }

    pub(crate) fn len(&self, fork: &Fork) -> Result<u64, StorageError> {
        match fork.get_raw(&self.subspace(SUBSPACE_STATE))? {
            None => Ok(0),
            Some(bytes) => {
                let array: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("index length is not 8 bytes".into()))?;
                Ok(u64::from_le_bytes(array))
            }
        }
    }

    fn set_len(&self, fork: &mut Fork, len: u64) {
        fork.put_raw(self.subspace(SUBSPACE_STATE), len.to_le_bytes().to_vec());
    }

    /// Binds the name to this kind (first write) and marks a proof index
    /// for the next state-aggregator update.
    fn bind(&self, fork: &mut Fork) -> Result<(), StorageError> {
        if stored_kind(fork, &self.address)?.is_none() {
            fork.put_raw(self.address.metadata_key(), vec![self.kind as u8]);
        }
        if self.kind.is_proof() {
            fork.touched.insert(self.address.clone());
        }
        Ok(())
    }

    /// Data entries with `from <= key < to`, keys without the prefix: at
    /// most `items_max` (and [`RANGE_ITEMS_MAX`]) of them and no more than
    /// `bytes_max` (and [`RANGE_BYTES_MAX`]) bytes, the first entry always.
    fn data_range(
        &self,
        fork: &Fork,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
        scan: &mut Scan,
    ) -> Result<Entries, StorageError> {
        let data_prefix = self.subspace(SUBSPACE_DATA);
        let lower = self.data_key(from.unwrap_or_default());
        let upper = match to {
            Some(to) => Some(self.data_key(to)),
            None => prefix_end(&data_prefix),
        };
        let entries = fork.range_raw(
            &lower,
            upper.as_deref(),
            items_max.min(RANGE_ITEMS_MAX),
            bytes_max.min(RANGE_BYTES_MAX),
            data_prefix.len(),
            scan,
        )?;
        Ok(entries
            .into_iter()
            .map(|(key, value)| (key[data_prefix.len()..].to_vec(), value))
            .collect())
    }

    /// Removes every key of the index (data, tree nodes, length) and keeps
    /// the binding; answers the keys removed. Keys are read a bounded page
    /// at a time, every entry read counts against `scan` (so a clear of an
    /// index larger than `scan` allows fails before going past it), and
    /// each removal is metered as a write.
    ///
    /// A proof map's tree nodes are the exception: which of them are
    /// stored depends on when the tree was last settled (keys written in
    /// this block have none yet), so they are removed unmetered and
    /// unscanned, and what a clear costs depends on the map's contents
    /// alone. They are fewer than twice its keys (a compact tree of `n`
    /// leaves has `n - 1` branches), so the metered work bounds them.
    fn clear(&self, fork: &mut Fork, scan: &mut Scan) -> Result<usize, StorageError> {
        self.bind(fork)?;
        let metered = if self.kind == IndexKind::ProofMap {
            vec![self.subspace(SUBSPACE_DATA), self.subspace(SUBSPACE_STATE)]
        } else {
            vec![self.prefix.clone()]
        };
        let mut removed = 0usize;
        for prefix in metered {
            let mut cursor = prefix.clone();
            while let Some(page) = fork.prefix_page(&prefix, &mut cursor, scan)? {
                for (key, _) in page {
                    Self::charge_write(fork, &key, &[])?;
                    fork.delete_raw(key);
                    removed += 1;
                }
            }
        }
        if self.kind == IndexKind::ProofMap {
            let nodes = self.subspace(SUBSPACE_NODES);
            let mut cursor = nodes.clone();
            while let Some(page) = fork.prefix_page(&nodes, &mut cursor, &mut Scan::unlimited())? {
                for (key, _) in page {
                    fork.delete_raw(key);
                }
            }
        }
        Ok(removed)
    }

    /// The list item at `position`, which must exist.
    pub(crate) fn list_item(&self, fork: &Fork, position: u64) -> Result<Vec<u8>, StorageError> {
        fork.get_raw(&self.data_key(&position.to_be_bytes()))?
            .ok_or_else(|| StorageError::Corrupt(format!("list item {position} is missing")))
    }

    /// The root committed for a proof index (for a proof map, as of its
    /// last settlement: see [`Fork::settle_maps`]).
    pub(crate) fn root(&self, fork: &Fork) -> Result<Hash, StorageError> {
        match self.kind {
            IndexKind::ProofEntry => Ok(entry_hash(fork.get_raw(&self.data_key(&[]))?.as_deref())),
            IndexKind::ProofMap => self.smt().root(fork),
            IndexKind::ProofList => self.list_tree().root(fork, self.len(fork)?),
            _ => Err(StorageError::Unsupported("only proof indexes have a root")),
        }
    }
}

/// An entry (`Entry` or `ProofEntry`): a single optional value.
#[derive(Debug)]
pub struct EntryIndex<'a> {
    fork: &'a mut Fork,
    core: IndexCore,
}

impl<'a> EntryIndex<'a> {
    pub(crate) fn open(fork: &'a mut Fork, address: &IndexAddress, kind: IndexKind) -> Result<Self, StorageError> {
        let core = IndexCore::open(fork, address, kind)?;
        Ok(Self { fork, core })
    }

    /// The value, if any.
    pub fn get(&self) -> Result<Option<Vec<u8>>, StorageError> {
        self.fork.get_raw(&self.core.data_key(&[]))
    }

    /// Stores `value`.
    pub fn set(&mut self, value: &[u8]) -> Result<(), StorageError> {
        self.core.check_value(value)?;
        IndexCore::charge_write(self.fork, &[], value)?;
        self.core.bind(self.fork)?;
        self.fork.put_raw(self.core.data_key(&[]), value.to_vec());
        Ok(())
    }

    /// Removes the value; returns whether there was one.
    pub fn remove(&mut self) -> Result<bool, StorageError> {
        let existed = self.get()?.is_some();
        IndexCore::charge_write(self.fork, &[], &[])?;
        self.core.bind(self.fork)?;
        self.fork.delete_raw(self.core.data_key(&[]));
        Ok(existed)
    }

    /// The committed hash (`ProofEntry` only).
    pub fn root(&self) -> Result<Hash, StorageError> {
        self.core.root(self.fork)
    }
}

/// A map-like index (`Map`, `KeySet` or `ProofMap`): ordered byte keys.
#[derive(Debug)]
pub struct MapIndex<'a> {
    fork: &'a mut Fork,
    core: IndexCore,
}

impl<'a> MapIndex<'a> {
    pub(crate) fn open(fork: &'a mut Fork, address: &IndexAddress, kind: IndexKind) -> Result<Self, StorageError> {
        let core = IndexCore::open(fork, address, kind)?;
        Ok(Self { fork, core })
    }

    /// The value under `key` (for key sets: `Some(empty)` if present).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        check_key(key)?;
        self.fork.get_raw(&self.core.data_key(key))
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> Result<bool, StorageError> {
        Ok(self.get(key)?.is_some())
    }

    /// Stores `value` under `key` (key sets take only empty values).
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        check_key(key)?;
        self.core.check_value(value)?;
        if self.core.kind == IndexKind::KeySet && !value.is_empty() {
            return Err(StorageError::Unsupported("key-set values must be empty"));
        }
        IndexCore::charge_write(self.fork, key, value)?;
        let existed = self.contains(key)?;
        self.core.bind(self.fork)?;
        self.fork.put_raw(self.core.data_key(key), value.to_vec());
        if !existed {
            let len = self.core.len(self.fork)?;
            self.core.set_len(self.fork, len + 1);
        }
        if self.core.kind == IndexKind::ProofMap {
            self.fork.mark_unsettled(&self.core.address, key);
        }
        Ok(())
    }

    /// Puts each of `entries` in order, leaving exactly what as many
    /// [`MapIndex::put`]s would — the same data, length, binding, charged
    /// writes and unsettled keys, and, on an entry that is refused, the
    /// entries before it put and the same error — while binding the index
    /// and updating its length once for them all.
    pub fn put_many<'k>(
        &mut self,
        entries: impl IntoIterator<Item = (&'k [u8], &'k [u8])>,
    ) -> Result<(), StorageError> {
        self.put_entries(entries, false)
    }

    /// [`MapIndex::put_many`] for entries whose keys the caller knows are
    /// absent from the map and distinct from each other (records keyed by
    /// the hashes of transactions the chain has just checked are neither
    /// committed nor repeated, or by a new block's height): it leaves what
    /// `put_many` would without reading whether each key exists, which is a
    /// read of the database for a key that is not there.
    ///
    /// # Correctness
    ///
    /// The caller answers for the precondition: a key present after all
    /// would be counted twice in the map's length, and only debug builds
    /// check.
    pub fn put_many_absent<'k>(
        &mut self,
        entries: impl IntoIterator<Item = (&'k [u8], &'k [u8])>,
    ) -> Result<(), StorageError> {
        self.put_entries(entries, true)
    }

    fn put_entries<'k>(
        &mut self,
        entries: impl IntoIterator<Item = (&'k [u8], &'k [u8])>,
        known_absent: bool,
    ) -> Result<(), StorageError> {
        let mut added = 0u64;
        let mut bound = false;
        let put_each = || -> Result<(), StorageError> {
            for (key, value) in entries {
                check_key(key)?;
                self.core.check_value(value)?;
                if self.core.kind == IndexKind::KeySet && !value.is_empty() {
                    return Err(StorageError::Unsupported("key-set values must be empty"));
                }
                IndexCore::charge_write(self.fork, key, value)?;
                let existed = if known_absent {
                    debug_assert!(!self.contains(key)?, "a key put as absent is present");
                    false
                } else {
                    self.contains(key)?
                };
                if !bound {
                    self.core.bind(self.fork)?;
                    bound = true;
                }
                self.fork.put_raw(self.core.data_key(key), value.to_vec());
                if !existed {
                    added += 1;
                }
                if self.core.kind == IndexKind::ProofMap {
                    self.fork.mark_unsettled(&self.core.address, key);
                }
            }
            Ok(())
        };
        let outcome = put_each();
        if added > 0 {
            let len = self.core.len(self.fork)?;
            self.core.set_len(self.fork, len + added);
        }
        outcome
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool, StorageError> {
        if !self.contains(key)? {
            return Ok(false);
        }
        IndexCore::charge_write(self.fork, key, &[])?;
        self.core.bind(self.fork)?;
        self.fork.delete_raw(self.core.data_key(key));
        let len = self.core.len(self.fork)?;
        self.core.set_len(self.fork, len.saturating_sub(1));
        if self.core.kind == IndexKind::ProofMap {
            self.fork.mark_unsettled(&self.core.address, key);
        }
        Ok(true)
    }

    /// Number of keys.
    pub fn len(&self) -> Result<u64, StorageError> {
        self.core.len(self.fork)
    }

    /// Whether the index has no keys.
    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }

    /// Entries with `from <= key < to`, in key order: at most `items_max`
    /// (and [`RANGE_ITEMS_MAX`]) and no more than [`RANGE_BYTES_MAX`] bytes
    /// of keys and values, the first entry always. A shorter answer does
    /// not mean the range is exhausted: go on after its last key until an
    /// answer is empty.
    pub fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>, items_max: usize) -> Result<Entries, StorageError> {
        let mut scan = Scan::unlimited();
        self.core
            .data_range(self.fork, from, to, items_max, RANGE_BYTES_MAX, &mut scan)
    }

    /// [`MapIndex::range`] with a tighter bound on bytes, examining no more
    /// than `scan` allows (entries passed over count too: removed in the
    /// fork, or shadowed by its changes).
    pub fn range_scanned(
        &self,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
        scan: &mut Scan,
    ) -> Result<Entries, StorageError> {
        self.core.data_range(self.fork, from, to, items_max, bytes_max, scan)
    }

    /// Removes every key.
    pub fn clear(&mut self) -> Result<(), StorageError> {
        self.core.clear(self.fork, &mut Scan::unlimited()).map(drop)
    }

    /// Removes every key, reading no more stored entries (tree nodes
    /// included) than `scan` allows, else failing with
    /// [`StorageError::ScanLimitExceeded`]; answers the keys removed.
    pub fn clear_scanned(&mut self, scan: &mut Scan) -> Result<usize, StorageError> {
        self.core.clear(self.fork, scan)
    }

    /// The root of the map's tree (`ProofMap` only). Brings the tree up to
    /// date with the keys written since it last was.
    pub fn root(&mut self) -> Result<Hash, StorageError> {
        if self.core.kind == IndexKind::ProofMap {
            self.fork.settle_maps(Some(&self.core.address))?;
        }
        self.core.root(self.fork)
    }
}

/// A list (`List` or `ProofList`): values addressed by position.
#[derive(Debug)]
pub struct ListIndex<'a> {
    fork: &'a mut Fork,
    core: IndexCore,
}

impl<'a> ListIndex<'a> {
    pub(crate) fn open(fork: &'a mut Fork, address: &IndexAddress, kind: IndexKind) -> Result<Self, StorageError> {
        let core = IndexCore::open(fork, address, kind)?;
        Ok(Self { fork, core })
    }

    /// Number of items.
    pub fn len(&self) -> Result<u64, StorageError> {
        self.core.len(self.fork)
    }

    /// Whether the list has no items.
    pub fn is_empty(&self) -> Result<bool, StorageError> {
        Ok(self.len()? == 0)
    }

    /// The item at `position`, if the list is that long.
    pub fn get(&self, position: u64) -> Result<Option<Vec<u8>>, StorageError> {
        self.fork.get_raw(&self.core.data_key(&position.to_be_bytes()))
    }

    /// Appends `value`; returns its position.
    pub fn push(&mut self, value: &[u8]) -> Result<u64, StorageError> {
        self.core.check_value(value)?;
        let position = self.len()?;
        IndexCore::charge_write(self.fork, &position.to_be_bytes(), value)?;
        self.core.bind(self.fork)?;
        self.fork
            .put_raw(self.core.data_key(&position.to_be_bytes()), value.to_vec());
        self.core.set_len(self.fork, position + 1);
        if self.core.kind == IndexKind::ProofList {
            self.core.list_tree().set(self.fork, position + 1, position, value)?;
        }
        Ok(position)
    }

    /// Replaces the item at an existing `position`.
    pub fn set(&mut self, position: u64, value: &[u8]) -> Result<(), StorageError> {
        self.core.check_value(value)?;
        let len = self.len()?;
        if position >= len {
            return Err(StorageError::OutOfRange { position, len });
        }
        IndexCore::charge_write(self.fork, &position.to_be_bytes(), value)?;
        self.core.bind(self.fork)?;
        self.fork
            .put_raw(self.core.data_key(&position.to_be_bytes()), value.to_vec());
        if self.core.kind == IndexKind::ProofList {
            self.core.list_tree().set(self.fork, len, position, value)?;
        }
        Ok(())
    }

    /// Items with `from <= position < to`, with their positions: at most
    /// `items_max` (and [`RANGE_ITEMS_MAX`]) and no more than
    /// [`RANGE_BYTES_MAX`] bytes, the first item always (see
    /// [`MapIndex::range`]).
    pub fn range(&self, from: u64, to: Option<u64>, items_max: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        self.range_scanned(from, to, items_max, RANGE_BYTES_MAX, &mut Scan::unlimited())
    }

    /// [`ListIndex::range`] with a tighter bound on bytes, examining no
    /// more than `scan` allows (see [`MapIndex::range_scanned`]).
    pub fn range_scanned(
        &self,
        from: u64,
        to: Option<u64>,
        items_max: usize,
        bytes_max: usize,
        scan: &mut Scan,
    ) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let to_key = to.map(u64::to_be_bytes);
        let entries = self.core.data_range(
            self.fork,
            Some(&from.to_be_bytes()),
            to_key.as_ref().map(|key| &key[..]),
            items_max,
            bytes_max,
            scan,
        )?;
        entries
            .into_iter()
            .map(|(key, value)| {
                let position: [u8; 8] = key
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("list key is not 8 bytes".into()))?;
                Ok((u64::from_be_bytes(position), value))
            })
            .collect()
    }

    /// Removes every item.
    pub fn clear(&mut self) -> Result<(), StorageError> {
        self.core.clear(self.fork, &mut Scan::unlimited()).map(drop)
    }

    /// Removes every item, reading no more than `scan` allows (see
    /// [`MapIndex::clear_scanned`]).
    pub fn clear_scanned(&mut self, scan: &mut Scan) -> Result<usize, StorageError> {
        self.core.clear(self.fork, scan)
    }

    /// The root of the list's tree (`ProofList` only).
    pub fn root(&self) -> Result<Hash, StorageError> {
        self.core.root(self.fork)
    }
}
