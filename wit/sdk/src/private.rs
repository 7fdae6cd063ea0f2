//! What the SDK's macros expand to; not a public interface.

pub use prost;
pub use wit_bindgen;

use crate::{CommonError, ExecutionError, QueryError, common_error};

/// Total length of `parts`, in bytes.
pub const fn concat_len(parts: &[&str]) -> usize {
    let mut total = 0;
    let mut index = 0;
    while index < parts.len() {
        total += parts[index].len();
        index += 1;
    }
    total
}

/// `parts` one after another, as the bytes of a custom section (`N` must
/// be [`concat_len`] of `parts`; anything else fails to compile).
pub const fn concat<const N: usize>(parts: &[&str]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut index = 0;
    while index < parts.len() {
        let bytes = parts[index].as_bytes();
        let mut offset = 0;
        while offset < bytes.len() {
            out[at] = bytes[offset];
            at += 1;
            offset += 1;
        }
        index += 1;
    }
    assert!(at == N, "the section's length is the sum of its parts");
    out
}

/// `bytes` as an array, for a custom section.
pub const fn bytes_array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    while at < N {
        out[at] = bytes[at];
        at += 1;
    }
    out
}

/// How a payload (arguments, an answer, parameters) is carried as bytes.
/// The `#[service]` macro picks one per Rust type: `Vec<u8>` is `Bytes`,
/// `String` is `Text` (UTF-8), `u64` is `U64` (8 bytes, little-endian),
/// no argument at all is `Empty`, and any other type a protobuf message.
pub trait Payload: Sized {
    /// Decodes the payload, or says why it does not decode.
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String>;
    /// Encodes the payload.
    fn encode_payload(self) -> Vec<u8>;
}

/// A protobuf message payload.
pub struct Message<M>(pub M);

impl<M: prost::Message + Default> Payload for Message<M> {
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String> {
        M::decode(bytes.as_slice())
            .map(Message)
            .map_err(|error| error.to_string())
    }
    fn encode_payload(self) -> Vec<u8> {
        self.0.encode_to_vec()
    }
}

impl Payload for Vec<u8> {
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String> {
        Ok(bytes)
    }
    fn encode_payload(self) -> Vec<u8> {
        self
    }
}

impl Payload for String {
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String> {
        String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())
    }
    fn encode_payload(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl Payload for u64 {
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String> {
        let bytes: [u8; 8] = bytes
            .try_into()
            .map_err(|_| "not 8 bytes (a little-endian u64)".to_owned())?;
        Ok(u64::from_le_bytes(bytes))
    }
    fn encode_payload(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

impl Payload for () {
    fn decode_payload(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err("takes no arguments".to_owned())
        }
    }
    fn encode_payload(self) -> Vec<u8> {
        Vec::new()
    }
}

/// Decodes a method's arguments: undecodable ones fail with
/// `MalformedArguments`.
pub fn method_arguments<P: Payload>(method_id: u32, arguments: Vec<u8>) -> Result<P, ExecutionError> {
    P::decode_payload(arguments).map_err(|error| crate::service::malformed_arguments(method_id, error))
}

/// Decodes constructor or configuration parameters named `what`:
/// undecodable ones fail with `MalformedArguments`.
pub fn parameters<P: Payload>(what: &str, params: Vec<u8>) -> Result<P, ExecutionError> {
    P::decode_payload(params).map_err(|error| {
        common_error(
            CommonError::MalformedArguments,
            format!("{what} does not decode: {error}"),
        )
    })
}

/// Decodes a query's arguments named `what`: undecodable ones are a bad
/// request.
pub fn query_arguments<P: Payload>(what: &str, arguments: Vec<u8>) -> Result<P, QueryError> {
    P::decode_payload(arguments).map_err(|error| QueryError::BadRequest(format!("{what} does not decode: {error}")))
}
