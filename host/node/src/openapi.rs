//! The OpenAPI description of the node's two APIs. Each API's router is
//! built from handlers annotated with `#[utoipa::path]` (in `api.rs`), so
//! a route and its description are registered together; these are the
//! schemas of their answers, and the document each API serves at
//! `GET /api/openapi.json`. A test (`the_openapi_documents_describe_every_route_and_every_answer`)
//! holds the answers of a real node to these schemas and docs/API.md to
//! the paths.
//!
//! The handlers build their JSON themselves; the types here exist only to
//! describe it.

#![allow(dead_code)]

use utoipa::ToSchema;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

/// Every error: a 4xx or 5xx status with what was wrong.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// What was wrong, for people.
    error: String,
}

/// `GET /healthz`.
#[derive(ToSchema)]
pub struct Health {
    /// Always `alive`.
    status: String,
}

/// `GET /readyz`.
#[derive(ToSchema)]
pub struct Readiness {
    ready: bool,
    height: u64,
    /// Milliseconds since this process committed its last block; `null`
    /// before its first.
    last_block_age_ms: Option<u64>,
    /// The most `last_block_age_ms` may be for the node to be ready.
    block_age_max_ms: u64,
    /// Why it is not ready; `null` when it is.
    reason: Option<String>,
}

/// A validator's keys (hex).
#[derive(ToSchema)]
pub struct ValidatorKeys {
    consensus_key: String,
    service_key: String,
}

/// `GET /api/system/v1/info`.
#[derive(ToSchema)]
pub struct Info {
    /// The genesis block's hash (hex), which every transaction and
    /// precommit signs.
    chain_id: String,
    height: u64,
    last_block_hash: String,
    state_hash: String,
    validators: Vec<ValidatorKeys>,
    /// `native`, `wasm`.
    runtimes: Vec<String>,
    mempool_size: u64,
}

/// A service instance.
#[derive(ToSchema)]
pub struct Instance {
    id: u32,
    name: String,
    /// `wasm:name:version` or `native:name:version`.
    artifact: String,
    /// `active`, `stopped`, `frozen`, `migrating to ...`, `starting`.
    status: String,
    data_version: Option<String>,
}

/// `GET /api/system/v1/services`.
#[derive(ToSchema)]
pub struct Services {
    artifacts: Vec<String>,
    instances: Vec<Instance>,
}

/// A block header's fields and its hash (hex), as every answer shows a
/// header.
#[derive(ToSchema, serde::Serialize)]
pub struct HeaderFields {
    height: u64,
    tx_count: u32,
    prev_hash: String,
    tx_hash: String,
    state_hash: String,
    error_hash: String,
    hash: String,
}

/// A block header, its hash and when this node committed it.
#[derive(ToSchema, serde::Serialize)]
pub struct BlockSummary {
    #[serde(flatten)]
    fields: HeaderFields,
    /// When the node answering committed the block, in Unix milliseconds
    /// by its own clock (not agreed by validators); `null` for blocks it
    /// did not commit among its latest since it started.
    committed_here_ms: Option<u64>,
}

/// `GET /api/explorer/v1/blocks`.
#[derive(ToSchema)]
pub struct Blocks {
    /// Newest first.
    blocks: Vec<BlockSummary>,
}

/// `GET /api/explorer/v1/block`: a header and its transactions' hashes.
#[derive(ToSchema, serde::Serialize)]
pub struct Block {
    #[serde(flatten)]
    summary: BlockSummary,
    /// The transactions' hashes (hex), in order.
    transactions: Vec<String>,
}

/// How a committed transaction failed.
#[derive(ToSchema)]
pub struct TransactionError {
    /// The error's kind (`Service(3)`, `Runtime(1)`, ...).
    kind: String,
    /// A service error's name from the service's interface, else `null`.
    name: Option<String>,
    description: String,
}

/// What a transaction calls.
#[derive(ToSchema)]
pub struct TransactionCall {
    service: String,
    instance_id: u32,
    method_id: u32,
    /// The method's name, where the service's interface names it.
    method: Option<String>,
    /// The arguments in JSON, where the service's interface describes them.
    #[schema(value_type = Value)]
    arguments: Option<serde_json::Value>,
    /// The author's public key (hex).
    author: String,
}

/// `GET /api/explorer/v1/transactions`.
#[derive(ToSchema)]
pub struct TransactionStatus {
    /// `committed`, `failed` or `pending`.
    status: String,
    height: Option<u64>,
    index: Option<u32>,
    call: Option<TransactionCall>,
    error: Option<TransactionError>,
}

/// `POST /api/explorer/v1/transactions`, and the private API's actions.
#[derive(ToSchema)]
pub struct TxHash {
    /// The transaction's hash (hex).
    tx_hash: String,
}

/// One transaction's result in a batch.
#[derive(ToSchema)]
pub struct BatchResult {
    /// Present when admitted.
    tx_hash: Option<String>,
    /// The status a single submission would have got, when refused.
    status: Option<u16>,
    error: Option<String>,
}

/// `POST /api/explorer/v1/transactions/batch`.
#[derive(ToSchema)]
pub struct BatchResults {
    /// One per transaction, in order.
    results: Vec<BatchResult>,
}

/// A validator's precommit of a block.
#[derive(ToSchema)]
pub struct PrecommitJson {
    /// Its position in the consensus configuration.
    validator: u32,
    validator_key: String,
    round: u32,
    signature: String,
}

/// The header a proof is against.
#[derive(ToSchema, serde::Serialize)]
pub struct ProvenBlock {
    #[serde(flatten)]
    fields: HeaderFields,
    /// The encoded header (hex), whose blake3 hash the precommits sign.
    header: String,
}

/// A sparse-Merkle path (docs/WIRE-FORMAT.md, "Maps").
#[derive(ToSchema)]
pub struct SmtProofJson {
    /// Sibling hashes (hex) from the root down, at most 256.
    siblings: Vec<String>,
    /// Where the path ends: `"Empty"`, or `{"Leaf": {"key_hash", "value_hash"}}`.
    #[schema(value_type = Value)]
    terminal: serde_json::Value,
}

/// The link from an index's root to the state root.
#[derive(ToSchema)]
pub struct IndexProofJson {
    /// The index's address bytes (hex).
    address: String,
    /// `proof_map`, `proof_list`, `proof_entry`, or `null` when the index
    /// does not exist.
    kind: Option<String>,
    index_root: String,
    aggregator: SmtProofJson,
}

/// A map proof: a key's value (hex) or its absence.
#[derive(ToSchema)]
pub struct MapProofJson {
    index: IndexProofJson,
    key: String,
    value: Option<String>,
    entry: SmtProofJson,
}

/// A list proof of positions `from..to`.
#[derive(ToSchema)]
pub struct ListProofJson {
    index: IndexProofJson,
    len: u64,
    from: u64,
    to: u64,
    /// The tree opened along the range: `{"Hash": h}`, `{"Leaf": item}`,
    /// `{"Branch": [left, right or null]}`; `null` for an empty list.
    #[schema(value_type = Value)]
    tree: serde_json::Value,
}

/// An entry proof.
#[derive(ToSchema)]
pub struct EntryProofJson {
    index: IndexProofJson,
    value: Option<String>,
}

/// A map, list or entry proof, by the path's `kind`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum AnyProof {
    /// `kind` = `map`.
    Map(MapProofJson),
    /// `kind` = `list`.
    List(ListProofJson),
    /// `kind` = `entry`.
    Entry(EntryProofJson),
}

/// `GET /api/proofs/v1/{kind}`: a proof with the header and precommits it
/// is checked against (docs/WIRE-FORMAT.md, "Proofs").
#[derive(ToSchema)]
pub struct ProofAnswer {
    block: ProvenBlock,
    precommits: Vec<PrecommitJson>,
    /// A map proof of the instance's record in the dispatcher's registry
    /// (`instances`, keyed by the id's 4 little-endian bytes): what ties
    /// the service's name to the id in the proof's index address.
    instance: MapProofJson,
    /// The map, list or entry proof.
    proof: AnyProof,
}

/// A query's answer: hex, or JSON through the service's interface.
#[derive(ToSchema)]
pub struct QueryAnswer {
    #[schema(value_type = Value)]
    answer: serde_json::Value,
}

/// A deploy request the supervisor records.
#[derive(ToSchema)]
pub struct DeployRequestJson {
    request_hash: String,
    artifact: Option<String>,
    deadline_height: Option<u64>,
    /// `pending`, `succeeded`, `failed`, `timeout`.
    status: String,
    /// Approvals of validators in force.
    approvals: Option<u64>,
    reported_ok: Option<u64>,
    error: Option<String>,
}

/// A migration request the supervisor records.
#[derive(ToSchema)]
pub struct MigrationRequestJson {
    request_hash: String,
    service: Option<String>,
    artifact: Option<String>,
    deadline_height: Option<u64>,
    /// `pending`, `succeeded`, `failed`, `timeout`.
    status: String,
    approvals: Option<u64>,
    error: Option<String>,
}

/// The pending configuration proposal.
#[derive(ToSchema)]
pub struct PendingProposal {
    propose_hash: String,
    actual_from: u64,
    /// Approvals of validators in force.
    approvals: u64,
    /// Service keys of the validators who approved it.
    approved_by: Vec<String>,
    /// Each change, for people.
    #[schema(value_type = Vec<Object>)]
    changes: Vec<serde_json::Value>,
}

/// `GET /api/explorer/v1/governance`.
#[derive(ToSchema)]
pub struct Governance {
    /// `simple` or `decentralized`.
    mode: String,
    validators: u64,
    approvals_needed: u64,
    proposal: Option<PendingProposal>,
    deploys: Vec<DeployRequestJson>,
    migrations: Vec<MigrationRequestJson>,
    /// Whether there were more requests than listed.
    truncated: bool,
}

/// A service's interface (docs/API.md, `GET /api/services/<instance>/interface`).
#[derive(ToSchema)]
pub struct InterfaceJson {
    /// The interface document's format version.
    format: u32,
    service: String,
    instance_id: u32,
    artifact: String,
    #[schema(value_type = Vec<Object>)]
    methods: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    queries: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    errors: Vec<serde_json::Value>,
    /// The constructor's payload (`null`: none declared).
    #[schema(value_type = Value)]
    constructor: serde_json::Value,
    /// The reconfiguration payload (`null`: none declared).
    #[schema(value_type = Value)]
    configuration: serde_json::Value,
    #[schema(value_type = Object)]
    messages: serde_json::Value,
    /// The encoded `FileDescriptorSet` (hex).
    descriptors: String,
}

/// Names the API and, for the private one, its bearer token.
pub fn finish(mut spec: OpenApi, title: &str, description: &str, bearer: bool) -> OpenApi {
    spec.info.title = title.to_owned();
    spec.info.description = Some(description.to_owned());
    spec.info.version = env!("CARGO_PKG_VERSION").to_owned();
    if bearer {
        let components = spec.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        spec.security = Some(vec![SecurityRequirement::new("token", Vec::<String>::new())]);
    }
    spec
}
