//! `wasmvisor:service/context`: what the guest may know about its call,
//! and hashing done by the host. Each call costs [`HOST_CALL_FUEL`];
//! hashing also costs [`HASH_BYTE_FUEL`] per byte.

use crate::bindings::service_world::wasmvisor::service::context::Host;
use crate::bindings::{Caller, InstanceSpec};
use crate::errors::host_trap;
use crate::limits::{HASH_BYTE_FUEL, HOST_CALL_FUEL};
use crate::state::HostState;

impl Host for HostState {
    fn instance(&mut self) -> wasmtime::Result<InstanceSpec> {
        self.fuel.charge(HOST_CALL_FUEL).map_err(host_trap)?;
        Ok(self.env.instance.clone())
    }

    fn current_caller(&mut self) -> wasmtime::Result<Caller> {
        self.fuel.charge(HOST_CALL_FUEL).map_err(host_trap)?;
        Ok(self.env.caller.clone())
    }

    fn height(&mut self) -> wasmtime::Result<u64> {
        self.fuel.charge(HOST_CALL_FUEL).map_err(host_trap)?;
        Ok(self.env.height)
    }

    fn blake3(&mut self, data: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        let fuel = HOST_CALL_FUEL.saturating_add((data.len() as u64).saturating_mul(HASH_BYTE_FUEL));
        self.fuel.charge(fuel).map_err(host_trap)?;
        Ok(blake3::hash(&data).as_bytes().to_vec())
    }
}
