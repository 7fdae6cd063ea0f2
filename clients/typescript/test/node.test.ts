/**
 * The client against a real `wasmvisor run-dev` node: wallets, an issue and
 * transfers signed here, failures named by the service's interface, and
 * balances read through proofs verified here against the validator's
 * precommits — with every tampered answer of the node refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { Client, KeyPair, NodeError, ProofError, type ServiceInterface, signTransaction } from "../src/index.js";
import { DevNode, TOKEN_WASM, flipHexByte } from "./support.js";

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** A wallet's balance from its encoded `Wallet`, through the token's interface. */
function balance(service: ServiceInterface, wallet: Uint8Array | null): string | null {
  if (wallet === null) {
    return null;
  }
  const answer = service.json.queries.find((query) => query.name === "wallet")!.answer;
  return (service.decode(answer, wallet) as { balance: string }).balance;
}

test("a client signs, submits, awaits and proves token transfers on a real node", async (t) => {
  const node = await DevNode.start();
  t.after(() => node.stop());
  await node.cli(["deploy", TOKEN_WASM(), "--name", "token", "--version", "1.0.0"]);
  await node.cli(["start-service", "--artifact", "token:1.0.0", "--instance", "coins", "--params-json", '{"issue_max": 5000}']);

  const client = new Client(node.publicUrl);
  const trusted = await client.validators();
  assert.equal(trusted.consensusKeys.length, 1);
  const [alice, bob, carol] = [KeyPair.generate(), KeyPair.generate(), KeyPair.generate()];
  const outcome = async (keys: KeyPair, method: string, args: unknown) =>
    client.waitForTransaction(await client.call(keys, "coins", method, args));

  for (const [keys, name] of [[alice, "alice"], [bob, "bob"]] as const) {
    assert.equal((await outcome(keys, "create_wallet", { name })).status, "committed");
  }
  assert.equal((await outcome(alice, "issue", { amount: "1000", seed: "1" })).status, "committed");
  const overLimit = await outcome(alice, "issue", { amount: 6000, seed: 2 });
  assert.equal(overLimit.status, "failed");
  assert.equal(overLimit.status === "failed" && overLimit.error.name, "IssueLimitExceeded");
  assert.equal((await outcome(alice, "transfer", { to: base64(bob.publicKey), amount: "250", seed: "3" })).status, "committed");
  const overdrawn = await outcome(bob, "transfer", { to: base64(alice.publicKey), amount: "251", seed: "4" });
  assert.equal(overdrawn.status === "failed" && overdrawn.error.name, "InsufficientFunds", JSON.stringify(overdrawn));
  const orphan = await outcome(carol, "issue", { amount: "1", seed: "5" });
  assert.equal(orphan.status === "failed" && orphan.error.name, "WalletNotFound");

  // Balances, proven: the precommit certifies the header, the proof leads to its state root.
  const token = await client.serviceInterface("coins");
  const proven = async (keys: KeyPair) => client.proveMapValue("coins", "wallets", keys.publicKey, trusted);
  const aliceProof = await proven(alice);
  assert.equal(balance(token, aliceProof.value), "750");
  assert.deepEqual(aliceProof.certified.signers, [0]);
  assert.equal(balance(token, (await proven(bob)).value), "250");
  assert.equal((await proven(carol)).value, null, "carol has no wallet, provably");
  // The unproven query agrees.
  const queried = (await client.query("coins", "wallet", { owner: base64(bob.publicKey) })) as { balance: string };
  assert.equal(queried.balance, "250");

  // Arguments that do not fit the interface are refused before anything is signed.
  await assert.rejects(client.call(alice, "coins", "mint", {}), /no method "mint"; it has: create_wallet, issue, transfer/);
  await assert.rejects(client.call(alice, "coins", "issue", { amount: "1", extra: 1 }), /no field "extra"/);
  // A transaction signed by hand; the node refuses it again with a 409.
  const signed = signTransaction(alice, trusted.chainId, { instanceId: token.instanceId, methodId: token.method("issue").id }, token.encode({ message: "wasmvisor.token.Issue" }, { amount: "1", seed: "6" }));
  const hash = await client.submit(signed);
  assert.equal((await client.waitForTransaction(hash)).status, "committed");
  await assert.rejects(client.submit(signed), (error) => error instanceof NodeError && error.status === 409);
  // Signed for another chain: refused with the reason.
  const elsewhere = signTransaction(alice, new Uint8Array(32), { instanceId: token.instanceId, methodId: 1 }, new Uint8Array());
  await assert.rejects(client.submit(elsewhere), (error) => error instanceof NodeError && error.status === 400 && /another chain/.test(error.reason));

  // The same proof through a node that lies: every tampering is refused.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const lying = (tamper: (answer: any) => void) =>
    new Client(node.publicUrl, {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (!String(input).includes("/api/proofs/v1/")) {
          return response;
        }
        const answer = await response.json();
        tamper(answer);
        return new Response(JSON.stringify(answer), { status: response.status, headers: response.headers });
      },
    });
  const tamperings: [string, (answer: any) => void][] = [
    ["a sibling hash", (answer) => (answer.proof.entry.siblings[0] = flipHexByte(answer.proof.entry.siblings[0]))],
    ["the value", (answer) => (answer.proof.value = flipHexByte(answer.proof.value, answer.proof.value.length / 2 - 1))],
    ["the aggregator's sibling", (answer) => (answer.proof.index.aggregator.siblings[0] = flipHexByte(answer.proof.index.aggregator.siblings[0]))],
    ["a header byte", (answer) => (answer.block.header = flipHexByte(answer.block.header, 5))],
    ["the precommit's signature", (answer) => (answer.precommits[0].signature = flipHexByte(answer.precommits[0].signature, 40))],
    ["no precommits", (answer) => (answer.precommits = [])],
    // The registry's proof of the instance: another id, a changed record, or none.
    ["the instance's id", (answer) => (answer.instance.key = "00000000")],
    ["the instance's record", (answer) => (answer.instance.value = flipHexByte(answer.instance.value, 10))],
    ["no instance proof", (answer) => delete answer.instance],
  ];
  for (const [what, tamper] of tamperings) {
    await assert.rejects(
      lying(tamper).proveMapValue("coins", "wallets", alice.publicKey, trusted),
      (error) => error instanceof ProofError,
      `${what} is refused`,
    );
  }
  // The untouched answer passes through the same wrapper.
  assert.equal(balance(token, (await lying(() => {}).proveMapValue("coins", "wallets", alice.publicKey, trusted)).value), "751");

  // Unknown things are 404s with the node's reason.
  await assert.rejects(client.transaction("00".repeat(32)), (error) => error instanceof NodeError && error.status === 404);
});
