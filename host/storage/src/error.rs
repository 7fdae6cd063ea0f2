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
    /// A key exceeds [`crate::limits::KEY_BYTES_MAX`].
    #[error("key of {size} bytes exceeds the maximum of {max}")]
    KeyTooLarge {
        /// Size given.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A value exceeds its index's limit
    /// ([`crate::IndexAddress::value_bytes_max`]).
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
    /// A write would pass the writes a call or a block may make
    /// ([`crate::Fork::meter_writes`]); nothing of it was written.
    #[error("the {scope}'s write budget of {max} {unit} is spent")]
    WriteBudgetExceeded {
        /// `"call"` or `"block"`.
        scope: &'static str,
        /// `"bytes"` or `"keys"`.
        unit: &'static str,
        /// The budget.
        max: usize,
    },
    /// A bounded read (a range, a clear) would examine more entries or
    /// bytes than its [`crate::ScanLimit`]; it stopped before going past.
    #[error("the read would examine more than {items_max} entries or {bytes_max} bytes")]
    ScanLimitExceeded {
        /// The entries it could examine.
        items_max: u64,
        /// The bytes it could examine.
        bytes_max: u64,
    },
}

impl StorageError {
    /// Whether the error is node-local (the database or its contents), as
    /// opposed to a deterministic consequence of the operation's arguments
    /// and the state, which is the same on every node.
    pub fn is_node_local(&self) -> bool {
        matches!(
            self,
            StorageError::Backend(_) | StorageError::Crashed | StorageError::Corrupt(_)
        )
    }
}
