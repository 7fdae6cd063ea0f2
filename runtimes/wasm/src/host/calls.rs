//! `wasmvisor:service/calls`: cross-service calls through the dispatcher.
//!
//! A call runs on the caller's fork, one level deeper (the dispatcher
//! enforces the depth limit and that the target is Active), on what is left
//! of the caller's fuel: what the callee burns is gone for the caller too.
//! A failed callee leaves no writes behind. Calls are refused where the
//! guest has no call site (read queries): core error IncorrectCall (14).

use super::incorrect_call;
use crate::bindings::ExecutionError;
use crate::bindings::service_world::wasmvisor::service::calls::Host;
use crate::errors::host_trap;
use crate::limits::{HOST_CALL_FUEL, READ_BYTE_FUEL};
use crate::state::HostState;

impl Host for HostState {
    fn call(
        &mut self,
        target: u32,
        interface_name: String,
        method_id: u32,
        arguments: Vec<u8>,
    ) -> wasmtime::Result<Result<(), ExecutionError>> {
        let moved = (interface_name.len() + arguments.len()) as u64;
        self.fuel
            .charge(HOST_CALL_FUEL.saturating_add(moved.saturating_mul(READ_BYTE_FUEL)))
            .map_err(host_trap)?;
        let Some(site) = self.env.calls.clone() else {
            return Ok(Err(incorrect_call("calls to other services are not allowed here")));
        };
        let result = self.nested(|state| match state.env.storage.fork_mut() {
            None => Err(wasmvisor_runtime::CoreError::IncorrectCall
                .with_description("this storage cannot carry calls to other services")
                .into()),
            Some(fork) => site.call(fork, target, &interface_name, method_id, &arguments),
        });
        self.answer_guest(result)
    }

    fn instance_id_by_name(&mut self, name: String) -> wasmtime::Result<Option<u32>> {
        self.fuel
            .charge(HOST_CALL_FUEL.saturating_add((name.len() as u64).saturating_mul(READ_BYTE_FUEL)))
            .map_err(host_trap)?;
        let Some(site) = self.env.calls.clone() else {
            return Ok(None);
        };
        let Some(fork) = self.env.storage.fork_mut() else {
            return Ok(None);
        };
        site.router
            .instance_id_by_name(fork, &name)
            .map_err(|error| self.node_failed(error))
    }
}

impl HostState {
    /// Runs work that calls into other services (a cross-service call, or
    /// a constructor, resume or configuration the supervisor starts) on
    /// what is left of this call's fuel — the meter the nested calls share
    /// is brought up to date first — and charges this call what it burned.
    pub(crate) fn nested<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let meter = self.env.meter.clone();
        let before = self.fuel.left();
        meter.set_fuel_remaining(before);
        let result = work(self);
        let burned = before.saturating_sub(meter.fuel_remaining());
        self.fuel.charged = self.fuel.charged.saturating_add(burned);
        self.nested_fuel = self.nested_fuel.saturating_add(burned);
        result
    }
}
