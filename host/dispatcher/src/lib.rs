//! The dispatcher of wasmvisor.
//!
//! It keeps the artifact and instance registries in storage (committed to
//! the state root), drives every runtime through the lifecycle contract of
//! [`wasmvisor_runtime::Runtime`] in its exact call ordering, executes
//! blocks on forks (several proposals per height, one commits), records
//! errors per position, routes calls to Active instances only with a depth
//! limit, and deploys artifacts in the background.
//!
//! The dispatcher implements lifecycle transitions but never decides them:
//! only the supervisor's instance (0) is handed [`LifecycleControl`], so
//! every decision is a supervisor transaction in the block log.
//!
//! [`LifecycleControl`]: wasmvisor_runtime::LifecycleControl

mod core;
mod dispatcher;
pub mod limits;
mod schema;

pub use core::{fuel_per_query, fuel_per_transaction, validate_consensus_config};
pub use dispatcher::{
    Broadcast, CommittedBlock, Dispatcher, GenesisConfig, InstanceRef, Proposal, StateReader, Transaction, error_root,
    registered_artifacts, registered_instance_by_name, registered_instances,
};
pub use schema::{InstanceState, artifact_to_proto};
pub use wasmvisor_runtime::LocalDeployStatus;
