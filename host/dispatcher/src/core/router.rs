//! Calls from one service to another: to Active instances only, one level
//! deeper each (at most `CALL_DEPTH_MAX`), on the caller's budget; a failed
//! callee leaves no writes behind.

use wasmvisor_runtime::{CallError, CallRouter, Caller, CoreError, ExecutionContext, InstanceId, Meter, NodeError};
use wasmvisor_storage::Fork;

use crate::limits::{CALL_DEPTH_MAX, INSTANCE_NAME_BYTES_MAX};
use crate::schema::Schema;

use super::Core;

impl CallRouter for Core {
    fn call(
        &self,
        fork: &mut Fork,
        height: u64,
        caller: InstanceId,
        depth: u32,
        meter: &Meter,
        target: InstanceId,
        interface: &str,
        method_id: u32,
        arguments: &[u8],
    ) -> Result<(), CallError> {
        // The router is the host's: a panic here is the node's, even under
        // a native service that catches its own.
        wasmvisor_runtime::outside_services(|| {
            if depth > CALL_DEPTH_MAX {
                return Err(CoreError::StackOverflow
                    .with_description(format!("call depth {depth} exceeds {CALL_DEPTH_MAX}"))
                    .into());
            }
            let (state, runtime) = self.active_instance(fork, target)?;
            let savepoint = fork.savepoint();
            let context = ExecutionContext::new(
                fork,
                &state.spec,
                Caller::Service(caller),
                height,
                interface,
                depth,
                self.router(),
                self.lifecycle_for(target),
            )
            .with_meter(meter.clone());
            let result = runtime.execute(context, method_id, arguments);
            if result.is_err() {
                // The callee's writes go; the caller decides what its own
                // failure means.
                fork.rollback_to(savepoint);
            }
            result
        })
    }

    fn instance_id_by_name(&self, fork: &mut Fork, name: &str) -> Result<Option<InstanceId>, NodeError> {
        // No instance has a longer name, and a key that long is refused.
        if name.len() > INSTANCE_NAME_BYTES_MAX {
            return Ok(None);
        }
        let Some(instance_id) = Schema::new(fork).instance_id_by_name(name)? else {
            return Ok(None);
        };
        let state = Schema::new(fork).instance(instance_id)?;
        Ok(state.filter(|state| state.status.is_some()).map(|_| instance_id))
    }
}
