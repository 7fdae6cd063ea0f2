/**
 * A service's interface as the node serves it
 * (`GET /api/services/<instance>/interface`), and JSON arguments encoded
 * through it exactly as the node encodes them: protobuf messages from the
 * protobuf JSON mapping with the schema's field names (their `bytes`
 * fields in base64, 64-bit integers as strings), a `bytes` payload as hex,
 * a `u64` payload as 8 little-endian bytes, a `string` payload as UTF-8.
 *
 * The interface comes from the node unproven: a node could describe a
 * method with another id or another message, and a client signing through
 * it would sign that. Pin the interface (or check `instanceId`, method ids
 * and descriptors against a copy you trust) where that matters.
 */
import protobuf from "protobufjs";
import "protobufjs/ext/descriptor/index.js";

import { EncodingError, fromHex, toHex, u64LittleEndian } from "./bytes.js";

/** What a method takes or a query answers. */
export type Payload = "empty" | "bytes" | "string" | "u64" | { message: string };

/** The JSON the node serves for a service's interface. */
export interface InterfaceJson {
  service: string;
  instance_id: number;
  artifact: string;
  methods: { id: number; name: string; arguments: Payload }[];
  queries: { name: string; private: boolean; arguments: Payload; answer: Payload }[];
  errors: { code: number; name: string }[];
  descriptors: string;
}

/** A service's interface: its methods, queries, errors and messages. */
export class ServiceInterface {
  readonly json: InterfaceJson;
  readonly #root: protobuf.Root;

  constructor(json: InterfaceJson) {
    this.json = json;
    const root = protobuf.Root as unknown as { fromDescriptor(bytes: Uint8Array, options?: { keepCase?: boolean }): protobuf.Root };
    try {
      this.#root = root.fromDescriptor(fromHex(json.descriptors ?? ""), { keepCase: true });
    } catch (error) {
      throw new EncodingError(`the interface's descriptors cannot be read: ${(error as Error).message}`);
    }
  }

  /** The instance's id. */
  get instanceId(): number {
    return this.json.instance_id;
  }

  /** A method by name; an unknown name is refused with the names there are. */
  method(name: string): { id: number; name: string; arguments: Payload } {
    const method = this.json.methods.find((candidate) => candidate.name === name);
    if (method === undefined) {
      const names = this.json.methods.map((candidate) => candidate.name).join(", ");
      throw new EncodingError(`${this.json.service} has no method ${JSON.stringify(name)}; it has: ${names}`);
    }
    return method;
  }


  /** Encodes JSON `value` as `payload`. */
  encode(payload: Payload, value: unknown): Uint8Array {
    if (payload === "empty") {
      const empty = value === null || value === undefined || (typeof value === "object" && Object.keys(value as object).length === 0);
      if (!empty) {
        throw new EncodingError("takes no arguments: send null");
      }
      return new Uint8Array();
    }
    if (payload === "bytes") {
      if (typeof value !== "string") {
        throw new EncodingError("expects a hex string");
      }
      return fromHex(value);
    }
    if (payload === "string") {
      if (typeof value !== "string") {
        throw new EncodingError("expects a string");
      }
      return new TextEncoder().encode(value);
    }
    if (payload === "u64") {
      const text = typeof value === "number" || typeof value === "bigint" ? String(value) : value;
      if (typeof text !== "string" || !/^[0-9]{1,20}$/.test(text) || BigInt(text) >= 1n << 64n) {
        throw new EncodingError("expects an unsigned 64-bit integer");
      }
      return u64LittleEndian(BigInt(text));
    }
    const type = this.#type(payload.message);
    refuseUnknownFields(type, value, type.fullName.replace(/^\./, ""));
    try {
      return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
    } catch (error) {
      throw new EncodingError(`not a valid ${payload.message} in JSON: ${(error as Error).message}`);
    }
  }

  /** Decodes `bytes` as `payload` into JSON (64-bit integers as strings, `bytes` fields in base64). */
  decode(payload: Payload, bytes: Uint8Array): unknown {
    if (payload === "empty") return null;
    if (payload === "bytes") return toHex(bytes);
    if (payload === "string") return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    if (payload === "u64") {
      if (bytes.length !== 8) throw new EncodingError("a u64 answer is 8 bytes");
      return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true).toString();
    }
    const type = this.#type(payload.message);
    return type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: true });
  }

  #type(name: string): protobuf.Type {
    try {
      return this.#root.lookupType(name);
    } catch {
      throw new EncodingError(`the interface has no message ${name}`);
    }
  }
}

/** Refuses JSON keys the message does not have (as the node does), at every depth. */
function refuseUnknownFields(type: protobuf.Type, value: unknown, path: string): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new EncodingError(`${path} must be a JSON object`);
  }
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = type.fields[key] ?? Object.values(type.fields).find((candidate) => candidate.name === key);
    if (field === undefined) {
      throw new EncodingError(`${path} has no field ${JSON.stringify(key)}`);
    }
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Type && fieldValue !== null) {
      const items = field.repeated && Array.isArray(fieldValue) ? fieldValue : [fieldValue];
      for (const item of items) {
        refuseUnknownFields(resolved, item, `${path}.${key}`);
      }
    }
  }
}
