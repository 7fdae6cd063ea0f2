//! The chain's Ed25519 rule: which signatures it accepts, checked one at a
//! time ([`verify`]) or in batches over every core ([`verify_each`]), with
//! the same verdict either way. Every signature the chain checks —
//! transactions, precommits, the consensus engine's votes and proposals —
//! goes through this crate, so every node admits and executes exactly the
//! same transactions however it checked them.
//!
//! # The rule
//!
//! A signature `(R, S)` by public key `A` over message `M` is accepted when
//! all of these hold (the rule of "Taming the many EdDSAs", Chalkias,
//! Garillot and Nikolaenko, 2020, also adopted by Solana as SIMD-0376):
//!
//! 1. `A` and `R` are canonical encodings of curve points: the `y`
//!    coordinate is below `p = 2^255 - 19`, and the sign bit is clear when
//!    `x = 0`;
//! 2. neither `A` nor `R` is a point of small order (one of the eight
//!    points of the curve's 8-torsion subgroup);
//! 3. `S` is reduced: `S < L`, the prime order of the base point;
//! 4. the **cofactored** equation `[8][S]B = [8]R + [8][k]A` holds, where
//!    `k = SHA-512(R || A || M)` reduced modulo `L`.
//!
//! Checks 1–3 look at one signature's bytes alone. Check 4 is ZIP-215's,
//! done by `ed25519-zebra`, whose batch equation is its single equation
//! with each signature's terms multiplied by a random 128-bit coefficient;
//! both multiply by the cofactor, so points with a torsion component cannot
//! make them disagree, as they can with a cofactorless equation.
//!
//! This rule differs from ed25519-dalek's `verify_strict` (the chain's rule
//! before this crate) only for signatures whose `A` or `R` carries a
//! torsion component but is not of small order, which no honest signer
//! produces: `verify_strict`'s cofactorless equation refuses some of them
//! and a cofactorless batch would accept some of those with probability up
//! to 1/8, so no batch could agree with it.
//!
//! # One verdict either way
//!
//! [`verify_each`] gives, for each signature, exactly what [`verify`] gives:
//! the byte checks are the same function; a batch that fails is checked
//! again one signature at a time, so every refusal is [`verify`]'s own; a
//! batch that passes accepts all its signatures, which is wrong only if
//! some signature fails the cofactored equation and the random
//! coefficients cancel it, with probability at most 2^-128 per batch.
//! The test `tests/all/main.rs` checks both paths against the published
//! edge-case vectors.

use std::sync::LazyLock;

use curve25519_dalek::scalar::Scalar;
use ed25519_zebra::{Signature, VerificationKey, VerificationKeyBytes, batch};
use rayon::prelude::*;

/// Bytes of a public key.
pub const PUBLIC_KEY_BYTES: usize = 32;
/// Bytes of a signature (`R` then `S`).
pub const SIGNATURE_BYTES: usize = 64;

/// Fewest signatures a batch holds when a call splits its signatures
/// across cores: below this the batch equation's fixed cost outweighs
/// what the second core saves.
pub const BATCH_ITEMS_MIN: usize = 16;

/// Why the rule refuses a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// `A` is not a canonical point encoding.
    #[error("the public key is not a canonical point encoding")]
    NonCanonicalKey,
    /// `A` is a point of small order: signatures under it can be forged.
    #[error("the public key is a point of small order")]
    SmallOrderKey,
    /// `A` is not a point of the curve.
    #[error("the public key is not a point of the curve")]
    KeyNotOnCurve,
    /// `R` is not a canonical point encoding.
    #[error("the signature's R is not a canonical point encoding")]
    NonCanonicalR,
    /// `R` is a point of small order.
    #[error("the signature's R is a point of small order")]
    SmallOrderR,
    /// `S` is not below the group order.
    #[error("the signature's S is not reduced")]
    UnreducedS,
    /// The verification equation does not hold (or `R` is not a point).
    #[error("the signature does not verify")]
    Invalid,
}

impl Refusal {
    /// Whether the public key is at fault, whatever the signature: no
    /// signature under that key is ever accepted.
    pub fn is_key_refusal(self) -> bool {
        matches!(self, Self::NonCanonicalKey | Self::SmallOrderKey | Self::KeyNotOnCurve)
    }
}

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// The signer's public key `A`.
    pub public_key: &'a [u8; PUBLIC_KEY_BYTES],
    /// The signed message.
    pub message: &'a [u8],
    /// The signature `R || S`.
    pub signature: &'a [u8; SIGNATURE_BYTES],
}

/// Whether the rule accepts `signature` by `public_key` over `message`.
pub fn verify(
    public_key: &[u8; PUBLIC_KEY_BYTES],
    message: &[u8],
    signature: &[u8; SIGNATURE_BYTES],
) -> Result<(), Refusal> {
    check_encodings(public_key, signature)?;
    let key = VerificationKey::try_from(*public_key).map_err(|_| Refusal::KeyNotOnCurve)?;
    key.verify(&Signature::from_bytes(signature), message)
        .map_err(|_| Refusal::Invalid)
}

/// [`verify`]'s verdict on each of `items`, in order, computed in batches
/// spread over the threads of rayon's pool.
pub fn verify_each(items: &[Signed<'_>]) -> Vec<Result<(), Refusal>> {
    let mut verdicts: Vec<Result<(), Refusal>> = items
        .iter()
        .map(|item| check_encodings(item.public_key, item.signature))
        .collect();
    let passed: Vec<usize> = (0..items.len()).filter(|&index| verdicts[index].is_ok()).collect();
    let chunk = passed
        .len()
        .div_ceil(rayon::current_num_threads().max(1))
        .max(BATCH_ITEMS_MIN);
    let checked: Vec<Vec<Result<(), Refusal>>> = passed
        .par_chunks(chunk)
        .map(|indices| verify_batch(items, indices))
        .collect();
    for (index, verdict) in passed.iter().zip(checked.into_iter().flatten()) {
        verdicts[*index] = verdict;
    }
    verdicts
}

/// The verdicts on `items[indices]`, all of which passed the byte checks:
/// one batch equation, and on failure one check each.
fn verify_batch(items: &[Signed<'_>], indices: &[usize]) -> Vec<Result<(), Refusal>> {
    let single = |index: &usize| {
        let item = items[*index];
        verify(item.public_key, item.message, item.signature)
    };
    if indices.len() == 1 {
        return indices.iter().map(single).collect();
    }
    let mut batch = batch::Verifier::new();
    for &index in indices {
        let item = items[index];
        batch.queue((
            VerificationKeyBytes::from(*item.public_key),
            Signature::from_bytes(item.signature),
            item.message,
        ));
    }
    match batch.verify(rand_core::OsRng) {
        Ok(()) => vec![Ok(()); indices.len()],
        Err(_) => indices.iter().map(single).collect(),
    }
}

/// Checks 1–3 of the rule: canonical, not small-order `A` and `R`, and a
/// reduced `S`.
fn check_encodings(public_key: &[u8; PUBLIC_KEY_BYTES], signature: &[u8; SIGNATURE_BYTES]) -> Result<(), Refusal> {
    if !is_canonical_point_encoding(public_key) {
        return Err(Refusal::NonCanonicalKey);
    }
    if is_small_order_encoding(public_key) {
        return Err(Refusal::SmallOrderKey);
    }
    let (r, s) = signature.split_at(32);
    let r: &[u8; 32] = r.try_into().expect("a signature is R || S, 32 bytes each");
    let s: [u8; 32] = s.try_into().expect("a signature is R || S, 32 bytes each");
    if !is_canonical_point_encoding(r) {
        return Err(Refusal::NonCanonicalR);
    }
    if is_small_order_encoding(r) {
        return Err(Refusal::SmallOrderR);
    }
    if bool::from(Scalar::from_canonical_bytes(s).is_none()) {
        return Err(Refusal::UnreducedS);
    }
    Ok(())
}

/// Whether `bytes` is the one encoding its point has, if it is a point: the
/// `y` coordinate (the low 255 bits, little-endian) is below
/// `p = 2^255 - 19`, and the sign bit of `x` (bit 255) is clear when
/// `x = 0`, which on this curve is when `y = 1` or `y = p - 1`. Says
/// nothing about whether a point with that `y` exists (decompression does).
pub fn is_canonical_point_encoding(bytes: &[u8; 32]) -> bool {
    let sign = bytes[31] & 0x80 != 0;
    // p = 0x7fff…ffed: y >= p - 1 only when every byte above the lowest is
    // at its maximum (0x7f for the top byte without the sign bit).
    let high_bytes_max = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&byte| byte == 0xff);
    if high_bytes_max && bytes[0] >= 0xed {
        return false;
    }
    let is_p_minus_one = high_bytes_max && bytes[0] == 0xec;
    let is_one = bytes[0] == 1 && bytes[1..31].iter().all(|&byte| byte == 0) && bytes[31] & 0x7f == 0;
    !(sign && (is_one || is_p_minus_one))
}

/// The canonical encodings of the curve's eight points of small order
/// (orders 1, 2, 4 and 8): the 8-torsion subgroup. A test checks that
/// they decompress to eight distinct points of small order, which are all
/// there are.
static SMALL_ORDER_ENCODINGS: LazyLock<[[u8; 32]; 8]> = LazyLock::new(|| {
    [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    ]
    .map(|hex| {
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).expect("a hex constant");
        }
        bytes
    })
});

/// Whether canonical `bytes` encode a point of small order.
pub fn is_small_order_encoding(bytes: &[u8; 32]) -> bool {
    SMALL_ORDER_ENCODINGS.contains(bytes)
}

/// The eight small-order points' canonical encodings (for tests).
pub fn small_order_encodings() -> [[u8; 32]; 8] {
    *SMALL_ORDER_ENCODINGS
}
