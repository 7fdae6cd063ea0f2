//! Index addresses and the key layout.
//!
//! # Key layout (one RocksDB keyspace, default column family)
//!
//! | prefix | rest | value |
//! | --- | --- | --- |
//! | `0x00` | address bytes | index metadata: kind (1 byte) |
//! | `0x01` | index prefix (16 bytes), `0x00`, user key | user value |
//! | `0x01` | index prefix, `0x01`, node key | merkle node of a proof index |
//! | `0x01` | index prefix, `0x02` | index state: length, u64 LE |
//! | `0x02` | node key | node of the state aggregator |
//!
//! The index prefix is the first 16 bytes of blake3(address bytes): fixed
//! width, so all keys of one index are contiguous. Address bytes are the
//! namespace (tag byte, then a u32 LE instance id for service namespaces),
//! the name length (1 byte) and the name. Integers are little-endian
//! everywhere except list positions inside user-key space, which are
//! big-endian so that byte order is numeric order.

use crate::error::StorageError;
use crate::limits::{INDEX_NAME_BYTES_MAX, RECORD_VALUE_BYTES_MAX, SERVICE_VALUE_BYTES_MAX};

pub(crate) const SPACE_METADATA: u8 = 0x00;
pub(crate) const SPACE_INDEX: u8 = 0x01;
pub(crate) const SPACE_AGGREGATOR: u8 = 0x02;

pub(crate) const SUBSPACE_DATA: u8 = 0x00;
pub(crate) const SUBSPACE_NODES: u8 = 0x01;
pub(crate) const SUBSPACE_STATE: u8 = 0x02;

/// Who owns an index. A service reaches only its own namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Namespace {
    /// Blocks, transactions, the consensus configuration.
    Core,
    /// The dispatcher's artifact and instance registries.
    Dispatcher,
    /// The data of one service instance.
    Service(u32),
    /// The shadow namespace of a data migration of one instance.
    Migration(u32),
}

impl Namespace {
    fn encode_into(self, bytes: &mut Vec<u8>) {
        match self {
            Namespace::Core => bytes.push(0),
            Namespace::Dispatcher => bytes.push(1),
            Namespace::Service(id) => {
                bytes.push(2);
                bytes.extend_from_slice(&id.to_le_bytes());
            }
            Namespace::Migration(id) => {
                bytes.push(3);
                bytes.extend_from_slice(&id.to_le_bytes());
            }
        }
    }

    /// Metadata-key prefix of every index in this namespace.
    pub(crate) fn metadata_prefix(self) -> Vec<u8> {
        let mut bytes = vec![SPACE_METADATA];
        self.encode_into(&mut bytes);
        bytes
    }
}

/// The kind of an index (stable byte values: they enter hashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum IndexKind {
    /// A single optional value.
    Entry = 0,
    /// An ordered map.
    Map = 1,
    /// A list addressed by position.
    List = 2,
    /// An ordered set of keys.
    KeySet = 3,
    /// An entry that enters the state commitment.
    ProofEntry = 4,
    /// A map that enters the state commitment.
    ProofMap = 5,
    /// A list that enters the state commitment.
    ProofList = 6,
}

impl IndexKind {
    /// Every kind.
    pub const ALL: [IndexKind; 7] = [
        IndexKind::Entry,
        IndexKind::Map,
        IndexKind::List,
        IndexKind::KeySet,
        IndexKind::ProofEntry,
        IndexKind::ProofMap,
        IndexKind::ProofList,
    ];

    /// Whether the kind enters the state commitment.
    pub fn is_proof(self) -> bool {
        matches!(self, IndexKind::ProofEntry | IndexKind::ProofMap | IndexKind::ProofList)
    }

    pub(crate) fn from_byte(byte: u8) -> Result<Self, StorageError> {
        Self::ALL
            .into_iter()
            .find(|kind| *kind as u8 == byte)
            .ok_or_else(|| StorageError::Corrupt(format!("unknown index kind {byte}")))
    }
}

/// The address of an index: its namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexAddress {
    namespace: Namespace,
    name: String,
}

impl IndexAddress {
    /// An address; the name must be 1..=64 bytes of `[a-z0-9_.-]`.
    pub fn new(namespace: Namespace, name: &str) -> Result<Self, StorageError> {
        let valid_chars = name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-'));
        if name.is_empty() || name.len() > INDEX_NAME_BYTES_MAX || !valid_chars {
            let shown: String = name.chars().take(INDEX_NAME_BYTES_MAX).collect();
            return Err(StorageError::InvalidIndexName(shown));
        }
        Ok(Self {
            namespace,
            name: name.to_owned(),
        })
    }

    /// The namespace.
    pub fn namespace(&self) -> Namespace {
        self.namespace
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The largest value this index accepts, in bytes: a service's own
    /// indexes (and their migration shadows) take service values; the
    /// host's (blocks, registries) take records, such as a signed
    /// transaction of the largest size.
    pub fn value_bytes_max(&self) -> usize {
        match self.namespace {
            Namespace::Service(_) | Namespace::Migration(_) => SERVICE_VALUE_BYTES_MAX,
            Namespace::Core | Namespace::Dispatcher => RECORD_VALUE_BYTES_MAX,
        }
    }

    /// The canonical encoding (namespace, name length, name); it is the key
    /// of the index in the state aggregator.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(6 + self.name.len());
        self.namespace.encode_into(&mut bytes);
        // The name length is at most INDEX_NAME_BYTES_MAX (64): one byte.
        bytes.push(self.name.len() as u8);
        bytes.extend_from_slice(self.name.as_bytes());
        bytes
    }

    pub(crate) fn metadata_key(&self) -> Vec<u8> {
        let mut key = vec![SPACE_METADATA];
        key.extend_from_slice(&self.to_bytes());
        key
    }

    /// `0x01` + the 16-byte index prefix.
    pub(crate) fn index_prefix(&self) -> Vec<u8> {
        let digest = blake3::hash(&self.to_bytes());
        let mut prefix = Vec::with_capacity(17);
        prefix.push(SPACE_INDEX);
        prefix.extend_from_slice(&digest.as_bytes()[..16]);
        prefix
    }

    /// Decodes address bytes (the inverse of [`Self::to_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        let corrupt = || StorageError::Corrupt("malformed index address".into());
        let (&tag, rest) = bytes.split_first().ok_or_else(corrupt)?;
        let (namespace, rest) = match tag {
            0 => (Namespace::Core, rest),
            1 => (Namespace::Dispatcher, rest),
            2 | 3 => {
                let (id_bytes, rest) = rest.split_at_checked(4).ok_or_else(corrupt)?;
                let id = u32::from_le_bytes(id_bytes.try_into().map_err(|_| corrupt())?);
                (
                    if tag == 2 {
                        Namespace::Service(id)
                    } else {
                        Namespace::Migration(id)
                    },
                    rest,
                )
            }
            _ => return Err(corrupt()),
        };
        let (&len, name) = rest.split_first().ok_or_else(corrupt)?;
        if name.len() != len as usize {
            return Err(corrupt());
        }
        let name = std::str::from_utf8(name).map_err(|_| corrupt())?;
        Self::new(namespace, name)
    }
}
