//! The Merkle tree of a proof list: a binary tree over the items' hashes,
//! nodes stored by (height u8, index u64 LE). Pushing or setting an item
//! rewrites the nodes on one path.

use crate::error::StorageError;
use crate::fork::Fork;
use crate::hash::{EMPTY_HASH, Hash, list_branch_hash, list_leaf_hash, list_root_hash};
use crate::proof::{ListProofNode, list_height, list_level_count};

pub(crate) struct ListTree {
    node_space: Vec<u8>,
}

impl ListTree {
    pub(crate) fn new(node_space: Vec<u8>) -> Self {
        Self { node_space }
    }

    fn node_key(&self, height: u32, index: u64) -> Vec<u8> {
        let mut key = self.node_space.clone();
        key.push(height as u8);
        key.extend_from_slice(&index.to_le_bytes());
        key
    }

    fn node(&self, fork: &Fork, height: u32, index: u64) -> Result<Hash, StorageError> {
        let bytes = fork
            .get_raw(&self.node_key(height, index))?
            .ok_or_else(|| StorageError::Corrupt(format!("missing list node ({height}, {index})")))?;
        bytes
            .try_into()
            .map_err(|_| StorageError::Corrupt("list node is not 32 bytes".into()))
    }

    /// Records the item at `position` of a list now `len` long and rehashes
    /// its path to the top.
    pub(crate) fn set(&self, fork: &mut Fork, len: u64, position: u64, value: &[u8]) -> Result<(), StorageError> {
        fork.put_raw(self.node_key(0, position), list_leaf_hash(value).to_vec());
        let mut index = position;
        for height in 0..list_height(len) {
            let parent = index / 2;
            let left = self.node(fork, height, 2 * parent)?;
            let right = if 2 * parent + 1 < list_level_count(len, height) {
                Some(self.node(fork, height, 2 * parent + 1)?)
            } else {
                None
            };
            fork.put_raw(
                self.node_key(height + 1, parent),
                list_branch_hash(&left, right.as_ref()).to_vec(),
            );
            index = parent;
        }
        Ok(())
    }

    /// The list's root hash.
    pub(crate) fn root(&self, fork: &Fork, len: u64) -> Result<Hash, StorageError> {
        if len == 0 {
            return Ok(list_root_hash(0, &EMPTY_HASH));
        }
        Ok(list_root_hash(len, &self.node(fork, list_height(len), 0)?))
    }

    /// The tree opened along positions `from..to` (`to <= len`); values of
    /// the opened items come from `item`.
    pub(crate) fn prove(
        &self,
        fork: &Fork,
        len: u64,
        from: u64,
        to: u64,
        item: &dyn Fn(u64) -> Result<Vec<u8>, StorageError>,
    ) -> Result<Option<ListProofNode>, StorageError> {
        if len == 0 {
            return Ok(None);
        }
        self.prove_node(fork, len, list_height(len), 0, from, to, item)
            .map(Some)
    }

    #[allow(clippy::too_many_arguments)]
    fn prove_node(
        &self,
        fork: &Fork,
        len: u64,
        height: u32,
        index: u64,
        from: u64,
        to: u64,
        item: &dyn Fn(u64) -> Result<Vec<u8>, StorageError>,
    ) -> Result<ListProofNode, StorageError> {
        let first = (index as u128) << height;
        let end = ((index as u128) + 1) << height;
        if end <= from as u128 || first >= to as u128 {
            return Ok(ListProofNode::Hash(self.node(fork, height, index)?));
        }
        if height == 0 {
            return Ok(ListProofNode::Leaf(item(index)?));
        }
        let left = self.prove_node(fork, len, height - 1, 2 * index, from, to, item)?;
        let right = if 2 * index + 1 < list_level_count(len, height - 1) {
            Some(Box::new(self.prove_node(
                fork,
                len,
                height - 1,
                2 * index + 1,
                from,
                to,
                item,
            )?))
        } else {
            None
        };
        Ok(ListProofNode::Branch(Box::new(left), right))
    }
}

/// The root of a list of items, computed from scratch by the definition.
/// Used by tests to check the incremental tree.
pub fn list_root_from_scratch(items: &[Vec<u8>]) -> Hash {
    if items.is_empty() {
        return list_root_hash(0, &EMPTY_HASH);
    }
    let mut level: Vec<Hash> = items.iter().map(|item| list_leaf_hash(item)).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| list_branch_hash(&pair[0], pair.get(1)))
            .collect();
    }
    list_root_hash(items.len() as u64, &level[0])
}
