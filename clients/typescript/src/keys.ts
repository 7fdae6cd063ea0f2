/**
 * Ed25519 keys and the chain's signature rule (docs/WIRE-FORMAT.md,
 * "Signatures"), through `@noble/curves`.
 */
import { ed25519 } from "@noble/curves/ed25519.js";

import { EncodingError, fixedHex, toHex } from "./bytes.js";

/** Bytes of an Ed25519 secret key (its seed). */
export const SECRET_KEY_BYTES = 32;
/** Bytes of an Ed25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Bytes of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;

/** An Ed25519 key pair: a transaction author's keys. */
export class KeyPair {
  readonly publicKey: Uint8Array;
  readonly #secretKey: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    if (secretKey.length !== SECRET_KEY_BYTES) {
      throw new EncodingError(`a secret key is ${SECRET_KEY_BYTES} bytes, not ${secretKey.length}`);
    }
    this.#secretKey = Uint8Array.from(secretKey);
    this.publicKey = ed25519.getPublicKey(this.#secretKey);
  }

  /** A new key pair from the platform's secure random source. */
  static generate(): KeyPair {
    return new KeyPair(ed25519.utils.randomSecretKey());
  }

  /** The key pair of a 32-byte secret key (seed). */
  static fromSecretKey(secretKey: Uint8Array | string): KeyPair {
    return new KeyPair(typeof secretKey === "string" ? fixedHex(secretKey, SECRET_KEY_BYTES, "a secret key") : secretKey);
  }

  /** The public key in hex. */
  get publicKeyHex(): string {
    return toHex(this.publicKey);
  }

  /** The secret key (seed): keep it secret. */
  exportSecretKey(): Uint8Array {
    return Uint8Array.from(this.#secretKey);
  }

  /** An Ed25519 signature of `message`. */
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#secretKey);
  }
}

/**
 * Whether `signature` is `publicKey`'s over `message` under the chain's
 * rule: canonical encodings of `A` and `R`, neither of small order, `S`
 * reduced, and the cofactored equation.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) {
    return false;
  }
  try {
    // Strict (not ZIP-215) decoding refuses non-canonical encodings, a
    // small-order `A` and an unreduced `S`; `R` of small order is refused here.
    if (ed25519.Point.fromBytes(signature.subarray(0, 32), false).isSmallOrder()) {
      return false;
    }
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
