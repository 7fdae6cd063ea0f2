//! Signing and verifying transactions.

use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::{TransactionError, sign, verify, verify_each, verify_each_unless_signed_checked};
use wasmvisor_proto::Message;
use wasmvisor_proto::messages::SignedMessage;
use wasmvisor_runtime::CallInfo;

const CHAIN: [u8; 32] = [7; 32];
const CALL: CallInfo = CallInfo {
    instance_id: 2,
    method_id: 1,
};

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn a_signed_transaction_verifies_with_its_author_and_hash() {
    let bytes = sign(&key(1), &CHAIN, CALL, b"args".to_vec());
    let verified = verify(&bytes, &CHAIN, 1 << 20).unwrap();
    assert_eq!(verified.author, key(1).verifying_key().to_bytes());
    assert_eq!(verified.call, CALL);
    assert_eq!(verified.arguments, b"args");
    assert_eq!(verified.hash, *blake3::hash(&bytes).as_bytes());
}

#[test]
fn bad_transactions_are_refused_with_the_reason() {
    let bytes = sign(&key(1), &CHAIN, CALL, b"args".to_vec());
    assert_eq!(
        verify(&bytes, &[8; 32], 1 << 20).unwrap_err(),
        TransactionError::WrongChain
    );
    assert_eq!(
        verify(&bytes, &CHAIN, 10).unwrap_err(),
        TransactionError::TooLarge {
            size: bytes.len(),
            max: 10
        }
    );
    assert!(matches!(
        verify(&[0xff; 20], &CHAIN, 1 << 20),
        Err(TransactionError::Malformed(_))
    ));

    let mut message = SignedMessage::decode(bytes.as_slice()).unwrap();
    message.signature[0] ^= 1;
    assert_eq!(
        verify(&message.encode_to_vec(), &CHAIN, 1 << 20).unwrap_err(),
        TransactionError::BadSignature
    );

    // Another author's key with the original signature.
    let mut message = SignedMessage::decode(bytes.as_slice()).unwrap();
    message.author = key(2).verifying_key().to_bytes().to_vec();
    assert_eq!(
        verify(&message.encode_to_vec(), &CHAIN, 1 << 20).unwrap_err(),
        TransactionError::BadSignature
    );

    let mut message = SignedMessage::decode(bytes.as_slice()).unwrap();
    message.author = vec![1; 5];
    assert_eq!(
        verify(&message.encode_to_vec(), &CHAIN, 1 << 20).unwrap_err(),
        TransactionError::BadAuthor
    );

    // A changed payload no longer matches the signature.
    let mut message = SignedMessage::decode(bytes.as_slice()).unwrap();
    let last = message.payload.len() - 1;
    message.payload[last] ^= 1;
    assert!(verify(&message.encode_to_vec(), &CHAIN, 1 << 20).is_err());
}

#[test]
fn another_encoding_of_a_signed_transaction_is_refused() {
    // Protobuf decoding accepts an unknown field, a repeated field or
    // reordered fields; each gives the same signed payload a new hash,
    // which would let anyone replay a committed transaction.
    let bytes = sign(&key(1), &CHAIN, CALL, b"args".to_vec());
    let canonical = verify(&bytes, &CHAIN, 1 << 20).unwrap();
    let message = SignedMessage::decode(bytes.as_slice()).unwrap();

    let mut unknown_field = bytes.clone();
    unknown_field.extend([15 << 3, 1]); // field 15, varint 1
    let mut repeated_field = bytes.clone();
    repeated_field.extend(
        SignedMessage {
            signature: message.signature.clone(),
            ..SignedMessage::default()
        }
        .encode_to_vec(),
    );
    let mut reordered = SignedMessage {
        signature: message.signature.clone(),
        ..SignedMessage::default()
    }
    .encode_to_vec();
    reordered.extend(
        SignedMessage {
            signature: Vec::new(),
            ..message.clone()
        }
        .encode_to_vec(),
    );
    for (what, variant) in [
        ("an unknown field", unknown_field),
        ("a repeated field", repeated_field),
        ("reordered fields", reordered),
    ] {
        assert_eq!(
            SignedMessage::decode(variant.as_slice()).unwrap(),
            message,
            "{what}: protobuf reads the same message"
        );
        assert_ne!(*blake3::hash(&variant).as_bytes(), canonical.hash);
        assert_eq!(
            verify(&variant, &CHAIN, 1 << 20).unwrap_err(),
            TransactionError::Malformed("the signed message is not in its canonical encoding".into()),
            "{what}"
        );
    }
}

#[test]
fn a_signature_checked_before_is_not_checked_again_and_nothing_else_changes() {
    let honest: Vec<Vec<u8>> = (1..=6).map(|seed| sign(&key(seed), &CHAIN, CALL, vec![seed])).collect();
    let mut forged = sign(&key(9), &CHAIN, CALL, b"x".to_vec());
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let other_chain = sign(&key(8), &[1; 32], CALL, b"y".to_vec());
    let mut batch = honest.clone();
    batch.extend([forged.clone(), other_chain.clone(), honest[0][..10].to_vec()]);
    let hash = |bytes: &[u8]| *blake3::hash(bytes).as_bytes();
    let every = verify_each(&batch, &CHAIN, 1 << 20);
    // Naming the honest ones (as a node names what it pooled): the same
    // verdicts, in the same order.
    let pooled: Vec<[u8; 32]> = honest.iter().step_by(2).map(|bytes| hash(bytes)).collect();
    let known = verify_each_unless_signed_checked(&batch, &CHAIN, 1 << 20, |hash| pooled.contains(hash));
    assert_eq!(known, every);
    assert!(every[..6].iter().all(Result::is_ok));
    assert_eq!(every[6], Err(TransactionError::BadSignature));
    assert_eq!(every[7], Err(TransactionError::WrongChain));
    assert!(matches!(every[8], Err(TransactionError::Malformed(_))));
    // Every check but the signature runs again: a transaction named but of
    // another chain, or now over the size limit, is still refused.
    let named = [hash(&other_chain), hash(&honest[1])];
    let again = verify_each_unless_signed_checked(&batch, &CHAIN, 1 << 20, |hash| named.contains(hash));
    assert_eq!(again[7], Err(TransactionError::WrongChain));
    let smaller = verify_each_unless_signed_checked(&batch, &CHAIN, honest[1].len() - 1, |hash| named.contains(hash));
    assert!(matches!(smaller[1], Err(TransactionError::TooLarge { .. })));
    // The signature is what is skipped: a forged one named as checked
    // passes (which is why only what this node admitted is named).
    let skipped = verify_each_unless_signed_checked(std::slice::from_ref(&forged), &CHAIN, 1 << 20, |candidate| {
        *candidate == hash(&forged)
    });
    assert!(skipped[0].is_ok());
}
