//! `wasmvisor:service/calls`: cross-service calls through the dispatcher.
//!
//! A call runs on the caller's fork, one level deeper (the dispatcher
//! enforces the depth limit and that the target is Active); a failed callee
//! leaves no writes behind. Calls are refused where the guest has no call
//! site (read queries): core error IncorrectCall (14).

use super::{incorrect_call, to_guest_error};
use crate::bindings::ExecutionError;
use crate::bindings::service_world::wasmvisor::service::calls::Host;
use crate::state::HostState;

impl Host for HostState {
    fn call(
        &mut self,
        target: u32,
        interface_name: String,
        method_id: u32,
        arguments: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        let Some(site) = self.env.calls.clone() else {
            return Ok(Err(incorrect_call("calls to other services are not allowed here")));
        };
        let Some(fork) = self.env.storage.fork_mut() else {
            return Ok(Err(incorrect_call("this storage cannot carry calls to other services")));
        };
        Ok(site
            .call(fork, target, &interface_name, method_id, &arguments)
            .map_err(to_guest_error))
    }

    fn instance_id_by_name(&mut self, name: String) -> wasmtime::Result<Option<u32>> {
        let Some(site) = self.env.calls.clone() else {
            return Ok(None);
        };
        Ok(self
            .env
            .storage
            .fork_mut()
            .and_then(|fork| site.router.instance_id_by_name(fork, &name)))
    }
}
