//! The guest-side SDK of wasmvisor.
//!
//! A service author writes ordinary Rust against this crate and exports it
//! as a wasm component with [`export_service!`]:
//!
//! ```ignore
//! use wasmvisor_sdk::{Call, CommonError, ExecutionError, ProofMap, Service};
//!
//! struct Counter;
//!
//! impl Service for Counter {
//!     fn execute(call: Call) -> Result<(), ExecutionError> {
//!         match call.method_id {
//!             0 => {
//!                 let counts: ProofMap<String, u64> = ProofMap::new("counts");
//!                 let key = String::from("clicks");
//!                 let next = counts.get(&key)?.unwrap_or(0) + 1;
//!                 counts.put(&key, &next)
//!             }
//!             _ => Err(CommonError::NoSuchMethod.into()),
//!         }
//!     }
//! }
//!
//! wasmvisor_sdk::export_service!(Counter);
//! ```
//!
//! What the SDK provides:
//! - [`Service`]: the lifecycle a guest implements, with defaults for every
//!   hook it does not need;
//! - typed storage indexes ([`Entry`], [`Map`], [`List`], [`KeySet`] and the
//!   merkelized [`ProofEntry`], [`ProofMap`], [`ProofList`]) over the host's
//!   scoped storage;
//! - typed errors ([`CommonError`], [`ServiceError`], [`ExecutionError`]);
//! - the call context ([`context`]) and cross-service calls ([`calls`]);
//! - node-local capabilities of `after_commit` ([`node`]): broadcasting
//!   transactions signed by the node, and the node's settings.
//! - the guest's global allocator (`allocator`, default feature
//!   `allocator`): a call whose live allocations stay well within
//!   `wasmvisor_limits::GUEST_SDK_HEAP_BYTES` never grows its memory.
//!
//! Guests built with it import only the `service` world of the contract;
//! there is no WASI, clock or randomness to reach for.

// Lets the generated bindings name this crate by its public path, which is
// also how they are reached from guest crates.
extern crate self as wasmvisor_sdk;

#[cfg(all(feature = "allocator", target_arch = "wasm32"))]
pub mod allocator;
pub mod bindings;
pub mod calls;
pub mod context;
mod errors;
pub mod node;
mod service;
pub mod storage;
mod value;

pub use errors::{CommonError, ServiceError, common_error, service_error, storage_failure};
pub use service::{Call, MigrationPlan, QueryError, Service};
pub use storage::{Entry, KeySet, List, Map, ProofEntry, ProofList, ProofMap};
pub use value::{RawBytes, StorageKey, StorageValue};
/// `#[derive(ServiceError)]`: a service's error enum, each variant with its
/// explicit stable code (`Name = 0..=255`) and its name as the description.
pub use wasmvisor_sdk_macros::ServiceError;
/// `#[service]`: a service from an `impl` block of marked functions, with
/// its interface embedded in the component (see the macro's documentation).
pub use wasmvisor_sdk_macros::service;

pub use bindings::wasmvisor::service::types::{
    ArtifactId, Caller, ErrorKind, ExecutionError, InstanceSpec, InstanceStatus, TransactionCaller,
};

/// The SDK's allocator serves every guest built with it (feature
/// `allocator`, on by default): see [`allocator`].
#[cfg(all(feature = "allocator", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: allocator::GuestAllocator = allocator::GuestAllocator::new();

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
