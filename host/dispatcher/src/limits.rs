//! The limits the dispatcher checks (defined, with their relations to
//! every other limit, in `wasmvisor-limits`).

pub use wasmvisor_limits::{
    BLOCK_TRANSACTIONS_ITEMS_MAX, CALL_DEPTH_MAX, FUEL_PER_QUERY_DEFAULT, FUEL_PER_QUERY_MAX,
    FUEL_PER_TRANSACTION_DEFAULT, FUEL_PER_TRANSACTION_MAX, MIGRATION_DATA_BYTES_MAX, MIGRATION_WRITE_ITEMS_MAX,
    TRANSACTION_BYTES_MAX, VALIDATORS_ITEMS_MAX,
};
