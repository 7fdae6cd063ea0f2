/**
 * The wasmvisor client: keys, transactions, the node's API and proof
 * verification. The wire formats are described in docs/WIRE-FORMAT.md of
 * the wasmvisor repository.
 */
export { EncodingError, concatBytes, equalBytes, fromHex, toHex } from "./bytes.js";
export { KeyPair, verifySignature } from "./keys.js";
export * from "./wire.js";
export * from "./proof.js";
export { ServiceInterface, type InterfaceJson, type Payload } from "./service.js";
export { ANSWER_BYTES_MAX, BLOCKS_PER_PAGE_ITEMS_MAX, Client, LIST_PROOF_ITEMS_MAX, NodeError, TimeoutError, signTransaction, type ClientOptions, type ExecutionErrorJson, type Proven, type TransactionStatus } from "./client.js";
