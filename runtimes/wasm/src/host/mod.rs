//! Host implementations of the WIT interfaces, one file per interface.

mod calls;
mod context;
mod dispatcher;
mod node;
mod storage;
mod types;

use crate::bindings::{ErrorKind, ExecutionError};

/// Core error code IncorrectCall.
const INCORRECT_CALL: u8 = 14;

/// A core IncorrectCall error for the guest.
pub(crate) fn incorrect_call(description: impl Into<String>) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::Core,
        code: INCORRECT_CALL,
        description: description.into(),
    }
}

/// A contract error as the guest sees it.
pub(crate) fn to_guest_error(error: wasmvisor_runtime::ExecutionError) -> ExecutionError {
    let (kind, code) = match error.kind {
        wasmvisor_runtime::ErrorKind::Unexpected => (ErrorKind::Unexpected, 0),
        wasmvisor_runtime::ErrorKind::Common(code) => (ErrorKind::Common, code),
        wasmvisor_runtime::ErrorKind::Core(code) => (ErrorKind::Core, code),
        wasmvisor_runtime::ErrorKind::Runtime(code) => (ErrorKind::Runtime, code),
        wasmvisor_runtime::ErrorKind::Service(code) => (ErrorKind::Service, code),
    };
    ExecutionError {
        kind,
        code,
        description: error.description,
    }
}
