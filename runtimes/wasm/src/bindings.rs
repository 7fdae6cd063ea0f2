//! Host bindings of the WIT worlds, one module per world.
//!
//! The `supervisor` world reuses every interface generated for the
//! `service` world, so both worlds share one set of Rust types and one
//! implementation of each shared host interface.

#![allow(missing_docs)]

/// Bindings of the `service` world: what every instance is linked with.
pub mod service_world {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "service",
        imports: { default: trappable },
    });
}

/// Bindings of the `supervisor` world: `service` plus the privileged
/// `dispatcher` import. Only the supervisor's instance is linked with it.
pub mod supervisor_world {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "supervisor",
        imports: { default: trappable },
        with: {
            "wasmvisor:service/types": super::service_world::wasmvisor::service::types,
            "wasmvisor:service/storage": super::service_world::wasmvisor::service::storage,
            "wasmvisor:service/context": super::service_world::wasmvisor::service::context,
            "wasmvisor:service/calls": super::service_world::wasmvisor::service::calls,
            "wasmvisor:service/node": super::service_world::wasmvisor::service::node,
        },
    });
}

pub use service_world::exports::wasmvisor::service::guest::{MigrationPlan, QueryError};
pub use service_world::wasmvisor::service::storage::{IndexKind, IndexRef, StorageError};
pub use service_world::wasmvisor::service::types::{
    ArtifactId, Caller, ErrorKind, ExecutionError, InstanceSpec, InstanceStatus, TransactionCaller,
};
