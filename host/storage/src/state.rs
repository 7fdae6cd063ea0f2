//! Opening indexes, the state commitment and proofs, on a [`Fork`].
//!
//! The state root is the root of the *state aggregator*: a sparse Merkle
//! tree from each proof index's address to the hash of its kind and root.
//! It is updated lazily, for the proof indexes written since the last
//! update, when the root is asked for and when the fork becomes a patch.

use std::collections::BTreeSet;

use crate::address::{IndexAddress, IndexKind, Namespace, SPACE_AGGREGATOR};
use crate::error::StorageError;
use crate::fork::Fork;
use crate::hash::{EMPTY_HASH, Hash, hash_bytes, index_hash};
use crate::indexes::{EntryIndex, IndexCore, ListIndex, MapIndex, check_key, stored_kind};
use crate::proof::{EntryProof, IndexProof, ListProof, MapProof};
use crate::smt::Smt;

fn aggregator() -> Smt {
    Smt::new(vec![SPACE_AGGREGATOR])
}

/// One exported index: its name, kind and raw keys (relative to the
/// index) with values.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExportedIndex {
    name: String,
    kind: IndexKind,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The raw contents of the indexes of one namespace, independent of the
/// namespace (see [`Fork::export_namespace`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceData {
    indexes: Vec<ExportedIndex>,
}

impl NamespaceData {
    /// Number of indexes.
    pub fn index_count(&self) -> usize {
        self.indexes.len()
    }

    /// Total bytes of keys and values.
    pub fn size(&self) -> usize {
        self.indexes
            .iter()
            .flat_map(|index| &index.entries)
            .map(|(key, value)| key.len() + value.len())
            .sum()
    }
}

impl Fork {
    /// An `Entry` index.
    pub fn entry(&mut self, address: &IndexAddress) -> Result<EntryIndex<'_>, StorageError> {
        EntryIndex::open(self, address, IndexKind::Entry)
    }

    /// A `ProofEntry` index.
    pub fn proof_entry(&mut self, address: &IndexAddress) -> Result<EntryIndex<'_>, StorageError> {
        EntryIndex::open(self, address, IndexKind::ProofEntry)
    }

    /// A `Map` index.
    pub fn map(&mut self, address: &IndexAddress) -> Result<MapIndex<'_>, StorageError> {
        MapIndex::open(self, address, IndexKind::Map)
    }

    /// A `KeySet` index.
    pub fn key_set(&mut self, address: &IndexAddress) -> Result<MapIndex<'_>, StorageError> {
        MapIndex::open(self, address, IndexKind::KeySet)
    }

    /// A `ProofMap` index.
    pub fn proof_map(&mut self, address: &IndexAddress) -> Result<MapIndex<'_>, StorageError> {
        MapIndex::open(self, address, IndexKind::ProofMap)
    }

    /// A `List` index.
    pub fn list(&mut self, address: &IndexAddress) -> Result<ListIndex<'_>, StorageError> {
        ListIndex::open(self, address, IndexKind::List)
    }

    /// A `ProofList` index.
    pub fn proof_list(&mut self, address: &IndexAddress) -> Result<ListIndex<'_>, StorageError> {
        ListIndex::open(self, address, IndexKind::ProofList)
    }

    /// The kind an address is bound to, if the index exists.
    pub fn index_kind(&self, address: &IndexAddress) -> Result<Option<IndexKind>, StorageError> {
        stored_kind(self, address)
    }

    /// Every index of a namespace, in address order.
    pub fn indexes_in(&self, namespace: Namespace) -> Result<Vec<(IndexAddress, IndexKind)>, StorageError> {
        let prefix = namespace.metadata_prefix();
        let mut indexes = Vec::new();
        let mut cursor = prefix.clone();
        while let Some(page) = self.prefix_page(&prefix, &mut cursor, &mut crate::fork::Scan::unlimited())? {
            for (key, value) in page {
                let address = IndexAddress::from_bytes(&key[1..])?;
                let kind = match value.as_slice() {
                    [kind] => IndexKind::from_byte(*kind)?,
                    _ => return Err(StorageError::Corrupt("malformed index metadata".into())),
                };
                indexes.push((address, kind));
            }
        }
        Ok(indexes)
    }

    /// The raw contents of every index of `namespace`: what a data
    /// migration hands from the background fork it ran on to the block
    /// that flushes it.
    pub fn export_namespace(&mut self, namespace: Namespace) -> Result<NamespaceData, StorageError> {
        self.settle_maps(None)?;
        let mut indexes = Vec::new();
        for (address, kind) in self.indexes_in(namespace)? {
            let prefix = address.index_prefix();
            let mut entries = Vec::new();
            for key in self.keys_with_prefix(&prefix)? {
                let value = self.get_raw(&key)?.expect("listed keys exist");
                entries.push((key[prefix.len()..].to_vec(), value));
            }
            indexes.push(ExportedIndex {
                name: address.name().to_owned(),
                kind,
                entries,
            });
        }
        Ok(NamespaceData { indexes })
    }

    /// Writes exported indexes into `namespace`, each replacing the index
    /// of the same name (whose kind, if it exists, must match).
    pub fn import_namespace(&mut self, namespace: Namespace, data: &NamespaceData) -> Result<(), StorageError> {
        for index in &data.indexes {
            let address = IndexAddress::new(namespace, &index.name)?;
            if let Some(existing) = stored_kind(self, &address)?
                && existing != index.kind
            {
                return Err(StorageError::KindMismatch {
                    name: index.name.clone(),
                    existing,
                    requested: index.kind,
                });
            }
            let prefix = address.index_prefix();
            for key in self.keys_with_prefix(&prefix)? {
                self.delete_raw(key);
            }
            for (suffix, value) in &index.entries {
                self.put_raw([prefix.as_slice(), suffix].concat(), value.clone());
            }
            self.put_raw(address.metadata_key(), vec![index.kind as u8]);
            if index.kind.is_proof() {
                self.touched.insert(address);
            }
        }
        Ok(())
    }

    /// Copies every index of `from` into `to` (see [`Fork::import_namespace`]).
    pub fn copy_namespace(&mut self, from: Namespace, to: Namespace) -> Result<(), StorageError> {
        let data = self.export_namespace(from)?;
        self.import_namespace(to, &data)
    }

    /// Removes every index of a namespace.
    pub fn clear_namespace(&mut self, namespace: Namespace) -> Result<(), StorageError> {
        for (address, kind) in self.indexes_in(namespace)? {
            for key in self.keys_with_prefix(&address.index_prefix())? {
                self.delete_raw(key);
            }
            self.delete_raw(address.metadata_key());
            if kind.is_proof() {
                self.touched.insert(address);
            }
        }
        Ok(())
    }

    /// A root over the proof indexes of one namespace (names and roots),
    /// independent of every other namespace: what validators compare after
    /// a data migration.
    pub fn namespace_root(&mut self, namespace: Namespace) -> Result<Hash, StorageError> {
        self.settle_maps(None)?;
        let mut pairs = Vec::new();
        for (address, kind) in self.indexes_in(namespace)? {
            if kind.is_proof() {
                let root = IndexCore::open(self, &address, kind)?.root(self)?;
                pairs.push((hash_bytes(address.name().as_bytes()), index_hash(kind, &root)));
            }
        }
        Ok(crate::smt::smt_root_from_scratch(&pairs))
    }

    /// The root committing to every proof index in the fork's state.
    ///
    /// Marks a checkpoint first (the aggregator must never be rolled back
    /// apart from the indexes it summarizes) and after updating it.
    pub fn state_root(&mut self) -> Result<Hash, StorageError> {
        self.flush();
        let start = self.savepoint();
        let touched = std::mem::take(&mut self.touched);
        if let Err(error) = self.update_aggregator(&touched) {
            // Nothing half-done stays: the writes are undone, and the maps
            // and indexes are left to settle on the next attempt.
            self.rollback_to(start);
            self.touched.extend(touched);
            return Err(error);
        }
        self.flush();
        aggregator().root(self)
    }

    /// Settles every proof map, then brings the aggregator up to date with
    /// the roots of the `touched` indexes.
    fn update_aggregator(&mut self, touched: &BTreeSet<IndexAddress>) -> Result<(), StorageError> {
        self.settle_maps(None)?;
        let mut updates = Vec::with_capacity(touched.len());
        for address in touched {
            let key_hash = hash_bytes(&address.to_bytes());
            let value_hash = match stored_kind(self, address)? {
                None => None,
                Some(kind) => Some(index_hash(kind, &IndexCore::open(self, address, kind)?.root(self)?)),
            };
            updates.push((key_hash, value_hash));
        }
        updates.sort_unstable_by_key(|(key_hash, _)| *key_hash);
        aggregator().apply(self, &updates)
    }

    /// Brings the trees of proof maps (every one, or only `only`) up to
    /// date with the keys written since they last were: each tree takes
    /// its changed keys in one sorted batch (see `Smt::apply`), so a node
    /// many keys share is rewritten once.
    pub(crate) fn settle_maps(&mut self, only: Option<&IndexAddress>) -> Result<(), StorageError> {
        let start = self.savepoint();
        let unsettled = self.take_unsettled(only);
        if let Err(error) = self.apply_unsettled(&unsettled) {
            // A failed read leaves no half-updated tree: its writes are
            // undone and its keys stay unsettled.
            self.rollback_to(start);
            for (address, keys) in unsettled {
                self.unsettled.entry(address).or_default().extend(keys);
            }
            return Err(error);
        }
        self.settled(start, unsettled);
        Ok(())
    }

    fn apply_unsettled(&mut self, unsettled: &[(IndexAddress, BTreeSet<Vec<u8>>)]) -> Result<(), StorageError> {
        for (address, keys) in unsettled {
            // A map removed with its namespace has no tree left to update
            // (and its name may be bound to another kind since).
            if stored_kind(self, address)? != Some(IndexKind::ProofMap) {
                continue;
            }
            let core = IndexCore::open(self, address, IndexKind::ProofMap)?;
            let mut updates = Vec::with_capacity(keys.len());
            for key in keys {
                let value = self.get_raw(&core.data_key(key))?;
                updates.push((hash_bytes(key), value.map(|value| hash_bytes(&value))));
            }
            updates.sort_unstable_by_key(|(key_hash, _)| *key_hash);
            core.smt().apply(self, &updates)?;
        }
        Ok(())
    }

    /// Proof linking the index at `address` (or its absence) to the state root.
    pub fn index_proof(&mut self, address: &IndexAddress) -> Result<IndexProof, StorageError> {
        self.state_root()?;
        let kind = stored_kind(self, address)?;
        let index_root = match kind {
            Some(kind) if kind.is_proof() => IndexCore::open(self, address, kind)?.root(self)?,
            Some(_) => return Err(StorageError::Unsupported("only proof indexes can be proven")),
            None => EMPTY_HASH,
        };
        let aggregator = aggregator().prove(self, &hash_bytes(&address.to_bytes()))?;
        Ok(IndexProof {
            address: address.to_bytes(),
            kind,
            index_root,
            aggregator,
        })
    }

    /// Proof of the value (or absence) of `key` in the proof map at `address`.
    pub fn map_proof(&mut self, address: &IndexAddress, key: &[u8]) -> Result<MapProof, StorageError> {
        check_key(key)?;
        let index = self.index_proof(address)?;
        let core = IndexCore::open(self, address, IndexKind::ProofMap)?;
        let value = self.proof_map(address)?.get(key)?;
        let entry = core.smt().prove(self, &hash_bytes(key))?;
        Ok(MapProof {
            index,
            key: key.to_vec(),
            value,
            entry,
        })
    }

    /// Proof of the value of the proof entry at `address`.
    pub fn entry_proof(&mut self, address: &IndexAddress) -> Result<EntryProof, StorageError> {
        let index = self.index_proof(address)?;
        let value = self.proof_entry(address)?.get()?;
        Ok(EntryProof { index, value })
    }

    /// Proof of the items at positions `from..to` (clamped to the length) of
    /// the proof list at `address`.
    pub fn list_proof(&mut self, address: &IndexAddress, from: u64, to: u64) -> Result<ListProof, StorageError> {
        let index = self.index_proof(address)?;
        let core = IndexCore::open(self, address, IndexKind::ProofList)?;
        let len = core.len(self)?;
        let to = to.min(len);
        let from = from.min(to);
        let fork: &Fork = self;
        let item = |position: u64| core.list_item(fork, position);
        let tree = core.list_tree().prove(fork, len, from, to, &item)?;
        Ok(ListProof {
            index,
            len,
            from,
            to,
            tree,
        })
    }
}
