//! `wasmvisor:service/node`: what a service may do and know only on this
//! node, only in `after-commit` (the `after_commit` state exists in no
//! other call). Each call costs what a dispatcher call costs.

use super::dispatcher::{BroadcastBudget, OUTSIDE_AFTER_COMMIT};
use crate::bindings::service_world::wasmvisor::service::node::Host;
use crate::state::HostState;

impl Host for HostState {
    fn broadcast(&mut self, method_id: u32, arguments: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        self.queue_broadcast(method_id, arguments, BroadcastBudget::SERVICE)
    }

    fn setting(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, String>> {
        let Some(state) = &self.env.after_commit else {
            self.pay(key.len())?;
            return Ok(Err(OUTSIDE_AFTER_COMMIT.into()));
        };
        let value = state.settings.get(&key).cloned();
        self.pay(key.len() + value.as_ref().map_or(0, String::len))?;
        Ok(Ok(value))
    }
}
