//! The supervisor's error codes (kind `service`), as in the reference.

use wasmvisor_sdk::ServiceError;

/// Errors of the supervisor's transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorError {
    /// A deadline that is not in the future.
    DeadlineExceeded = 0,
    /// The artifact is already known to the dispatcher.
    AlreadyDeployed = 16,
    /// The same validator asked again, or the request is no longer pending.
    DeployRequestAlreadyRegistered = 18,
    /// No pending, approved request matches the result.
    DeployRequestNotRegistered = 19,
}

impl ServiceError for SupervisorError {
    fn code(&self) -> u8 {
        *self as u8
    }

    fn description(&self) -> String {
        format!("{self:?}")
    }
}
