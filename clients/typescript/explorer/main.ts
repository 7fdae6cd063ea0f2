/**
 * The explorer page the node serves at `/explorer/`: the chain as the
 * node's public API shows it, refreshed every second, and proofs of
 * service state verified in the page with the client library.
 *
 * Everything shown comes from the chain (names, arguments, error texts
 * are anybody's input), so it enters the page only as text nodes.
 */
import {
  Client,
  NodeError,
  ProofError,
  type ServiceInterface,
  type TrustedValidators,
  fromHex,
  toHex,
  transactionsRoot,
} from "../src/index.js";

const client = new Client(window.location.origin);
const REFRESH_MS = 1_000;

type Child = Node | string | number | null | undefined;

/** An element with attributes and children; strings become text nodes. */
function el(tag: string, attributes: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      element.append(child instanceof Node ? child : String(child));
    }
  }
  return element;
}

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (element === null) {
    throw new Error(`the page has no #${id}`);
  }
  return element;
}

function replaceRows(tableId: string, rows: HTMLElement[]): void {
  byId(tableId).querySelector("tbody")!.replaceChildren(...rows);
}

function link(href: string, text: string): HTMLElement {
  return el("a", { href }, text);
}

function short(hex: string): string {
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

function showStatus(text: string): void {
  byId("status").textContent = text;
}

function describeError(error: unknown): string {
  if (error instanceof NodeError) {
    return `${error.status}: ${error.reason}`;
  }
  return error instanceof Error ? error.message : String(error);
}

interface BlockJson {
  height: number;
  tx_count: number;
  hash: string;
  prev_hash: string;
  tx_hash: string;
  state_hash: string;
  error_hash: string;
  committed_here_ms: number | null;
  transactions?: string[];
}

function committedHere(block: BlockJson): string {
  return block.committed_here_ms === null ? "unknown" : new Date(block.committed_here_ms).toLocaleString();
}

async function refreshChain(): Promise<void> {
  const info = await client.info();
  byId("height").textContent = String(info.height);
  byId("chain-id").textContent = info.chain_id;
  byId("validator-count").textContent = String(info.validators.length);
  byId("validators").replaceChildren(...info.validators.map((validator) => el("li", { class: "hash" }, validator.consensus_key)));
  const blocks = (await client.blocks(10)) as unknown as BlockJson[];
  replaceRows(
    "blocks",
    blocks.map((block) =>
      el(
        "tr",
        { "data-height": String(block.height) },
        el("td", {}, link(`#/block/${block.height}`, String(block.height))),
        el("td", {}, block.tx_count),
        el("td", { class: "hash" }, short(block.hash)),
        el("td", {}, committedHere(block)),
      ),
    ),
  );
}

let knownServices = "";

async function refreshServices(): Promise<void> {
  const services = await client.services();
  replaceRows(
    "services",
    services.instances.map((instance) =>
      el(
        "tr",
        { "data-service": instance.name },
        el("td", {}, instance.id),
        el("td", {}, instance.name),
        el("td", {}, instance.artifact),
        el("td", { class: `status ${instance.status.split(" ")[0]}` }, instance.status),
      ),
    ),
  );
  byId("artifacts").replaceChildren(...services.artifacts.map((artifact) => el("li", {}, artifact)));
  // The verify form's services, kept when nothing changed (not to reset a choice).
  const names = services.instances.map((instance) => instance.name).join("\n");
  if (names !== knownServices) {
    knownServices = names;
    const select = byId("verify-service") as HTMLSelectElement;
    const chosen = select.value;
    select.replaceChildren(...services.instances.map((instance) => el("option", { value: instance.name }, instance.name)));
    if (services.instances.some((instance) => instance.name === chosen)) {
      select.value = chosen;
    } else if (services.instances.length > 0) {
      select.value = services.instances[services.instances.length - 1]!.name;
    }
  }
}

interface GovernanceJson {
  mode: string;
  validators: number;
  approvals_needed: number;
  proposal: null | { propose_hash: string; actual_from: number; approvals: number; changes: Record<string, unknown>[] };
  deploys: { artifact: string | null; status: string; approvals: number; deadline_height: number; error: string | null }[];
  migrations: { service: string; artifact: string | null; status: string; approvals: number; deadline_height: number; error: string | null }[];
  truncated: boolean;
}

async function refreshGovernance(): Promise<void> {
  const governance = (await client.governance()) as unknown as GovernanceJson;
  byId("governance-mode").textContent =
    `Supervisor in ${governance.mode} mode: a decision needs ${governance.approvals_needed} of ${governance.validators} validators' approvals.` +
    (governance.truncated ? " (Only the first requests are listed.)" : "");
  const proposal = governance.proposal;
  byId("proposal").replaceChildren(
    proposal === null
      ? el("p", {}, "No pending proposal.")
      : el(
          "div",
          {},
          el("h3", {}, "Pending proposal"),
          el("p", {}, `Hash ${short(proposal.propose_hash)}, from height ${proposal.actual_from}: approvals ${proposal.approvals}/${governance.approvals_needed}`),
          el("ul", {}, ...proposal.changes.map((change) => el("li", {}, el("code", {}, JSON.stringify(change))))),
        ),
  );
  replaceRows(
    "deploys",
    governance.deploys.map((deploy) =>
      el(
        "tr",
        {},
        el("td", {}, deploy.artifact ?? "?"),
        el("td", { class: deploy.status }, deploy.status),
        el("td", {}, `${deploy.approvals}/${governance.approvals_needed}`),
        el("td", {}, deploy.deadline_height),
        el("td", {}, deploy.error ?? ""),
      ),
    ),
  );
  replaceRows(
    "migrations",
    governance.migrations.map((migration) =>
      el(
        "tr",
        {},
        el("td", {}, migration.service),
        el("td", {}, migration.artifact ?? "?"),
        el("td", { class: migration.status }, migration.status),
        el("td", {}, `${migration.approvals}/${governance.approvals_needed}`),
        el("td", {}, migration.deadline_height),
        el("td", {}, migration.error ?? ""),
      ),
    ),
  );
}

/** A transaction found by hash: its call decoded and its outcome, errors by name. */
async function showTransaction(hash: string): Promise<HTMLElement> {
  const found = await client.transaction(hash);
  const rows: [string, Child][] = [["Hash", el("span", { class: "hash" }, hash)], ["Status", el("span", { id: "tx-status", class: found.status }, found.status)]];
  if (found.status !== "pending") {
    const call = found.call as { service?: string; instance_id?: number; method_id?: number; method?: string; arguments?: unknown; author?: string };
    rows.push(["Block", link(`#/block/${found.height}`, `${found.height}`)], ["Position", found.index]);
    rows.push(["Service", `${call.service ?? "?"} (instance ${call.instance_id})`]);
    rows.push(["Method", el("span", { id: "tx-method" }, call.method ?? `#${call.method_id}`)]);
    rows.push(["Author", el("span", { class: "hash" }, call.author ?? "")]);
    if ("arguments" in call) {
      rows.push(["Arguments", el("pre", {}, JSON.stringify(call.arguments, null, 2))]);
    }
    if (found.status === "failed") {
      rows.push(["Error", el("span", { id: "tx-error-name", class: "failed" }, found.error.name ?? `${found.error.kind} error ${found.error.code ?? ""}`)]);
      rows.push(["Kind", found.error.kind], ["Description", found.error.description]);
    }
  }
  return el("div", { id: "tx", "data-status": found.status }, el("h2", {}, "Transaction"), table(rows));
}

function table(rows: [string, Child][]): HTMLElement {
  return el("table", { class: "fields" }, el("tbody", {}, ...rows.map(([name, value]) => el("tr", {}, el("th", {}, name), el("td", {}, value)))));
}

/** A block: its header, and its transactions checked against the header's root. */
async function showBlock(height: number): Promise<HTMLElement> {
  const block = (await client.block(height)) as unknown as BlockJson;
  const hashes = block.transactions ?? [];
  const rootMatches = toHex(transactionsRoot(hashes.map(fromHex))) === block.tx_hash;
  return el(
    "div",
    { id: "block", "data-height": String(block.height) },
    el("h2", {}, `Block ${block.height}`),
    table([
      ["Hash", el("span", { class: "hash" }, block.hash)],
      ["Previous", el("span", { class: "hash" }, block.prev_hash)],
      ["State root", el("span", { class: "hash" }, block.state_hash)],
      ["Transactions root", el("span", { class: "hash" }, block.tx_hash)],
      ["Errors root", el("span", { class: "hash" }, block.error_hash)],
      ["Committed here", committedHere(block)],
    ]),
    el("h3", {}, hashes.length === 1 ? "1 transaction" : `${hashes.length} transactions`),
    el(
      "p",
      { class: rootMatches ? "verified" : "refused" },
      rootMatches ? "These hashes are the ones the header's transactions root commits to." : "These hashes do not match the header's transactions root.",
    ),
    el("ol", { start: "0" }, ...hashes.map((hash) => el("li", {}, link(`#/tx/${hash}`, hash)))),
  );
}

/** The latest route asked for: an answer to an earlier one is dropped. */
let routeSequence = 0;

async function route(): Promise<void> {
  const sequence = ++routeSequence;
  const detail = byId("detail");
  const path = window.location.hash.replace(/^#/, "");
  const tx = /^\/tx\/([0-9a-fA-F]{64})$/.exec(path);
  const block = /^\/block\/([0-9]{1,20})$/.exec(path);
  try {
    let shown: HTMLElement;
    if (tx !== null) {
      shown = await showTransaction(tx[1]!.toLowerCase());
    } else if (block !== null) {
      shown = await showBlock(Number(block[1]));
    } else {
      detail.hidden = true;
      return;
    }
    if (sequence === routeSequence) {
      detail.replaceChildren(shown);
    }
  } catch (error) {
    if (sequence === routeSequence) {
      detail.replaceChildren(el("p", { class: "refused", id: "detail-error" }, describeError(error)));
    }
  }
  detail.hidden = false;
}

/** The first message a service's queries answer with: how the page shows a proven value. */
async function valueShown(service: string, value: Uint8Array): Promise<string> {
  // The client keeps each interface it read.
  const found: ServiceInterface | null = await client.serviceInterface(service).catch(() => null);
  const answer = found?.json.queries.find((query) => typeof query.answer === "object")?.answer;
  if (found && answer !== undefined) {
    try {
      return JSON.stringify(found.decode(answer, value));
    } catch {
      // Not that message: shown as bytes.
    }
  }
  return toHex(value);
}

async function verify(event: Event): Promise<void> {
  event.preventDefault();
  const result = byId("verify-result");
  const service = (byId("verify-service") as HTMLSelectElement).value;
  const index = (byId("verify-index") as HTMLInputElement).value.trim();
  const keyText = (byId("verify-key") as HTMLInputElement).value.trim().toLowerCase();
  result.removeAttribute("data-outcome");
  result.replaceChildren(el("p", {}, "Verifying…"));
  let trusted: TrustedValidators;
  try {
    trusted = await client.validators();
    const proven = await client.proveMapValue(service, index, fromHex(keyText), trusted);
    const { header, hash, signers } = proven.certified;
    result.setAttribute("data-outcome", "verified");
    result.replaceChildren(
      el("p", { class: "verified", id: "verify-verdict" }, proven.value === null ? "Verified: the key is absent." : "Verified."),
      el(
        "ol",
        { class: "trust" },
        el(
          "li",
          {},
          `Precommits of validators ${signers.join(", ")} (${signers.length} of ${trusted.consensusKeys.length}) verify over the header's hash ${toHex(hash)}, with the consensus keys `,
          el("span", { class: "hash", id: "verify-keys" }, trusted.consensusKeys.map(toHex).join(", ")),
          " (as this node states them).",
        ),
        el("li", {}, `The header of block ${header.height} holds the state root ${toHex(header.stateHash)}.`),
        el("li", {}, `The dispatcher's registry in that state gives ${service} the id whose ${index} the proof opens.`),
        el("li", {}, `The proof leads from the value of key ${keyText} in ${service}'s ${index} to that state root.`),
        el("li", {}, "Value: ", el("code", { id: "verify-value-hex", class: "hash" }, proven.value === null ? "absent" : toHex(proven.value))),
        proven.value === null
          ? null
          : el("li", {}, "Decoded with the service's interface as this node serves it (not proven): ", el("code", { id: "verify-value" }, await valueShown(service, proven.value))),
      ),
    );
  } catch (error) {
    result.setAttribute("data-outcome", "refused");
    const why = error instanceof ProofError ? `Refused: ${error.message}` : `Not verified: ${describeError(error)}`;
    result.replaceChildren(el("p", { class: "refused", id: "verify-verdict" }, why));
  }
}

function search(event: Event): void {
  event.preventDefault();
  const text = (byId("search-input") as HTMLInputElement).value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    window.location.hash = `#/tx/${text.toLowerCase()}`;
  } else if (/^[0-9]{1,20}$/.test(text)) {
    window.location.hash = `#/block/${text}`;
  } else {
    showStatus("Enter a transaction hash (64 hex characters) or a block height.");
    return;
  }
  showStatus("");
}

/** Most milliseconds between refreshes while the node does not answer. */
const REFRESH_BACKOFF_MAX_MS = 30_000;
let refreshDelayMs = REFRESH_MS;

/** Refreshes every second while the page is visible, backing off while the node does not answer. */
async function refresh(): Promise<void> {
  if (!document.hidden) {
    try {
      await refreshChain();
      await refreshServices();
      await refreshGovernance();
      if (/^#\/tx\//.test(window.location.hash) && byId("detail").querySelector('[data-status="pending"]') !== null) {
        await route();
      }
      showStatus("");
      refreshDelayMs = REFRESH_MS;
    } catch (error) {
      showStatus(`The node did not answer: ${describeError(error)}`);
      refreshDelayMs = Math.min(2 * refreshDelayMs, REFRESH_BACKOFF_MAX_MS);
    }
  }
  window.setTimeout(refresh, refreshDelayMs);
}

byId("search").addEventListener("submit", search);
byId("verify-form").addEventListener("submit", (event) => void verify(event));
window.addEventListener("hashchange", () => void route());
void route();
void refresh();
