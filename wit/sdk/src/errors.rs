//! Typed errors. Only the kind and the code of an error enter consensus;
//! the description is for people.

use crate::bindings::wasmvisor::service::storage::StorageError;
use crate::bindings::wasmvisor::service::types::{ErrorKind, ExecutionError};

/// Errors any service may return, with the contract's stable codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CommonError {
    /// The service does not implement the requested interface.
    NoSuchInterface = 0,
    /// The interface has no such method.
    NoSuchMethod = 1,
    /// The caller may not call this method.
    UnauthorizedCaller = 2,
    /// The arguments do not decode.
    MalformedArguments = 3,
    /// The method existed in an earlier version and was removed.
    MethodRemoved = 4,
    /// The service does not support this operation.
    FeatureNotSupported = 5,
}

impl From<CommonError> for ExecutionError {
    fn from(error: CommonError) -> Self {
        common_error(error, format!("{error:?}"))
    }
}

/// Builds a common error with a specific description.
pub fn common_error(error: CommonError, description: impl Into<String>) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::Common,
        code: error as u8,
        description: description.into(),
    }
}

/// A service's own error type: implement it for an enum and `?` turns its
/// values into [`ExecutionError`]s of kind `service`.
pub trait ServiceError {
    /// The stable code of this error (part of consensus).
    fn code(&self) -> u8;
    /// Text for people (not part of consensus).
    fn description(&self) -> String;

    /// The errors as the interface lists them: a JSON array of
    /// `{"code": N, "name": "..."}`. `#[derive(ServiceError)]` writes it;
    /// a hand-written implementation lists none.
    #[doc(hidden)]
    const INTERFACE_JSON: &'static str = "[]";
}

impl<E: ServiceError> From<E> for ExecutionError {
    fn from(error: E) -> Self {
        service_error(error.code(), error.description())
    }
}

/// Builds a service error from a code and a description.
pub fn service_error(code: u8, description: impl Into<String>) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::Service,
        code,
        description: description.into(),
    }
}

/// Runtime error code reported when the host refuses a storage call (a
/// limit, a kind mismatch, a write where storage is read-only).
pub const STORAGE_FAILURE_CODE: u8 = 4;

/// Converts a refused storage call into an execution error of kind
/// `runtime`, code [`STORAGE_FAILURE_CODE`].
pub fn storage_failure(error: StorageError) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::Runtime,
        code: STORAGE_FAILURE_CODE,
        description: format!("storage refused the call: {error:?}"),
    }
}
