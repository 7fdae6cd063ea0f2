//! Errors of the storage layer.

use crate::IndexKind;

/// A failed storage operation.
///
/// `Backend`, `Crashed` and `Corrupt` are node-local failures (the disk, the
/// database); the others are deterministic consequences of the arguments and
/// the same on every node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Backend(String),
    /// The (fault-injecting) database has crashed; reopen it.
    #[error("the database crashed (fault injection)")]
    Crashed,
    /// Stored bytes do not have the expected shape.
    #[error("corrupt storage: {0}")]
    Corrupt(String),
    /// A key exceeds [`crate::limits::KEY_SIZE_MAX`].
    #[error("key of {size} bytes exceeds the maximum of {max}")]
    KeyTooLarge {
        /// Size given.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A value exceeds [`crate::limits::VALUE_SIZE_MAX`].
    #[error("value of {size} bytes exceeds the maximum of {max}")]
    ValueTooLarge {
        /// Size given.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The index name is empty, too long or has characters outside `[a-z0-9_.-]`.
    #[error("invalid index name {0:?}")]
    InvalidIndexName(String),
    /// The index exists with another kind.
    #[error("index {name:?} is a {existing:?}, not a {requested:?}")]
    KindMismatch {
        /// The index name.
        name: String,
        /// Its kind.
        existing: IndexKind,
        /// The kind asked for.
        requested: IndexKind,
    },
    /// A list position at or past the list's length.
    #[error("position {position} is out of range for a list of length {len}")]
    OutOfRange {
        /// Position given.
        position: u64,
        /// The list's length.
        len: u64,
    },
    /// The operation does not apply to this index kind.
    #[error("unsupported operation: {0}")]
    Unsupported(&'static str),
}
