//! Errors of the wasm runtime: node-local failures ([`WasmError`]) and the
//! deterministic outcomes of a failed call (runtime error codes).

use crate::bindings::{ErrorKind, ExecutionError};

/// Stable codes of errors of kind `runtime` raised by the wasm runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RuntimeErrorCode {
    /// The call burned what was left of its transaction's fuel
    /// (`fuel_per_transaction_max`), in wasm or in host calls.
    FuelExhausted = 0,
    /// The call exhausted the bounded wasm stack.
    StackExhausted = 1,
    /// The call exceeded a memory, table or instance limit.
    ResourceLimit = 2,
    /// The instance could not be created for the call.
    InstantiationFailed = 3,
    /// The host refused a storage call (reported by the guest SDK).
    StorageFailure = 4,
    /// The deploy spec was refused: not a valid component, a hash that
    /// does not match, a forbidden import, or over the size limit.
    ArtifactRefused = 5,
    /// The artifact is not deployed on this node.
    ArtifactNotLoaded = 6,
}

/// A host call ended its guest's call with this execution error: its
/// work needed more fuel than was left, or it met a spent write budget.
/// Raised as a trap, so the guest cannot go on as if nothing happened.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.description)]
pub(crate) struct HostTrap(pub(crate) ExecutionError);

/// A trap ending the guest's call with `error`.
pub(crate) fn host_trap(error: ExecutionError) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap(error))
}

impl RuntimeErrorCode {
    /// The execution error for this code.
    pub fn error(self, description: impl Into<String>) -> ExecutionError {
        ExecutionError {
            kind: ErrorKind::Runtime,
            code: self as u8,
            description: description.into(),
        }
    }
}

/// Converts a failed guest call (a trap or a host-side abort) into the
/// execution error recorded for it. Every node classifies the same failure
/// the same way: fuel and stack exhaustion are precise wasmtime traps.
pub(crate) fn error_from_trap(error: &wasmtime::Error, limit_hit: bool) -> ExecutionError {
    if let Some(HostTrap(error)) = error.downcast_ref::<HostTrap>() {
        return error.clone();
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::OutOfFuel => return RuntimeErrorCode::FuelExhausted.error("fuel exhausted"),
            wasmtime::Trap::StackOverflow => return RuntimeErrorCode::StackExhausted.error("wasm stack exhausted"),
            _ => {}
        }
    }
    if limit_hit {
        return RuntimeErrorCode::ResourceLimit.error(format!("resource limit exceeded: {error}"));
    }
    ExecutionError {
        kind: ErrorKind::Unexpected,
        code: 0,
        description: format!("the service trapped: {error}"),
    }
}

/// A node-local failure of the wasm runtime (not a call's outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasmError {
    /// The engine could not be configured.
    #[error("cannot configure the wasm engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component.
    #[error("not a valid wasm component: {0}")]
    InvalidComponent(String),
    /// The component does not export the `service` world's `guest`
    /// interface.
    #[error("the component does not export {expected}")]
    MissingExport {
        /// The export that is required.
        expected: &'static str,
    },
    /// The component imports an interface it is not allowed to.
    #[error("the component imports {import:?}, which {privilege} components may not import")]
    ForbiddenImport {
        /// The refused import.
        import: String,
        /// The privilege class the component was checked against.
        privilege: &'static str,
    },
    /// Linking the component failed.
    #[error("cannot link the component: {0}")]
    Link(String),
    /// The compiled-artifact cache failed (node-local, never fatal).
    #[error("compiled-artifact cache: {0}")]
    Cache(String),
}
