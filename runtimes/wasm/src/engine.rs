//! The wasmtime engine, configured so that every node computes the same
//! result for the same call.

use wasmtime::{Config, Engine};

use crate::WasmError;
use crate::limits::WASM_STACK_BYTES_MAX;

/// Builds the deterministic engine every wasm service runs on.
///
/// - fuel metering is on, so a call can be cut off at the same instruction
///   on every node;
/// - NaN canonicalization is on, so float results are bit-identical;
/// - threads and relaxed SIMD (whose results may differ between CPUs) are
///   off, and relaxed SIMD would be deterministic if ever enabled;
/// - the wasm stack is bounded.
///
/// There is deliberately no WASI: guests have no clock, randomness or files.
pub fn deterministic_engine() -> Result<Engine, WasmError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.cranelift_nan_canonicalization(true);
    // Threads cannot be enabled: wasmtime is built without its `threads`
    // feature (see the workspace Cargo.toml).
    config.wasm_relaxed_simd(false);
    config.relaxed_simd_deterministic(true);
    config.max_wasm_stack(WASM_STACK_BYTES_MAX);
    Engine::new(&config).map_err(|error| WasmError::Engine(error.to_string()))
}
