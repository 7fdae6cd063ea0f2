//! The chain's Ed25519 rule on the published edge cases, and the batch
//! path's agreement with the single one.

use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signer, SigningKey};
use wasmvisor_signature::{
    BATCH_ITEMS_MIN, Refusal, Signed, is_canonical_point_encoding, is_small_order_encoding, small_order_encodings,
    verify, verify_each,
};

/// One vector of `tests/vectors/speccheck-cases.json`.
struct Case {
    message: Vec<u8>,
    public_key: [u8; 32],
    signature: [u8; 64],
}

impl Case {
    fn signed(&self) -> Signed<'_> {
        Signed {
            public_key: &self.public_key,
            message: &self.message,
            signature: &self.signature,
        }
    }
}

fn cases() -> Vec<Case> {
    let text = include_str!("../vectors/speccheck-cases.json");
    let cases: Vec<serde_json::Value> = serde_json::from_str(text).unwrap();
    cases
        .iter()
        .map(|case| {
            let bytes = |field: &str| hex::decode(case[field].as_str().unwrap()).unwrap();
            Case {
                message: bytes("message"),
                public_key: bytes("pub_key").try_into().unwrap(),
                signature: bytes("signature").try_into().unwrap(),
            }
        })
        .collect()
}

/// The rule's verdict on each vector, by the paper's table of what the
/// vector is (README of ed25519-speccheck).
const EXPECTED: [Result<(), Refusal>; 12] = [
    // 0: small-order A and R, S = 0.
    Err(Refusal::SmallOrderKey),
    // 1: small-order A.
    Err(Refusal::SmallOrderKey),
    // 2: small-order R.
    Err(Refusal::SmallOrderR),
    // 3: mixed-order A and R; both equations hold.
    Ok(()),
    // 4: mixed-order A and R; only the cofactored equation holds.
    Ok(()),
    // 5: mixed-order A; the cofactored equation holds unless 8k is
    // reduced before multiplying.
    Ok(()),
    // 6, 7: S above the group order.
    Err(Refusal::UnreducedS),
    Err(Refusal::UnreducedS),
    // 8, 9: a non-canonical R.
    Err(Refusal::NonCanonicalR),
    Err(Refusal::NonCanonicalR),
    // 10, 11: a non-canonical A.
    Err(Refusal::NonCanonicalKey),
    Err(Refusal::NonCanonicalKey),
];

fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0x5a;
    SigningKey::from_bytes(&bytes)
}

/// `count` honest signatures, each by its own key over its own message.
fn honest(count: usize, salt: u64) -> Vec<Case> {
    (0..count as u64)
        .map(|index| {
            let signer = key(salt * 1_000_003 + index);
            let message = format!("transfer {index} of run {salt}").into_bytes();
            Case {
                signature: signer.sign(&message).to_bytes(),
                public_key: signer.verifying_key().to_bytes(),
                message,
            }
        })
        .collect()
}

fn singles(cases: &[Case]) -> Vec<Result<(), Refusal>> {
    cases
        .iter()
        .map(|case| verify(&case.public_key, &case.message, &case.signature))
        .collect()
}

fn batched(cases: &[Case]) -> Vec<Result<(), Refusal>> {
    verify_each(&cases.iter().map(Case::signed).collect::<Vec<_>>())
}

#[test]
fn the_published_edge_cases_get_the_rules_verdict_alone_and_in_batches() {
    let cases = cases();
    assert_eq!(cases.len(), EXPECTED.len());
    for (index, case) in cases.iter().enumerate() {
        let single = verify(&case.public_key, &case.message, &case.signature);
        assert_eq!(single, EXPECTED[index], "vector {index}, checked alone");
        assert_eq!(
            batched(std::slice::from_ref(case)),
            vec![EXPECTED[index]],
            "vector {index}, a batch of one"
        );
        // Among honest signatures, in one batch large enough to be
        // checked by the batch equation, at each end and in the middle.
        for position in [0, 20, 2 * BATCH_ITEMS_MIN] {
            let mut mixed = honest(2 * BATCH_ITEMS_MIN, index as u64);
            mixed.insert(
                position,
                Case {
                    message: case.message.clone(),
                    ..*case
                },
            );
            let verdicts = batched(&mixed);
            assert_eq!(verdicts[position], EXPECTED[index], "vector {index} at {position}");
            assert_eq!(verdicts, singles(&mixed), "vector {index} at {position}");
            assert_eq!(
                verdicts.iter().filter(|verdict| verdict.is_err()).count(),
                usize::from(EXPECTED[index].is_err()),
                "only the vector can be refused"
            );
        }
    }
    // All twelve in one call.
    assert_eq!(batched(&cases), EXPECTED.to_vec());
}

#[test]
fn the_rule_differs_from_dalek_verify_strict_only_where_the_cofactor_decides() {
    // The rule this crate replaced: the cofactorless `verify_strict`
    // accepts vector 3 only; the rule also accepts 4 and 5, whose points
    // carry a torsion component no honest signer produces.
    for (index, case) in cases().iter().enumerate() {
        let strict = ed25519_dalek::VerifyingKey::from_bytes(&case.public_key).is_ok_and(|key| {
            key.verify_strict(&case.message, &ed25519_dalek::Signature::from_bytes(&case.signature))
                .is_ok()
        });
        let rule = EXPECTED[index].is_ok();
        assert_eq!(strict, index == 3, "vector {index} under verify_strict");
        assert_eq!(rule && !strict, index == 4 || index == 5, "vector {index}");
    }
}

#[test]
fn batches_agree_with_single_checks_on_honest_and_tampered_signatures() {
    for run in 0..4u64 {
        let mut cases = honest(300, 100 + run);
        // Tamper with every seventh: a signature bit, a message byte, the
        // key (another signer's), or S pushed out of range.
        for (index, case) in cases.iter_mut().enumerate().filter(|(index, _)| index % 7 == 3) {
            match index % 4 {
                0 => case.signature[(index * 5) % 64] ^= 1 << (index % 8),
                1 => case.message.push(0),
                2 => case.public_key = key(index as u64 + 7).verifying_key().to_bytes(),
                _ => case.signature[63] |= 0xf0,
            }
        }
        // And the edge cases among them.
        for (index, case) in crate::cases().into_iter().enumerate() {
            cases.insert(index * 25, case);
        }
        let verdicts = batched(&cases);
        assert_eq!(verdicts, singles(&cases), "run {run}");
        let refused = verdicts.iter().filter(|verdict| verdict.is_err()).count();
        assert_eq!(refused, 43 + 9, "run {run}: every tampered one and nine vectors");
    }
    assert_eq!(batched(&[]), Vec::new());
    let all_honest = honest(1_000, 9);
    assert!(batched(&all_honest).iter().all(Result::is_ok));
}

#[test]
fn the_small_order_encodings_are_the_whole_8_torsion_subgroup() {
    let encodings = small_order_encodings();
    let points: Vec<_> = encodings
        .iter()
        .map(|bytes| CompressedEdwardsY(*bytes).decompress().expect("a point"))
        .collect();
    for (bytes, point) in encodings.iter().zip(&points) {
        assert!(point.is_small_order(), "{bytes:02x?}");
        assert_eq!(point.compress().to_bytes(), *bytes, "canonical");
        assert!(is_canonical_point_encoding(bytes));
        assert!(is_small_order_encoding(bytes));
    }
    // Eight distinct points of small order, closed under addition: the
    // 8-torsion subgroup, which has exactly eight.
    for (index, bytes) in encodings.iter().enumerate() {
        assert!(!encodings[..index].contains(bytes), "distinct");
    }
    for left in &points {
        for right in &points {
            assert!(encodings.contains(&(left + right).compress().to_bytes()));
        }
    }
    // An honest key is not of small order.
    assert!(!is_small_order_encoding(&key(1).verifying_key().to_bytes()));
}

#[test]
fn the_canonical_check_agrees_with_decompression() {
    // Every y next to the edges (0, 1, p - 1, p, 2^255 - 1) with both sign
    // bits, and pseudo-random bytes.
    let mut encodings = Vec::new();
    for low in 0..=40u8 {
        let mut small = [0u8; 32];
        small[0] = low;
        encodings.push(small);
    }
    for low in 0xc0..=0xffu8 {
        let mut high = [0xffu8; 32];
        high[31] = 0x7f;
        high[0] = low;
        encodings.push(high);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..4_000 {
        let mut bytes = [0u8; 32];
        for byte in &mut bytes {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        encodings.push(bytes);
    }
    let signed: Vec<[u8; 32]> = encodings
        .iter()
        .flat_map(|bytes| {
            let mut negative = *bytes;
            negative[31] |= 0x80;
            let mut positive = *bytes;
            positive[31] &= 0x7f;
            [positive, negative]
        })
        .collect();
    let mut points = 0;
    let mut non_canonical = 0;
    for bytes in &signed {
        let Some(point) = CompressedEdwardsY(*bytes).decompress() else {
            continue;
        };
        points += 1;
        let canonical = point.compress().to_bytes() == *bytes;
        non_canonical += usize::from(!canonical);
        assert_eq!(is_canonical_point_encoding(bytes), canonical, "{bytes:02x?}");
        if canonical {
            assert_eq!(is_small_order_encoding(bytes), point.is_small_order(), "{bytes:02x?}");
        }
    }
    assert!(points > 2_000, "{points} points");
    assert!(
        non_canonical >= 4,
        "the edges include non-canonical encodings: {non_canonical}"
    );
}
