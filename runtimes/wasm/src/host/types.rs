//! The `types` interface has no functions; its `Host` trait is empty.

use crate::bindings::service_world::wasmvisor::service::types::Host;
use crate::state::HostState;

impl Host for HostState {}
