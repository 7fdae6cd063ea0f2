//! The wasm runtime of wasmvisor: services as sandboxed WebAssembly
//! components on wasmtime.
//!
//! A service is a component of the `service` world (see `wit/`). The host
//! validates every component against its privilege class before it runs:
//! an ordinary service may import only `types`, `storage`, `context` and
//! `calls`; only the supervisor may import the privileged `dispatcher`, and
//! the linker used for ordinary services does not contain it.
//!
//! Every call runs in a fresh instance with a fuel allowance, so no guest
//! memory survives between calls and every node stops a runaway call at the
//! same instruction. The engine is configured for determinism
//! ([`deterministic_engine`]).

mod bindings;
mod cache;
mod component;
mod engine;
mod errors;
mod fork_storage;
mod host;
mod interface;
pub mod limits;
mod runtime;
mod state;

pub use bindings::{
    ArtifactId, Caller, ErrorKind, ExecutionError, IndexKind, IndexRef, InstanceSpec, InstanceStatus, MigrationPlan,
    QueryError, StorageError, TransactionCaller,
};
pub use cache::{CacheLookup, CacheStats, CompiledCache};
pub use component::{
    CallOutcome, DISPATCHER_IMPORT, GUEST_EXPORT, Privilege, SERVICE_IMPORTS, ServiceComponent, WasmService,
    link_as_ordinary_service,
};
pub use engine::{deterministic_engine, deterministic_engine_on_demand, deterministic_engine_with_stack};
pub use errors::{RuntimeErrorCode, WasmError};
pub use fork_storage::{ForkStorage, NodeFailure};
pub use interface::embedded_interface;
pub use runtime::{WasmRuntime, WasmRuntimeConfig, deploy_spec};
pub use state::{AfterCommitState, CallEnv, Entries, InstanceStorage, Outbox, RangeLimit, StorageAccess, StorageFault};
