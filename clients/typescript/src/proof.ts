/**
 * Proofs of a service's state (docs/WIRE-FORMAT.md, "Proofs"), checked
 * without trusting the node: a value → its index's root → the state root
 * → a block header → the validators' precommits of that header's hash.
 */
import { blake3 } from "@noble/hashes/blake3.js";

import { EncodingError, concatBytes, equalBytes, fixedHex, fromHex, toHex, u32LittleEndian, u64LittleEndian } from "./bytes.js";
import { verifySignature } from "./keys.js";
import { type BlockHeader, blockHash, decodeBlockHeader, decodeInstanceRecord, precommitPreimage } from "./wire.js";

/** A proof, a header or a precommit that does not show what it claims. */
export class ProofError extends Error {
  override name = "ProofError";
}

const EMPTY_HASH = new Uint8Array(32);
const TAG_MAP_LEAF = 0x00;
const TAG_MAP_BRANCH = 0x01;
const TAG_LIST_LEAF = 0x02;
const TAG_LIST_BRANCH = 0x03;
const TAG_LIST_ROOT = 0x04;
const TAG_ENTRY = 0x05;
const TAG_INDEX = 0x06;
/** Deepest path of a sparse Merkle tree: one level per bit of a hash. */
const SMT_DEPTH_MAX = 256;

/** The index kinds that enter the state commitment, with their stable byte values. */
const PROOF_KINDS = { proof_entry: 4, proof_map: 5, proof_list: 6 } as const;
type ProofKind = keyof typeof PROOF_KINDS;

function tagged(tag: number, ...parts: Uint8Array[]): Uint8Array {
  return blake3(concatBytes(new Uint8Array([tag]), ...parts));
}

const hashOf = (text: string, what: string) => {
  if (typeof text !== "string") {
    throw new ProofError(`${what} is missing`);
  }
  return fixedHex(text, 32, what);
};

/** JSON form of where a sparse-Merkle-tree path ends. */
export type SmtTerminalJson = "Empty" | { Leaf: { key_hash: string; value_hash: string } };

/** JSON form of a sparse-Merkle-tree path: siblings from the root down. */
export interface SmtProofJson {
  siblings: string[];
  terminal: SmtTerminalJson;
}

/** JSON form of the link from an index's root to the state root. */
export interface IndexProofJson {
  address: string;
  kind: string | null;
  index_root: string;
  aggregator: SmtProofJson;
}

/** JSON form of a map proof. */
export interface MapProofJson {
  index: IndexProofJson;
  key: string;
  value: string | null;
  entry: SmtProofJson;
}

/** JSON form of an entry proof. */
export interface EntryProofJson {
  index: IndexProofJson;
  value: string | null;
}

/** JSON form of a node of a list proof's tree. */
export type ListProofNodeJson = { Hash: string } | { Leaf: string } | { Branch: [ListProofNodeJson, ListProofNodeJson | null] };

/** JSON form of a list proof. */
export interface ListProofJson {
  index: IndexProofJson;
  len: number;
  from: number;
  to: number;
  tree: ListProofNodeJson | null;
}

/** Bit `depth` of a hash, most significant first. */
function bit(hashBytes: Uint8Array, depth: number): boolean {
  return (hashBytes[depth >> 3]! & (0x80 >> (depth & 7))) !== 0;
}

/** The root a sparse-Merkle-tree path leads to if it shows `keyHash` ↦ `valueHash` (`null`: absent). */
function smtRoot(proof: SmtProofJson, keyHash: Uint8Array, valueHash: Uint8Array | null): Uint8Array {
  if (!Array.isArray(proof?.siblings)) {
    throw new ProofError("malformed proof: no siblings");
  }
  const depth = proof.siblings.length;
  if (depth > SMT_DEPTH_MAX) {
    throw new ProofError(`malformed proof: a path longer than ${SMT_DEPTH_MAX}`);
  }
  let node: Uint8Array;
  if (proof.terminal === "Empty") {
    if (valueHash !== null) {
      throw new ProofError("the proof shows the key absent");
    }
    node = EMPTY_HASH;
  } else if (typeof proof.terminal === "object" && proof.terminal !== null && "Leaf" in proof.terminal) {
    const leafKey = hashOf(proof.terminal.Leaf.key_hash, "a leaf's key hash");
    const leafValue = hashOf(proof.terminal.Leaf.value_hash, "a leaf's value hash");
    if (valueHash !== null) {
      if (!equalBytes(leafKey, keyHash)) {
        throw new ProofError("the leaf holds another key");
      }
      if (!equalBytes(leafValue, valueHash)) {
        throw new ProofError("the leaf holds another value");
      }
    } else {
      if (equalBytes(leafKey, keyHash)) {
        throw new ProofError("the proof shows the key present");
      }
      for (let level = 0; level < depth; level++) {
        if (bit(leafKey, level) !== bit(keyHash, level)) {
          throw new ProofError("malformed proof: the leaf is off the key's path");
        }
      }
    }
    node = tagged(TAG_MAP_LEAF, leafKey, leafValue);
  } else {
    throw new ProofError("malformed proof: an unknown path end");
  }
  for (let level = depth - 1; level >= 0; level--) {
    const sibling = hashOf(proof.siblings[level]!, "a sibling hash");
    node = bit(keyHash, level) ? tagged(TAG_MAP_BRANCH, sibling, node) : tagged(TAG_MAP_BRANCH, node, sibling);
  }
  return node;
}

/**
 * Runs a verifier on data a node sent: anything wrong with its shape (a
 * missing field, a `null` where an object belongs, bytes that are not
 * hex) is a {@link ProofError}, never another exception.
 */
function guarded<A extends unknown[], R>(verify: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    try {
      return verify(...args);
    } catch (error) {
      if (error instanceof ProofError) {
        throw error;
      }
      throw new ProofError(`malformed proof: ${(error as Error).message}`);
    }
  };
}

/** The address bytes of the dispatcher's index `name` (its registries). */
export function dispatcherIndexAddress(name: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  return concatBytes(new Uint8Array([1, nameBytes.length]), nameBytes);
}

/** The address bytes of index `name` in service instance `instanceId`'s namespace. */
export function serviceIndexAddress(instanceId: number, name: string): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 64) {
    throw new EncodingError("an index name has 1 to 64 bytes");
  }
  return concatBytes(new Uint8Array([2]), u32LittleEndian(instanceId), new Uint8Array([nameBytes.length]), nameBytes);
}

/**
 * Checks that `index` links an index of `kind` at `address`, whose root
 * its own part of the proof computes as `contentRoot`, to `stateRoot`.
 */
function verifyIndex(index: IndexProofJson, kind: ProofKind, address: Uint8Array, contentRoot: Uint8Array, stateRoot: Uint8Array): void {
  if (typeof index !== "object" || index === null) {
    throw new ProofError("malformed proof: no index part");
  }
  const root = hashOf(index.index_root, "the index root");
  if (!equalBytes(contentRoot, root)) {
    throw new ProofError(`the proof does not match the ${kind.replace("proof_", "")}'s root`);
  }
  if (!equalBytes(fromHex(index.address), address)) {
    throw new ProofError("the proof is for another index");
  }
  let valueHash: Uint8Array | null;
  if (index.kind === null) {
    if (!equalBytes(root, EMPTY_HASH)) {
      throw new ProofError("malformed proof: an absent index has no root");
    }
    valueHash = null;
  } else if (index.kind === kind) {
    valueHash = tagged(TAG_INDEX, new Uint8Array([PROOF_KINDS[kind]]), root);
  } else {
    throw new ProofError(`the index is a ${String(index.kind)}, not a ${kind}`);
  }
  if (!equalBytes(smtRoot(index.aggregator, blake3(address), valueHash), stateRoot)) {
    throw new ProofError("the proof does not match the state root");
  }
}

/** What a verified proof shows about a map. */
export interface ProvenMapEntry {
  key: Uint8Array;
  /** The value, or `null`: the key is absent. */
  value: Uint8Array | null;
}

/** Verifies a map proof of `key` in the map at `address` against `stateRoot`. */
function verifyMapProofUnguarded(proof: MapProofJson, address: Uint8Array, key: Uint8Array, stateRoot: Uint8Array): ProvenMapEntry {
  if (!equalBytes(fromHex(proof.key), key)) {
    throw new ProofError("the proof is for another key");
  }
  const value = proof.value === null ? null : fromHex(proof.value);
  const mapRoot = smtRoot(proof.entry, blake3(key), value === null ? null : blake3(value));
  verifyIndex(proof.index, "proof_map", address, mapRoot, stateRoot);
  return { key, value };
}

/** Verifies an entry proof of the entry at `address` against `stateRoot`; returns its value (`null`: empty). */
function verifyEntryProofUnguarded(proof: EntryProofJson, address: Uint8Array, stateRoot: Uint8Array): Uint8Array | null {
  const value = proof.value === null ? null : fromHex(proof.value);
  const root = value === null ? EMPTY_HASH : tagged(TAG_ENTRY, value);
  verifyIndex(proof.index, "proof_entry", address, root, stateRoot);
  return value;
}

function listHeight(len: bigint): number {
  if (len <= 1n) {
    return 0;
  }
  return (len - 1n).toString(2).length;
}

function listLevelCount(len: bigint, height: number): bigint {
  const width = 1n << BigInt(height);
  return (len + width - 1n) / width;
}

/** What a verified list proof shows: the list's length and its items `from..to`, with their positions. */
export interface ProvenListRange {
  items: { position: bigint; value: Uint8Array }[];
  len: bigint;
  from: bigint;
  to: bigint;
}

/** Verifies a list proof of positions `from..to` of the list at `address` against `stateRoot`. */
function verifyListProofUnguarded(proof: ListProofJson, address: Uint8Array, stateRoot: Uint8Array): ProvenListRange {
  const integer = (value: unknown, what: string) => {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      throw new ProofError(`malformed proof: ${what} is not a position`);
    }
    return BigInt(value);
  };
  const len = integer(proof.len, "the length");
  const from = integer(proof.from, "the range's start");
  const to = integer(proof.to, "the range's end");
  if (from > to || to > len) {
    throw new ProofError("malformed proof: bad range");
  }
  const items: { position: bigint; value: Uint8Array }[] = [];
  const nodeHash = (node: ListProofNodeJson, height: number, index: bigint): Uint8Array => {
    if (typeof node !== "object" || node === null) {
      throw new ProofError("malformed proof: a list node is not an object");
    }
    if ("Hash" in node) {
      return hashOf(node.Hash, "a list node's hash");
    }
    if ("Leaf" in node) {
      if (height !== 0) {
        throw new ProofError("malformed proof: an item above the leaves");
      }
      const value = fromHex(node.Leaf);
      items.push({ position: index, value });
      return tagged(TAG_LIST_LEAF, value);
    }
    if ("Branch" in node && Array.isArray(node.Branch) && node.Branch.length === 2) {
      if (height === 0) {
        throw new ProofError("malformed proof: a branch at the leaves");
      }
      const [left, right] = node.Branch;
      const rightExists = 2n * index + 1n < listLevelCount(len, height - 1);
      if (rightExists !== (right !== null)) {
        throw new ProofError("malformed proof: the branch's shape does not fit the length");
      }
      const leftHash = nodeHash(left, height - 1, 2n * index);
      if (right === null) {
        return tagged(TAG_LIST_BRANCH, leftHash);
      }
      return tagged(TAG_LIST_BRANCH, leftHash, nodeHash(right, height - 1, 2n * index + 1n));
    }
    throw new ProofError("malformed proof: an unknown list node");
  };
  let top: Uint8Array;
  if (proof.tree === null) {
    if (len !== 0n) {
      throw new ProofError("malformed proof: a non-empty list needs a tree");
    }
    top = EMPTY_HASH;
  } else {
    // `len` is a safe integer: at most 53 levels, so the recursion too.
    top = nodeHash(proof.tree, listHeight(len), 0n);
  }
  const exactly = BigInt(items.length) === to - from && items.every((item, i) => item.position === from + BigInt(i));
  if (!exactly) {
    throw new ProofError("the proof does not open exactly the range");
  }
  verifyIndex(proof.index, "proof_list", address, tagged(TAG_LIST_ROOT, u64LittleEndian(len), top), stateRoot);
  return { items, len, from, to };
}

/** JSON form of a validator's precommit, as the node serves it. */
export interface PrecommitJson {
  validator: number;
  validator_key: string;
  round: number;
  signature: string;
}

/** What the client trusts: the chain and its validators' consensus keys, in the configuration's order. */
export interface TrustedValidators {
  chainId: Uint8Array;
  consensusKeys: Uint8Array[];
}

/** A header whose hash more than two thirds of the validators precommitted. */
export interface CertifiedHeader {
  header: BlockHeader;
  hash: Uint8Array;
  /** The positions of the validators whose precommits verified. */
  signers: number[];
}

/**
 * Checks that more than two thirds of `trusted`'s validators precommitted
 * the header `encodedHeader` (hex or bytes). Any precommit that does not
 * verify — a signature, a key that is not the validator's at its position,
 * a validator counted twice — refuses the whole certificate.
 */
function verifyCertificateUnguarded(encodedHeader: Uint8Array | string, precommits: PrecommitJson[], trusted: TrustedValidators): CertifiedHeader {
  const bytes = typeof encodedHeader === "string" ? fromHex(encodedHeader) : encodedHeader;
  let header: BlockHeader;
  try {
    header = decodeBlockHeader(bytes);
  } catch (error) {
    throw new ProofError(`the block header is refused: ${(error as Error).message}`);
  }
  const hashBytes = blockHash(bytes);
  const validators = trusted.consensusKeys;
  if (!Array.isArray(precommits)) {
    throw new ProofError("no precommits");
  }
  const signers = new Set<number>();
  for (const precommit of precommits) {
    const position = precommit.validator;
    if (!Number.isInteger(position) || position < 0 || position >= validators.length) {
      throw new ProofError(`a precommit of validator ${String(position)}, which the configuration does not have`);
    }
    const key = validators[position]!;
    if (!equalBytes(fixedHex(precommit.validator_key, 32, "a validator key"), key)) {
      throw new ProofError(`validator ${position}'s precommit names another key`);
    }
    if (signers.has(position)) {
      throw new ProofError(`validator ${position} precommitted twice`);
    }
    const preimage = precommitPreimage(trusted.chainId, header.height, precommit.round, hashBytes, key);
    if (!verifySignature(key, preimage, fromHex(precommit.signature))) {
      throw new ProofError(`validator ${position}'s precommit signature does not verify`);
    }
    signers.add(position);
  }
  if (3 * signers.size <= 2 * validators.length) {
    throw new ProofError(`${signers.size} of ${validators.length} validators precommitted; more than two thirds must`);
  }
  return { header, hash: hashBytes, signers: [...signers].sort((a, b) => a - b) };
}


/** The root of a proof list holding `items` (docs/WIRE-FORMAT.md, "Lists"). */
export function listRoot(items: Uint8Array[]): Uint8Array {
  if (items.length === 0) {
    return tagged(TAG_LIST_ROOT, u64LittleEndian(0n), EMPTY_HASH);
  }
  let level = items.map((item) => tagged(TAG_LIST_LEAF, item));
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1];
      next.push(right === undefined ? tagged(TAG_LIST_BRANCH, level[i]!) : tagged(TAG_LIST_BRANCH, level[i]!, right));
    }
    level = next;
  }
  return tagged(TAG_LIST_ROOT, u64LittleEndian(BigInt(items.length)), level[0]!);
}

/** A block's transactions root (its header's `tx_hash`): the list root of the transactions' hashes. */
export function transactionsRoot(hashes: Uint8Array[]): Uint8Array {
  return listRoot(hashes);
}

/** Verifies a map proof of `key` in the map at `address` against `stateRoot`. */
export const verifyMapProof = guarded(verifyMapProofUnguarded);
/** Verifies an entry proof of the entry at `address` against `stateRoot`; returns its value (`null`: empty). */
export const verifyEntryProof = guarded(verifyEntryProofUnguarded);
/** Verifies a list proof of the list at `address` against `stateRoot`: its items `from..to` and its length. */
export const verifyListProof = guarded(verifyListProofUnguarded);
/**
 * Checks that more than two thirds of `trusted`'s validators precommitted
 * the header `encodedHeader`; any precommit that does not verify refuses
 * the whole certificate.
 */
export const verifyCertificate = guarded(verifyCertificateUnguarded);

/**
 * Verifies the dispatcher's record of the instance named `name` against
 * `stateRoot` and answers its id: the proof's key is the id (4 bytes,
 * little-endian) and its value a record naming that id and `name`.
 * Instance names are unique on a chain, so this ties the name to the id.
 */
export const verifyInstanceProof = guarded((proof: MapProofJson, name: string, stateRoot: Uint8Array): number => {
  const key = fromHex(proof.key);
  if (key.length !== 4) {
    throw new ProofError("an instance id is 4 bytes");
  }
  const id = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
  const { value } = verifyMapProofUnguarded(proof, dispatcherIndexAddress("instances"), key, stateRoot);
  if (value === null) {
    throw new ProofError(`no instance ${id} in the registry`);
  }
  const record = decodeInstanceRecord(value);
  if (record.id !== id || record.name !== name) {
    throw new ProofError(`instance ${id} is ${JSON.stringify(record.name)}, not ${JSON.stringify(name)}`);
  }
  return id;
});
