/**
 * The explorer page in a real browser (Debian's chromium, headless,
 * driven by playwright-core): the height advances, transactions are found
 * by hash with their outcome (a failure by its error's name), a freeze
 * shows in the services, and a balance is verified in the page — and
 * refused when the node serving the page lies in its proof (the node's
 * Byzantine test build). Screenshots go to $WASMVISOR_SCREENSHOTS, else
 * $CARGO_TARGET_DIR/explorer-screenshots.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { chromium, type Page } from "playwright-core";

import { Client, KeyPair } from "../../src/index.js";
import { BYZANTINE_BINARY, DevNode, TOKEN_WASM } from "../support.js";

const CHROMIUM = process.env.WASMVISOR_CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.WASMVISOR_SCREENSHOTS ?? join(process.env.CARGO_TARGET_DIR ?? ".", "explorer-screenshots");
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${path}`);
}

async function verifyBalance(page: Page, owner: KeyPair): Promise<{ outcome: string | null; text: string }> {
  await page.selectOption("#verify-service", "coins");
  await page.fill("#verify-index", "wallets");
  await page.fill("#verify-key", owner.publicKeyHex);
  await page.click("#verify-button");
  await page.waitForSelector("#verify-result[data-outcome]");
  return {
    outcome: await page.getAttribute("#verify-result", "data-outcome"),
    text: (await page.textContent("#verify-result")) ?? "",
  };
}

test("the explorer shows the chain live, finds transactions, follows a freeze and verifies a balance", async (t) => {
  const node = await DevNode.start();
  t.after(() => node.stop());
  await node.cli(["deploy", TOKEN_WASM(), "--name", "token", "--version", "1.0.0"]);
  await node.cli(["start-service", "--artifact", "token:1.0.0", "--instance", "coins", "--params-json", '{"issue_max": 5000}']);
  const client = new Client(node.publicUrl);
  const [alice, bob] = [KeyPair.generate(), KeyPair.generate()];
  const outcome = async (keys: KeyPair, method: string, args: unknown) => {
    const hash = await client.call(keys, "coins", method, args);
    return { hash, status: await client.waitForTransaction(hash) };
  };
  // A name that is markup: the page must show it as text.
  const markup = '<img src=x id=injected onerror="document.title=1">';
  await outcome(alice, "create_wallet", { name: markup });
  await outcome(bob, "create_wallet", { name: "bob" });
  await outcome(alice, "issue", { amount: "1000", seed: "1" });
  const transfer = await outcome(alice, "transfer", { to: base64(bob.publicKey), amount: "250", seed: "2" });
  assert.equal(transfer.status.status, "committed");
  const overdrawn = await outcome(bob, "transfer", { to: base64(alice.publicKey), amount: "9999", seed: "3" });
  assert.equal(overdrawn.status.status, "failed");

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") pageErrors.push(message.text());
  });
  const served = await page.goto(`${node.publicUrl}/explorer/`);
  const policy = (await served!.allHeaders())["content-security-policy"] ?? "";
  assert.match(policy, /default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self'; connect-src 'self'/);

  // The height advances by itself, and the latest blocks follow it.
  await page.waitForFunction(() => /^[0-9]+$/.test(document.getElementById("height")?.textContent ?? ""));
  const first = Number(await page.textContent("#height"));
  await page.waitForFunction((seen) => Number(document.getElementById("height")?.textContent) > seen, first, { timeout: 15_000 });
  // The latest blocks follow: the newest listed passes the first height seen.
  await page.waitForFunction(
    (seen) => Number(document.querySelector("#blocks tbody tr:first-child")?.getAttribute("data-height")) > seen,
    first,
    { timeout: 15_000 },
  );
  assert.match((await page.textContent("#blocks thead")) ?? "", /node's clock/);
  assert.notEqual(await page.textContent("#blocks tbody tr:first-child td:last-child"), "unknown", "a block this node committed has its time");
  await screenshot(page, "1-latest-blocks");

  // A committed transfer, found by hash, with its decoded call.
  await page.fill("#search-input", transfer.hash);
  await page.click("#search button");
  await page.waitForSelector('#tx[data-status="committed"]');
  assert.equal(await page.textContent("#tx-method"), "transfer");
  assert.match((await page.textContent("#tx")) ?? "", /"amount": "250"/);
  await screenshot(page, "2-committed-transfer");

  // A failed one: its error by name.
  await page.fill("#search-input", overdrawn.hash);
  await page.click("#search button");
  await page.waitForSelector('#tx[data-status="failed"]');
  assert.equal(await page.textContent("#tx-error-name"), "InsufficientFunds");
  await screenshot(page, "3-failed-transfer");

  // Its block lists it, under the header's transactions root.
  await page.click("#tx a[href^='#/block/']");
  await page.waitForSelector("#block");
  assert.ok(await page.isVisible(`#block a[href="#/tx/${overdrawn.hash}"]`));
  assert.match((await page.textContent("#block")) ?? "", /the ones the header's transactions root commits to/);

  // A freeze shows in the services; governance shows the deploy.
  const coinsStatus = '#services tr[data-service="coins"] .status';
  assert.equal(await page.textContent(coinsStatus), "active");
  assert.match((await page.textContent("#deploys")) ?? "", /wasm:token:1\.0\.0\s*succeeded\s*1\/1/);
  await node.cli(["freeze", "--instance", "coins"]);
  await page.waitForFunction((selector) => document.querySelector(selector)?.textContent === "frozen", coinsStatus, { timeout: 15_000 });
  await screenshot(page, "4-frozen-service");

  // A balance, verified in the page.
  const verified = await verifyBalance(page, alice);
  assert.equal(verified.outcome, "verified", verified.text);
  assert.match(verified.text, /"balance":"750"/);
  assert.match(verified.text, /Precommits of validators 0 \(1 of 1\)/);
  // Chain data is shown as text, never as markup.
  assert.ok(verified.text.includes(JSON.stringify(markup).slice(1, -1)), verified.text);
  assert.equal(await page.evaluate(() => document.getElementById("injected")), null);
  await screenshot(page, "5-balance-verified");
  assert.deepEqual(pageErrors, []);

  // The same node, restarted as a liar (the Byzantine test build flips a byte of every proven value).
  await node.halt();
  const liar = await DevNode.start({ dataDir: node.dataDir, binary: BYZANTINE_BINARY(), env: { WASMVISOR_BYZANTINE_TAMPER_PROOFS: "1" } });
  t.after(() => liar.halt());
  await page.goto(`${liar.publicUrl}/explorer/`);
  await page.waitForSelector('#verify-service option[value="coins"]', { state: "attached" });
  const refused = await verifyBalance(page, alice);
  assert.equal(refused.outcome, "refused", `a tampered proof must be refused (is ${BYZANTINE_BINARY()} the byzantine build?): ${refused.text}`);
  assert.match(refused.text, /Refused: the leaf holds another value/);
  await screenshot(page, "6-tampered-proof-refused");
});
