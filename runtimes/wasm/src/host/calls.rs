//! `wasmvisor:service/calls`: cross-service calls.
//!
//! Routing a call to another instance needs the dispatcher, which drives
//! this runtime; until it is wired in, every call is refused with core
//! error IncorrectCall (14) so guests see a deterministic, typed failure.

use crate::bindings::service_world::wasmvisor::service::calls::Host;
use crate::bindings::{ErrorKind, ExecutionError};
use crate::state::HostState;

/// Core error code IncorrectCall.
const INCORRECT_CALL: u8 = 14;

impl Host for HostState {
    fn call(
        &mut self,
        target: u32,
        _interface_name: String,
        _method_id: u32,
        _arguments: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        Ok(Err(ExecutionError {
            kind: ErrorKind::Core,
            code: INCORRECT_CALL,
            description: format!("cross-service calls are not routed by this host (target {target})"),
        }))
    }

    fn instance_id_by_name(&mut self, _name: String) -> wasmtime::Result<Option<u32>> {
        Ok(None)
    }
}
