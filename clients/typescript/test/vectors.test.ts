/**
 * The committed wire-format vectors (docs/wire-format-vectors.json, which
 * the chain's own code generates and checks) agree with this client, and
 * every tampered byte of a proof, header or precommit is refused.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  Client,
  LIST_PROOF_ITEMS_MAX,
  EncodingError,
  KeyPair,
  ProofError,
  blockHash,
  decodeAnyTx,
  decodeBlockHeader,
  decodeSignedMessage,
  encodeAnyTx,
  encodeBlockHeader,
  fromHex,
  precommitPreimage,
  serviceIndexAddress,
  signTransaction,
  toHex,
  transactionHash,
  transactionsRoot,
  verifyCertificate,
  verifyEntryProof,
  verifyInstanceProof,
  dispatcherIndexAddress,
  verifyListProof,
  verifyMapProof,
  verifySignature,
} from "../src/index.js";
import { copy, flipHexByte } from "./support.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const vectors: Json = JSON.parse(readFileSync(new URL("../../../../docs/wire-format-vectors.json", import.meta.url), "utf8"));
const stateRoot = fromHex(vectors.proofs.state_root);

test("transactions are encoded, signed and hashed as the chain does", () => {
  for (const tx of vectors.transactions) {
    const keys = KeyPair.fromSecretKey(tx.secret_key);
    assert.equal(keys.publicKeyHex, tx.public_key);
    const call = { instanceId: tx.instance_id, methodId: tx.method_id };
    const payload = encodeAnyTx({ call, arguments: fromHex(tx.arguments), chainId: fromHex(tx.chain_id) });
    assert.equal(toHex(payload), tx.payload);
    const signed = signTransaction(keys, fromHex(tx.chain_id), call, fromHex(tx.arguments));
    assert.equal(toHex(signed), tx.signed);
    assert.equal(toHex(transactionHash(signed)), tx.hash);
    const decoded = decodeSignedMessage(signed);
    assert.equal(toHex(decoded.signature), tx.signature);
    assert.deepEqual(decodeAnyTx(decoded.payload).call, call);
    assert.ok(verifySignature(keys.publicKey, payload, decoded.signature));
    assert.ok(!verifySignature(keys.publicKey, fromHex(flipHexByte(tx.payload, 3)), decoded.signature));
  }
});

test("a signed message that is not in its canonical encoding is refused", () => {
  const signed = fromHex(vectors.transactions[0].signed);
  // The same fields followed by a repeated author field.
  const padded = new Uint8Array([...signed, 0x12, 0x00]);
  assert.throws(() => decodeSignedMessage(padded), EncodingError);
  assert.throws(() => decodeSignedMessage(signed.subarray(0, signed.length - 1)), EncodingError);
});

test("block headers are encoded and hashed as the chain does", () => {
  const block = vectors.block;
  const header = {
    height: BigInt(block.height),
    txCount: block.tx_count,
    prevHash: fromHex(block.prev_hash),
    txHash: fromHex(block.tx_hash),
    stateHash: fromHex(block.state_hash),
    errorHash: fromHex(block.error_hash),
  };
  assert.equal(toHex(encodeBlockHeader(header)), block.header);
  assert.equal(toHex(blockHash(fromHex(block.header))), block.hash);
  assert.deepEqual(decodeBlockHeader(fromHex(block.header)), header);
  assert.throws(() => decodeBlockHeader(fromHex(block.header + "0800")), EncodingError);
  // The header's transactions root is the list root of the transactions' hashes.
  const hashes = vectors.transactions.map((tx: Json) => transactionHash(fromHex(tx.signed)));
  assert.deepEqual(hashes.map(toHex), vectors.transactions_root.hashes);
  assert.equal(toHex(transactionsRoot(hashes)), block.tx_hash);
  assert.notEqual(toHex(transactionsRoot([...hashes].reverse())), block.tx_hash);
});

const trusted = () => ({
  chainId: fromHex(vectors.precommit.chain_id),
  consensusKeys: [fromHex(vectors.precommit.validator_key)],
});
const precommits = () => [copy({
  validator: vectors.precommit.validator,
  validator_key: vectors.precommit.validator_key,
  round: vectors.precommit.round,
  signature: vectors.precommit.signature,
})];

test("a precommit's preimage and signature are the chain's, and its certificate verifies", () => {
  const p = vectors.precommit;
  const preimage = precommitPreimage(fromHex(p.chain_id), BigInt(p.height), p.round, fromHex(p.block_hash), fromHex(p.validator_key));
  assert.equal(toHex(preimage), p.preimage);
  assert.equal(toHex(KeyPair.fromSecretKey(p.secret_key).sign(preimage)), p.signature);
  const certified = verifyCertificate(vectors.block.header, precommits(), trusted());
  assert.equal(toHex(certified.hash), vectors.block.hash);
  assert.deepEqual(certified.signers, [0]);
});

test("a tampered header byte, precommit signature, round or key is refused", () => {
  const header = vectors.block.header as string;
  // Every byte of the header: flipping it changes the hash the precommit signed, or the header's encoding.
  for (let index = 0; index < header.length / 2; index++) {
    assert.throws(() => verifyCertificate(flipHexByte(header, index), precommits(), trusted()), ProofError, `header byte ${index}`);
  }
  for (let index = 0; index < 64; index++) {
    const forged = precommits();
    forged[0]!.signature = flipHexByte(forged[0]!.signature, index);
    assert.throws(() => verifyCertificate(header, forged, trusted()), ProofError, `signature byte ${index}`);
  }
  const otherRound = precommits();
  otherRound[0]!.round += 1;
  assert.throws(() => verifyCertificate(header, otherRound, trusted()), /does not verify/);
  const otherKey = { ...trusted(), consensusKeys: [KeyPair.fromSecretKey("07".repeat(32)).publicKey] };
  assert.throws(() => verifyCertificate(header, precommits(), otherKey), /another key/);
  const otherChain = { ...trusted(), chainId: new Uint8Array(32) };
  assert.throws(() => verifyCertificate(header, precommits(), otherChain), /does not verify/);
  assert.throws(() => verifyCertificate(header, [], trusted()), /more than two thirds/);
  const twice = [...precommits(), ...precommits()];
  assert.throws(() => verifyCertificate(header, twice, trusted()), /twice/);
  // One signer of four is not more than two thirds.
  const four = { ...trusted(), consensusKeys: [...trusted().consensusKeys, ...[3, 4, 5].map((seed) => KeyPair.fromSecretKey(String(seed).padStart(2, "0").repeat(32)).publicKey)] };
  assert.throws(() => verifyCertificate(header, precommits(), four), /1 of 4/);
});

const address = (name: string) => {
  const vector = vectors.proofs[name];
  if (name === "instance") {
    return dispatcherIndexAddress("instances");
  }
  const bytes = serviceIndexAddress(vector.service_id, vector.index);
  assert.equal(toHex(bytes), vector.address);
  return bytes;
};

test("map, list and entry proofs verify against the state root", () => {
  const owner = KeyPair.fromSecretKey("01".repeat(32)).publicKey;
  const present = verifyMapProof(vectors.proofs.map_present.proof, address("map_present"), owner, stateRoot);
  assert.equal(toHex(present.value!), vectors.proofs.map_present.proof.value);
  const absent = verifyMapProof(vectors.proofs.map_absent.proof, address("map_absent"), fromHex("ee".repeat(32)), stateRoot);
  assert.equal(absent.value, null);
  const absentLeaf = verifyMapProof(vectors.proofs.map_absent_leaf.proof, address("map_absent_leaf"), fromHex(vectors.proofs.map_absent_leaf_key), stateRoot);
  assert.equal(absentLeaf.value, null);
  assert.ok("Leaf" in vectors.proofs.map_absent_leaf.proof.entry.terminal, "absent through another key's leaf");
  // The registry names instance 3 "coins": the proof ties the name to the id, and no other name.
  assert.equal(toHex(dispatcherIndexAddress("instances")), vectors.proofs.instance.address);
  assert.equal(verifyInstanceProof(vectors.proofs.instance.proof, "coins", stateRoot), 3);
  assert.throws(() => verifyInstanceProof(vectors.proofs.instance.proof, "tokens", stateRoot), /not "tokens"/);
  const noIndex = verifyMapProof(vectors.proofs.map_no_index.proof, address("map_no_index"), new TextEncoder().encode("key"), stateRoot);
  assert.equal(noIndex.value, null);
  const list = verifyListProof(vectors.proofs.list.proof, address("list"), stateRoot);
  assert.deepEqual(list.items.map((item) => [item.position, toHex(item.value)]), [[1n, "0101"], [2n, "0202"]]);
  assert.equal(toHex(verifyEntryProof(vectors.proofs.entry.proof, address("entry"), stateRoot)!), toHex(new TextEncoder().encode("issue_max=5000")));
});

/** Every hex string in a JSON value, as [path, setter]. */
function hexLeaves(value: Json, path: string[] = []): { path: string; set: (text: string) => void; get: () => string }[] {
  const found: { path: string; set: (text: string) => void; get: () => string }[] = [];
  for (const [key, inner] of Object.entries(value as object)) {
    if (typeof inner === "string" && /^([0-9a-f]{2})+$/.test(inner)) {
      found.push({ path: [...path, key].join("."), get: () => value[key], set: (text) => (value[key] = text) });
    } else if (typeof inner === "object" && inner !== null) {
      found.push(...hexLeaves(inner, [...path, key]));
    }
  }
  return found;
}

test("a tampered sibling, value, key, root or address of any proof is refused", () => {
  const owner = KeyPair.fromSecretKey("01".repeat(32)).publicKey;
  const cases: [string, (proof: Json) => unknown][] = [
    ["map_present", (proof) => verifyMapProof(proof, address("map_present"), owner, stateRoot)],
    ["map_absent", (proof) => verifyMapProof(proof, address("map_absent"), fromHex("ee".repeat(32)), stateRoot)],
    ["map_absent_leaf", (proof) => verifyMapProof(proof, address("map_absent_leaf"), fromHex(vectors.proofs.map_absent_leaf_key), stateRoot)],
    ["instance", (proof) => verifyInstanceProof(proof, "coins", stateRoot)],
    ["list", (proof) => verifyListProof(proof, address("list"), stateRoot)],
    ["entry", (proof) => verifyEntryProof(proof, address("entry"), stateRoot)],
  ];
  let tampered = 0;
  for (const [name, verify] of cases) {
    const original = vectors.proofs[name].proof;
    verify(copy(original));
    const count = hexLeaves(copy(original)).length;
    for (let leaf = 0; leaf < count; leaf++) {
      const bytes = hexLeaves(copy(original))[leaf]!.get().length / 2;
      for (let byte = 0; byte < bytes; byte++) {
        const proof = copy(original);
        const target = hexLeaves(proof)[leaf]!;
        target.set(flipHexByte(target.get(), byte));
        assert.throws(() => verify(proof), ProofError, `${name}: byte ${byte} of ${target.path}`);
        tampered++;
      }
    }
  }
  assert.ok(tampered > 1000, `${tampered} tampered bytes`);
  // Structure: a shorter path, another range, another length, a claimed absence.
  const map = copy(vectors.proofs.map_present.proof);
  map.entry.siblings.pop();
  assert.throws(() => verifyMapProof(map, address("map_present"), owner, stateRoot), ProofError);
  const absentClaim = copy(vectors.proofs.map_present.proof);
  absentClaim.value = null;
  assert.throws(() => verifyMapProof(absentClaim, address("map_present"), owner, stateRoot), ProofError);
  for (const change of [{ from: 0 }, { to: 4 }, { len: 6 }, { len: 4 }]) {
    const list = { ...copy(vectors.proofs.list.proof), ...change };
    assert.throws(() => verifyListProof(list, address("list"), stateRoot), ProofError, JSON.stringify(change));
  }
  // The right proof for another service's index.
  assert.throws(() => verifyEntryProof(vectors.proofs.entry.proof, serviceIndexAddress(4, "config"), stateRoot), /another index/);
  // Shapes a node might send: refused as proofs, not thrown as TypeErrors.
  for (const shape of [null, {}, { index: null }, { entry: { siblings: [], terminal: { Leaf: null } }, index: {}, key: "", value: null }]) {
    assert.throws(() => verifyMapProof(shape as Json, address("map_present"), owner, stateRoot), ProofError, JSON.stringify(shape));
  }
  assert.throws(() => verifyCertificate(vectors.block.header, [null as Json], trusted()), ProofError);
  // Another state root.
  assert.throws(() => verifyEntryProof(vectors.proofs.entry.proof, address("entry"), new Uint8Array(32)), /state root/);
});

test("a certificate needs more than two thirds of the validators: 2 of 3 is refused, 3 of 4 is not", () => {
  const p = vectors.precommit;
  const others = [3, 4, 5].map((seed) => KeyPair.fromSecretKey(String(seed).padStart(2, "0").repeat(32)));
  const sign = (keys: KeyPair, validator: number) => ({
    validator,
    validator_key: keys.publicKeyHex,
    round: p.round,
    signature: toHex(keys.sign(precommitPreimage(fromHex(p.chain_id), BigInt(p.height), p.round, fromHex(p.block_hash), keys.publicKey))),
  });
  const validators = (count: number) => ({ ...trusted(), consensusKeys: [fromHex(p.validator_key), ...others.slice(0, count - 1).map((keys) => keys.publicKey)] });
  const signed = (count: number) => [...precommits(), ...others.slice(0, count - 1).map((keys, i) => sign(keys, i + 1))];
  assert.throws(() => verifyCertificate(vectors.block.header, signed(2), validators(3)), /2 of 3/);
  assert.deepEqual(verifyCertificate(vectors.block.header, signed(3), validators(3)).signers, [0, 1, 2]);
  assert.throws(() => verifyCertificate(vectors.block.header, signed(2), validators(4)), /2 of 4/);
  assert.deepEqual(verifyCertificate(vectors.block.header, signed(3), validators(4)).signers, [0, 1, 2]);
  // A validator at another's position is refused, even with a valid signature of its own.
  const swapped = signed(3);
  swapped[2]!.validator = 1;
  assert.throws(() => verifyCertificate(vectors.block.header, swapped, validators(3)), /another key/);
});

test("the chain's signature rule: the published Ed25519 edge cases get the chain's verdicts", () => {
  // host/signature/tests/vectors (ed25519-speccheck); the verdicts are host/signature/tests/all/main.rs's EXPECTED.
  const cases: Json[] = JSON.parse(readFileSync(new URL("../../../../host/signature/tests/vectors/speccheck-cases.json", import.meta.url), "utf8"));
  const accepted = [false, false, false, true, true, true, false, false, false, false, false, false];
  assert.equal(cases.length, accepted.length);
  cases.forEach((vector, index) => {
    assert.equal(verifySignature(fromHex(vector.pub_key), fromHex(vector.message), fromHex(vector.signature)), accepted[index], `vector ${index}`);
  });
});

test("a client proving a list range refuses a shorter range and a stale block", async () => {
  const p = vectors.precommit;
  const answer = {
    block: { header: vectors.block.header },
    precommits: precommits(),
    instance: vectors.proofs.instance.proof,
    proof: vectors.proofs.list.proof,
  };
  const client = new Client("http://node.invalid", {
    fetch: async () => new Response(JSON.stringify(answer), { status: 200, headers: { "content-type": "application/json" } }),
  });
  const proven = await client.proveList("coins", "history", 1, 3, trusted());
  assert.deepEqual(proven.value.items.map((item) => toHex(item.value)), ["0101", "0202"]);
  assert.equal(proven.certified.header.height, BigInt(p.height));
  await assert.rejects(client.proveList("coins", "history", 1, 4, trusted()), /covers 1..3, not 1..4/);
  await assert.rejects(client.proveList("coins", "history", 1, 3, trusted(), { minHeight: 6n }), /older than 6/);
  // The same state under another name: the registry says instance 3 is "coins".
  await assert.rejects(client.proveList("tokens", "history", 1, 3, trusted()), /is "coins", not "tokens"/);
  // More items than the node proves at once is refused before asking.
  await assert.rejects(client.proveList("coins", "history", 0, LIST_PROOF_ITEMS_MAX + 1, trusted()), /at most 1000 items, not 1001/);
});

test("a client reads an answer up to its byte limit and refuses one byte more", async () => {
  const answering = (body: string) =>
    new Client("http://node.invalid", { answerBytesMax: 100, fetch: async () => new Response(body, { status: 200 }) });
  const atLimit = JSON.stringify({ blocks: ["x".repeat(100 - 15)] });
  assert.equal(atLimit.length, 100);
  assert.deepEqual(await answering(atLimit).blocks(), ["x".repeat(85)]);
  await assert.rejects(answering(atLimit + " ").blocks(), /over 100 bytes/);
});
