//! The call context: which instance is running, for whom, at what height.

use crate::bindings::wasmvisor::service::context as host;
use crate::{Caller, CommonError, ExecutionError, InstanceSpec, common_error};

/// The instance being called.
pub fn instance() -> InstanceSpec {
    host::instance()
}

/// Who initiated the current call.
pub fn caller() -> Caller {
    host::current_caller()
}

/// Height of the block being executed (latest committed height in queries).
pub fn height() -> u64 {
    host::height()
}

/// The blake3 hash of `data`, computed by the host (the same on every node,
/// and far cheaper in fuel than hashing in wasm).
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let hash = host::blake3(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&hash[..32]);
    out
}

/// The Ed25519 public key that signed the current transaction, if the call
/// comes from a transaction.
pub fn transaction_author() -> Option<[u8; 32]> {
    match host::current_caller() {
        Caller::Transaction(transaction) => transaction.author.as_slice().try_into().ok(),
        Caller::Service(_) | Caller::Blockchain => None,
    }
}

/// Like [`transaction_author`], but a call that is not a signed transaction
/// fails with `UnauthorizedCaller`.
pub fn require_transaction_author() -> Result<[u8; 32], ExecutionError> {
    transaction_author().ok_or_else(|| {
        common_error(
            CommonError::UnauthorizedCaller,
            "this method must be called by a signed transaction",
        )
    })
}
