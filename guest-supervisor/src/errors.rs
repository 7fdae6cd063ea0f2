//! The supervisor's error codes (kind `service`), as in the reference, plus
//! one of our own (67) for a guard the reference lacked.

use wasmvisor_sdk::{ExecutionError, ServiceError, service_error};

/// Errors of the supervisor's transactions and hooks; the description of
/// each is its name (`#[derive(ServiceError)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ServiceError)]
pub enum SupervisorError {
    /// A deadline that is not in the future.
    DeadlineExceeded = 0,
    /// `actual_from` is not in the future (or a vote came too late).
    ActualFromIsPast = 1,
    /// The artifact is already known to the dispatcher.
    AlreadyDeployed = 16,
    /// The artifact may not be used this way (e.g. the supervisor's own
    /// artifact as an ordinary service).
    InvalidArtifactId = 17,
    /// The same validator asked again, or the request is no longer pending.
    DeployRequestAlreadyRegistered = 18,
    /// No pending, approved request matches the result.
    DeployRequestNotRegistered = 19,
    /// The artifact is not registered and Active.
    UnknownArtifact = 20,
    /// A service with that name exists (or is started twice).
    InstanceExists = 32,
    /// The service name is not valid.
    InvalidInstanceName = 33,
    /// A proposal is already pending.
    ConfigProposeExists = 48,
    /// The proposal breaks a rule (see the description).
    MalformedConfigPropose = 49,
    /// No pending proposal has this hash.
    ConfigProposeNotRegistered = 50,
    /// This validator already approved the proposal.
    AttemptToVoteTwice = 51,
    /// The proposal's configuration number is not the current one.
    IncorrectConfigurationNumber = 52,
    /// A proposed configuration is invalid (or its service refused it).
    InvalidConfig = 53,
    /// No migration in progress matches the result.
    MigrationRequestNotRegistered = 64,
    /// A validator's migration script failed.
    MigrationFailed = 65,
    /// Validators' migrated data differ.
    StateHashDivergence = 66,
    /// The same validator asked again, the request was already approved,
    /// or the service already migrates (the reference did not guard this).
    MigrationRequestAlreadyRegistered = 67,
}

impl SupervisorError {
    /// This error with a description of the case.
    pub fn with(self, description: impl std::fmt::Display) -> ExecutionError {
        service_error(self as u8, format!("{self:?}: {description}"))
    }
}
