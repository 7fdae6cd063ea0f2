//! Named maxima of the dispatcher.

/// Deepest nesting of service-to-service calls.
pub const CALL_DEPTH_MAX: u32 = 16;
/// Most transactions one block may hold.
pub const TRANSACTIONS_PER_BLOCK_MAX: usize = 10_000;
