//! How typed values and keys become bytes in storage.

use crate::ExecutionError;
use crate::bindings::wasmvisor::service::types::ErrorKind;

/// A value that can be stored in an index. Every protobuf message (and the
/// scalar wrappers `prost` implements `Message` for: `u64`, `String`,
/// `Vec<u8>`, `bool`, ...) is a storage value.
pub trait StorageValue: Sized {
    /// Encodes the value.
    fn to_bytes(&self) -> Vec<u8>;
    /// Decodes a stored value.
    fn from_bytes(bytes: &[u8]) -> Result<Self, ExecutionError>;
}

impl<M: prost::Message + Default> StorageValue for M {
    fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ExecutionError> {
        M::decode(bytes).map_err(|error| ExecutionError {
            kind: ErrorKind::Unexpected,
            code: 0,
            description: format!("stored value does not decode: {error}"),
        })
    }
}

/// Bytes stored as they are (no protobuf framing), for values that are
/// already encoded — or are pieces of something larger — and may fill a
/// whole storage value. `Vec<u8>` itself is stored as a protobuf `bytes`
/// wrapper, a few bytes longer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawBytes(pub Vec<u8>);

impl StorageValue for RawBytes {
    fn to_bytes(&self) -> Vec<u8> {
        self.0.clone()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, ExecutionError> {
        Ok(RawBytes(bytes.to_vec()))
    }
}

/// A key of a map or set. Encodings preserve order: integers are big-endian
/// so that iteration follows numeric order.
pub trait StorageKey: Sized {
    /// Encodes the key.
    fn to_key(&self) -> Vec<u8>;
    /// Decodes a stored key.
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError>;
}

fn bad_key(what: &str) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::Unexpected,
        code: 0,
        description: format!("stored key is not a valid {what}"),
    }
}

impl StorageKey for [u8; 32] {
    fn to_key(&self) -> Vec<u8> {
        self.to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError> {
        bytes.try_into().map_err(|_| bad_key("32-byte key"))
    }
}

impl StorageKey for Vec<u8> {
    fn to_key(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError> {
        Ok(bytes.to_vec())
    }
}

impl StorageKey for String {
    fn to_key(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| bad_key("UTF-8 string"))
    }
}

impl StorageKey for u64 {
    fn to_key(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError> {
        let array: [u8; 8] = bytes.try_into().map_err(|_| bad_key("u64"))?;
        Ok(u64::from_be_bytes(array))
    }
}

impl StorageKey for u32 {
    fn to_key(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn from_key(bytes: &[u8]) -> Result<Self, ExecutionError> {
        let array: [u8; 4] = bytes.try_into().map_err(|_| bad_key("u32"))?;
        Ok(u32::from_be_bytes(array))
    }
}
