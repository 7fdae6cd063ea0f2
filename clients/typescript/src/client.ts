/**
 * The node's public HTTP API (docs/API.md) from JavaScript: transactions
 * built, signed, submitted and awaited; queries; and proofs checked
 * against the validators' precommits before anything is believed.
 */
import { EncodingError, concatBytes, fixedHex, toHex } from "./bytes.js";
import type { KeyPair } from "./keys.js";
import {
  type CertifiedHeader,
  ProofError,
  type EntryProofJson,
  type ListProofJson,
  type MapProofJson,
  type PrecommitJson,
  type ProvenListRange,
  type TrustedValidators,
  serviceIndexAddress,
  verifyCertificate,
  verifyEntryProof,
  verifyListProof,
  verifyInstanceProof,
  verifyMapProof,
} from "./proof.js";
import { ServiceInterface, type InterfaceJson } from "./service.js";
import { type CallInfo, encodeAnyTx, encodeSignedMessage, transactionHash } from "./wire.js";

/** A request the node answered with an error (4xx or 5xx). */
export class NodeError extends Error {
  override name = "NodeError";
  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The node's `error` message. */
    readonly reason: string,
    readonly url: string,
  ) {
    super(`${status} from ${url}: ${reason}`);
  }
}

/** A transaction that did not reach an outcome in time. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** Signs a transaction calling `call` with `args` on chain `chainId`; returns its bytes. */
export function signTransaction(keys: KeyPair, chainId: Uint8Array, call: CallInfo, args: Uint8Array): Uint8Array {
  const payload = encodeAnyTx({ call, arguments: args, chainId });
  return encodeSignedMessage({ payload, author: keys.publicKey, signature: keys.sign(payload) });
}

/** How a transaction failed, as the node reports it. */
export interface ExecutionErrorJson {
  kind: string;
  /** A service error's name from the service's interface, else `null`. */
  name: string | null;
  description: string;
  code?: number;
}

/** Where a transaction stands. */
export type TransactionStatus =
  | { status: "pending" }
  | { status: "committed"; height: number; index: number; call: Record<string, unknown> }
  | { status: "failed"; height: number; index: number; call: Record<string, unknown>; error: ExecutionErrorJson };

/** Options of a {@link Client}. */
export interface ClientOptions {
  /** The `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Milliseconds a request may take (default 10,000). */
  requestTimeoutMs?: number;
  /** Most bytes of an answer read (default {@link ANSWER_BYTES_MAX}). */
  answerBytesMax?: number;
}

/** A proven value with the header that commits to it. */
export interface Proven<T> {
  value: T;
  /** The header the validators precommitted and whose state root the proof leads to. */
  certified: CertifiedHeader;
}

/**
 * Most bytes of an answer this client reads by default: the largest query
 * answer the node gives (`QUERY_ANSWER_BYTES_MAX`, 16 MiB) in hex, and its
 * JSON framing. A list proof of many large items can be larger: ask for a
 * shorter range, or raise `answerBytesMax`.
 */
export const ANSWER_BYTES_MAX = 2 * 16 * 1024 * 1024 + 64 * 1024;
/** Most items one list proof covers (the node's `LIST_PROOF_ITEMS_MAX`). */
export const LIST_PROOF_ITEMS_MAX = 1_000;
/** Most blocks one `blocks()` answer lists (the node's `BLOCKS_PER_PAGE_ITEMS_MAX`). */
export const BLOCKS_PER_PAGE_ITEMS_MAX = 100;

/** A client of one node's public API. */
export class Client {
  readonly baseUrl: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #answerBytesMax: number;
  readonly #interfaces = new Map<string, ServiceInterface>();

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#answerBytesMax = options.answerBytesMax ?? ANSWER_BYTES_MAX;
  }

  /** The answer's body as text, refused once it passes `max` bytes. */
  static async #text(response: Response, url: string, max: number): Promise<string> {
    const declared = Number(response.headers.get("content-length") ?? "0");
    if (declared > max) {
      throw new NodeError(response.status, `the answer has ${declared} bytes; at most ${max} are read`, url);
    }
    if (response.body === null) {
      return "";
    }
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      total += value.length;
      if (total > max) {
        await reader.cancel();
        throw new NodeError(response.status, `the answer is over ${max} bytes`, url);
      }
      chunks.push(value);
    }
    return new TextDecoder().decode(concatBytes(...chunks));
  }

  async #request(path: string, init: RequestInit = {}): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    const response = await this.#fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
    const text = await Client.#text(response, url, this.#answerBytesMax);
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      throw new NodeError(response.status, `not JSON: ${text.slice(0, 200)}`, url);
    }
    if (!response.ok) {
      const reason = typeof body === "object" && body !== null && "error" in body ? String((body as { error: unknown }).error) : text.slice(0, 200);
      throw new NodeError(response.status, reason, url);
    }
    return body;
  }

  /** `GET /api/system/v1/info`: the chain id, height, validators and runtimes. */
  async info(): Promise<{
    chain_id: string;
    height: number;
    last_block_hash: string;
    state_hash: string;
    validators: { consensus_key: string; service_key: string }[];
    runtimes: string[];
    mempool_size: number;
  }> {
    return (await this.#request("/api/system/v1/info")) as never;
  }

  /**
   * The chain id and validator set as this node states them. Trust on
   * first use: a client that knows them another way passes its own
   * {@link TrustedValidators} to the proving calls instead.
   */
  async validators(): Promise<TrustedValidators> {
    const info = await this.info();
    return {
      chainId: fixedHex(info.chain_id, 32, "the chain id"),
      consensusKeys: info.validators.map((validator) => fixedHex(validator.consensus_key, 32, "a consensus key")),
    };
  }

  /** `GET /api/system/v1/services`: artifacts and instances with their states. */
  async services(): Promise<{ artifacts: string[]; instances: { id: number; name: string; artifact: string; status: string; data_version: string | null }[] }> {
    return (await this.#request("/api/system/v1/services")) as never;
  }

  /** The last `count` block headers (at most {@link BLOCKS_PER_PAGE_ITEMS_MAX}), newest first. */
  async blocks(count = 10): Promise<Record<string, unknown>[]> {
    const answer = (await this.#request(`/api/explorer/v1/blocks?count=${count}`)) as { blocks: Record<string, unknown>[] };
    return answer.blocks;
  }

  /** The supervisor's mode, the pending proposal and the deploy and migration requests with their statuses. */
  async governance(): Promise<Record<string, unknown>> {
    return (await this.#request("/api/explorer/v1/governance")) as never;
  }

  /** A block's header and its transactions' hashes. */
  async block(height: number): Promise<Record<string, unknown>> {
    return (await this.#request(`/api/explorer/v1/block?height=${height}`)) as never;
  }

  /** A service's interface (cached per instance name). */
  async serviceInterface(instance: string): Promise<ServiceInterface> {
    const cached = this.#interfaces.get(instance);
    if (cached !== undefined) {
      return cached;
    }
    const json = (await this.#request(`/api/services/${encodeURIComponent(instance)}/interface`)) as InterfaceJson;
    const parsed = new ServiceInterface(json);
    this.#interfaces.set(instance, parsed);
    return parsed;
  }

  /** Submits a signed transaction; answers its hash (hex). */
  async submit(signed: Uint8Array): Promise<string> {
    const body = (await this.#request("/api/explorer/v1/transactions", {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: signed as Uint8Array<ArrayBuffer>,
    })) as { tx_hash: string };
    const expected = toHex(transactionHash(signed));
    if (body.tx_hash !== expected) {
      throw new NodeError(200, `the node named the transaction ${body.tx_hash}, not ${expected}`, this.baseUrl);
    }
    return expected;
  }

  /** Where transaction `hash` stands; a hash the node does not know is a 404 {@link NodeError}. */
  async transaction(hash: string): Promise<TransactionStatus> {
    fixedHex(hash, 32, "a transaction hash");
    return (await this.#request(`/api/explorer/v1/transactions?hash=${hash}`)) as TransactionStatus;
  }

  /** Waits until transaction `hash` is committed or failed. */
  async waitForTransaction(hash: string, { timeoutMs = 30_000, intervalMs = 100 } = {}): Promise<Exclude<TransactionStatus, { status: "pending" }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.transaction(hash);
      if (status.status !== "pending") {
        return status;
      }
      if (Date.now() > deadline) {
        throw new TimeoutError(`transaction ${hash} is still pending after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /**
   * Signs and submits a call of `method` on service `instance` with JSON
   * `args` encoded through the service's interface; answers the hash.
   */
  async call(keys: KeyPair, instance: string, method: string, args: unknown, chainId?: Uint8Array): Promise<string> {
    const service = await this.serviceInterface(instance);
    const found = service.method(method);
    const chain = chainId ?? (await this.validators()).chainId;
    const signed = signTransaction(keys, chain, { instanceId: service.instanceId, methodId: found.id }, service.encode(found.arguments, args));
    return this.submit(signed);
  }

  /** Runs service query `name` with JSON arguments; answers the JSON answer (not proven: see the `prove*` calls). */
  async query(instance: string, name: string, args: unknown = null): Promise<unknown> {
    const body = (await this.#request(`/api/services/${encodeURIComponent(instance)}/${encodeURIComponent(name)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    })) as { answer: unknown };
    return body.answer;
  }

  /**
   * A proof answer of `kind` for `instance`'s index `index` (`query`: the
   * rest of the request), checked from the value to the precommits: the
   * precommits must certify the header, at `minHeight` or above; the
   * dispatcher's registry in its state must give `instance` the id the
   * index belongs to; and `verify` must lead from the proof's content to
   * the header's state root.
   */
  async #prove<P, T>(
    kind: string,
    instance: string,
    index: string,
    query: Record<string, string>,
    trusted: TrustedValidators,
    minHeight: bigint,
    verify: (proof: P, address: Uint8Array, stateRoot: Uint8Array) => T,
  ): Promise<Proven<T>> {
    const parameters = new URLSearchParams({ service: instance, index, ...query }).toString();
    const answer = (await this.#request(`/api/proofs/v1/${kind}?${parameters}`)) as {
      block: { header: string };
      precommits: PrecommitJson[];
      instance: MapProofJson;
      proof: P;
    };
    const certified = verifyCertificate(answer?.block?.header, answer?.precommits, trusted);
    if (certified.header.height < minHeight) {
      throw new ProofError(`the proof is against block ${certified.header.height}, older than ${minHeight}`);
    }
    const { stateHash } = certified.header;
    const id = verifyInstanceProof(answer.instance, instance, stateHash);
    return { value: verify(answer.proof, serviceIndexAddress(id, index), stateHash), certified };
  }

  /**
   * The value under `key` in proof map `index` of service `instance`,
   * proven (see {@link Client.proveEntry}'s steps): `null` is proven
   * absent. `minHeight` refuses a proof against an older block (a node
   * replaying an old, validly signed state).
   */
  async proveMapValue(instance: string, index: string, key: Uint8Array, trusted: TrustedValidators, { minHeight = 0n } = {}): Promise<Proven<Uint8Array | null>> {
    return this.#prove("map", instance, index, { key: toHex(key) }, trusted, minHeight, (proof: MapProofJson, address, root) =>
      verifyMapProof(proof, address, key, root).value,
    );
  }

  /**
   * Proof entry `index` of service `instance`, proven: the precommits must
   * certify the header, the dispatcher's registry in its state must give
   * `instance` the id the proof's index belongs to, and the proof must
   * lead from the value to the header's state root.
   */
  async proveEntry(instance: string, index: string, trusted: TrustedValidators, { minHeight = 0n } = {}): Promise<Proven<Uint8Array | null>> {
    return this.#prove("entry", instance, index, {}, trusted, minHeight, verifyEntryProof);
  }

  /**
   * Positions `from..to` of proof list `index` of service `instance`,
   * proven as {@link proveMapValue} proves: exactly those positions, or up
   * to the list's end when it is shorter.
   */
  async proveList(instance: string, index: string, from: number, to: number, trusted: TrustedValidators, { minHeight = 0n } = {}): Promise<Proven<ProvenListRange>> {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from) {
      throw new EncodingError(`not a range of positions: ${from}..${to}`);
    }
    if (to - from > LIST_PROOF_ITEMS_MAX) {
      throw new EncodingError(`a list proof covers at most ${LIST_PROOF_ITEMS_MAX} items, not ${to - from}`);
    }
    const proven = await this.#prove("list", instance, index, { from: String(from), to: String(to) }, trusted, minHeight, verifyListProof);
    const { len } = proven.value;
    const expectedTo = BigInt(to) < len ? BigInt(to) : len;
    const expectedFrom = BigInt(from) < expectedTo ? BigInt(from) : expectedTo;
    if (proven.value.from !== expectedFrom || proven.value.to !== expectedTo) {
      throw new ProofError(`the proof covers ${proven.value.from}..${proven.value.to}, not ${from}..${to} of ${len}`);
    }
    return proven;
  }

}

