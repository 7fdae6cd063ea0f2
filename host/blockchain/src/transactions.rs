//! Signed transactions: building, signing and verifying them.
//!
//! A transaction is a `SignedMessage` whose payload is an encoded `AnyTx`
//! (call, arguments, chain id); the Ed25519 signature covers the payload
//! bytes; the transaction hash is blake3 of the encoded `SignedMessage`.

use ed25519_dalek::{Signer, SigningKey};
use wasmvisor_proto::Message;
use wasmvisor_proto::messages::{AnyTx, SignedMessage};
use wasmvisor_runtime::CallInfo;
use wasmvisor_storage::Hash;

/// Why a transaction was refused before execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// Larger than the limit in force.
    #[error("the transaction has {size} bytes; the maximum is {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes are not a signed transaction.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The author is not a public key the chain's signature rule accepts
    /// (32 bytes, a canonical encoding of a curve point not of small
    /// order).
    #[error("the author is not a valid Ed25519 public key")]
    BadAuthor,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// Signed for another chain.
    #[error("the transaction is for another chain")]
    WrongChain,
    /// This node could not read what the check needs (its own failure,
    /// not the transaction's).
    #[error("this node cannot check transactions: {0}")]
    Node(wasmvisor_runtime::NodeError),
}

/// A transaction whose signature, size and chain were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTransaction {
    /// blake3 of the signed message.
    pub hash: Hash,
    /// The author's public key.
    pub author: [u8; 32],
    /// Target instance and method.
    pub call: CallInfo,
    /// Encoded arguments.
    pub arguments: Vec<u8>,
    /// The signed message as submitted.
    pub signed: Vec<u8>,
}

impl VerifiedTransaction {
    /// The transaction as the dispatcher executes it.
    pub fn to_dispatcher(&self) -> wasmvisor_dispatcher::Transaction {
        wasmvisor_dispatcher::Transaction {
            author: self.author,
            hash: self.hash,
            call: self.call,
            arguments: self.arguments.clone(),
        }
    }
}

/// Builds and signs a transaction for `chain_id`; returns the signed bytes.
pub fn sign(key: &SigningKey, chain_id: &Hash, call: CallInfo, arguments: Vec<u8>) -> Vec<u8> {
    let payload = AnyTx {
        call_info: Some(wasmvisor_proto::runtime::CallInfo {
            instance_id: call.instance_id,
            method_id: call.method_id,
        }),
        arguments,
        chain_id: chain_id.to_vec(),
    }
    .encode_to_vec();
    let signature = key.sign(&payload);
    SignedMessage {
        payload,
        author: key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// A transaction of exactly `size` signed bytes: `arguments_byte` repeated
/// as its arguments, as many as make up the size (for tests and benchmarks
/// of the size limits). `None` if `size` is below a transaction's overhead
/// or falls in a gap of the length encoding.
pub fn sign_to_size(
    key: &SigningKey,
    chain_id: &Hash,
    call: CallInfo,
    arguments_byte: u8,
    size: usize,
) -> Option<Vec<u8>> {
    let overhead = sign(key, chain_id, call, Vec::new()).len();
    let mut length = size.checked_sub(overhead)?;
    // Length prefixes grow with the arguments: shrink until it fits.
    for _ in 0..16 {
        let signed = sign(key, chain_id, call, vec![arguments_byte; length]);
        match signed.len().cmp(&size) {
            std::cmp::Ordering::Equal => return Some(signed),
            std::cmp::Ordering::Greater => length = length.checked_sub(signed.len() - size)?,
            std::cmp::Ordering::Less => length += size - signed.len(),
        }
    }
    None
}

/// Checks a signed transaction: size first (before decoding anything),
/// then shape (the canonical encoding only), author key, chain and
/// signature (the chain's rule, `wasmvisor_signature`).
pub fn verify(bytes: &[u8], chain_id: &Hash, size_max: usize) -> Result<VerifiedTransaction, TransactionError> {
    let parsed = parse(bytes, chain_id, size_max)?;
    let verdict = wasmvisor_signature::verify(&parsed.transaction.author, &parsed.payload, &parsed.signature);
    parsed.checked(verdict)
}

/// [`verify`]'s verdict on each of `transactions`, in order, with the
/// signatures checked in batches over every core
/// (`wasmvisor_signature::verify_each`, which gives the same verdicts).
pub fn verify_each<T: AsRef<[u8]>>(
    transactions: &[T],
    chain_id: &Hash,
    size_max: usize,
) -> Vec<Result<VerifiedTransaction, TransactionError>> {
    verify_each_unless_signed_checked(transactions, chain_id, size_max, |_| false)
}

/// [`verify_each`]'s verdicts, without checking again the signatures of
/// the transactions `signature_checked` names by hash: transactions whose
/// very bytes (the hash covers every byte) passed this rule on this node
/// before, at admission. Everything else — size, encoding, chain — is
/// checked again, so the verdicts are [`verify_each`]'s.
pub fn verify_each_unless_signed_checked<T: AsRef<[u8]>>(
    transactions: &[T],
    chain_id: &Hash,
    size_max: usize,
    signature_checked: impl Fn(&Hash) -> bool,
) -> Vec<Result<VerifiedTransaction, TransactionError>> {
    let parsed: Vec<Result<Parsed, TransactionError>> = transactions
        .iter()
        .map(|bytes| parse(bytes.as_ref(), chain_id, size_max))
        .collect();
    let needs_check = |parsed: &Result<Parsed, TransactionError>| {
        parsed
            .as_ref()
            .is_ok_and(|parsed| !signature_checked(&parsed.transaction.hash))
    };
    let signed: Vec<wasmvisor_signature::Signed<'_>> = parsed
        .iter()
        .filter(|parsed| needs_check(parsed))
        .filter_map(|parsed| parsed.as_ref().ok())
        .map(|parsed| wasmvisor_signature::Signed {
            public_key: &parsed.transaction.author,
            message: &parsed.payload,
            signature: &parsed.signature,
        })
        .collect();
    let mut verdicts = wasmvisor_signature::verify_each(&signed).into_iter();
    parsed
        .into_iter()
        .map(|parsed| {
            let checked_before = !needs_check(&parsed);
            let parsed = parsed?;
            let verdict = if checked_before {
                Ok(())
            } else {
                verdicts.next().expect("a verdict for each transaction checked")
            };
            parsed.checked(verdict)
        })
        .collect()
}

/// A transaction checked in all but its signature.
struct Parsed {
    transaction: VerifiedTransaction,
    /// The signed payload bytes.
    payload: Vec<u8>,
    signature: [u8; wasmvisor_signature::SIGNATURE_BYTES],
}

impl Parsed {
    /// The transaction, if its signature's verdict accepts it.
    fn checked(
        self,
        verdict: Result<(), wasmvisor_signature::Refusal>,
    ) -> Result<VerifiedTransaction, TransactionError> {
        match verdict {
            Ok(()) => Ok(self.transaction),
            Err(refusal) if refusal.is_key_refusal() => Err(TransactionError::BadAuthor),
            Err(_) => Err(TransactionError::BadSignature),
        }
    }
}

/// Everything [`verify`] checks but the signature, in its order.
fn parse(bytes: &[u8], chain_id: &Hash, size_max: usize) -> Result<Parsed, TransactionError> {
    if bytes.len() > size_max {
        return Err(TransactionError::TooLarge {
            size: bytes.len(),
            max: size_max,
        });
    }
    let signed = SignedMessage::decode(bytes).map_err(|error| TransactionError::Malformed(error.to_string()))?;
    // The hash names the transaction for replay protection, so one signed
    // payload must have exactly one encoding: protobuf decoding accepts
    // unknown fields, repeated fields and reordered fields, any of which
    // would give a committed transaction a fresh hash.
    if signed.encoded_len() != bytes.len() || signed.encode_to_vec() != bytes {
        return Err(TransactionError::Malformed(
            "the signed message is not in its canonical encoding".into(),
        ));
    }
    let author: [u8; 32] = signed
        .author
        .as_slice()
        .try_into()
        .map_err(|_| TransactionError::BadAuthor)?;
    let signature: [u8; 64] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| TransactionError::BadSignature)?;
    let payload =
        AnyTx::decode(signed.payload.as_slice()).map_err(|error| TransactionError::Malformed(error.to_string()))?;
    if payload.chain_id.as_slice() != chain_id.as_slice() {
        return Err(TransactionError::WrongChain);
    }
    let call = payload
        .call_info
        .ok_or_else(|| TransactionError::Malformed("no call info".into()))?;
    Ok(Parsed {
        transaction: VerifiedTransaction {
            hash: *blake3::hash(bytes).as_bytes(),
            author,
            call: CallInfo {
                instance_id: call.instance_id,
                method_id: call.method_id,
            },
            arguments: payload.arguments,
            signed: bytes.to_vec(),
        },
        payload: signed.payload,
        signature,
    })
}
