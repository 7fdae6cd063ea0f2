//! Batches of signed transactions on the wire: the `TransactionBatch`
//! message of `messages.proto`, which `POST
//! /api/explorer/v1/transactions/batch` takes and the relay between
//! validators sends.
//!
//! A batch is read field by field, never decoded whole first: it is
//! refused as soon as it holds more than [`SUBMIT_BATCH_ITEMS_MAX`]
//! transactions, so a body of many empty items costs no more memory than
//! its bytes.

use std::ops::Range;

use prost::bytes::Buf;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint, encoded_len_varint, key_len};

pub use wasmvisor_limits::{SUBMIT_BATCH_BYTES_MAX, SUBMIT_BATCH_ITEMS_MAX};

/// `TransactionBatch.transactions`.
const TRANSACTIONS_FIELD: u32 = 1;

/// Why a batch was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// More bytes than [`SUBMIT_BATCH_BYTES_MAX`].
    #[error("a batch is at most {SUBMIT_BATCH_BYTES_MAX} bytes; this one is {0}")]
    TooLarge(usize),
    /// More transactions than [`SUBMIT_BATCH_ITEMS_MAX`].
    #[error("a batch holds at most {SUBMIT_BATCH_ITEMS_MAX} transactions; this one holds more")]
    TooMany,
    /// Not an encoded `TransactionBatch`.
    #[error("a batch is an encoded TransactionBatch: {0}")]
    Malformed(String),
}

/// Bytes a transaction of `length` bytes adds to an encoded batch.
pub fn item_bytes(length: usize) -> usize {
    key_len(TRANSACTIONS_FIELD) + encoded_len_varint(length as u64) + length
}

/// Encodes `transactions` as a `TransactionBatch` (the bytes prost's
/// generated message gives).
pub fn encode<T: AsRef<[u8]>>(transactions: &[T]) -> Vec<u8> {
    let length = transactions
        .iter()
        .map(|transaction| item_bytes(transaction.as_ref().len()))
        .sum();
    let mut encoded = Vec::with_capacity(length);
    for transaction in transactions {
        let transaction = transaction.as_ref();
        encode_key(TRANSACTIONS_FIELD, WireType::LengthDelimited, &mut encoded);
        encode_varint(transaction.len() as u64, &mut encoded);
        encoded.extend_from_slice(transaction);
    }
    encoded
}

/// The transactions of an encoded `TransactionBatch`, in order. Only its
/// one field is accepted; the limits are checked before anything is kept.
pub fn decode(body: &[u8]) -> Result<Vec<Vec<u8>>, BatchError> {
    Ok(decode_ranges(body)?
        .into_iter()
        .map(|range| body[range].to_vec())
        .collect())
}

/// Where [`decode`]'s transactions lie in `body`: the same checks, no
/// copies (the API slices the request body with them).
pub fn decode_ranges(body: &[u8]) -> Result<Vec<Range<usize>>, BatchError> {
    if body.len() > SUBMIT_BATCH_BYTES_MAX {
        return Err(BatchError::TooLarge(body.len()));
    }
    let malformed = |error: prost::DecodeError| BatchError::Malformed(error.to_string());
    let mut rest = body;
    let mut ranges = Vec::new();
    while rest.has_remaining() {
        let (field, wire_type) = decode_key(&mut rest).map_err(malformed)?;
        if field != TRANSACTIONS_FIELD || wire_type != WireType::LengthDelimited {
            return Err(BatchError::Malformed(format!(
                "field {field} ({wire_type:?}) is not `repeated bytes transactions = 1`"
            )));
        }
        let length = decode_varint(&mut rest).map_err(malformed)?;
        let length = usize::try_from(length)
            .ok()
            .filter(|length| *length <= rest.len())
            .ok_or_else(|| BatchError::Malformed("a transaction runs past the end of the batch".into()))?;
        if ranges.len() == SUBMIT_BATCH_ITEMS_MAX {
            return Err(BatchError::TooMany);
        }
        let start = body.len() - rest.len();
        ranges.push(start..start + length);
        rest.advance(length);
    }
    Ok(ranges)
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use wasmvisor_proto::messages::TransactionBatch;

    use super::*;

    #[test]
    fn a_batch_is_the_bytes_of_the_generated_message() {
        let transactions = vec![vec![1u8; 3], Vec::new(), vec![7u8; 300]];
        let encoded = encode(&transactions);
        let generated = TransactionBatch {
            transactions: transactions.clone(),
        }
        .encode_to_vec();
        assert_eq!(encoded, generated);
        assert_eq!(
            encoded.len(),
            transactions.iter().map(|t| item_bytes(t.len())).sum::<usize>()
        );
        assert_eq!(decode(&encoded).unwrap(), transactions);
        assert_eq!(decode(&[]).unwrap(), Vec::<Vec<u8>>::new());
    }

    #[test]
    fn a_batch_of_one_transaction_too_many_is_refused_before_it_is_kept() {
        let at_limit = vec![Vec::<u8>::new(); SUBMIT_BATCH_ITEMS_MAX];
        assert_eq!(decode(&encode(&at_limit)).unwrap().len(), SUBMIT_BATCH_ITEMS_MAX);
        let over = vec![Vec::<u8>::new(); SUBMIT_BATCH_ITEMS_MAX + 1];
        assert_eq!(decode(&encode(&over)), Err(BatchError::TooMany));
        // A body of the largest size, all empty items: refused at the limit.
        let flood = [0x0a_u8, 0x00].repeat(SUBMIT_BATCH_BYTES_MAX / 2);
        assert_eq!(decode(&flood), Err(BatchError::TooMany));
        let mut too_large = flood;
        too_large.extend([0x0a, 0x00]);
        assert_eq!(
            decode(&too_large),
            Err(BatchError::TooLarge(SUBMIT_BATCH_BYTES_MAX + 2))
        );
    }

    #[test]
    fn a_malformed_batch_is_refused_with_the_reason() {
        let one = encode(&[vec![5u8; 10]]);
        // Cut short.
        assert!(matches!(decode(&one[..one.len() - 1]), Err(BatchError::Malformed(_))));
        // Another field, or the right field with another wire type.
        assert!(matches!(decode(&[0x12, 0x00]), Err(BatchError::Malformed(_))));
        assert!(matches!(decode(&[0x08, 0x01]), Err(BatchError::Malformed(_))));
        // A length beyond any buffer.
        assert!(matches!(
            decode(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(BatchError::Malformed(_))
        ));
    }
}
