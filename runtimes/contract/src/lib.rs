//! The Runtime contract of wasmvisor.
//!
//! A *runtime* runs the services of artifacts with its runtime id (0 native
//! Rust, 1 wasm); the dispatcher drives every runtime through [`Runtime`] in
//! exactly the order its docs give. This crate also holds the identifiers
//! ([`ArtifactId`], [`InstanceSpec`], [`InstanceStatus`], [`CallInfo`]) and
//! the stable error taxonomy ([`ExecutionError`], [`CommonError`],
//! [`CoreError`]).

mod errors;
pub mod interface;
mod meter;
mod runtime;
mod types;

pub use errors::{
    CallError, CommonError, CoreError, ErrorKind, ExecutionError, NodeError, catching_panics, outside_services,
    panic_is_caught, write_budget_error,
};
pub use meter::Meter;
pub use runtime::{
    AfterCommitContext, CallRouter, CallSite, ConfigStage, DeployTask, ExecutionContext, LifecycleControl,
    LocalDeployStatus, LocalMigrationStatus, Mailbox, MailboxRequest, QueryContext, QueryError, Runtime,
    RuntimeMetrics, ServiceSettings,
};
pub use types::{
    ArtifactId, ArtifactState, ArtifactView, CallInfo, CallLocation, Caller, InstanceId, InstanceSpec, InstanceStatus,
    InstanceView, MigrationKind, MigrationState, SUPERVISOR_INSTANCE_ID, runtime_id,
};
