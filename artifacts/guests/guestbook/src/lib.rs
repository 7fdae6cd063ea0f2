//! The guide's example service: a guestbook. See docs/SERVICE-AUTHORS.md.

use wasmvisor_sdk::{ExecutionError, ProofList, QueryError, ServiceError, context};

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

#[wasmvisor_sdk::service(errors = GuestbookError)]
impl Guestbook {
    /// Signs the guestbook; the arguments are the message (UTF-8).
    #[method(id = 0)]
    fn sign(message: Vec<u8>) -> Result<(), ExecutionError> {
        let author = context::require_transaction_author()?;
        if message.is_empty() {
            return Err(GuestbookError::EmptyMessage.into());
        }
        if message.len() > MESSAGE_LEN_MAX {
            return Err(GuestbookError::MessageTooLong.into());
        }
        entries().push(&[&author[..], &message].concat())?;
        Ok(())
    }

    /// How many entries there are.
    #[query]
    fn count() -> Result<u64, QueryError> {
        Ok(entries().len()?)
    }

    /// The latest entry, for the node's operator only (its private API).
    #[query(name = "latest-entry", private)]
    fn latest_entry() -> Result<Vec<u8>, QueryError> {
        let count = entries().len()?;
        let latest = count
            .checked_sub(1)
            .map(|position| entries().get(position))
            .transpose()?;
        latest
            .flatten()
            .ok_or_else(|| QueryError::NotFound("the guestbook is empty".into()))
    }
}
