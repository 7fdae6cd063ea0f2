//! Calls into other services through the host (bounded by the host's
//! call-depth limit).

use crate::ExecutionError;
use crate::bindings::wasmvisor::service::calls as host;

/// Executes `method_id` of `interface_name` ("" = default) on instance
/// `target`. The callee sees this instance as its caller.
pub fn call(target: u32, interface_name: &str, method_id: u32, arguments: &[u8]) -> Result<(), ExecutionError> {
    host::call(target, interface_name, method_id, arguments)
}

/// Instance id of the service called `name`, if it exists.
pub fn instance_id_by_name(name: &str) -> Option<u32> {
    host::instance_id_by_name(name)
}
