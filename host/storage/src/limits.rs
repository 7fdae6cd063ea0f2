//! Named maxima of the storage layer, checked where data enters it.

/// Longest index name, in bytes.
pub const INDEX_NAME_LEN_MAX: usize = 64;
/// Largest key a service may use in an index, in bytes.
pub const KEY_SIZE_MAX: usize = 1024;
/// Largest value, in bytes (1 MiB).
pub const VALUE_SIZE_MAX: usize = 1 << 20;
/// Most entries one `range` call returns.
pub const RANGE_ITEMS_MAX: usize = 1024;
/// Entries fetched from a snapshot per page while merging with a fork.
pub(crate) const SNAPSHOT_PAGE_LEN: usize = 256;
/// Bytes (keys and values) of snapshot reads one fork keeps in memory so a
/// repeated read does not reach the database again; reads past it are
/// not kept.
pub const FORK_READ_CACHE_BYTES_MAX: usize = 64 << 20;
