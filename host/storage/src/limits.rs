//! The limits the storage layer checks where data enters it (defined, with
//! their relations to every other limit, in `wasmvisor-limits`).

pub use wasmvisor_limits::{
    FORK_READ_CACHE_BYTES_MAX, INDEX_NAME_BYTES_MAX, KEY_BYTES_MAX, RANGE_BYTES_MAX, RANGE_ITEMS_MAX,
    RECORD_VALUE_BYTES_MAX, SERVICE_VALUE_BYTES_MAX,
};

/// Entries fetched from a snapshot per page while merging with a fork.
pub(crate) const SNAPSHOT_PAGE_ITEMS_MAX: usize = 256;
/// Bytes fetched from a snapshot per page while merging with a fork (a
/// page stops early rather than exceed it, but holds at least one entry).
pub(crate) const SNAPSHOT_PAGE_BYTES_MAX: usize = RANGE_BYTES_MAX;

// A page of the snapshot can answer a range of the most bytes.
const _: () = assert!(RANGE_BYTES_MAX <= SNAPSHOT_PAGE_BYTES_MAX);
