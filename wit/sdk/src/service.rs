//! The lifecycle a service implements, and the export glue.

use crate::{CommonError, ExecutionError, common_error};

pub use crate::bindings::exports::wasmvisor::service::guest::{MigrationPlan, QueryError};

/// One call to `execute`: which interface and method, with what arguments.
#[derive(Debug, Clone)]
pub struct Call {
    /// Interface name; "" is the service's own default interface.
    pub interface: String,
    /// Method id within the interface.
    pub method_id: u32,
    /// Encoded arguments (by convention a protobuf message).
    pub arguments: Vec<u8>,
}

impl Call {
    /// Decodes the arguments as protobuf message `M`; undecodable arguments
    /// fail with `MalformedArguments`.
    pub fn decode<M: prost::Message + Default>(&self) -> Result<M, ExecutionError> {
        M::decode(self.arguments.as_slice()).map_err(|error| malformed_arguments(self.method_id, error))
    }

    /// Fails with `NoSuchInterface` unless this call targets the default
    /// interface.
    pub fn require_default_interface(&self) -> Result<(), ExecutionError> {
        if self.interface.is_empty() {
            Ok(())
        } else {
            Err(common_error(
                CommonError::NoSuchInterface,
                format!("no interface named {:?}", self.interface),
            ))
        }
    }

    /// The `NoSuchMethod` error for this call.
    pub fn no_such_method(&self) -> ExecutionError {
        common_error(
            CommonError::NoSuchMethod,
            format!("no method {} in interface {:?}", self.method_id, self.interface),
        )
    }
}

/// The `MalformedArguments` error of method `method_id`, whose arguments
/// do not decode (`error` says why).
pub(crate) fn malformed_arguments(method_id: u32, error: impl std::fmt::Display) -> ExecutionError {
    common_error(
        CommonError::MalformedArguments,
        format!("arguments of method {method_id} do not decode: {error}"),
    )
}

impl From<ExecutionError> for QueryError {
    /// A failure while answering a query (a refused storage read) is the
    /// node's problem, not the client's: `Internal`.
    fn from(error: ExecutionError) -> Self {
        QueryError::Internal(error.description)
    }
}

/// A service. Every function has a default, so a service implements only
/// what it uses. Services keep no state in memory between calls: the host
/// creates a fresh instance for every call, and all state lives in storage.
pub trait Service {
    /// Constructor: runs once, in the block that starts the instance.
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        let _ = params;
        Ok(())
    }

    /// Runs when a Stopped or Frozen instance is resumed.
    fn resume(params: Vec<u8>) -> Result<(), ExecutionError> {
        let _ = params;
        Ok(())
    }

    /// Executes a transaction or a call from another service.
    fn execute(call: Call) -> Result<(), ExecutionError> {
        Err(call.no_such_method())
    }

    /// Runs before the transactions of every block.
    fn before_transactions() -> Result<(), ExecutionError> {
        Ok(())
    }

    /// Runs after the transactions of every block.
    fn after_transactions() -> Result<(), ExecutionError> {
        Ok(())
    }

    /// Node-local: a block was committed.
    fn after_commit() {}

    /// A read query; storage is read-only.
    fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        let _ = arguments;
        Err(QueryError::NotFound(format!("no query named {method:?}")))
    }

    /// Checks a proposed configuration.
    fn verify_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        let _ = params;
        Err(CommonError::FeatureNotSupported.into())
    }

    /// Applies an approved configuration.
    fn apply_config(params: Vec<u8>) -> Result<(), ExecutionError> {
        let _ = params;
        Err(CommonError::FeatureNotSupported.into())
    }

    /// How data of `from_version` becomes data of this version.
    fn plan_migration(from_version: String) -> MigrationPlan {
        let _ = from_version;
        MigrationPlan::Unsupported
    }

    /// Runs the data migration from `from_version`.
    fn migrate_data(from_version: String) -> Result<(), ExecutionError> {
        let _ = from_version;
        Err(CommonError::FeatureNotSupported.into())
    }
}

/// Exports a type implementing [`Service`] as the guest's `guest`
/// interface. Use it exactly once per guest crate.
#[macro_export]
macro_rules! export_service {
    ($service:ty) => {
        #[doc(hidden)]
        mod __wasmvisor_export {
            use super::*;
            use $crate::bindings::exports::wasmvisor::service::guest as __guest;

            pub struct ServiceGuest;

            impl __guest::Guest for ServiceGuest {
                fn initialize(params: Vec<u8>) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::initialize(params)
                }
                fn resume(params: Vec<u8>) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::resume(params)
                }
                fn execute(
                    interface_name: String,
                    method_id: u32,
                    arguments: Vec<u8>,
                ) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::execute($crate::Call {
                        interface: interface_name,
                        method_id,
                        arguments,
                    })
                }
                fn before_transactions() -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::before_transactions()
                }
                fn after_transactions() -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::after_transactions()
                }
                fn after_commit() {
                    <$service as $crate::Service>::after_commit()
                }
                fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, __guest::QueryError> {
                    <$service as $crate::Service>::query(method, arguments)
                }
                fn verify_config(params: Vec<u8>) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::verify_config(params)
                }
                fn apply_config(params: Vec<u8>) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::apply_config(params)
                }
                fn plan_migration(from_version: String) -> __guest::MigrationPlan {
                    <$service as $crate::Service>::plan_migration(from_version)
                }
                fn migrate_data(from_version: String) -> Result<(), $crate::ExecutionError> {
                    <$service as $crate::Service>::migrate_data(from_version)
                }
            }

            $crate::bindings::__export_guest!(ServiceGuest);
        }
    };
}
