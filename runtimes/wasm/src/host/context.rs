//! `wasmvisor:service/context`: what the guest may know about its call.

use crate::bindings::service_world::wasmvisor::service::context::Host;
use crate::bindings::{Caller, InstanceSpec};
use crate::state::HostState;

impl Host for HostState {
    fn instance(&mut self) -> wasmtime::Result<InstanceSpec> {
        Ok(self.env.instance.clone())
    }

    fn current_caller(&mut self) -> wasmtime::Result<Caller> {
        Ok(self.env.caller.clone())
    }

    fn height(&mut self) -> wasmtime::Result<u64> {
        Ok(self.env.height)
    }
}
