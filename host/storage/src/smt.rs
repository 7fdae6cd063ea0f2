//! A compact sparse Merkle tree over 256-bit key hashes.
//!
//! The hash of a set `S` of (key hash, value hash) pairs at depth `d`:
//! - `S` empty: [`EMPTY_HASH`];
//! - `S` has one pair: its leaf hash, whatever the depth (single-key
//!   subtrees collapse, so a tree of `n` random keys is ~log2(n) deep);
//! - otherwise: the branch hash of the subsets whose key hashes have bit `d`
//!   clear (left) and set (right).
//!
//! The definition depends only on the set, never on the order of updates,
//! so incremental updates and a from-scratch recomputation agree (the
//! property tests check it). Nodes are stored in the fork under
//! `node_space + depth (u16 LE) + the depth's leading bits of the key hash`.
//! Updates are applied in batches ([`Smt::apply`]): a block's changed keys,
//! sorted, rewrite each node on their paths once, however many of them
//! share it.

use crate::error::StorageError;
use crate::fork::Fork;
use crate::hash::{EMPTY_HASH, Hash, map_branch_hash, map_leaf_hash};
use crate::proof::{SmtProof, SmtTerminal};

const NODE_LEAF: u8 = 0;
const NODE_BRANCH: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Leaf { key_hash: Hash, value_hash: Hash },
    Branch { hash: Hash },
}

impl Node {
    fn hash(&self) -> Hash {
        match self {
            Node::Leaf { key_hash, value_hash } => map_leaf_hash(key_hash, value_hash),
            Node::Branch { hash } => *hash,
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Node::Leaf { key_hash, value_hash } => [&[NODE_LEAF][..], key_hash, value_hash].concat(),
            Node::Branch { hash } => [&[NODE_BRANCH][..], hash].concat(),
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, StorageError> {
        let corrupt = || StorageError::Corrupt("malformed sparse Merkle tree node".into());
        match bytes.split_first() {
            Some((&NODE_LEAF, rest)) if rest.len() == 64 => Ok(Node::Leaf {
                key_hash: rest[..32].try_into().map_err(|_| corrupt())?,
                value_hash: rest[32..].try_into().map_err(|_| corrupt())?,
            }),
            Some((&NODE_BRANCH, rest)) if rest.len() == 32 => Ok(Node::Branch {
                hash: rest.try_into().map_err(|_| corrupt())?,
            }),
            _ => Err(corrupt()),
        }
    }
}

/// Bit `depth` of a key hash, most significant bit first.
pub(crate) fn bit(key_hash: &Hash, depth: usize) -> bool {
    key_hash[depth / 8] & (0x80 >> (depth % 8)) != 0
}

fn flip_bit(key_hash: &Hash, depth: usize) -> Hash {
    let mut flipped = *key_hash;
    flipped[depth / 8] ^= 0x80 >> (depth % 8);
    flipped
}

/// `key_hash` with bit `depth` set to `set`.
fn with_bit(key_hash: &Hash, depth: usize, set: bool) -> Hash {
    if bit(key_hash, depth) == set {
        *key_hash
    } else {
        flip_bit(key_hash, depth)
    }
}

/// A change to a tree: a key hash and its new value hash (`None`: removed).
pub(crate) type Update = (Hash, Option<Hash>);

/// A sparse Merkle tree stored in a fork under one key prefix.
pub(crate) struct Smt {
    node_space: Vec<u8>,
}

impl Smt {
    pub(crate) fn new(node_space: Vec<u8>) -> Self {
        Self { node_space }
    }

    /// Key of the node whose subtree holds the key hashes sharing the first
    /// `depth` bits of `key_hash`.
    fn node_key(&self, key_hash: &Hash, depth: usize) -> Vec<u8> {
        let mut key = self.node_space.clone();
        key.extend_from_slice(&(depth as u16).to_le_bytes());
        let byte_count = depth.div_ceil(8);
        key.extend_from_slice(&key_hash[..byte_count]);
        if !depth.is_multiple_of(8) {
            let last = key.len() - 1;
            key[last] &= 0xff << (8 - depth % 8);
        }
        key
    }

    fn read(&self, fork: &Fork, key_hash: &Hash, depth: usize) -> Result<Option<Node>, StorageError> {
        fork.get_raw(&self.node_key(key_hash, depth))?
            .map(|bytes| Node::decode(&bytes))
            .transpose()
    }

    fn write(&self, fork: &mut Fork, key_hash: &Hash, depth: usize, node: Option<Node>) {
        let key = self.node_key(key_hash, depth);
        match node {
            Some(node) => fork.put_raw(key, node.encode()),
            None => fork.delete_raw(key),
        }
    }

    /// The root hash.
    pub(crate) fn root(&self, fork: &Fork) -> Result<Hash, StorageError> {
        Ok(self.read(fork, &[0; 32], 0)?.map_or(EMPTY_HASH, |node| node.hash()))
    }

    /// Applies `updates` — key hashes in ascending order, each once, with
    /// their new value hashes (`None`: removed) — visiting each node on
    /// their paths once and never reading a subtree no update enters.
    pub(crate) fn apply(&self, fork: &mut Fork, updates: &[Update]) -> Result<(), StorageError> {
        let Some((path, _)) = updates.first() else {
            return Ok(());
        };
        if updates.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
            return Err(StorageError::Corrupt(
                "sparse Merkle tree updates are not in ascending key order".into(),
            ));
        }
        let root = self.read(fork, path, 0)?;
        let new_root = self.apply_at(fork, 0, root, updates)?;
        if new_root != root {
            self.write(fork, path, 0, new_root);
        }
        Ok(())
    }

    /// The new node at `depth` on the path all `updates` share (their first
    /// `depth` bits), where `existing` is stored now; writes every node
    /// below it, leaving this position to the caller.
    fn apply_at(
        &self,
        fork: &mut Fork,
        depth: usize,
        existing: Option<Node>,
        updates: &[Update],
    ) -> Result<Option<Node>, StorageError> {
        let Some(Node::Branch { .. }) = existing else {
            // Nothing is stored below an empty position or a leaf: the
            // subtree is rebuilt from its (few) keys.
            let mut pairs: Vec<(Hash, Hash)> = updates
                .iter()
                .filter_map(|(key_hash, value_hash)| value_hash.map(|value_hash| (*key_hash, value_hash)))
                .collect();
            if let Some(Node::Leaf { key_hash, value_hash }) = existing
                && updates.binary_search_by(|(updated, _)| updated.cmp(&key_hash)).is_err()
            {
                // The stored key stays, unless an update names it.
                let position = pairs.partition_point(|(other, _)| *other < key_hash);
                pairs.insert(position, (key_hash, value_hash));
            }
            return self.build(fork, depth, &pairs);
        };
        if depth >= 256 {
            return Err(StorageError::Corrupt("sparse Merkle tree deeper than 256".into()));
        }
        let (left, right) = updates.split_at(updates.partition_point(|(key_hash, _)| !bit(key_hash, depth)));
        let path = updates[0].0;
        let paths = [with_bit(&path, depth, false), with_bit(&path, depth, true)];
        let mut old = [None, None];
        let mut new = [None, None];
        for (side, side_updates) in [left, right].into_iter().enumerate() {
            old[side] = self.read(fork, &paths[side], depth + 1)?;
            new[side] = if side_updates.is_empty() {
                old[side]
            } else {
                self.apply_at(fork, depth + 1, old[side], side_updates)?
            };
        }
        let node = match new {
            [None, None] => None,
            // One key left in this subtree: it collapses to its leaf here.
            [Some(leaf @ Node::Leaf { .. }), None] | [None, Some(leaf @ Node::Leaf { .. })] => {
                for side in 0..2 {
                    if old[side].is_some() {
                        self.write(fork, &paths[side], depth + 1, None);
                    }
                }
                return Ok(Some(leaf));
            }
            [left, right] => Some(Node::Branch {
                hash: map_branch_hash(
                    &left.map_or(EMPTY_HASH, |node| node.hash()),
                    &right.map_or(EMPTY_HASH, |node| node.hash()),
                ),
            }),
        };
        for side in 0..2 {
            if new[side] != old[side] {
                self.write(fork, &paths[side], depth + 1, new[side]);
            }
        }
        Ok(node)
    }

    /// The node at `depth` of a subtree holding exactly `pairs` (ascending,
    /// sharing their first `depth` bits) where nothing is stored yet;
    /// writes every node below it.
    fn build(&self, fork: &mut Fork, depth: usize, pairs: &[(Hash, Hash)]) -> Result<Option<Node>, StorageError> {
        match pairs {
            [] => Ok(None),
            [(key_hash, value_hash)] => Ok(Some(Node::Leaf {
                key_hash: *key_hash,
                value_hash: *value_hash,
            })),
            _ if depth >= 256 => Err(StorageError::Corrupt("sparse Merkle tree deeper than 256".into())),
            _ => {
                let (left, right) = pairs.split_at(pairs.partition_point(|(key_hash, _)| !bit(key_hash, depth)));
                let mut hashes = [EMPTY_HASH; 2];
                for (side, side_pairs) in [left, right].into_iter().enumerate() {
                    if let Some(node) = self.build(fork, depth + 1, side_pairs)? {
                        hashes[side] = node.hash();
                        self.write(fork, &side_pairs[0].0, depth + 1, Some(node));
                    }
                }
                Ok(Some(Node::Branch {
                    hash: map_branch_hash(&hashes[0], &hashes[1]),
                }))
            }
        }
    }

    /// A proof of the presence or absence of `key_hash`.
    pub(crate) fn prove(&self, fork: &Fork, key_hash: &Hash) -> Result<SmtProof, StorageError> {
        let mut siblings = Vec::new();
        let mut depth = 0;
        loop {
            match self.read(fork, key_hash, depth)? {
                None => {
                    return Ok(SmtProof {
                        siblings,
                        terminal: SmtTerminal::Empty,
                    });
                }
                Some(Node::Leaf { key_hash, value_hash }) => {
                    return Ok(SmtProof {
                        siblings,
                        terminal: SmtTerminal::Leaf { key_hash, value_hash },
                    });
                }
                Some(Node::Branch { .. }) => {
                    let sibling = self.read(fork, &flip_bit(key_hash, depth), depth + 1)?;
                    siblings.push(sibling.map_or(EMPTY_HASH, |node| node.hash()));
                    depth += 1;
                    if depth > 256 {
                        return Err(StorageError::Corrupt("sparse Merkle tree deeper than 256".into()));
                    }
                }
            }
        }
    }
}

/// The root of a set of (key hash, value hash) pairs, computed from scratch
/// by the definition. Used by tests to check the incremental tree.
pub fn smt_root_from_scratch(pairs: &[(Hash, Hash)]) -> Hash {
    fn subtree(pairs: &[&(Hash, Hash)], depth: usize) -> Hash {
        match pairs {
            [] => EMPTY_HASH,
            [(key_hash, value_hash)] => map_leaf_hash(key_hash, value_hash),
            _ => {
                let (right, left): (Vec<_>, Vec<_>) = pairs.iter().partition(|(key_hash, _)| bit(key_hash, depth));
                map_branch_hash(&subtree(&left, depth + 1), &subtree(&right, depth + 1))
            }
        }
    }
    let refs: Vec<&(Hash, Hash)> = pairs.iter().collect();
    subtree(&refs, 0)
}
