//! `wasmvisor:service/node`: what a service may do and know only on this
//! node, only in `after-commit` (the `after_commit` state exists in no
//! other call). Each call costs what a dispatcher call costs.

use crate::bindings::service_world::wasmvisor::service::node::Host;
use crate::state::HostState;
use wasmvisor_limits::{SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX, SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX};

/// The error every call outside `after-commit` gets.
const OUTSIDE_AFTER_COMMIT: &str = "node-local capabilities are only available in after-commit";

impl Host for HostState {
    fn broadcast(&mut self, method_id: u32, arguments: Vec<u8>) -> wasmtime::Result<Result<(), String>> {
        match &self.env.after_commit {
            None => {
                self.pay(0)?;
                Ok(Err(OUTSIDE_AFTER_COMMIT.into()))
            }
            Some(state) if state.node_service_key.is_none() => {
                self.pay(0)?;
                Ok(Err(
                    "this node is not a validator: it has no service key to sign with".into()
                ))
            }
            Some(state) => {
                let queued = state
                    .outbox
                    .lock()
                    .expect("a lock is poisoned only by a panic, and a panic stops the node")
                    .len();
                if queued >= SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX {
                    self.pay(0)?;
                    return Ok(Err(format!(
                        "at most {SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX} broadcasts per after-commit"
                    )));
                }
                if arguments.len() > SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX {
                    self.pay(0)?;
                    return Ok(Err(format!(
                        "arguments of {} bytes exceed {SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX}",
                        arguments.len()
                    )));
                }
                self.queue_broadcast(method_id, arguments)
            }
        }
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
