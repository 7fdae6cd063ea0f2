//! What a service may do and know only on the node it runs on, and only in
//! its `after_commit` hook: every other call gets an error, so nothing
//! here can change a block's outcome.

use crate::bindings::wasmvisor::service::node as host;

/// Signs a transaction calling `method_id` of this service with
/// `arguments`, with this node's service key, and puts it in the pool; it
/// is committed like any transaction. Fails outside `after_commit`, on a
/// node that is not a validator, for arguments over the broadcast limit,
/// and beyond the requests one `after_commit` may make.
pub fn broadcast(method_id: u32, arguments: Vec<u8>) -> Result<(), String> {
    host::broadcast(method_id, &arguments)
}

/// This node's setting `key` for this service, from the node's
/// configuration (`[service_settings.<instance name>]`); `None` if it is
/// not set. Fails outside `after_commit`.
pub fn setting(key: &str) -> Result<Option<String>, String> {
    host::setting(key)
}
