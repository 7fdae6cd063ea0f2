//! Domain-separated blake3 hashing of every committed structure.
//!
//! Each kind of node hashes a distinct one-byte tag first, so no node of one
//! kind can be passed off as another (a leaf as a branch, a list as a map).

/// A 32-byte blake3 hash.
pub type Hash = [u8; 32];

/// The hash of an empty subtree, an empty map, an absent entry.
pub const EMPTY_HASH: Hash = [0; 32];

pub(crate) const TAG_MAP_LEAF: u8 = 0x00;
pub(crate) const TAG_MAP_BRANCH: u8 = 0x01;
pub(crate) const TAG_LIST_LEAF: u8 = 0x02;
pub(crate) const TAG_LIST_BRANCH: u8 = 0x03;
pub(crate) const TAG_LIST_ROOT: u8 = 0x04;
pub(crate) const TAG_ENTRY: u8 = 0x05;
pub(crate) const TAG_INDEX: u8 = 0x06;

fn tagged(tag: u8, parts: &[&[u8]]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[tag]);
    for part in parts {
        hasher.update(part);
    }
    *hasher.finalize().as_bytes()
}

/// Plain blake3 of bytes (keys and values enter trees as their hashes).
pub fn hash_bytes(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

/// A map leaf: one key and its value.
pub fn map_leaf_hash(key_hash: &Hash, value_hash: &Hash) -> Hash {
    tagged(TAG_MAP_LEAF, &[key_hash, value_hash])
}

/// A map branch over two subtrees (either may be [`EMPTY_HASH`]).
pub fn map_branch_hash(left: &Hash, right: &Hash) -> Hash {
    tagged(TAG_MAP_BRANCH, &[left, right])
}

/// A list item.
pub fn list_leaf_hash(value: &[u8]) -> Hash {
    tagged(TAG_LIST_LEAF, &[value])
}

/// A list branch; `right` is absent at the right edge of an odd level.
pub fn list_branch_hash(left: &Hash, right: Option<&Hash>) -> Hash {
    match right {
        Some(right) => tagged(TAG_LIST_BRANCH, &[left, right]),
        None => tagged(TAG_LIST_BRANCH, &[left]),
    }
}

/// A whole list: its length and the top of its tree.
pub fn list_root_hash(len: u64, top: &Hash) -> Hash {
    tagged(TAG_LIST_ROOT, &[&len.to_le_bytes(), top])
}

/// A proof entry holding `value` ([`EMPTY_HASH`] when it holds nothing).
pub fn entry_hash(value: Option<&[u8]>) -> Hash {
    value.map_or(EMPTY_HASH, |value| tagged(TAG_ENTRY, &[value]))
}

/// What the state aggregator stores for one proof index: its kind and root.
pub fn index_hash(kind: crate::IndexKind, root: &Hash) -> Hash {
    tagged(TAG_INDEX, &[&[kind as u8], root])
}
