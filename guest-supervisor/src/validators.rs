//! Who may act: validators, identified by their service keys in the
//! consensus configuration in force.
//!
//! Approvals and reports are kept as sets of service keys, never as
//! positions: a consensus change may reorder, shrink or grow the set, and
//! every count is taken against the set in force when it is read, so a
//! removed validator's approval stops counting, a validator counts once
//! whatever its position, and thresholds are compared with `>=`.

use wasmvisor_proto::supervisor::SupervisorMode;
use wasmvisor_sdk::{CommonError, ExecutionError, common_error, context};

use crate::privileged::wasmvisor::service::dispatcher;

/// The service keys of the validators in force, in the configuration's
/// order.
pub fn keys() -> Vec<Vec<u8>> {
    dispatcher::validators()
        .into_iter()
        .map(|validator| validator.service_key)
        .collect()
}

/// The validator (its service key) that signed the current transaction,
/// or UnauthorizedCaller.
pub fn author() -> Result<Vec<u8>, ExecutionError> {
    let author = context::require_transaction_author()?.to_vec();
    if keys().contains(&author) {
        Ok(author)
    } else {
        Err(common_error(
            CommonError::UnauthorizedCaller,
            "only validators' service keys may call the supervisor",
        ))
    }
}

/// This node's service key (after-commit only), if it is a validator's.
pub fn node_key() -> Option<Vec<u8>> {
    let key = dispatcher::node_service_key()?;
    keys().contains(&key).then_some(key)
}

/// Whether every validator in force is among `approvers`.
pub fn all_in_force(approvers: &[Vec<u8>]) -> bool {
    keys().iter().all(|key| approvers.contains(key))
}

/// Adds `approver` to `approvers` once, keeping only validators in force
/// (so the set never outgrows the validator set).
pub fn add(approvers: &mut Vec<Vec<u8>>, approver: Vec<u8>) {
    let current = keys();
    approvers.retain(|key| current.contains(key));
    if !approvers.contains(&approver) {
        approvers.push(approver);
    }
}

/// Approvals a request needs from `count` validators in force: one in
/// simple mode, `count * 2 / 3 + 1` in decentralized mode.
fn approvals_needed(count: usize) -> usize {
    let mode = crate::supervisor_config()
        .get()
        .ok()
        .flatten()
        .map_or(0, |config| config.mode);
    if mode == SupervisorMode::Decentralized as i32 {
        count * 2 / 3 + 1
    } else {
        1
    }
}

/// Whether `approvers` hold the approvals their mode needs from the
/// validators in force (each counted once, others not at all).
pub fn approved(approvers: &[Vec<u8>]) -> bool {
    let current = keys();
    let in_force = current.iter().filter(|key| approvers.contains(key)).count();
    in_force >= approvals_needed(current.len())
}

/// A short name of a validator for descriptions: its key's first bytes.
pub fn name(key: &[u8]) -> String {
    key.iter().take(4).map(|byte| format!("{byte:02x}")).collect()
}
