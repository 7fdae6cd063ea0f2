//! Named maxima of the dispatcher.

/// Deepest nesting of service-to-service calls.
pub const CALL_DEPTH_MAX: u32 = 16;
/// Most transactions one block may hold.
pub const TRANSACTIONS_PER_BLOCK_MAX: usize = 10_000;
/// Most validators a consensus configuration may name.
pub const VALIDATORS_MAX: usize = 256;
/// Most bytes (keys and values) a data migration may leave in its shadow
/// namespace; a bigger result fails the migration on every node alike.
pub const MIGRATION_DATA_SIZE_MAX: usize = 256 << 20;
