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
//! `node_space + depth (u16 LE) + the depth's leading bits of the key hash`,
//! so each update rewrites only the nodes on one path.

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

    /// Sets (`Some`) or removes (`None`) the value hash of `key_hash`.
    pub(crate) fn update(
        &self,
        fork: &mut Fork,
        key_hash: &Hash,
        value_hash: Option<Hash>,
    ) -> Result<(), StorageError> {
        let root = self.update_at(fork, 0, key_hash, value_hash)?;
        self.write(fork, key_hash, 0, root);
        Ok(())
    }

    /// The new node at `depth` on `key_hash`'s path; writes every node below.
    fn update_at(
        &self,
        fork: &mut Fork,
        depth: usize,
        key_hash: &Hash,
        value_hash: Option<Hash>,
    ) -> Result<Option<Node>, StorageError> {
        let new_leaf = value_hash.map(|value_hash| Node::Leaf {
            key_hash: *key_hash,
            value_hash,
        });
        match self.read(fork, key_hash, depth)? {
            None => Ok(new_leaf),
            Some(Node::Leaf { key_hash: existing, .. }) if existing == *key_hash => Ok(new_leaf),
            Some(leaf @ Node::Leaf { key_hash: existing, .. }) => {
                if value_hash.is_none() {
                    // Removing a key that is not there changes nothing.
                    return Ok(Some(leaf));
                }
                // Two keys share this subtree now: push the existing leaf
                // one level down, then treat this node as a branch.
                self.write(fork, &existing, depth + 1, Some(leaf));
                self.update_branch(fork, depth, key_hash, value_hash)
            }
            Some(Node::Branch { .. }) => self.update_branch(fork, depth, key_hash, value_hash),
        }
    }

    fn update_branch(
        &self,
        fork: &mut Fork,
        depth: usize,
        key_hash: &Hash,
        value_hash: Option<Hash>,
    ) -> Result<Option<Node>, StorageError> {
        let child = self.update_at(fork, depth + 1, key_hash, value_hash)?;
        let sibling_path = flip_bit(key_hash, depth);
        let sibling = self.read(fork, &sibling_path, depth + 1)?;
        let node = match (child, sibling) {
            (None, None) => None,
            // One key left in this subtree: it collapses to its leaf here.
            (Some(leaf @ Node::Leaf { .. }), None) => {
                self.write(fork, key_hash, depth + 1, None);
                return Ok(Some(leaf));
            }
            (None, Some(leaf @ Node::Leaf { .. })) => {
                // Both children's nodes go: the emptied one and the leaf
                // that moves up.
                self.write(fork, key_hash, depth + 1, None);
                self.write(fork, &sibling_path, depth + 1, None);
                return Ok(Some(leaf));
            }
            (child, sibling) => {
                let child_hash = child.map_or(EMPTY_HASH, |node| node.hash());
                let sibling_hash = sibling.map_or(EMPTY_HASH, |node| node.hash());
                let hash = if bit(key_hash, depth) {
                    map_branch_hash(&sibling_hash, &child_hash)
                } else {
                    map_branch_hash(&child_hash, &sibling_hash)
                };
                Some(Node::Branch { hash })
            }
        };
        self.write(fork, key_hash, depth + 1, child);
        Ok(node)
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
