//! The wasmtime engine, configured so that every node computes the same
//! result for the same call.

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OperatorCost, PoolingAllocationConfig};

use crate::WasmError;
use crate::limits::{
    CORE_INSTANCES_PER_CALL_ITEMS_MAX, GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX, GUEST_MEMORY_BYTES_MAX,
    GUEST_STACK_BYTES_MAX, GUEST_TABLE_ITEMS_MAX, GUEST_TABLES_PER_COMPONENT_ITEMS_MAX, INSTANCES_LIVE_ITEMS_MAX,
    MEMORY_COPY_BYTE_FUEL,
};

/// Bytes of a pooled linear memory reset in place (not unmapped) after a
/// call.
const MEMORY_KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Bytes of a pooled table reset in place after a call.
const TABLE_KEEP_RESIDENT_BYTES: usize = 64 << 10;

/// Builds the deterministic engine every wasm service runs on.
///
/// - fuel metering is on, so a call can be cut off at the same instruction
///   on every node;
/// - NaN canonicalization is on, so float results are bit-identical;
/// - threads and relaxed SIMD (whose results may differ between CPUs) are
///   off, and relaxed SIMD would be deterministic if ever enabled;
/// - the wasm stack is bounded.
///
/// Instances come from a pooling allocator with copy-on-write memory
/// images, so the fresh instance every call gets costs little: its memory
/// is mapped from the module's image rather than copied.
///
/// There is deliberately no WASI: guests have no clock, randomness or files.
pub fn deterministic_engine() -> Result<Engine, WasmError> {
    deterministic_engine_with_stack(GUEST_STACK_BYTES_MAX)
}

/// [`deterministic_engine`] with `stack_bytes` of native stack for guest
/// code instead of [`GUEST_STACK_BYTES_MAX`]. What a call records does not
/// depend on it for a guest that runs out of either (its stack exhaustion
/// ends the whole call chain with the same error); it exists to show that.
pub fn deterministic_engine_with_stack(stack_bytes: usize) -> Result<Engine, WasmError> {
    let mut config = deterministic_config();
    config.max_wasm_stack(stack_bytes);
    let mut pooling = PoolingAllocationConfig::default();
    // Every count a component holds is capped per component, and the pool
    // holds that for every live instance: a component past a cap is refused
    // when it is deployed (the same on every node), and a pool can never run
    // out under a call chain and the queries beside it.
    pooling
        .total_component_instances(INSTANCES_LIVE_ITEMS_MAX)
        .max_core_instances_per_component(CORE_INSTANCES_PER_CALL_ITEMS_MAX as u32)
        .total_core_instances(INSTANCES_LIVE_ITEMS_MAX * CORE_INSTANCES_PER_CALL_ITEMS_MAX as u32)
        .max_memories_per_component(GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX)
        .total_memories(INSTANCES_LIVE_ITEMS_MAX * GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX)
        .max_tables_per_component(GUEST_TABLES_PER_COMPONENT_ITEMS_MAX)
        .total_tables(INSTANCES_LIVE_ITEMS_MAX * GUEST_TABLES_PER_COMPONENT_ITEMS_MAX)
        .max_memory_size(GUEST_MEMORY_BYTES_MAX)
        .table_elements(GUEST_TABLE_ITEMS_MAX)
        // A finished call's memory is reset by zeroing the pages it
        // touched (found with the PAGEMAP_SCAN ioctl where the kernel has
        // it) instead of unmapping them: an unmap flushes the TLB of every
        // core running the process, which cost more than the call itself.
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(|error| WasmError::Engine(error.to_string()))
}

/// The same deterministic engine with instances allocated on demand (each
/// instance maps and initialises its own memory): for hosts that cannot
/// reserve the pooling allocator's address space, and to measure what the
/// pool saves. Results are identical; only the cost of an instance differs.
pub fn deterministic_engine_on_demand() -> Result<Engine, WasmError> {
    let mut config = deterministic_config();
    config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    Engine::new(&config).map_err(|error| WasmError::Engine(error.to_string()))
}

/// Every setting of [`deterministic_engine`] but the instance allocator.
fn deterministic_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    // Bulk memory operations cost fuel per byte they move, as the limits
    // state (wasmtime's own default, set here so it cannot change under us).
    let mut cost = OperatorCost::new();
    cost.variable.memory_copy_per_byte = MEMORY_COPY_BYTE_FUEL as u8;
    cost.variable.memory_fill_per_byte = MEMORY_COPY_BYTE_FUEL as u8;
    cost.variable.memory_init_per_byte = MEMORY_COPY_BYTE_FUEL as u8;
    config.operator_cost(cost);
    config.cranelift_nan_canonicalization(true);
    // Threads cannot be enabled: wasmtime is built without its `threads`
    // feature (see the workspace Cargo.toml).
    config.wasm_relaxed_simd(false);
    config.relaxed_simd_deterministic(true);
    config.max_wasm_stack(GUEST_STACK_BYTES_MAX);
    config.memory_init_cow(true);
    config
}
