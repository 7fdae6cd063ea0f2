//! The guide's example service: a guestbook. See docs/SERVICE-AUTHORS.md.

use wasmvisor_sdk::{Call, ExecutionError, ProofList, QueryError, Service, ServiceError, context};

/// Method 0: sign the guestbook; the arguments are the message (UTF-8).
const SIGN: u32 = 0;
/// Longest message, in bytes.
const MESSAGE_LEN_MAX: usize = 280;

/// The guestbook's own errors, with stable codes.
#[derive(Debug, Clone, Copy, ServiceError)]
enum GuestbookError {
    EmptyMessage = 0,
    MessageTooLong = 1,
}

/// Every entry: the signer's public key followed by the message. A proof
/// list, so entries are provable against a block header.
fn entries() -> ProofList<Vec<u8>> {
    ProofList::new("entries")
}

struct Guestbook;

impl Service for Guestbook {
    fn execute(call: Call) -> Result<(), ExecutionError> {
        call.require_default_interface()?;
        match call.method_id {
            SIGN => {
                let author = context::require_transaction_author()?;
                if call.arguments.is_empty() {
                    return Err(GuestbookError::EmptyMessage.into());
                }
                if call.arguments.len() > MESSAGE_LEN_MAX {
                    return Err(GuestbookError::MessageTooLong.into());
                }
                entries().push(&[&author[..], &call.arguments].concat())?;
                Ok(())
            }
            _ => Err(call.no_such_method()),
        }
    }

    fn query(method: String, _arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "count" => {
                let count = entries()
                    .len()
                    .map_err(|error| QueryError::Internal(error.description))?;
                Ok(count.to_le_bytes().to_vec())
            }
            _ => Err(QueryError::NotFound(method)),
        }
    }
}

wasmvisor_sdk::export_service!(Guestbook);
