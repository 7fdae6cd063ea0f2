//! Proofs and their standalone verifier.
//!
//! Nothing here touches a database: a light client holding a block header's
//! state root checks a proof with these types alone. Every proof has two
//! parts: the index's part (a key in a proof map, a range of a proof list,
//! a proof entry's value) against the index's root, and an [`IndexProof`]
//! linking that root to the state root through the state aggregator.

use crate::address::{IndexAddress, IndexKind};
use crate::hash::{
    EMPTY_HASH, Hash, entry_hash, hash_bytes, index_hash, list_branch_hash, list_leaf_hash, list_root_hash,
    map_branch_hash, map_leaf_hash,
};
use crate::smt::bit;

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof does not lead to the expected root.
    #[error("the proof does not match the root")]
    RootMismatch,
    /// The proof is for another key, index or range than claimed.
    #[error("the proof is for something else: {0}")]
    WrongSubject(&'static str),
    /// The proof's structure is invalid.
    #[error("malformed proof: {0}")]
    Malformed(&'static str),
}

/// Where the path of a sparse-Merkle-tree proof ends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SmtTerminal {
    /// An empty subtree: the key is absent.
    Empty,
    /// A leaf: the key itself (present) or another key (the key is absent).
    Leaf {
        /// The leaf's key hash.
        #[cfg_attr(feature = "serde", serde(with = "hex_form::hash"))]
        key_hash: Hash,
        /// The leaf's value hash.
        #[cfg_attr(feature = "serde", serde(with = "hex_form::hash"))]
        value_hash: Hash,
    },
}

/// A path in a sparse Merkle tree from the root to where a key is or would
/// be.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SmtProof {
    /// Sibling hashes from the root down.
    #[cfg_attr(feature = "serde", serde(with = "hex_form::hashes"))]
    pub siblings: Vec<Hash>,
    /// Where the path ends.
    pub terminal: SmtTerminal,
}

impl SmtProof {
    /// The root this proof leads to, if it shows that `key_hash` maps to
    /// `value_hash` (`None`: is absent).
    pub fn root_for(&self, key_hash: &Hash, value_hash: Option<&Hash>) -> Result<Hash, ProofError> {
        let depth = self.siblings.len();
        if depth > 256 {
            return Err(ProofError::Malformed("path longer than 256"));
        }
        let mut hash = match (&self.terminal, value_hash) {
            (SmtTerminal::Empty, None) => EMPTY_HASH,
            (SmtTerminal::Empty, Some(_)) => return Err(ProofError::WrongSubject("the key is absent")),
            (
                SmtTerminal::Leaf {
                    key_hash: leaf_key,
                    value_hash: leaf_value,
                },
                Some(expected),
            ) => {
                if leaf_key != key_hash {
                    return Err(ProofError::WrongSubject("the leaf holds another key"));
                }
                if leaf_value != expected {
                    return Err(ProofError::WrongSubject("the leaf holds another value"));
                }
                map_leaf_hash(leaf_key, leaf_value)
            }
            (
                SmtTerminal::Leaf {
                    key_hash: leaf_key,
                    value_hash: leaf_value,
                },
                None,
            ) => {
                if leaf_key == key_hash {
                    return Err(ProofError::WrongSubject("the key is present"));
                }
                // The other leaf must sit where the key would be.
                if (0..depth).any(|level| bit(leaf_key, level) != bit(key_hash, level)) {
                    return Err(ProofError::Malformed("the leaf is off the key's path"));
                }
                map_leaf_hash(leaf_key, leaf_value)
            }
        };
        for level in (0..depth).rev() {
            let sibling = &self.siblings[level];
            hash = if bit(key_hash, level) {
                map_branch_hash(sibling, &hash)
            } else {
                map_branch_hash(&hash, sibling)
            };
        }
        Ok(hash)
    }
}

/// Links one index's root to the state root.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IndexProof {
    /// The index's address bytes ([`IndexAddress::to_bytes`]).
    #[cfg_attr(feature = "serde", serde(with = "hex_form::bytes"))]
    pub address: Vec<u8>,
    /// The index's kind; `None` if the index does not exist.
    pub kind: Option<IndexKind>,
    /// The index's root ([`EMPTY_HASH`] if it does not exist).
    #[cfg_attr(feature = "serde", serde(with = "hex_form::hash"))]
    pub index_root: Hash,
    /// The index's entry (or its absence) in the state aggregator.
    pub aggregator: SmtProof,
}

impl IndexProof {
    /// Checks the proof against `state_root` and returns the index's address.
    pub fn verify(&self, state_root: &Hash) -> Result<IndexAddress, ProofError> {
        let address = IndexAddress::from_bytes(&self.address).map_err(|_| ProofError::Malformed("bad address"))?;
        let value_hash = match self.kind {
            Some(kind) if kind.is_proof() => Some(index_hash(kind, &self.index_root)),
            Some(_) => return Err(ProofError::Malformed("only proof indexes are committed")),
            None if self.index_root == EMPTY_HASH => None,
            None => return Err(ProofError::Malformed("an absent index has no root")),
        };
        let root = self
            .aggregator
            .root_for(&hash_bytes(&self.address), value_hash.as_ref())?;
        if root != *state_root {
            return Err(ProofError::RootMismatch);
        }
        Ok(address)
    }

    fn expect_kind(&self, kind: IndexKind) -> Result<(), ProofError> {
        match self.kind {
            None => Ok(()),
            Some(found) if found == kind => Ok(()),
            Some(_) => Err(ProofError::WrongSubject("the index has another kind")),
        }
    }
}

/// What a verified [`MapProof`] proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenMapEntry<'a> {
    /// The map's address.
    pub address: IndexAddress,
    /// The key.
    pub key: &'a [u8],
    /// Its value, or `None`: the key is absent.
    pub value: Option<&'a [u8]>,
}

/// What a verified [`ListProof`] proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenListRange<'a> {
    /// The list's address.
    pub address: IndexAddress,
    /// The items of the range, with their positions.
    pub items: Vec<(u64, &'a [u8])>,
}

/// Proof that a key of a proof map has a value, or none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MapProof {
    /// The map within the state.
    pub index: IndexProof,
    /// The key.
    #[cfg_attr(feature = "serde", serde(with = "hex_form::bytes"))]
    pub key: Vec<u8>,
    /// The value under the key, or `None` if absent.
    #[cfg_attr(feature = "serde", serde(with = "hex_form::optional_bytes"))]
    pub value: Option<Vec<u8>>,
    /// The key's path in the map's tree.
    pub entry: SmtProof,
}

impl MapProof {
    /// Checks the proof; returns the map's address, the key and its value.
    pub fn verify(&self, state_root: &Hash) -> Result<ProvenMapEntry<'_>, ProofError> {
        self.index.expect_kind(IndexKind::ProofMap)?;
        let value_hash = self.value.as_deref().map(hash_bytes);
        let map_root = self.entry.root_for(&hash_bytes(&self.key), value_hash.as_ref())?;
        if map_root != self.index.index_root {
            return Err(ProofError::RootMismatch);
        }
        let address = self.index.verify(state_root)?;
        Ok(ProvenMapEntry {
            address,
            key: &self.key,
            value: self.value.as_deref(),
        })
    }
}

/// Proof of a proof entry's value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EntryProof {
    /// The entry within the state.
    pub index: IndexProof,
    /// The value, or `None` if the entry is empty.
    #[cfg_attr(feature = "serde", serde(with = "hex_form::optional_bytes"))]
    pub value: Option<Vec<u8>>,
}

impl EntryProof {
    /// Checks the proof; returns the entry's address and value.
    pub fn verify(&self, state_root: &Hash) -> Result<(IndexAddress, Option<&[u8]>), ProofError> {
        self.index.expect_kind(IndexKind::ProofEntry)?;
        if entry_hash(self.value.as_deref()) != self.index.index_root {
            return Err(ProofError::RootMismatch);
        }
        Ok((self.index.verify(state_root)?, self.value.as_deref()))
    }
}

/// A part of a proof list's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum ListProofNode {
    /// A subtree outside the proven range, by its hash.
    Hash(#[cfg_attr(feature = "serde", serde(with = "hex_form::hash"))] Hash),
    /// An item inside the range.
    Leaf(#[cfg_attr(feature = "serde", serde(with = "hex_form::bytes"))] Vec<u8>),
    /// A branch; `right` is absent at the right edge of an odd level.
    Branch(Box<ListProofNode>, Option<Box<ListProofNode>>),
}

/// Proof of the items of a proof list in a range of positions.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ListProof {
    /// The list within the state.
    pub index: IndexProof,
    /// The list's length.
    pub len: u64,
    /// First proven position.
    pub from: u64,
    /// One past the last proven position (clamped to `len`).
    pub to: u64,
    /// The tree, opened along the range; `None` for an empty list.
    pub tree: Option<ListProofNode>,
}

/// Number of tree levels above the leaves for a list of `len` items.
pub(crate) fn list_height(len: u64) -> u32 {
    if len <= 1 { 0 } else { 64 - (len - 1).leading_zeros() }
}

/// Number of nodes at `height` for a list of `len` items.
pub(crate) fn list_level_count(len: u64, height: u32) -> u64 {
    ((len as u128 + (1u128 << height) - 1) >> height) as u64
}

impl ListProof {
    /// Checks the proof; returns the list's address and the proven items
    /// with their positions (exactly the positions `from..to`).
    pub fn verify(&self, state_root: &Hash) -> Result<ProvenListRange<'_>, ProofError> {
        self.index.expect_kind(IndexKind::ProofList)?;
        if self.from > self.to || self.to > self.len {
            return Err(ProofError::Malformed("bad range"));
        }
        let mut items = Vec::new();
        let top = match &self.tree {
            None if self.len == 0 => EMPTY_HASH,
            None => return Err(ProofError::Malformed("a non-empty list needs a tree")),
            Some(tree) => self.node_hash(tree, list_height(self.len), 0, &mut items)?,
        };
        // The range's bounds come from whoever sent the proof: compare the
        // opened positions with it without allocating from it.
        let exactly_the_range = items.len() as u64 == self.to - self.from
            && items
                .iter()
                .zip(self.from..)
                .all(|((position, _), expected)| *position == expected);
        if !exactly_the_range {
            return Err(ProofError::WrongSubject("the proof does not open exactly the range"));
        }
        let list_root = if self.len == 0 {
            list_root_hash(0, &EMPTY_HASH)
        } else {
            list_root_hash(self.len, &top)
        };
        if list_root != self.index.index_root {
            return Err(ProofError::RootMismatch);
        }
        Ok(ProvenListRange {
            address: self.index.verify(state_root)?,
            items,
        })
    }

    fn node_hash<'a>(
        &self,
        node: &'a ListProofNode,
        height: u32,
        index: u64,
        items: &mut Vec<(u64, &'a [u8])>,
    ) -> Result<Hash, ProofError> {
        match node {
            ListProofNode::Hash(hash) => Ok(*hash),
            ListProofNode::Leaf(value) => {
                if height != 0 {
                    return Err(ProofError::Malformed("an item above the leaves"));
                }
                items.push((index, value));
                Ok(list_leaf_hash(value))
            }
            ListProofNode::Branch(left, right) => {
                if height == 0 {
                    return Err(ProofError::Malformed("a branch at the leaves"));
                }
                let left_index = index
                    .checked_mul(2)
                    .ok_or(ProofError::Malformed("a position past the tree"))?;
                let right_index = left_index
                    .checked_add(1)
                    .ok_or(ProofError::Malformed("a position past the tree"))?;
                let right_exists = right_index < list_level_count(self.len, height - 1);
                if right_exists != right.is_some() {
                    return Err(ProofError::Malformed("the branch's shape does not fit the length"));
                }
                let left_hash = self.node_hash(left, height - 1, left_index, items)?;
                let right_hash = match right {
                    Some(right) => Some(self.node_hash(right, height - 1, right_index, items)?),
                    None => None,
                };
                Ok(list_branch_hash(&left_hash, right_hash.as_ref()))
            }
        }
    }
}

/// Serde forms of bytes and hashes as lowercase hex strings.
#[cfg(feature = "serde")]
mod hex_form {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::hash::Hash;

    fn decode<E: serde::de::Error>(text: &str) -> Result<Vec<u8>, E> {
        hex::decode(text).map_err(|error| E::custom(format!("not hex: {error}")))
    }

    fn decode_hash<E: serde::de::Error>(text: &str) -> Result<Hash, E> {
        decode::<E>(text)?
            .try_into()
            .map_err(|_| E::custom("a hash is 32 bytes (64 hex characters)"))
    }

    pub mod hash {
        use super::*;

        pub fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&hex::encode(hash))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
            decode_hash(&String::deserialize(deserializer)?)
        }
    }

    pub mod hashes {
        use super::*;

        pub fn serialize<S: Serializer>(hashes: &[Hash], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(hashes.iter().map(hex::encode))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Hash>, D::Error> {
            let texts = Vec::<String>::deserialize(deserializer)?;
            if texts.len() > 256 {
                return Err(D::Error::custom("a path has at most 256 siblings"));
            }
            texts.iter().map(|text| decode_hash(text)).collect()
        }
    }

    pub mod bytes {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&hex::encode(bytes))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
            decode(&String::deserialize(deserializer)?)
        }
    }

    pub mod optional_bytes {
        use super::*;

        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(bytes) => serializer.serialize_some(&hex::encode(bytes)),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
            Option::<String>::deserialize(deserializer)?
                .map(|text| decode(&text))
                .transpose()
        }
    }
}
