//! The limits the wasm runtime checks (defined, with their relations to
//! every other limit, in `wasmvisor-limits`). Every value a guest hands the
//! host is checked against one of these, and a violation is a typed error
//! for that call, never a trap of the node.

pub use wasmvisor_limits::{
    AFTER_COMMIT_REQUESTS_ITEMS_MAX, BROADCAST_ARGUMENTS_BYTES_MAX, CALL_CHAIN_MEMORY_BYTES_MAX, COMPONENT_BYTES_MAX,
    CORE_INSTANCES_PER_CALL_ITEMS_MAX, DEPLOY_SPEC_BYTES_MAX, FUEL_PER_QUERY_DEFAULT, FUEL_PER_TRANSACTION_DEFAULT,
    GUEST_MEMORY_BYTES_MAX, GUEST_STACK_BYTES_MAX, GUEST_TABLE_ITEMS_MAX, HASH_BYTE_FUEL, HOST_CALL_FUEL,
    INDEX_NAME_BYTES_MAX, INSTANCES_LIVE_ITEMS_MAX, ITEM_FUEL, KEY_BYTES_MAX, MEMORY_COPY_BYTE_FUEL, MIGRATION_FUEL,
    RANGE_BYTES_MAX, RANGE_ITEMS_MAX, READ_BYTE_FUEL, SERVICE_VALUE_BYTES_MAX, WRITE_BYTE_FUEL,
};
