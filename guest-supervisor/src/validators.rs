//! Who may act: validators, identified by their service keys in the
//! consensus configuration.

use wasmvisor_proto::supervisor::SupervisorMode;
use wasmvisor_sdk::{CommonError, ExecutionError, common_error, context};

use crate::privileged::wasmvisor::service::dispatcher;

/// Index of the validator with this service key.
fn index_of(key: &[u8]) -> Option<u32> {
    dispatcher::validators()
        .iter()
        .position(|validator| validator.service_key == key)
        .map(|index| index as u32)
}

/// The validator that signed the current transaction, or UnauthorizedCaller.
pub fn author_index() -> Result<u32, ExecutionError> {
    let author = context::require_transaction_author()?;
    index_of(&author).ok_or_else(|| {
        common_error(
            CommonError::UnauthorizedCaller,
            "only validators' service keys may call the supervisor",
        )
    })
}

/// This node's validator index (after-commit only), if it is a validator.
pub fn node_index() -> Option<u32> {
    index_of(&dispatcher::node_service_key()?)
}

/// Number of validators.
pub fn count() -> usize {
    dispatcher::validators().len()
}

/// Approvals a request needs: one in simple mode, `n * 2 / 3 + 1` in
/// decentralized mode.
pub fn approvals_needed() -> usize {
    let mode = crate::supervisor_config()
        .get()
        .ok()
        .flatten()
        .map_or(0, |config| config.mode);
    if mode == SupervisorMode::Decentralized as i32 {
        count() * 2 / 3 + 1
    } else {
        1
    }
}
