//! Named maxima of the wasm runtime. Every value a guest hands the host is
//! checked against one of these, and a violation is a typed error for that
//! call, never a trap of the node.

/// Longest index name, in bytes.
pub const INDEX_NAME_LEN_MAX: usize = 64;
/// Largest storage key, in bytes.
pub const KEY_SIZE_MAX: usize = 1024;
/// Largest storage value, in bytes (1 MiB).
pub const VALUE_SIZE_MAX: usize = 1 << 20;
/// Most entries one `storage.range` call returns.
pub const RANGE_ITEMS_MAX: u32 = 1024;
/// Default wasm stack a guest may use, in bytes.
pub const WASM_STACK_BYTES_MAX: usize = 512 * 1024;
/// Default linear memory a guest instance may grow to, in bytes (64 MiB).
pub const MEMORY_BYTES_MAX: usize = 64 << 20;
/// Default table elements a guest instance may have.
pub const TABLE_ELEMENTS_MAX: usize = 10_000;
/// Core wasm instances one call may create. A component built from one
/// core module instantiates that module plus a few canonical-ABI shims.
pub const CORE_INSTANCES_PER_CALL_MAX: usize = 16;
/// Largest component a deploy spec may carry, in bytes (16 MiB).
pub const COMPONENT_SIZE_MAX: usize = 16 << 20;
/// Default fuel one call may burn (the consensus configuration sets it).
pub const FUEL_PER_CALL_DEFAULT: u64 = 50_000_000;
/// Guest instances alive at once in one engine (the pooling allocator's
/// size). A call chain holds at most the dispatcher's call depth (16) of
/// them and blocks execute one at a time, so this leaves room for
/// concurrent read queries; running out is a node-local condition.
pub const INSTANCES_LIVE_MAX: u32 = 256;
/// Requests (broadcasts, local deploys) one `after-commit` call may queue.
pub const AFTER_COMMIT_REQUESTS_MAX: usize = 16;
/// Largest argument of one broadcast, in bytes (1 MiB).
pub const BROADCAST_ARGUMENTS_SIZE_MAX: usize = 1 << 20;
/// Bytes a deploy spec may carry beyond its component (hash and framing).
pub const DEPLOY_SPEC_OVERHEAD_MAX: usize = 64;
/// Fuel a data migration script may burn (it runs once, in the background,
/// over all of a service's data; running out fails the migration on every
/// node alike).
pub const MIGRATION_FUEL_MAX: u64 = 200 * FUEL_PER_CALL_DEFAULT;
