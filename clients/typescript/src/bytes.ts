/** Byte helpers: lowercase hex (the node's form of every byte string). */

/** Thrown on input that is not what a function accepts. */
export class EncodingError extends Error {
  override name = "EncodingError";
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Bytes from hex (either case; an odd length or another character is refused). */
export function fromHex(text: string): Uint8Array {
  if (typeof text !== "string" || !HEX.test(text)) {
    throw new EncodingError(`not hex: ${JSON.stringify(String(text).slice(0, 80))}`);
  }
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) {
    text += byte.toString(16).padStart(2, "0");
  }
  return text;
}

/** Exactly `length` bytes from hex, or an error naming `what`. */
export function fixedHex(text: string, length: number, what: string): Uint8Array {
  const bytes = fromHex(text);
  if (bytes.length !== length) {
    throw new EncodingError(`${what} is ${length} bytes (${2 * length} hex characters), not ${bytes.length}`);
  }
  return bytes;
}

/** Whether two byte strings are equal. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    return false;
  }
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a[i]! ^ b[i]!;
  }
  return difference === 0;
}

/** The bytes of `parts` one after another. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** `value` as 8 bytes, big-endian (`u64` or `i64` two's complement). */
export function u64BigEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), false);
  return bytes;
}

/** `value` as 8 bytes, little-endian. */
export function u64LittleEndian(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
  return bytes;
}

/** `value` as 4 bytes, little-endian. */
export function u32LittleEndian(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}
