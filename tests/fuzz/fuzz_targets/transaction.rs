//! Transaction decoding and verification: arbitrary bytes, and signed
//! transactions with one byte changed, never panic; whatever verifies is
//! in its canonical encoding and is exactly what was signed.
#![no_main]

use arbitrary::Arbitrary;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use wasmvisor_blockchain::transactions::{sign, verify};
use wasmvisor_proto::Message;
use wasmvisor_proto::messages::SignedMessage;
use wasmvisor_runtime::CallInfo;

const CHAIN: [u8; 32] = [7; 32];
const SIZE_MAX: usize = 1 << 16;

#[derive(Debug, Arbitrary)]
enum Input {
    /// Bytes from nowhere.
    Raw(Vec<u8>),
    /// A well-signed transaction, then changed.
    Signed {
        seed: [u8; 32],
        instance_id: u32,
        method_id: u32,
        arguments: Vec<u8>,
        chain: bool,
        change: Option<(u16, u8)>,
        append: Vec<u8>,
    },
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw(bytes) => {
            if let Ok(verified) = verify(&bytes, &CHAIN, SIZE_MAX) {
                assert_eq!(verified.signed, bytes);
                assert_eq!(verified.hash, *blake3::hash(&bytes).as_bytes());
                let decoded = SignedMessage::decode(bytes.as_slice()).expect("it verified");
                assert_eq!(decoded.encode_to_vec(), bytes, "only the canonical encoding verifies");
            }
        }
        Input::Signed {
            seed,
            instance_id,
            method_id,
            arguments,
            chain,
            change,
            append,
        } => {
            let key = SigningKey::from_bytes(&seed);
            let call = CallInfo { instance_id, method_id };
            let chain_id = if chain { CHAIN } else { [8; 32] };
            let original = sign(&key, &chain_id, call, arguments.clone());
            let mut bytes = original.clone();
            if let Some((position, xor)) = change {
                if !bytes.is_empty() {
                    let position = usize::from(position) % bytes.len();
                    bytes[position] ^= xor;
                }
            }
            bytes.extend_from_slice(&append);
            match verify(&bytes, &CHAIN, SIZE_MAX) {
                Ok(verified) => {
                    // Nothing but the untouched original verifies: a changed
                    // byte or an appended field is never the same
                    // transaction under a new hash.
                    assert!(chain, "a transaction for another chain verified");
                    assert_eq!(bytes, original, "a changed transaction verified");
                    assert_eq!(verified.author, key.verifying_key().to_bytes());
                    assert_eq!(verified.call, call);
                    assert_eq!(verified.arguments, arguments);
                }
                Err(_) => assert!(
                    bytes != original || !chain || original.len() > SIZE_MAX,
                    "the untouched original was refused"
                ),
            }
        }
    }
});
