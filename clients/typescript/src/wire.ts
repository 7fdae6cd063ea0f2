/**
 * The chain's wire formats (docs/WIRE-FORMAT.md): transactions, block
 * headers and the precommit preimage, encoded exactly as the chain encodes
 * them (protobuf's canonical form: fields in number order, a field at its
 * default value left out, a present sub-message always written).
 */
import protobuf from "protobufjs";
import { blake3 } from "@noble/hashes/blake3.js";

import { EncodingError, concatBytes, equalBytes, u64BigEndian } from "./bytes.js";

const { Reader, Writer } = protobuf;
/** `long.js`, which protobufjs reads and writes 64-bit integers with. */
const Long = protobuf.util.Long as unknown as { fromString(text: string, unsigned: boolean): protobuf.Long };

/** Largest value of a protobuf `uint32`. */
const U32_MAX = 0xffff_ffff;
/** Largest value of a protobuf `uint64`. */
const U64_MAX = (1n << 64n) - 1n;

/** Which method of which service instance a transaction calls. */
export interface CallInfo {
  instanceId: number;
  methodId: number;
}

/** The payload a transaction's author signs (`messages.proto`: `AnyTx`). */
export interface AnyTx {
  call: CallInfo;
  arguments: Uint8Array;
  /** The chain id: blake3 of the genesis block's header (32 bytes). */
  chainId: Uint8Array;
}

/** A signed transaction (`messages.proto`: `SignedMessage`). */
export interface SignedMessage {
  /** The encoded `AnyTx`; the signature covers exactly these bytes. */
  payload: Uint8Array;
  /** The author's Ed25519 public key (32 bytes). */
  author: Uint8Array;
  /** Ed25519 signature (64 bytes). */
  signature: Uint8Array;
}

/** A block header (`blockchain.proto`: `BlockHeader`). */
export interface BlockHeader {
  height: bigint;
  txCount: number;
  prevHash: Uint8Array;
  txHash: Uint8Array;
  stateHash: Uint8Array;
  errorHash: Uint8Array;
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new EncodingError(`${what} must be an integer in 0..=${U32_MAX}, not ${value}`);
  }
}

function checkU64(value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value > U64_MAX) {
    throw new EncodingError(`${what} must be a bigint in 0..=2^64-1, not ${String(value)}`);
  }
}

type ProtoWriter = protobuf.Writer;

function writeU32(writer: ProtoWriter, field: number, value: number): void {
  if (value !== 0) {
    writer.uint32((field << 3) | 0).uint32(value);
  }
}

function writeU64(writer: ProtoWriter, field: number, value: bigint): void {
  if (value !== 0n) {
    writer.uint32((field << 3) | 0).uint64(Long.fromString(value.toString(), true));
  }
}

function writeBytes(writer: ProtoWriter, field: number, value: Uint8Array): void {
  if (value.length !== 0) {
    writer.uint32((field << 3) | 2).bytes(value);
  }
}

function writeMessage(writer: ProtoWriter, field: number, value: Uint8Array): void {
  writer.uint32((field << 3) | 2).bytes(value);
}

/** The canonical encoding of a `CallInfo`. */
export function encodeCallInfo(call: CallInfo): Uint8Array {
  checkU32(call.instanceId, "instanceId");
  checkU32(call.methodId, "methodId");
  const writer = Writer.create();
  writeU32(writer, 1, call.instanceId);
  writeU32(writer, 2, call.methodId);
  return writer.finish();
}

/** The canonical encoding of an `AnyTx`: what the author signs. */
export function encodeAnyTx(tx: AnyTx): Uint8Array {
  if (tx.chainId.length !== 32) {
    throw new EncodingError(`a chain id is 32 bytes, not ${tx.chainId.length}`);
  }
  const writer = Writer.create();
  writeMessage(writer, 1, encodeCallInfo(tx.call));
  writeBytes(writer, 2, tx.arguments);
  writeBytes(writer, 3, tx.chainId);
  return writer.finish();
}

/** The canonical encoding of a `SignedMessage`: the transaction's bytes. */
export function encodeSignedMessage(message: SignedMessage): Uint8Array {
  const writer = Writer.create();
  writeBytes(writer, 1, message.payload);
  writeBytes(writer, 2, message.author);
  writeBytes(writer, 3, message.signature);
  return writer.finish();
}

/** The canonical encoding of a `BlockHeader`. */
export function encodeBlockHeader(header: BlockHeader): Uint8Array {
  checkU64(header.height, "height");
  checkU32(header.txCount, "txCount");
  const writer = Writer.create();
  writeU64(writer, 1, header.height);
  writeU32(writer, 2, header.txCount);
  writeBytes(writer, 3, header.prevHash);
  writeBytes(writer, 4, header.txHash);
  writeBytes(writer, 5, header.stateHash);
  writeBytes(writer, 6, header.errorHash);
  return writer.finish();
}

/**
 * Reads the fields of one message: `read` is called with each field's
 * number and wire type and answers whether it took the field. Fields it
 * does not take are refused (so a decoded message re-encodes to the same
 * bytes only if they were canonical, which the callers check), or skipped
 * with `skipUnknown`.
 */
function readFields(
  bytes: Uint8Array,
  what: string,
  read: (reader: protobuf.Reader, field: number, wireType: number) => boolean,
  { skipUnknown = false } = {},
): void {
  const reader = Reader.create(bytes);
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (read(reader, tag >>> 3, tag & 7)) {
        continue;
      }
      if (!skipUnknown) {
        throw new EncodingError(`${what}: unexpected field ${tag >>> 3} (wire type ${tag & 7})`);
      }
      reader.skipType(tag & 7);
    }
  } catch (error) {
    if (error instanceof EncodingError) {
      throw error;
    }
    throw new EncodingError(`${what} is not a protobuf message: ${(error as Error).message}`);
  }
}

function toBigInt(value: protobuf.Long | number): bigint {
  return BigInt(value.toString());
}

/** Decodes a block header; refuses bytes that are not its canonical encoding. */
export function decodeBlockHeader(bytes: Uint8Array): BlockHeader {
  const header: BlockHeader = {
    height: 0n,
    txCount: 0,
    prevHash: new Uint8Array(),
    txHash: new Uint8Array(),
    stateHash: new Uint8Array(),
    errorHash: new Uint8Array(),
  };
  readFields(bytes, "a block header", (reader, field, wireType) => {
    if (wireType === 0 && field === 1) {
      header.height = toBigInt(reader.uint64());
    } else if (wireType === 0 && field === 2) {
      header.txCount = reader.uint32();
    } else if (wireType === 2 && field >= 3 && field <= 6) {
      const value = reader.bytes();
      if (field === 3) header.prevHash = value;
      if (field === 4) header.txHash = value;
      if (field === 5) header.stateHash = value;
      if (field === 6) header.errorHash = value;
    } else {
      return false;
    }
    return true;
  });
  if (!equalBytes(encodeBlockHeader(header), bytes)) {
    throw new EncodingError("the block header is not in its canonical encoding");
  }
  return header;
}

/** Decodes a signed transaction; refuses bytes that are not its canonical encoding (as the chain does). */
export function decodeSignedMessage(bytes: Uint8Array): SignedMessage {
  const message: SignedMessage = { payload: new Uint8Array(), author: new Uint8Array(), signature: new Uint8Array() };
  readFields(bytes, "a signed message", (reader, field, wireType) => {
    if (wireType !== 2 || field < 1 || field > 3) {
      return false;
    }
    const value = reader.bytes();
    if (field === 1) message.payload = value;
    if (field === 2) message.author = value;
    if (field === 3) message.signature = value;
    return true;
  });
  if (!equalBytes(encodeSignedMessage(message), bytes)) {
    throw new EncodingError("the signed message is not in its canonical encoding");
  }
  return message;
}

/** Decodes a transaction's payload (the chain accepts any encoding of it; this one refuses fields it does not know). */
export function decodeAnyTx(bytes: Uint8Array): AnyTx {
  const tx: AnyTx = { call: { instanceId: 0, methodId: 0 }, arguments: new Uint8Array(), chainId: new Uint8Array() };
  let sawCall = false;
  readFields(bytes, "a transaction payload", (reader, field, wireType) => {
    if (wireType === 2 && field === 1) {
      sawCall = true;
      readFields(reader.bytes(), "a call", (inner, innerField, innerType) => {
        if (innerType === 0 && innerField === 1) tx.call.instanceId = inner.uint32();
        else if (innerType === 0 && innerField === 2) tx.call.methodId = inner.uint32();
        else return false;
        return true;
      });
    } else if (wireType === 2 && field === 2) {
      tx.arguments = reader.bytes();
    } else if (wireType === 2 && field === 3) {
      tx.chainId = reader.bytes();
    } else {
      return false;
    }
    return true;
  });
  if (!sawCall) {
    throw new EncodingError("a transaction payload without a call");
  }
  return tx;
}

/** An instance's id and name from its record in the dispatcher's registry (`dispatcher.proto`: `InstanceRecord`). */
export function decodeInstanceRecord(bytes: Uint8Array): { id: number; name: string } {
  const spec = { id: 0, name: "" };
  let sawSpec = false;
  const skipUnknown = { skipUnknown: true };
  readFields(
    bytes,
    "an instance record",
    (reader, field, wireType) => {
      if (field !== 1 || wireType !== 2) return false;
      sawSpec = true;
      readFields(
        reader.bytes(),
        "an instance spec",
        (inner, innerField, innerType) => {
          if (innerField === 1 && innerType === 0) spec.id = inner.uint32();
          else if (innerField === 2 && innerType === 2) spec.name = inner.string();
          else return false;
          return true;
        },
        skipUnknown,
      );
      return true;
    },
    skipUnknown,
  );
  if (!sawSpec) {
    throw new EncodingError("an instance record without its spec");
  }
  return spec;
}

/** A transaction's hash: blake3 of its encoded `SignedMessage`. */
export function transactionHash(signed: Uint8Array): Uint8Array {
  return blake3(signed);
}

/** A block's hash: blake3 of its encoded header. */
export function blockHash(encodedHeader: Uint8Array): Uint8Array {
  return blake3(encodedHeader);
}

const VOTE_TAG = new TextEncoder().encode("wasmvisor/consensus/vote/v1\0");

/**
 * What a validator signs to precommit a block: the vote tag, the chain id,
 * the height and round (8 bytes each, big-endian), the vote type (1,
 * precommit), 1 and the block hash (a vote for a value), and the
 * validator's consensus key.
 */
export function precommitPreimage(
  chainId: Uint8Array,
  height: bigint,
  round: number,
  blockHashBytes: Uint8Array,
  validatorKey: Uint8Array,
): Uint8Array {
  checkU64(height, "height");
  checkU32(round, "round");
  for (const [bytes, what] of [
    [chainId, "a chain id"],
    [blockHashBytes, "a block hash"],
    [validatorKey, "a consensus key"],
  ] as const) {
    if (bytes.length !== 32) {
      throw new EncodingError(`${what} is 32 bytes, not ${bytes.length}`);
    }
  }
  return concatBytes(
    VOTE_TAG,
    chainId,
    u64BigEndian(height),
    u64BigEndian(BigInt(round)),
    new Uint8Array([1, 1]),
    blockHashBytes,
    validatorKey,
  );
}
