//! Every limit of wasmvisor, in one place, named with its unit.
//!
//! A limit is a relation: the transaction the API admits must fit the
//! record a block keeps of it, the largest component must fit a deploy
//! request, which must fit a transaction, a block of the largest
//! transactions must fit one consensus message, and so on. Each such
//! relation is stated below as a `const` assertion next to the limits it
//! ties together, so changing one limit without the others does not
//! compile.
//!
//! Units are the last word of every name: `_BYTES_MAX` (bytes),
//! `_ITEMS_MAX` (a count), `_FUEL` (wasm fuel units), `_MS`
//! (milliseconds). Crates re-export what they check; nothing restates a
//! number that lives here.
//!
//! This crate has no dependencies and no `std`: the host and the guests
//! (the supervisor, the SDK) share it.

#![no_std]

/// One kibibyte, in bytes.
pub const KIB: usize = 1 << 10;
/// One mebibyte, in bytes.
pub const MIB: usize = 1 << 20;

/// Bytes a protobuf length-delimited field adds to its content at most:
/// a one-byte tag (field numbers below 16) and a varint length of at most
/// five bytes (lengths below 4 GiB).
pub const PROTOBUF_FIELD_OVERHEAD_BYTES_MAX: usize = 6;

// ---------------------------------------------------------------------------
// Storage: what a service may keep, and what the host records.
// ---------------------------------------------------------------------------

/// Longest index name, in bytes.
pub const INDEX_NAME_BYTES_MAX: usize = 64;
/// Largest key a service may use in an index, in bytes.
pub const KEY_BYTES_MAX: usize = KIB;
/// Largest value a service may store under one key or list position, in
/// bytes. Checked where a guest (or a native service) hands a value over.
pub const SERVICE_VALUE_BYTES_MAX: usize = MIB;
/// Largest value the storage layer accepts from anyone, in bytes: what the
/// host records for itself (a block's signed transactions, an artifact's
/// deploy spec) as well as what services store.
pub const RECORD_VALUE_BYTES_MAX: usize = 16 * MIB;
/// Most entries one `range` call answers.
pub const RANGE_ITEMS_MAX: usize = 1024;
/// Most bytes (keys and values) one `range` call answers; a range stops
/// early rather than exceed it, and always answers at least one entry.
pub const RANGE_BYTES_MAX: usize = 4 * MIB;
/// Bytes (keys and values) of snapshot reads one fork keeps in memory.
pub const FORK_READ_CACHE_BYTES_MAX: usize = 64 * MIB;

const _: () = assert!(SERVICE_VALUE_BYTES_MAX <= RECORD_VALUE_BYTES_MAX);
// One entry of the largest key and value always fits a range's answer.
const _: () = assert!(KEY_BYTES_MAX + SERVICE_VALUE_BYTES_MAX <= RANGE_BYTES_MAX);

// ---------------------------------------------------------------------------
// Guests: one wasm instance, one call.
// ---------------------------------------------------------------------------

/// Linear memory one guest instance may grow to, in bytes.
pub const GUEST_MEMORY_BYTES_MAX: usize = 64 * MIB;
/// Linear memory all guest instances of one call chain (a transaction and
/// the services it calls, nested) may hold at once, in bytes.
pub const CALL_CHAIN_MEMORY_BYTES_MAX: usize = 256 * MIB;
/// Heap the SDK's allocator finds in the initial memory of every instance
/// of a guest built with the SDK's default feature, in bytes
/// (`wasmvisor_sdk::allocator`): a call whose live allocations stay well
/// within it never grows its memory. A guest-side default the node does
/// not enforce; part of the instance's initial memory, so the chain's
/// memory budget counts it.
pub const GUEST_SDK_HEAP_BYTES: usize = 256 * KIB;
/// Table elements one guest instance may have.
pub const GUEST_TABLE_ITEMS_MAX: usize = 10_000;
/// Native stack a guest may use, in bytes.
pub const GUEST_STACK_BYTES_MAX: usize = 512 * KIB;
/// Core wasm instances one call may create (a component built from one
/// core module instantiates it plus a few canonical-ABI shims).
pub const CORE_INSTANCES_PER_CALL_ITEMS_MAX: usize = 16;
/// Linear memories one component may contain (one core module's; the
/// canonical-ABI shims have none). A component with more is refused when
/// it is deployed, the same on every node.
pub const GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX: u32 = 1;
/// Tables one component may contain (its core module's and its shims').
/// A component with more is refused when it is deployed.
pub const GUEST_TABLES_PER_COMPONENT_ITEMS_MAX: u32 = 2;
/// Native stack the host's own frames take between two nested guest
/// calls (the dispatcher, the router, wasmtime's trampolines), at most, in
/// bytes.
pub const HOST_FRAMES_PER_CALL_BYTES_MAX: usize = 512 * KIB;
/// Native stack of a thread that executes blocks, in bytes: every guest of
/// the deepest call chain may use all of its stack (each nested call runs
/// in a store of its own, with a stack budget of its own), with the host's
/// frames between them.
pub const BLOCK_THREAD_STACK_BYTES: usize =
    (CALL_DEPTH_MAX as usize + 1) * (GUEST_STACK_BYTES_MAX + HOST_FRAMES_PER_CALL_BYTES_MAX);
/// Guest instances alive at once in one engine (the pooling allocator's
/// size): a call chain holds at most [`CALL_DEPTH_MAX`] of them, blocks
/// execute one at a time, and queries take the rest.
pub const INSTANCES_LIVE_ITEMS_MAX: u32 = 256;
/// Deepest nesting of service-to-service calls (the transaction's own call
/// is depth 0).
pub const CALL_DEPTH_MAX: u32 = 16;
/// Requests (broadcasts, local deploys) one `after-commit` call may queue.
pub const AFTER_COMMIT_REQUESTS_ITEMS_MAX: usize = 16;
/// Largest argument of one broadcast transaction, in bytes.
pub const BROADCAST_ARGUMENTS_BYTES_MAX: usize = MIB;
/// Longest description of an execution error the host keeps (a longer one,
/// which a service chooses, is cut), in bytes. Descriptions are recorded
/// with a block's results but never enter its roots.
pub const ERROR_DESCRIPTION_BYTES_MAX: usize = KIB;
/// Read queries a node runs at once (each holds a guest instance and up to
/// one guest's memory); more wait their turn.
pub const QUERIES_CONCURRENT_ITEMS_MAX: usize = 8;

// A call chain of the deepest nesting, each instance at the memory limit,
// is what the chain budget bounds: it must allow at least one instance.
const _: () = assert!(GUEST_MEMORY_BYTES_MAX <= CALL_CHAIN_MEMORY_BYTES_MAX);
// The SDK's heap is a small part of what one guest may hold.
const _: () = assert!(GUEST_SDK_HEAP_BYTES <= GUEST_MEMORY_BYTES_MAX / 64);
const _: () = assert!(CALL_DEPTH_MAX as usize + 1 < INSTANCES_LIVE_ITEMS_MAX as usize);
// The pool has room for a block's deepest call chain, an after-commit call
// and every query at once (and the rest for migration jobs), so queries can
// never make a block's instantiation fail.
const _: () = assert!(
    2 * (CALL_DEPTH_MAX as usize + 1) + 1 + QUERIES_CONCURRENT_ITEMS_MAX <= INSTANCES_LIVE_ITEMS_MAX as usize / 2
);
// A range's answer is copied into the guest's memory.
const _: () = assert!(RANGE_BYTES_MAX <= GUEST_MEMORY_BYTES_MAX / 4);

// ---------------------------------------------------------------------------
// Work: fuel per transaction, fuel of host calls, write budgets.
// ---------------------------------------------------------------------------

/// Fuel one transaction (or hook, or constructor) may burn, with every
/// service it calls, when the consensus configuration does not say.
pub const FUEL_PER_TRANSACTION_DEFAULT: u64 = 50_000_000;
/// Most fuel a consensus configuration may give one transaction.
pub const FUEL_PER_TRANSACTION_MAX: u64 = 2_000_000_000;
/// Fuel one read query may burn when the consensus configuration does not
/// say.
pub const FUEL_PER_QUERY_DEFAULT: u64 = 10_000_000;
/// Most fuel a consensus configuration may give one read query.
pub const FUEL_PER_QUERY_MAX: u64 = 200_000_000;
/// Fuel a data migration script may burn (it runs once, in the
/// background, over all of a service's data).
pub const MIGRATION_FUEL: u64 = 200 * FUEL_PER_TRANSACTION_DEFAULT;
/// Fuel every host call costs before the work it does (a storage read
/// costs a few hundred nanoseconds over a native one; a wasm instruction
/// costs about one fuel unit and well under a nanosecond).
pub const HOST_CALL_FUEL: u64 = 1_000;
/// Fuel per byte a host call hands the guest (keys and values read).
pub const READ_BYTE_FUEL: u64 = 1;
/// Fuel per byte a host call writes (keys and values): each is hashed into
/// the state and written to disk.
pub const WRITE_BYTE_FUEL: u64 = 2;
/// Fuel per item a range answers or a clear removes.
pub const ITEM_FUEL: u64 = 1_000;
/// Bytes (keys and values) a data migration may leave in its shadow
/// namespace, and may write while it runs; more fails the migration on
/// every node alike.
pub const MIGRATION_DATA_BYTES_MAX: usize = 256 * MIB;
/// Keys a data migration may write while it runs.
pub const MIGRATION_WRITE_ITEMS_MAX: usize = 4 * MIB;
/// Fuel per byte the host hashes for a guest (blake3 runs natively, about
/// ten times faster than in wasm).
pub const HASH_BYTE_FUEL: u64 = 1;
/// Fuel per byte wasm's `memory.copy`, `memory.fill` and `memory.init`
/// cost, on top of the instruction (the engine is configured with it).
pub const MEMORY_COPY_BYTE_FUEL: u64 = 1;
// The engine takes the per-byte cost as a `u8`.
const _: () = assert!(MEMORY_COPY_BYTE_FUEL >= 1 && MEMORY_COPY_BYTE_FUEL <= u8::MAX as u64);

/// Bytes (keys and values) one transaction may write, whatever its fuel;
/// it also bounds a call's undo log.
pub const TRANSACTION_WRITE_BYTES_MAX: usize = 16 * MIB;
/// Keys one transaction may write or remove.
pub const TRANSACTION_WRITE_ITEMS_MAX: usize = 16 * KIB;
/// Bytes (keys and values) all calls of one block may write, counting
/// the writes of calls that failed and were rolled back.
pub const BLOCK_WRITE_BYTES_MAX: usize = 128 * MIB;
/// Keys all calls of one block may write or remove.
pub const BLOCK_WRITE_ITEMS_MAX: usize = 128 * KIB;

const _: () = assert!(FUEL_PER_TRANSACTION_DEFAULT <= FUEL_PER_TRANSACTION_MAX);
const _: () = assert!(FUEL_PER_QUERY_DEFAULT <= FUEL_PER_QUERY_MAX);
// One write of the largest key and value fits a transaction's budget, and a
// transaction's budget fits a block's.
const _: () = assert!(KEY_BYTES_MAX + SERVICE_VALUE_BYTES_MAX <= TRANSACTION_WRITE_BYTES_MAX);
const _: () = assert!(TRANSACTION_WRITE_BYTES_MAX <= BLOCK_WRITE_BYTES_MAX);
const _: () = assert!(TRANSACTION_WRITE_ITEMS_MAX <= BLOCK_WRITE_ITEMS_MAX);
// A range of the most items at the largest size is affordable in one
// transaction's fuel (so the items limit, not fuel, is what a careful
// service meets).
const _: () = assert!(
    HOST_CALL_FUEL + RANGE_ITEMS_MAX as u64 * ITEM_FUEL + RANGE_BYTES_MAX as u64 * READ_BYTE_FUEL
        <= FUEL_PER_TRANSACTION_DEFAULT
);

// ---------------------------------------------------------------------------
// Artifacts and deploys.
// ---------------------------------------------------------------------------

/// Longest artifact name, in bytes.
pub const ARTIFACT_NAME_BYTES_MAX: usize = 128;
/// Longest artifact version (semver text), in bytes.
pub const ARTIFACT_VERSION_BYTES_MAX: usize = 64;
/// Longest instance name, in bytes.
pub const INSTANCE_NAME_BYTES_MAX: usize = 64;
/// Largest component a deploy spec may carry, in bytes.
pub const COMPONENT_BYTES_MAX: usize = 8 * MIB;
/// Bytes a deploy spec carries beyond its component (hash and framing).
pub const DEPLOY_SPEC_OVERHEAD_BYTES_MAX: usize = 64;
/// Largest deploy spec, in bytes.
pub const DEPLOY_SPEC_BYTES_MAX: usize = COMPONENT_BYTES_MAX + DEPLOY_SPEC_OVERHEAD_BYTES_MAX;
/// Largest interface a component embeds (its `wasmvisor:interface` custom
/// section, JSON), in bytes.
pub const INTERFACE_BYTES_MAX: usize = MIB;
/// Largest protobuf descriptor set a component embeds (its
/// `wasmvisor:descriptors` custom section), in bytes.
pub const INTERFACE_DESCRIPTORS_BYTES_MAX: usize = MIB;
/// Most methods, queries or errors one interface lists (each).
pub const INTERFACE_ENTRIES_ITEMS_MAX: usize = 256;
/// Longest method, query or error name in an interface, in bytes.
pub const INTERFACE_NAME_BYTES_MAX: usize = 64;
/// Longest full name of a protobuf message an interface names, in bytes.
pub const INTERFACE_MESSAGE_NAME_BYTES_MAX: usize = 256;
/// Largest payload the node shows as JSON (a transaction's arguments, a
/// query's answer), in bytes: JSON may be many times larger than the
/// protobuf it shows.
pub const JSON_DECODE_BYTES_MAX: usize = 64 * KIB;
// Both sections fit the largest component.
const _: () = assert!(INTERFACE_BYTES_MAX + INTERFACE_DESCRIPTORS_BYTES_MAX <= COMPONENT_BYTES_MAX);
// An interface of the most entries with the longest names fits: each
// method, query or error with its name, two message names and 128 bytes of
// JSON around them.
const _: () = assert!(
    3 * INTERFACE_ENTRIES_ITEMS_MAX * (INTERFACE_NAME_BYTES_MAX + 2 * INTERFACE_MESSAGE_NAME_BYTES_MAX + 128)
        <= INTERFACE_BYTES_MAX
);

/// Whether `name` may name a method or a query of an interface: 1 to
/// [`INTERFACE_NAME_BYTES_MAX`] bytes of `a-z`, `0-9`, `_` and `-`, and
/// not a name the node's API keeps for itself (`interface`, as in
/// `/api/services/<instance>/interface`). The SDK's macro and the node's
/// check at deploy both hold names to it.
pub fn is_interface_member_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= INTERFACE_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-')
        && name != "interface"
}

/// Whether `name` may name a service error: 1 to
/// [`INTERFACE_NAME_BYTES_MAX`] bytes of `A-Z`, `a-z`, `0-9` and `_`.
pub fn is_interface_error_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= INTERFACE_NAME_BYTES_MAX
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}
/// Bytes a deploy request carries beyond its spec: the artifact id, the
/// deadline and framing.
pub const DEPLOY_REQUEST_OVERHEAD_BYTES_MAX: usize = KIB;
/// Largest deploy (or migration) request, in bytes.
pub const DEPLOY_REQUEST_BYTES_MAX: usize = DEPLOY_SPEC_BYTES_MAX + DEPLOY_REQUEST_OVERHEAD_BYTES_MAX;
/// Bytes of one piece of a deploy spec as the supervisor stores it: a
/// spec is kept once, by hash, in pieces of at most one service value.
pub const SPEC_CHUNK_BYTES_MAX: usize = SERVICE_VALUE_BYTES_MAX;
const _: () = assert!(SPEC_CHUNK_BYTES_MAX <= SERVICE_VALUE_BYTES_MAX);
/// Pieces of the largest spec.
pub const SPEC_CHUNKS_ITEMS_MAX: usize = DEPLOY_SPEC_BYTES_MAX.div_ceil(SPEC_CHUNK_BYTES_MAX);
/// Pending deploy requests the supervisor's hook ends per block (timed
/// out), and reads per after-commit; the rest wait for the next block.
pub const SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX: usize = 64;
/// Guest memory the supervisor needs beside the copies of a deploy request
/// it holds at once, in bytes (its own state, protobuf decoding).
pub const SUPERVISOR_WORKING_MEMORY_BYTES_MAX: usize = 16 * MIB;

const _: () = assert!(ARTIFACT_NAME_BYTES_MAX + ARTIFACT_VERSION_BYTES_MAX + 64 <= KEY_BYTES_MAX);
const _: () = assert!(
    ARTIFACT_NAME_BYTES_MAX + ARTIFACT_VERSION_BYTES_MAX + 8 * PROTOBUF_FIELD_OVERHEAD_BYTES_MAX + 2 * 10
        <= DEPLOY_REQUEST_OVERHEAD_BYTES_MAX
);
// The dispatcher records an artifact's spec as one value.
const _: () = assert!(DEPLOY_SPEC_BYTES_MAX <= RECORD_VALUE_BYTES_MAX);
// The supervisor holds a request as its call's arguments, decoded, and
// encoded once more (its key), within one instance's memory.
const _: () = assert!(3 * DEPLOY_REQUEST_BYTES_MAX + SUPERVISOR_WORKING_MEMORY_BYTES_MAX <= GUEST_MEMORY_BYTES_MAX);
// Storing the largest spec fits one transaction's write budget and fuel.
const _: () =
    assert!(DEPLOY_SPEC_BYTES_MAX + SPEC_CHUNKS_ITEMS_MAX * (KEY_BYTES_MAX + 64 * KIB) <= TRANSACTION_WRITE_BYTES_MAX);
const _: () = assert!(SPEC_CHUNKS_ITEMS_MAX <= TRANSACTION_WRITE_ITEMS_MAX);
// Ending the most pending requests in one hook (each: its pending key, its
// spec's pieces and user count, its state) fits one call's write budget.
const _: () =
    assert!(SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX * (SPEC_CHUNKS_ITEMS_MAX + 3) <= TRANSACTION_WRITE_ITEMS_MAX);
// The supervisor's work on the largest request — decoding it (a copy),
// hashing its spec on the host and writing the spec's pieces — with ten
// million fuel to spare for everything else, fits one transaction.
const _: () = assert!(
    (DEPLOY_REQUEST_BYTES_MAX as u64) * (MEMORY_COPY_BYTE_FUEL + HASH_BYTE_FUEL + WRITE_BYTE_FUEL) + 10_000_000
        <= FUEL_PER_TRANSACTION_DEFAULT
);

// ---------------------------------------------------------------------------
// Transactions.
// ---------------------------------------------------------------------------

/// Bytes a signed transaction carries beyond its call's arguments: the
/// signature, the author, the chain id, the call and framing.
pub const TRANSACTION_OVERHEAD_BYTES_MAX: usize = KIB;
/// Largest signed transaction, in bytes: room for the largest deploy
/// request. Also the default of the consensus configuration's
/// `transaction_size_max`, which may only lower it.
pub const TRANSACTION_BYTES_MAX: usize = DEPLOY_REQUEST_BYTES_MAX + TRANSACTION_OVERHEAD_BYTES_MAX;

const _: () = assert!(32 + 64 + 32 + 2 * 10 + 6 * PROTOBUF_FIELD_OVERHEAD_BYTES_MAX <= TRANSACTION_OVERHEAD_BYTES_MAX);
// Whatever admission accepts, a block can record: the signed bytes are
// kept as one value.
const _: () = assert!(TRANSACTION_BYTES_MAX <= RECORD_VALUE_BYTES_MAX);
// A broadcast is signed into a transaction.
const _: () = assert!(BROADCAST_ARGUMENTS_BYTES_MAX + TRANSACTION_OVERHEAD_BYTES_MAX <= TRANSACTION_BYTES_MAX);

// ---------------------------------------------------------------------------
// Governance: the supervisor's proposals.
// ---------------------------------------------------------------------------

/// Most validators a consensus configuration may name.
pub const VALIDATORS_ITEMS_MAX: usize = 256;
/// Most changes one configuration proposal may batch.
pub const PROPOSAL_CHANGES_ITEMS_MAX: usize = 64;
/// Largest parameters of one service change (start, configure, resume),
/// in bytes.
pub const SERVICE_PARAMS_BYTES_MAX: usize = 12 * KIB;
/// Largest encoded consensus configuration, in bytes: every validator's two
/// 32-byte keys with framing, and the scalar settings.
pub const CONSENSUS_CONFIG_BYTES_MAX: usize = VALIDATORS_ITEMS_MAX * (2 * (32 + 2) + 2) + 128;
/// Largest encoded service change, in bytes: parameters, an instance and an
/// artifact name and version, framing.
pub const SERVICE_CHANGE_BYTES_MAX: usize =
    SERVICE_PARAMS_BYTES_MAX + INSTANCE_NAME_BYTES_MAX + ARTIFACT_NAME_BYTES_MAX + ARTIFACT_VERSION_BYTES_MAX + 128;
/// Bytes a stored proposal carries beyond its changes (approvals by
/// validator key, heights, framing).
pub const PROPOSAL_OVERHEAD_BYTES_MAX: usize = VALIDATORS_ITEMS_MAX * (32 + 2) + KIB;

// A proposal of the most changes (one of them the consensus configuration,
// which a proposal names at most once) is stored as one service value,
// and travels in one transaction.
const _: () = assert!(
    PROPOSAL_CHANGES_ITEMS_MAX * SERVICE_CHANGE_BYTES_MAX + CONSENSUS_CONFIG_BYTES_MAX + PROPOSAL_OVERHEAD_BYTES_MAX
        <= SERVICE_VALUE_BYTES_MAX
);
const _: () = assert!(SERVICE_VALUE_BYTES_MAX + TRANSACTION_OVERHEAD_BYTES_MAX <= TRANSACTION_BYTES_MAX);

// ---------------------------------------------------------------------------
// Blocks and the consensus network.
// ---------------------------------------------------------------------------

/// Most transactions one block may hold (the consensus configuration may
/// set fewer).
pub const BLOCK_TRANSACTIONS_ITEMS_MAX: usize = 10_000;
/// Most bytes of signed transactions one block may hold.
pub const BLOCK_TRANSACTIONS_BYTES_MAX: usize = 32 * MIB;
/// Largest encoded block header, in bytes (a height, a count and four
/// 32-byte hashes with framing).
pub const BLOCK_HEADER_BYTES_MAX: usize = 256;
/// Largest block on the wire: its header and its transactions, each with
/// framing.
pub const BLOCK_WIRE_BYTES_MAX: usize = BLOCK_HEADER_BYTES_MAX
    + PROTOBUF_FIELD_OVERHEAD_BYTES_MAX
    + BLOCK_TRANSACTIONS_BYTES_MAX
    + BLOCK_TRANSACTIONS_ITEMS_MAX * PROTOBUF_FIELD_OVERHEAD_BYTES_MAX;
/// Largest consensus message (gossip, sync, write-ahead log entry), in
/// bytes; checked before decoding.
pub const CONSENSUS_MESSAGE_BYTES_MAX: usize = 64 * MIB;
/// Bytes a signed proposal (or proposal part) carries beyond its block:
/// height, rounds, proposer, signature, framing.
pub const PROPOSAL_WIRE_OVERHEAD_BYTES_MAX: usize = KIB;
/// Bytes of one signature of a commit certificate on the wire (a 32-byte
/// address, a 64-byte signature, framing).
pub const COMMIT_SIGNATURE_BYTES_MAX: usize = 32 + 64 + 4 * PROTOBUF_FIELD_OVERHEAD_BYTES_MAX;
/// Largest commit certificate on the wire, in bytes.
pub const CERTIFICATE_BYTES_MAX: usize = VALIDATORS_ITEMS_MAX * COMMIT_SIGNATURE_BYTES_MAX + 128;
/// Most blocks one sync response carries; a response also stops before
/// [`CONSENSUS_MESSAGE_BYTES_MAX`].
pub const SYNC_BLOCKS_ITEMS_MAX: usize = 16;
/// Most decided values a sync response may carry when decoded.
pub const SYNC_VALUES_ITEMS_MAX: usize = 1_000;
/// Longest proposal stream id, in bytes.
pub const STREAM_ID_BYTES_MAX: usize = 64;
/// Longest libp2p peer id in a validator proof, in bytes.
pub const PEER_ID_BYTES_MAX: usize = 64;
/// Most signatures one certificate may carry.
pub const SIGNATURES_ITEMS_MAX: usize = VALIDATORS_ITEMS_MAX;

/// Proposal parts of the next height kept until it starts (each verified
/// against its proposer first).
pub const FUTURE_PARTS_ITEMS_MAX: usize = 16;
/// Bytes of proposal parts of the next height kept until it starts.
pub const FUTURE_PARTS_BYTES_MAX: usize = 2 * CONSENSUS_MESSAGE_BYTES_MAX;
/// Blocks of one height kept executed (each holds a fork) until the
/// height is decided; the oldest round's goes first.
pub const EXECUTED_BLOCKS_ITEMS_MAX: usize = 8;
/// Blocks of one height the engine heard of and this node keeps (its own
/// proposals, received and synced ones, valid or not).
pub const HEIGHT_VALUES_ITEMS_MAX: usize = 64;
/// Bytes of those blocks.
pub const HEIGHT_VALUES_BYTES_MAX: usize = 4 * CONSENSUS_MESSAGE_BYTES_MAX;
/// Rounds beyond the one a node runs whose proposals it takes (executes
/// and keeps); later rounds' proposals are ignored, and a node that reaches
/// such a round without its block gets the decided block from sync.
pub const PROPOSAL_ROUNDS_AHEAD_MAX: u32 = 2;

// The blocks a node keeps for the round it runs and for every round ahead
// it takes fit what it keeps per height, so proposals for later rounds
// (however a proposer spends them) never push out the running round's.
const _: () =
    assert!((PROPOSAL_ROUNDS_AHEAD_MAX as usize + 1) * CONSENSUS_MESSAGE_BYTES_MAX <= HEIGHT_VALUES_BYTES_MAX);
// (The running round and those ahead: PROPOSAL_ROUNDS_AHEAD_MAX + 1 items.)
const _: () = assert!((PROPOSAL_ROUNDS_AHEAD_MAX as usize) < HEIGHT_VALUES_ITEMS_MAX);

// A block of the most transactions at the most bytes — the largest
// transaction included — travels in one signed proposal, and in one sync
// response with its certificate.
const _: () = assert!(TRANSACTION_BYTES_MAX <= BLOCK_TRANSACTIONS_BYTES_MAX);
const _: () = assert!(BLOCK_WIRE_BYTES_MAX + PROPOSAL_WIRE_OVERHEAD_BYTES_MAX <= CONSENSUS_MESSAGE_BYTES_MAX);
const _: () = assert!(
    BLOCK_WIRE_BYTES_MAX + CERTIFICATE_BYTES_MAX + 4 * PROTOBUF_FIELD_OVERHEAD_BYTES_MAX <= CONSENSUS_MESSAGE_BYTES_MAX
);
// A block header of the largest height and count.
const _: () = assert!(2 * 11 + 4 * (32 + 2) <= BLOCK_HEADER_BYTES_MAX);
// The next height's genuine proposal always fits the buffer, and the values
// of a height hold at least the blocks kept executed.
const _: () = assert!(CONSENSUS_MESSAGE_BYTES_MAX <= FUTURE_PARTS_BYTES_MAX);
const _: () = assert!(EXECUTED_BLOCKS_ITEMS_MAX <= HEIGHT_VALUES_ITEMS_MAX);
const _: () = assert!(CONSENSUS_MESSAGE_BYTES_MAX <= HEIGHT_VALUES_BYTES_MAX);
const _: () = assert!(SIGNATURES_ITEMS_MAX == VALIDATORS_ITEMS_MAX);

// ---------------------------------------------------------------------------
// The node: mempool, relays, HTTP.
// ---------------------------------------------------------------------------

/// Transactions the mempool holds by default.
pub const MEMPOOL_ITEMS_MAX_DEFAULT: usize = 10_000;
/// Bytes of signed transactions the mempool holds by default.
pub const MEMPOOL_BYTES_MAX_DEFAULT: usize = 256 * MIB;
/// Bytes of transactions waiting to be relayed to one peer.
pub const RELAY_QUEUE_BYTES_MAX: usize = 64 * MIB;
/// Transactions waiting to be relayed to one peer.
pub const RELAY_QUEUE_ITEMS_MAX: usize = 10_000;

/// Largest request body of the routes that take a transaction or a deploy
/// request (hex in JSON doubles it), in bytes.
pub const HTTP_LARGE_BODY_BYTES_MAX: usize = 2 * TRANSACTION_BYTES_MAX + 4 * KIB;
/// Largest request body of every other route, in bytes.
pub const HTTP_BODY_BYTES_MAX: usize = 256 * KIB;
/// Transactions one batch submission carries (`POST
/// /api/explorer/v1/transactions/batch`, which the relay between validators
/// uses too).
pub const SUBMIT_BATCH_ITEMS_MAX: usize = 1_024;
/// Largest batch submission, in bytes: the encoded `TransactionBatch`
/// (each transaction costs its bytes and its field's framing).
pub const SUBMIT_BATCH_BYTES_MAX: usize = HTTP_LARGE_BODY_BYTES_MAX;
/// Requests one API serves at once; more wait in the kernel's backlog.
pub const HTTP_CONNECTIONS_ITEMS_MAX: usize = 256;
/// Requests with a large body one API reads at once.
pub const HTTP_LARGE_BODIES_ITEMS_MAX: usize = 8;
/// Of those, from one remote address (loopback is not limited: the node's
/// own machine, where validators of a test network and local clients run).
pub const HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX: usize = 2;
/// Longest a request may take, body included, in milliseconds.
pub const HTTP_REQUEST_TIMEOUT_MS: u64 = 30_000;
/// Longest a client may take to send a request's head, in milliseconds.
pub const HTTP_HEADER_TIMEOUT_MS: u64 = 10_000;
/// Most transactions an ordinary service may broadcast from one
/// after-commit (the supervisor's own are bounded by
/// `AFTER_COMMIT_REQUESTS_ITEMS_MAX`).
pub const SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX: usize = 4;
/// Largest arguments of an ordinary service's broadcast, in bytes.
pub const SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX: usize = 64 * KIB;
const _: () = assert!(SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX <= AFTER_COMMIT_REQUESTS_ITEMS_MAX);
const _: () = assert!(SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX <= BROADCAST_ARGUMENTS_BYTES_MAX);
/// Most settings a node's configuration gives one service.
pub const SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX: usize = 64;
/// Longest service setting name, in bytes.
pub const SERVICE_SETTING_KEY_BYTES_MAX: usize = 64;
/// Longest service setting value, in bytes.
pub const SERVICE_SETTING_VALUE_BYTES_MAX: usize = 4 * KIB;
/// Largest query arguments, in bytes (they travel hex-encoded in a URL).
pub const QUERY_ARGUMENTS_BYTES_MAX: usize = 64 * KIB;
/// Largest request head the HTTP server reads, in bytes (its read buffer).
pub const HTTP_HEAD_BYTES_MAX: usize = 400 * KIB;
/// Largest answer of one service query, in bytes.
pub const QUERY_ANSWER_BYTES_MAX: usize = 16 * MIB;
/// Most blocks one explorer page answers.
pub const BLOCKS_PER_PAGE_ITEMS_MAX: usize = 100;
/// Most items one list proof covers.
pub const LIST_PROOF_ITEMS_MAX: usize = 1_000;
/// Most deploy requests, and most migration requests, the explorer's
/// governance view lists (one storage range each).
pub const GOVERNANCE_REQUESTS_ITEMS_MAX: usize = 100;
const _: () = assert!(GOVERNANCE_REQUESTS_ITEMS_MAX < RANGE_ITEMS_MAX);
/// How many of its latest blocks' local commit times a node keeps in
/// memory for the explorer.
pub const COMMIT_TIMES_ITEMS_MAX: usize = 1_024;
// Every block one explorer page lists can have its time.
const _: () = assert!(COMMIT_TIMES_ITEMS_MAX >= BLOCKS_PER_PAGE_ITEMS_MAX);

const _: () = assert!(MEMPOOL_BYTES_MAX_DEFAULT >= BLOCK_TRANSACTIONS_BYTES_MAX);
const _: () = assert!(RELAY_QUEUE_BYTES_MAX >= TRANSACTION_BYTES_MAX);
// The largest transaction fits a batch alone, and a full batch fits one
// peer's relay queue.
const _: () = assert!(TRANSACTION_BYTES_MAX + PROTOBUF_FIELD_OVERHEAD_BYTES_MAX <= SUBMIT_BATCH_BYTES_MAX);
const _: () = assert!(SUBMIT_BATCH_ITEMS_MAX <= RELAY_QUEUE_ITEMS_MAX);
// A transaction, hex-encoded in a JSON body, fits the large body.
const _: () = assert!(2 * TRANSACTION_BYTES_MAX + KIB <= HTTP_LARGE_BODY_BYTES_MAX);
// A consensus configuration proposal in JSON (hex keys) fits a small body.
const _: () = assert!(4 * CONSENSUS_CONFIG_BYTES_MAX <= HTTP_BODY_BYTES_MAX);
// Query arguments hex-encoded in a URL fit the request head.
const _: () = assert!(2 * QUERY_ARGUMENTS_BYTES_MAX + 8 * KIB <= HTTP_HEAD_BYTES_MAX);
// Arguments and answer fit a guest's memory, with room to work.
const _: () = assert!(QUERY_ARGUMENTS_BYTES_MAX + 2 * QUERY_ANSWER_BYTES_MAX <= GUEST_MEMORY_BYTES_MAX);
// Bodies read at once stay within a stated memory: at most this many bytes.
const _: () = assert!(
    HTTP_LARGE_BODIES_ITEMS_MAX * HTTP_LARGE_BODY_BYTES_MAX + HTTP_CONNECTIONS_ITEMS_MAX * HTTP_BODY_BYTES_MAX
        <= 256 * MIB
);
const _: () = assert!(HTTP_HEADER_TIMEOUT_MS <= HTTP_REQUEST_TIMEOUT_MS);
// One remote address cannot take every large-body permit.
const _: () = assert!(HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX < HTTP_LARGE_BODIES_ITEMS_MAX);

/// Every limit above by name, with its value: what documentation (the
/// limits table of SECURITY.md) is checked against. A test checks that
/// every `pub const` of this crate is listed.
pub const ALL: &[(&str, u128)] = &[
    ("KIB", KIB as u128),
    ("MIB", MIB as u128),
    (
        "PROTOBUF_FIELD_OVERHEAD_BYTES_MAX",
        PROTOBUF_FIELD_OVERHEAD_BYTES_MAX as u128,
    ),
    ("INDEX_NAME_BYTES_MAX", INDEX_NAME_BYTES_MAX as u128),
    ("KEY_BYTES_MAX", KEY_BYTES_MAX as u128),
    ("SERVICE_VALUE_BYTES_MAX", SERVICE_VALUE_BYTES_MAX as u128),
    ("RECORD_VALUE_BYTES_MAX", RECORD_VALUE_BYTES_MAX as u128),
    ("RANGE_ITEMS_MAX", RANGE_ITEMS_MAX as u128),
    ("RANGE_BYTES_MAX", RANGE_BYTES_MAX as u128),
    ("FORK_READ_CACHE_BYTES_MAX", FORK_READ_CACHE_BYTES_MAX as u128),
    ("GUEST_MEMORY_BYTES_MAX", GUEST_MEMORY_BYTES_MAX as u128),
    ("CALL_CHAIN_MEMORY_BYTES_MAX", CALL_CHAIN_MEMORY_BYTES_MAX as u128),
    ("GUEST_SDK_HEAP_BYTES", GUEST_SDK_HEAP_BYTES as u128),
    ("GUEST_TABLE_ITEMS_MAX", GUEST_TABLE_ITEMS_MAX as u128),
    ("GUEST_STACK_BYTES_MAX", GUEST_STACK_BYTES_MAX as u128),
    (
        "CORE_INSTANCES_PER_CALL_ITEMS_MAX",
        CORE_INSTANCES_PER_CALL_ITEMS_MAX as u128,
    ),
    ("INSTANCES_LIVE_ITEMS_MAX", INSTANCES_LIVE_ITEMS_MAX as u128),
    (
        "GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX",
        GUEST_MEMORIES_PER_COMPONENT_ITEMS_MAX as u128,
    ),
    (
        "GUEST_TABLES_PER_COMPONENT_ITEMS_MAX",
        GUEST_TABLES_PER_COMPONENT_ITEMS_MAX as u128,
    ),
    ("HOST_FRAMES_PER_CALL_BYTES_MAX", HOST_FRAMES_PER_CALL_BYTES_MAX as u128),
    ("BLOCK_THREAD_STACK_BYTES", BLOCK_THREAD_STACK_BYTES as u128),
    ("CALL_DEPTH_MAX", CALL_DEPTH_MAX as u128),
    (
        "AFTER_COMMIT_REQUESTS_ITEMS_MAX",
        AFTER_COMMIT_REQUESTS_ITEMS_MAX as u128,
    ),
    ("BROADCAST_ARGUMENTS_BYTES_MAX", BROADCAST_ARGUMENTS_BYTES_MAX as u128),
    ("ERROR_DESCRIPTION_BYTES_MAX", ERROR_DESCRIPTION_BYTES_MAX as u128),
    ("QUERIES_CONCURRENT_ITEMS_MAX", QUERIES_CONCURRENT_ITEMS_MAX as u128),
    ("FUEL_PER_TRANSACTION_DEFAULT", FUEL_PER_TRANSACTION_DEFAULT as u128),
    ("FUEL_PER_TRANSACTION_MAX", FUEL_PER_TRANSACTION_MAX as u128),
    ("FUEL_PER_QUERY_DEFAULT", FUEL_PER_QUERY_DEFAULT as u128),
    ("FUEL_PER_QUERY_MAX", FUEL_PER_QUERY_MAX as u128),
    ("MIGRATION_FUEL", MIGRATION_FUEL as u128),
    ("HOST_CALL_FUEL", HOST_CALL_FUEL as u128),
    ("READ_BYTE_FUEL", READ_BYTE_FUEL as u128),
    ("WRITE_BYTE_FUEL", WRITE_BYTE_FUEL as u128),
    ("ITEM_FUEL", ITEM_FUEL as u128),
    ("MIGRATION_DATA_BYTES_MAX", MIGRATION_DATA_BYTES_MAX as u128),
    ("MIGRATION_WRITE_ITEMS_MAX", MIGRATION_WRITE_ITEMS_MAX as u128),
    ("HASH_BYTE_FUEL", HASH_BYTE_FUEL as u128),
    ("MEMORY_COPY_BYTE_FUEL", MEMORY_COPY_BYTE_FUEL as u128),
    ("TRANSACTION_WRITE_BYTES_MAX", TRANSACTION_WRITE_BYTES_MAX as u128),
    ("TRANSACTION_WRITE_ITEMS_MAX", TRANSACTION_WRITE_ITEMS_MAX as u128),
    ("BLOCK_WRITE_BYTES_MAX", BLOCK_WRITE_BYTES_MAX as u128),
    ("BLOCK_WRITE_ITEMS_MAX", BLOCK_WRITE_ITEMS_MAX as u128),
    ("ARTIFACT_NAME_BYTES_MAX", ARTIFACT_NAME_BYTES_MAX as u128),
    ("ARTIFACT_VERSION_BYTES_MAX", ARTIFACT_VERSION_BYTES_MAX as u128),
    ("INSTANCE_NAME_BYTES_MAX", INSTANCE_NAME_BYTES_MAX as u128),
    ("COMPONENT_BYTES_MAX", COMPONENT_BYTES_MAX as u128),
    ("DEPLOY_SPEC_OVERHEAD_BYTES_MAX", DEPLOY_SPEC_OVERHEAD_BYTES_MAX as u128),
    ("DEPLOY_SPEC_BYTES_MAX", DEPLOY_SPEC_BYTES_MAX as u128),
    (
        "DEPLOY_REQUEST_OVERHEAD_BYTES_MAX",
        DEPLOY_REQUEST_OVERHEAD_BYTES_MAX as u128,
    ),
    ("DEPLOY_REQUEST_BYTES_MAX", DEPLOY_REQUEST_BYTES_MAX as u128),
    ("SPEC_CHUNK_BYTES_MAX", SPEC_CHUNK_BYTES_MAX as u128),
    ("SPEC_CHUNKS_ITEMS_MAX", SPEC_CHUNKS_ITEMS_MAX as u128),
    (
        "SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX",
        SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX as u128,
    ),
    (
        "SUPERVISOR_WORKING_MEMORY_BYTES_MAX",
        SUPERVISOR_WORKING_MEMORY_BYTES_MAX as u128,
    ),
    ("TRANSACTION_OVERHEAD_BYTES_MAX", TRANSACTION_OVERHEAD_BYTES_MAX as u128),
    ("TRANSACTION_BYTES_MAX", TRANSACTION_BYTES_MAX as u128),
    ("VALIDATORS_ITEMS_MAX", VALIDATORS_ITEMS_MAX as u128),
    ("PROPOSAL_CHANGES_ITEMS_MAX", PROPOSAL_CHANGES_ITEMS_MAX as u128),
    ("SERVICE_PARAMS_BYTES_MAX", SERVICE_PARAMS_BYTES_MAX as u128),
    ("CONSENSUS_CONFIG_BYTES_MAX", CONSENSUS_CONFIG_BYTES_MAX as u128),
    ("SERVICE_CHANGE_BYTES_MAX", SERVICE_CHANGE_BYTES_MAX as u128),
    ("PROPOSAL_OVERHEAD_BYTES_MAX", PROPOSAL_OVERHEAD_BYTES_MAX as u128),
    ("BLOCK_TRANSACTIONS_ITEMS_MAX", BLOCK_TRANSACTIONS_ITEMS_MAX as u128),
    ("BLOCK_TRANSACTIONS_BYTES_MAX", BLOCK_TRANSACTIONS_BYTES_MAX as u128),
    ("BLOCK_HEADER_BYTES_MAX", BLOCK_HEADER_BYTES_MAX as u128),
    ("BLOCK_WIRE_BYTES_MAX", BLOCK_WIRE_BYTES_MAX as u128),
    ("CONSENSUS_MESSAGE_BYTES_MAX", CONSENSUS_MESSAGE_BYTES_MAX as u128),
    (
        "PROPOSAL_WIRE_OVERHEAD_BYTES_MAX",
        PROPOSAL_WIRE_OVERHEAD_BYTES_MAX as u128,
    ),
    ("COMMIT_SIGNATURE_BYTES_MAX", COMMIT_SIGNATURE_BYTES_MAX as u128),
    ("CERTIFICATE_BYTES_MAX", CERTIFICATE_BYTES_MAX as u128),
    ("SYNC_BLOCKS_ITEMS_MAX", SYNC_BLOCKS_ITEMS_MAX as u128),
    ("SYNC_VALUES_ITEMS_MAX", SYNC_VALUES_ITEMS_MAX as u128),
    ("STREAM_ID_BYTES_MAX", STREAM_ID_BYTES_MAX as u128),
    ("PEER_ID_BYTES_MAX", PEER_ID_BYTES_MAX as u128),
    ("SIGNATURES_ITEMS_MAX", SIGNATURES_ITEMS_MAX as u128),
    ("PROPOSAL_ROUNDS_AHEAD_MAX", PROPOSAL_ROUNDS_AHEAD_MAX as u128),
    ("FUTURE_PARTS_ITEMS_MAX", FUTURE_PARTS_ITEMS_MAX as u128),
    ("FUTURE_PARTS_BYTES_MAX", FUTURE_PARTS_BYTES_MAX as u128),
    ("EXECUTED_BLOCKS_ITEMS_MAX", EXECUTED_BLOCKS_ITEMS_MAX as u128),
    ("HEIGHT_VALUES_ITEMS_MAX", HEIGHT_VALUES_ITEMS_MAX as u128),
    ("HEIGHT_VALUES_BYTES_MAX", HEIGHT_VALUES_BYTES_MAX as u128),
    ("MEMPOOL_ITEMS_MAX_DEFAULT", MEMPOOL_ITEMS_MAX_DEFAULT as u128),
    ("MEMPOOL_BYTES_MAX_DEFAULT", MEMPOOL_BYTES_MAX_DEFAULT as u128),
    ("RELAY_QUEUE_BYTES_MAX", RELAY_QUEUE_BYTES_MAX as u128),
    ("RELAY_QUEUE_ITEMS_MAX", RELAY_QUEUE_ITEMS_MAX as u128),
    ("HTTP_LARGE_BODY_BYTES_MAX", HTTP_LARGE_BODY_BYTES_MAX as u128),
    ("HTTP_BODY_BYTES_MAX", HTTP_BODY_BYTES_MAX as u128),
    ("SUBMIT_BATCH_ITEMS_MAX", SUBMIT_BATCH_ITEMS_MAX as u128),
    ("SUBMIT_BATCH_BYTES_MAX", SUBMIT_BATCH_BYTES_MAX as u128),
    ("HTTP_CONNECTIONS_ITEMS_MAX", HTTP_CONNECTIONS_ITEMS_MAX as u128),
    ("HTTP_LARGE_BODIES_ITEMS_MAX", HTTP_LARGE_BODIES_ITEMS_MAX as u128),
    (
        "HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX",
        HTTP_LARGE_BODIES_PER_SOURCE_ITEMS_MAX as u128,
    ),
    ("HTTP_REQUEST_TIMEOUT_MS", HTTP_REQUEST_TIMEOUT_MS as u128),
    ("HTTP_HEADER_TIMEOUT_MS", HTTP_HEADER_TIMEOUT_MS as u128),
    ("QUERY_ARGUMENTS_BYTES_MAX", QUERY_ARGUMENTS_BYTES_MAX as u128),
    ("HTTP_HEAD_BYTES_MAX", HTTP_HEAD_BYTES_MAX as u128),
    ("QUERY_ANSWER_BYTES_MAX", QUERY_ANSWER_BYTES_MAX as u128),
    ("BLOCKS_PER_PAGE_ITEMS_MAX", BLOCKS_PER_PAGE_ITEMS_MAX as u128),
    ("LIST_PROOF_ITEMS_MAX", LIST_PROOF_ITEMS_MAX as u128),
    ("GOVERNANCE_REQUESTS_ITEMS_MAX", GOVERNANCE_REQUESTS_ITEMS_MAX as u128),
    ("COMMIT_TIMES_ITEMS_MAX", COMMIT_TIMES_ITEMS_MAX as u128),
    (
        "SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX",
        SERVICE_BROADCASTS_PER_BLOCK_ITEMS_MAX as u128,
    ),
    (
        "SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX",
        SERVICE_BROADCAST_ARGUMENTS_BYTES_MAX as u128,
    ),
    (
        "SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX",
        SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX as u128,
    ),
    ("SERVICE_SETTING_KEY_BYTES_MAX", SERVICE_SETTING_KEY_BYTES_MAX as u128),
    (
        "SERVICE_SETTING_VALUE_BYTES_MAX",
        SERVICE_SETTING_VALUE_BYTES_MAX as u128,
    ),
    ("INTERFACE_BYTES_MAX", INTERFACE_BYTES_MAX as u128),
    (
        "INTERFACE_DESCRIPTORS_BYTES_MAX",
        INTERFACE_DESCRIPTORS_BYTES_MAX as u128,
    ),
    ("INTERFACE_ENTRIES_ITEMS_MAX", INTERFACE_ENTRIES_ITEMS_MAX as u128),
    ("INTERFACE_NAME_BYTES_MAX", INTERFACE_NAME_BYTES_MAX as u128),
    (
        "INTERFACE_MESSAGE_NAME_BYTES_MAX",
        INTERFACE_MESSAGE_NAME_BYTES_MAX as u128,
    ),
    ("JSON_DECODE_BYTES_MAX", JSON_DECODE_BYTES_MAX as u128),
];
