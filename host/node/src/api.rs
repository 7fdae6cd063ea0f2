//! The REST APIs (axum): the public one (explorer, system info, service
//! queries) and the private one (the supervisor's operator endpoints), on
//! separate sockets. Every handler runs its chain work on a blocking
//! thread; bad input gets a 4xx with `{"error": "..."}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;
use wasmvisor_blockchain::blocks;
use wasmvisor_dispatcher::InstanceRef;
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_proto::messages::{AnyTx, SignedMessage};
use wasmvisor_runtime::interface::ServiceInterface;
use wasmvisor_runtime::{ErrorKind, QueryError};
use wasmvisor_storage::Hash;

use crate::node::{Node, SubmitError};
use crate::requests::{SupervisorAction, artifact_text, proto_artifact_text};

pub use wasmvisor_limits::{
    BLOCKS_PER_PAGE_ITEMS_MAX, GOVERNANCE_REQUESTS_ITEMS_MAX, HTTP_BODY_BYTES_MAX, HTTP_LARGE_BODY_BYTES_MAX,
    LIST_PROOF_ITEMS_MAX, QUERY_ARGUMENTS_BYTES_MAX,
};

/// An API error: a status and a message, answered as JSON.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// An error answered with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self(status, message.into())
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, message.into())
    }

    fn internal(message: impl Into<String>) -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, message.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::http::refusal(self.0, self.1)
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        let status = match &error {
            SubmitError::Invalid(wasmvisor_blockchain::TransactionError::TooLarge { .. }) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            SubmitError::Invalid(wasmvisor_blockchain::TransactionError::Node(_)) | SubmitError::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SubmitError::Invalid(_) | SubmitError::Refused(_) => StatusCode::BAD_REQUEST,
            SubmitError::AlreadyPooled | SubmitError::AlreadyCommitted => StatusCode::CONFLICT,
            SubmitError::InactiveTarget(_) => StatusCode::NOT_FOUND,
            SubmitError::Full { .. } => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self(status, error.to_string())
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs chain work off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("the request failed: {error}")))
}

fn header_json(header: &BlockHeader) -> Value {
    json!({
        "height": header.height,
        "tx_count": header.tx_count,
        "prev_hash": hex::encode(&header.prev_hash),
        "tx_hash": hex::encode(&header.tx_hash),
        "state_hash": hex::encode(&header.state_hash),
        "error_hash": hex::encode(&header.error_hash),
        "hash": hex::encode(blocks::block_hash(header)),
    })
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| ApiError::bad_request("a hash is 64 hex characters"))
}

/// Whether the body is binary (`application/octet-stream`,
/// `application/x-protobuf`) rather than JSON.
fn is_binary(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    content_type.starts_with("application/octet-stream") || content_type.starts_with("application/x-protobuf")
}

fn json_body(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|error| ApiError::bad_request(format!("the body is not JSON: {error}")))
}

/// A hex string field of a JSON body, decoded.
fn hex_field(value: &Value, field: &str) -> Result<Vec<u8>, ApiError> {
    let text = value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("the body needs a {field:?} field (hex)")))?;
    hex::decode(text).map_err(|error| ApiError::bad_request(format!("{field:?} is not hex: {error}")))
}

/// Reads a body as bytes: raw if binary, else JSON `{"<field>": "<hex>"}`.
fn body_bytes(headers: &HeaderMap, body: &Bytes, field: &str) -> Result<Vec<u8>, ApiError> {
    if is_binary(headers) {
        return Ok(body.to_vec());
    }
    hex_field(&json_body(body)?, field)
}

/// `GET /healthz`: the process is alive (200 whenever its API answers).
#[utoipa::path(get, path = "/healthz", tag = "node",
    responses((status = 200, description = "The node's API answers", body = crate::openapi::Health)))]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /readyz`: 200 when this node makes or follows blocks
/// ([`Node::readiness`]), 503 when it does not, with the height, the time
/// since its last block and the most allowed (`null` before its first
/// block since it started).
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses(
        (status = 200, description = "The node makes or follows blocks", body = crate::openapi::Readiness),
        (status = 503, description = "It does not", body = crate::openapi::Readiness),
    ))]
async fn readyz(State(node): State<Arc<Node>>) -> Result<Response, ApiError> {
    let readiness = blocking(move || node.readiness())
        .await?
        .map_err(|error| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {error}")))?;
    let age_ms = readiness.block_age.map(|age| age.as_millis() as u64);
    let age_max_ms = readiness.block_age_max.as_millis() as u64;
    let reason = match age_ms {
        _ if readiness.ready => None,
        None => Some("no block committed since this node started".to_owned()),
        Some(age) => Some(format!("no block committed for {age} ms (at most {age_max_ms} ms)")),
    };
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": readiness.ready,
        "height": readiness.height,
        "last_block_age_ms": age_ms,
        "block_age_max_ms": age_max_ms,
        "reason": reason,
    });
    Ok((status, Json(body)).into_response())
}

#[utoipa::path(get, path = "/api/system/v1/info", tag = "system",
    responses((status = 200, description = "The chain id, height, validators and runtimes", body = crate::openapi::Info)))]
async fn info(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || {
        let (header, config) = (node.reader().last_header(), node.reader().consensus_config());
        let header = header.map_err(|error| ApiError::internal(error.to_string()))?;
        let config = config.map_err(|error| ApiError::internal(error.to_string()))?;
        let validators: Vec<Value> = config
            .validator_keys
            .iter()
            .map(|keys| {
                json!({
                    "consensus_key": hex::encode(&keys.consensus_key),
                    "service_key": hex::encode(&keys.service_key),
                })
            })
            .collect();
        Ok(Json(json!({
            "chain_id": hex::encode(node.reader().chain_id()),
            "height": header.height,
            "last_block_hash": hex::encode(blocks::block_hash(&header)),
            "state_hash": hex::encode(&header.state_hash),
            "validators": validators,
            "runtimes": node.config().runtimes.enabled,
            "mempool_size": node.mempool_len(),
        })))
    })
    .await?
}

#[derive(Deserialize)]
struct HeightQuery {
    height: u64,
}

#[utoipa::path(get, path = "/api/explorer/v1/block", tag = "explorer",
    params(("height" = u64, Query, description = "The block's height")),
    responses(
        (status = 200, description = "The header and its transactions' hashes", body = crate::openapi::Block),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn block(State(node): State<Arc<Node>>, Query(query): Query<HeightQuery>) -> ApiResult {
    blocking(move || {
        let mut fork = node.reader().read_fork();
        let header = blocks::header(&mut fork, query.height)
            .map_err(|error| ApiError::internal(error.to_string()))?
            .ok_or_else(|| ApiError::not_found(format!("no block at height {}", query.height)))?;
        let transactions = blocks::block_transactions(&mut fork, query.height)
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let mut value = header_json(&header);
        value["committed_here_ms"] = json!(node.committed_here_at(header.height));
        value["transactions"] = json!(transactions.iter().map(hex::encode).collect::<Vec<_>>());
        Ok(Json(value))
    })
    .await?
}

#[derive(Deserialize)]
struct BlocksQuery {
    count: Option<u64>,
}

#[utoipa::path(get, path = "/api/explorer/v1/blocks", tag = "explorer",
    params(("count" = Option<u64>, Query, description = "How many of the latest blocks (1..=100, default 10)")),
    responses((status = 200, description = "The latest headers, newest first", body = crate::openapi::Blocks)))]
async fn blocks_list(State(node): State<Arc<Node>>, Query(query): Query<BlocksQuery>) -> ApiResult {
    blocking(move || {
        let count = query.count.unwrap_or(10).clamp(1, BLOCKS_PER_PAGE_ITEMS_MAX as u64);
        let mut fork = node.reader().read_fork();
        let total = blocks::block_count(&mut fork).map_err(|error| ApiError::internal(error.to_string()))?;
        let mut headers = Vec::new();
        for height in (total.saturating_sub(count)..total).rev() {
            if let Some(header) =
                blocks::header(&mut fork, height).map_err(|error| ApiError::internal(error.to_string()))?
            {
                let mut value = header_json(&header);
                value["committed_here_ms"] = json!(node.committed_here_at(header.height));
                headers.push(value);
            }
        }
        Ok(Json(json!({ "blocks": headers })))
    })
    .await?
}

#[derive(Deserialize)]
struct HashQuery {
    hash: String,
}

#[utoipa::path(get, path = "/api/explorer/v1/transactions", tag = "explorer",
    params(("hash" = String, Query, description = "The transaction's hash (hex)")),
    responses(
        (status = 200, description = "committed, failed (with the error by name) or pending", body = crate::openapi::TransactionStatus),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn transaction(State(node): State<Arc<Node>>, Query(query): Query<HashQuery>) -> ApiResult {
    let hash = parse_hash(&query.hash)?;
    blocking(move || {
        // Asked before the committed state is read: a transaction committed
        // in between is then found in it, rather than in neither place.
        let pooled = node.is_pooled(&hash);
        let mut fork = node.reader().read_fork();
        match blocks::transaction(&mut fork, &hash).map_err(|error| ApiError::internal(error.to_string()))? {
            Some((signed, record)) => {
                let call = described_call(&node, &signed);
                let error = record.error.as_ref().map(|error| {
                    let error = blocks::from_proto_error(error);
                    let name = match (error.kind, &call) {
                        (ErrorKind::Service(code), Some((_, Some(interface)))) => interface.error_name(code),
                        _ => None,
                    };
                    json!({ "kind": format!("{:?}", error.kind), "name": name, "description": error.description })
                });
                Ok(Json(json!({
                    "status": if error.is_some() { "failed" } else { "committed" },
                    "height": record.height,
                    "index": record.index,
                    "call": call.map(|(call, _)| call),
                    "error": error,
                })))
            }
            None if pooled => Ok(Json(json!({ "status": "pending" }))),
            None => Err(ApiError::not_found("no such transaction")),
        }
    })
    .await?
}

/// What a committed transaction calls, for people: the service, the
/// method by id and, where the service's interface (as deployed now)
/// names it, by name with its arguments decoded; with that interface.
fn described_call(node: &Node, signed: &[u8]) -> Option<(Value, Option<Arc<ServiceInterface>>)> {
    let signed = SignedMessage::decode(signed).ok()?;
    let transaction = AnyTx::decode(signed.payload.as_slice()).ok()?;
    let call_info = transaction.call_info?;
    let (spec, interface) = node.reader().interface(InstanceRef::Id(call_info.instance_id)).ok()?;
    let method = interface.as_ref().and_then(|interface| {
        interface
            .method_by_id(call_info.method_id)
            .map(|method| (interface, method))
    });
    let arguments = method.map(|(interface, method)| {
        interface
            .decode_json(&method.arguments, &transaction.arguments)
            .unwrap_or_else(|error| json!({ "undecodable": error }))
    });
    let call = json!({
        "service": spec.name,
        "instance_id": call_info.instance_id,
        "method_id": call_info.method_id,
        "method": method.map(|(_, method)| method.name.clone()),
        "arguments": arguments,
        "author": hex::encode(&signed.author),
    });
    Some((call, interface))
}

#[utoipa::path(post, path = "/api/explorer/v1/transactions", tag = "explorer",
    request_body(description = "A signed transaction (docs/WIRE-FORMAT.md), raw or as {\"tx_body\": hex}",
        content(("application/octet-stream"), ("application/x-protobuf"), ("application/json"))),
    responses(
        (status = 200, description = "Admitted to the mempool", body = crate::openapi::TxHash),
        (status = 400, description = "Malformed, badly signed or for another chain", body = crate::openapi::ErrorBody),
        (status = 404, description = "The target service is not active", body = crate::openapi::ErrorBody),
        (status = 409, description = "Already pooled or committed", body = crate::openapi::ErrorBody),
        (status = 413, description = "Over the size limit", body = crate::openapi::ErrorBody),
        (status = 503, description = "The mempool is full", body = crate::openapi::ErrorBody),
    ))]
async fn submit(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let signed = body_bytes(&headers, &body, "tx_body")?;
    // A transaction another validator relayed is not relayed again.
    let relayed = headers.contains_key(crate::gossip::RELAYED_HEADER);
    let hash = blocking(move || {
        if relayed {
            node.submit(&signed)
        } else {
            node.submit_and_relay(&signed)
        }
    })
    .await??;
    Ok(Json(json!({ "tx_hash": hex::encode(hash) })))
}

/// `POST /api/explorer/v1/transactions/batch`: an encoded
/// `TransactionBatch` ([`crate::batch`]); each transaction is judged as a
/// single submission would be, with the signatures checked in batches over
/// every core. Answers one result per transaction, in order: `{"tx_hash"}`
/// if admitted, else `{"status", "error"}` with the status a single
/// submission would have got.
#[utoipa::path(post, path = "/api/explorer/v1/transactions/batch", tag = "explorer",
    request_body(description = "An encoded TransactionBatch (messages.proto)",
        content(("application/x-protobuf"), ("application/octet-stream"))),
    responses(
        (status = 200, description = "One result per transaction, in order", body = crate::openapi::BatchResults),
        (status = 400, description = "Not a TransactionBatch", body = crate::openapi::ErrorBody),
        (status = 413, description = "Too many transactions or bytes", body = crate::openapi::ErrorBody),
        (status = 415, description = "Not a binary body", body = crate::openapi::ErrorBody),
    ))]
async fn submit_batch(State(node): State<Arc<Node>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    if !is_binary(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a batch is an encoded TransactionBatch (application/x-protobuf or application/octet-stream)",
        ));
    }
    let ranges = crate::batch::decode_ranges(&body).map_err(|error| {
        let status = match error {
            crate::batch::BatchError::TooLarge(_) | crate::batch::BatchError::TooMany => StatusCode::PAYLOAD_TOO_LARGE,
            crate::batch::BatchError::Malformed(_) => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, error.to_string())
    })?;
    // Slices of the body: the transactions are not copied.
    let transactions: Vec<Bytes> = ranges.into_iter().map(|range| body.slice(range)).collect();
    drop(body);
    // Transactions another validator relayed are not relayed again.
    let relayed = headers.contains_key(crate::gossip::RELAYED_HEADER);
    let verdicts = blocking(move || {
        if relayed {
            node.submit_many(&transactions)
        } else {
            node.submit_many_and_relay(&transactions)
        }
    })
    .await?;
    let results: Vec<Value> = verdicts
        .into_iter()
        .map(|verdict| match verdict {
            Ok(hash) => json!({ "tx_hash": hex::encode(hash) }),
            Err(error) => {
                let ApiError(status, error) = ApiError::from(error);
                json!({ "status": status.as_u16(), "error": error })
            }
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ArgumentsQuery {
    /// Hex-encoded query arguments (the answer is hex too).
    arguments: Option<String>,
    /// JSON query arguments, encoded through the service's interface (the
    /// answer is JSON too).
    args: Option<String>,
}

/// Where a service query is: `/api/services/{service}/{method}` (for the
/// OpenAPI description; the handlers take the pair).
#[derive(utoipa::IntoParams)]
#[into_params(names("service", "method"), parameter_in = Path)]
#[allow(dead_code)]
struct QueryPath(
    /// The instance's name.
    String,
    /// The query's name.
    String,
);

/// Which API a query came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Public,
    Private,
}

fn query_error(error: QueryError) -> ApiError {
    match error {
        QueryError::NotFound(message) => ApiError::not_found(message),
        QueryError::BadRequest(message) => ApiError::bad_request(message),
        QueryError::Internal(message) => ApiError::internal(message),
    }
}

/// Runs a service's query on a blocking thread, at most
/// `QUERIES_CONCURRENT_ITEMS_MAX` at once (each holds a guest instance and
/// its memory until it ends, whether or not its client still waits).
async fn run_query(node: Arc<Node>, service: String, method: String, arguments: Vec<u8>) -> ApiResult {
    let answer = query_bytes(node, service, method, arguments).await?;
    Ok(Json(json!({ "answer": hex::encode(answer) })))
}

async fn query_bytes(
    node: Arc<Node>,
    service: String,
    method: String,
    arguments: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    let permit = Arc::clone(node.query_permits())
        .acquire_owned()
        .await
        .map_err(|_| ApiError::internal("the node is stopping"))?;
    blocking(move || {
        let answer = node.reader().query(&service, &method, &arguments);
        drop(permit);
        answer
    })
    .await?
    .map_err(query_error)
}

/// Answers query `method` of `service`: with hex `raw` arguments as hex,
/// with `json` arguments (encoded through the service's interface) as
/// JSON. A query the interface marks private is not found on the public
/// API.
async fn answer_query(
    node: Arc<Node>,
    api: Api,
    service: String,
    method: String,
    raw: Vec<u8>,
    json: Option<Value>,
) -> ApiResult {
    if api == Api::Public && service == "supervisor" && PRIVATE_SUPERVISOR_QUERIES.contains(&method.as_str()) {
        return Err(ApiError::not_found(format!("{method} is on the private API")));
    }
    let reader = node.reader().clone();
    let name = service.clone();
    let (_, interface) = blocking(move || reader.interface(InstanceRef::Name(&name)))
        .await?
        .map_err(query_error)?;
    let declared = interface
        .as_ref()
        .and_then(|interface| interface.query(&method))
        .cloned();
    if api == Api::Public && declared.as_ref().is_some_and(|query| query.private) {
        return Err(ApiError::not_found(format!("{method} is on the private API")));
    }
    let Some(value) = json else {
        return run_query(node, service, method, raw).await;
    };
    let interface = interface.ok_or_else(|| {
        ApiError::not_found(format!(
            "{service} declares no interface: send its arguments in hex (`arguments`)"
        ))
    })?;
    let query = declared.ok_or_else(|| ApiError::not_found(format!("{service} declares no query named {method:?}")))?;
    let arguments = interface
        .encode_json(&query.arguments, &value)
        .map_err(|error| ApiError::bad_request(format!("the arguments of {method}: {error}")))?;
    if arguments.len() > QUERY_ARGUMENTS_BYTES_MAX {
        return Err(ApiError::bad_request(format!(
            "query arguments are at most {QUERY_ARGUMENTS_BYTES_MAX} bytes"
        )));
    }
    let answer = query_bytes(node, service, method.clone(), arguments).await?;
    let answer = blocking(move || interface.decode_json(&query.answer, &answer))
        .await?
        .map_err(|error| ApiError::internal(format!("the answer of {method} cannot be shown as JSON: {error}")))?;
    Ok(Json(json!({ "answer": answer })))
}

/// The JSON arguments of a GET (`?args=<json>`), if any.
fn json_args(query: &ArgumentsQuery) -> Result<Option<Value>, ApiError> {
    if query.args.is_some() && query.arguments.is_some() {
        return Err(ApiError::bad_request(
            "send `args` (JSON) or `arguments` (hex), not both",
        ));
    }
    query
        .args
        .as_deref()
        .map(|text| {
            serde_json::from_str(text).map_err(|error| ApiError::bad_request(format!("`args` is not JSON: {error}")))
        })
        .transpose()
}

fn arguments(query: &ArgumentsQuery) -> Result<Vec<u8>, ApiError> {
    if let Some(text) = &query.arguments
        && text.len() > 2 * QUERY_ARGUMENTS_BYTES_MAX
    {
        return Err(ApiError::bad_request(format!(
            "query arguments are at most {QUERY_ARGUMENTS_BYTES_MAX} bytes"
        )));
    }
    query
        .arguments
        .as_deref()
        .map(hex::decode)
        .transpose()
        .map_err(|error| ApiError::bad_request(format!("arguments are not hex: {error}")))
        .map(Option::unwrap_or_default)
}

/// `GET /api/services/<instance>/<query>?arguments=<hex>`: a service's read
/// query; the answer is `{"answer": "<hex>"}`.
#[utoipa::path(get, path = "/api/services/{service}/{method}", tag = "services",
    params(QueryPath, ArgumentsQuery),
    responses(
        (status = 200, description = "The query's answer", body = crate::openapi::QueryAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn service_query(
    State(node): State<Arc<Node>>,
    Path((service, method)): Path<(String, String)>,
    Query(query): Query<ArgumentsQuery>,
) -> ApiResult {
    let json = json_args(&query)?;
    answer_query(node, Api::Public, service, method, arguments(&query)?, json).await
}

/// A POST's JSON arguments: the body, or `null` if it is empty.
fn json_or_null(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        Ok(Value::Null)
    } else {
        json_body(body)
    }
}

/// `POST /api/services/<instance>/<query>` with the JSON arguments as the
/// body (`null` or an empty body for none): the answer is JSON.
#[utoipa::path(post, path = "/api/services/{service}/{method}", tag = "services",
    params(QueryPath),
    request_body(description = "The arguments in JSON (null or empty for none)", content(("application/json"))),
    responses(
        (status = 200, description = "The query's answer in JSON", body = crate::openapi::QueryAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn service_query_json(state: State<Arc<Node>>, path: Path<(String, String)>, body: Bytes) -> ApiResult {
    query_with_json_body(Api::Public, state, path, body).await
}

/// A query whose JSON arguments are the body, on `api`.
async fn query_with_json_body(
    api: Api,
    State(node): State<Arc<Node>>,
    Path((service, method)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let arguments = json_or_null(&body)?;
    answer_query(node, api, service, method, Vec::new(), Some(arguments)).await
}

/// The private API's service queries: every query, private ones included
/// (`GET` with hex `arguments` or JSON `args`, or `POST` with a JSON body).
#[utoipa::path(get, path = "/api/services/{service}/{method}", tag = "services",
    params(QueryPath, ArgumentsQuery),
    responses(
        (status = 200, description = "The query's answer", body = crate::openapi::QueryAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn private_service_query(
    State(node): State<Arc<Node>>,
    Path((service, method)): Path<(String, String)>,
    Query(query): Query<ArgumentsQuery>,
) -> ApiResult {
    let json = json_args(&query)?;
    answer_query(node, Api::Private, service, method, arguments(&query)?, json).await
}

#[utoipa::path(post, path = "/api/services/{service}/{method}", tag = "services",
    params(QueryPath),
    request_body(description = "The arguments in JSON (null or empty for none)", content(("application/json"))),
    responses(
        (status = 200, description = "The query's answer in JSON", body = crate::openapi::QueryAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn private_service_query_json(state: State<Arc<Node>>, path: Path<(String, String)>, body: Bytes) -> ApiResult {
    query_with_json_body(Api::Private, state, path, body).await
}

/// `GET /api/services/<instance>/interface`: the interface the service
/// declares (methods, queries, errors, its messages' fields and
/// descriptors), with the instance's id and artifact.
#[utoipa::path(get, path = "/api/services/{service}/interface", tag = "services",
    params(("service" = String, Path, description = "The instance's name")),
    responses(
        (status = 200, description = "The interface the service's component declares", body = crate::openapi::InterfaceJson),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn service_interface(State(node): State<Arc<Node>>, Path(service): Path<String>) -> ApiResult {
    blocking(move || {
        let (spec, interface) = node
            .reader()
            .interface(InstanceRef::Name(&service))
            .map_err(query_error)?;
        let interface = interface.ok_or_else(|| ApiError::not_found(format!("{service} declares no interface")))?;
        let mut shown = interface.to_json();
        shown["service"] = json!(spec.name);
        shown["instance_id"] = json!(spec.id);
        shown["artifact"] = json!(artifact_text(&spec.artifact));
        Ok(Json(shown))
    })
    .await?
}

/// Supervisor reads served only on the private API.
const PRIVATE_SUPERVISOR_QUERIES: &[&str] = &[
    "configuration-number",
    "supervisor-config",
    "deploy-status",
    "deploy-status-by-hash",
    "migration-status",
];

#[utoipa::path(get, path = "/api/services/supervisor/{action}", tag = "supervisor",
    params(
        ("action" = String, Path, description = "configuration-number, supervisor-config, deploy-status, deploy-status-by-hash or migration-status"),
        ("arguments" = Option<String>, Query, description = "The encoded arguments (hex)"),
    ),
    responses(
        (status = 200, description = "The protobuf answer (hex)", body = crate::openapi::QueryAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn private_supervisor_query(
    State(node): State<Arc<Node>>,
    Path(method): Path<String>,
    Query(query): Query<ArgumentsQuery>,
) -> ApiResult {
    if !PRIVATE_SUPERVISOR_QUERIES.contains(&method.as_str()) {
        return Err(ApiError::not_found(format!(
            "no private supervisor endpoint {method:?}"
        )));
    }
    if query.args.is_some() {
        return Err(ApiError::bad_request(
            "the supervisor's private reads take hex arguments (`arguments`)",
        ));
    }
    run_query(node, "supervisor".into(), method, arguments(&query)?).await
}

/// `POST /api/services/supervisor/<action>`: the node builds the payload,
/// signs it with its service key and submits it, answering the
/// transaction's hash. The body is the protobuf payload (raw with a binary
/// content type, or JSON `{"payload": "<hex>"}`), or the action's human
/// JSON form (`crate::requests`), which the node resolves against the
/// committed state.
#[utoipa::path(post, path = "/api/services/supervisor/{action}", tag = "supervisor",
    params(("action" = String, Path, description = "deploy-artifact, propose-config, confirm-config or migrate")),
    request_body(description = "The protobuf payload (raw or {\"payload\": hex}) or the action's JSON form (docs/API.md)",
        content(("application/json"), ("application/octet-stream"), ("application/x-protobuf"))),
    responses(
        (status = 200, description = "Signed with the node's service key and submitted", body = crate::openapi::TxHash),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn supervisor_action(
    State(node): State<Arc<Node>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let action = SupervisorAction::from_path(&action)
        .ok_or_else(|| ApiError::not_found(format!("no supervisor action {action:?}")))?;
    let hash = if is_binary(&headers) {
        let payload = body.to_vec();
        blocking(move || node.submit_to_supervisor(action.method_id(), payload)).await??
    } else {
        let value = json_body(&body)?;
        blocking(move || {
            let payload = match value.get("payload") {
                Some(_) => hex_field(&value, "payload")?,
                None => node
                    .with_chain(|chain| action.payload(chain, value))
                    .map_err(|error| ApiError::bad_request(error.0))?,
            };
            node.submit_to_supervisor(action.method_id(), payload)
                .map_err(ApiError::from)
        })
        .await??
    };
    Ok(Json(json!({ "tx_hash": hex::encode(hash) })))
}

/// `GET /api/system/v1/services`: every artifact and instance, for people.
#[utoipa::path(get, path = "/api/system/v1/services", tag = "system",
    responses((status = 200, description = "Every artifact and instance", body = crate::openapi::Services)))]
async fn services(State(node): State<Arc<Node>>) -> ApiResult {
    blocking(move || {
        let mut fork = node.reader().read_fork();
        let (artifacts, instances) = (
            wasmvisor_dispatcher::registered_artifacts(&mut fork),
            wasmvisor_dispatcher::registered_instances(&mut fork),
        );
        let artifacts = artifacts.map_err(|error| ApiError::internal(error.to_string()))?;
        let instances = instances.map_err(|error| ApiError::internal(error.to_string()))?;
        let artifacts: Vec<Value> = artifacts
            .iter()
            .map(|(artifact, _)| json!(artifact_text(artifact)))
            .collect();
        let instances: Vec<Value> = instances
            .iter()
            .map(|state| {
                let status = match &state.status {
                    Some(wasmvisor_runtime::InstanceStatus::Active) => "active".to_owned(),
                    Some(wasmvisor_runtime::InstanceStatus::Stopped) => "stopped".to_owned(),
                    Some(wasmvisor_runtime::InstanceStatus::Frozen) => "frozen".to_owned(),
                    Some(wasmvisor_runtime::InstanceStatus::Migrating(migration)) => {
                        format!("migrating to {}", artifact_text(&migration.target))
                    }
                    None => "starting".to_owned(),
                };
                json!({
                    "id": state.spec.id,
                    "name": state.spec.name,
                    "artifact": artifact_text(&state.spec.artifact),
                    "status": status,
                    "data_version": state.data_version,
                })
            })
            .collect();
        Ok(Json(json!({ "artifacts": artifacts, "instances": instances })))
    })
    .await?
}

/// Most list items one proof covers.

#[derive(Deserialize)]
struct ProofQuery {
    /// The instance's name.
    service: String,
    /// The proof index's name within the service.
    index: String,
    /// Map proofs: the key (hex).
    key: Option<String>,
    /// List proofs: the first position.
    from: Option<u64>,
    /// List proofs: the end position (exclusive).
    to: Option<u64>,
}

/// `GET /api/proofs/v1/{map,entry,list}?service=S&index=I[&key=K|&from=A&to=B]`:
/// a proof of part of a service's state against the latest block header,
/// with the header (protobuf, hex) and its precommits, so a client that
/// knows the validators' keys needs to trust nothing else.
#[utoipa::path(get, path = "/api/proofs/v1/{kind}", tag = "proofs",
    params(
        ("kind" = String, Path, description = "map, list or entry"),
        ("service" = String, Query, description = "The instance's name"),
        ("index" = String, Query, description = "The proof index's name"),
        ("key" = Option<String>, Query, description = "Map proofs: the key (hex)"),
        ("from" = Option<u64>, Query, description = "List proofs: the first position"),
        ("to" = Option<u64>, Query, description = "List proofs: one past the last position (at most 1,000 items)"),
    ),
    responses(
        (status = 200, description = "The proof, the latest header and its precommits", body = crate::openapi::ProofAnswer),
        (status = 400, description = "A malformed request", body = crate::openapi::ErrorBody),
        (status = 404, description = "Not found", body = crate::openapi::ErrorBody),
    ))]
async fn proof(State(node): State<Arc<Node>>, Path(kind): Path<String>, Query(query): Query<ProofQuery>) -> ApiResult {
    if !matches!(kind.as_str(), "map" | "entry" | "list") {
        return Err(ApiError::not_found(format!(
            "no proof kind {kind:?} (map, entry, list)"
        )));
    }
    let key = match (&query.key, kind.as_str()) {
        (Some(key), "map") => {
            Some(hex::decode(key).map_err(|error| ApiError::bad_request(format!("key is not hex: {error}")))?)
        }
        (None, "map") => return Err(ApiError::bad_request("a map proof needs key=<hex>")),
        _ => None,
    };
    blocking(move || {
        let mut fork = node.reader().read_fork();
        let instance = wasmvisor_dispatcher::registered_instance_by_name(&mut fork, &query.service);
        let instance = instance
            .map_err(|error| ApiError::internal(error.to_string()))?
            .ok_or_else(|| ApiError::not_found(format!("no service named {:?}", query.service)))?;
        let address =
            wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Service(instance.spec.id), &query.index)
                .map_err(|error| ApiError::bad_request(error.to_string()))?;
        let height = blocks::block_count(&mut fork)
            .map_err(|error| ApiError::internal(error.to_string()))?
            .saturating_sub(1);
        let header = blocks::header(&mut fork, height)
            .map_err(|error| ApiError::internal(error.to_string()))?
            .ok_or_else(|| ApiError::internal("no block yet"))?;
        let precommits = blocks::precommits(&mut fork, height)
            .map_err(|error| ApiError::internal(error.to_string()))?
            .map(|precommits| precommits.precommits)
            .unwrap_or_default();
        let bad = |error: wasmvisor_storage::StorageError| ApiError::bad_request(error.to_string());
        let proof = match (kind.as_str(), key) {
            ("map", Some(key)) => serde_json::to_value(fork.map_proof(&address, &key).map_err(bad)?),
            ("entry", _) => serde_json::to_value(fork.entry_proof(&address).map_err(bad)?),
            _ => {
                let from = query.from.unwrap_or(0);
                let to = query.to.unwrap_or(from.saturating_add(LIST_PROOF_ITEMS_MAX as u64));
                if to.saturating_sub(from) > LIST_PROOF_ITEMS_MAX as u64 {
                    return Err(ApiError::bad_request(format!(
                        "a list proof covers at most {LIST_PROOF_ITEMS_MAX} items"
                    )));
                }
                serde_json::to_value(fork.list_proof(&address, from, to).map_err(bad)?)
            }
        }
        .map_err(|error| ApiError::internal(error.to_string()))?;
        // The instance's record in the dispatcher's registry, proven in the
        // same state: what ties the name asked for to the instance id in
        // the proof's index address.
        let registry = wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Dispatcher, "instances")
            .expect("the registry's index name is valid");
        let instance_proof = fork
            .map_proof(&registry, &instance.spec.id.to_le_bytes())
            .map_err(|error| ApiError::internal(error.to_string()))?;
        let instance_proof =
            serde_json::to_value(instance_proof).map_err(|error| ApiError::internal(error.to_string()))?;
        let precommits: Vec<Value> = precommits
            .iter()
            .map(
                |precommit| json!({ "validator": precommit.validator, "validator_key": hex::encode(&precommit.validator_key), "round": precommit.round, "signature": hex::encode(&precommit.signature) }),
            )
            .collect();
        #[cfg(feature = "byzantine")]
        let proof = tampered_for_tests(proof);
        let mut block = header_json(&header);
        block["header"] = json!(hex::encode(header.encode_to_vec()));
        Ok(Json(
            json!({ "block": block, "precommits": precommits, "instance": instance_proof, "proof": proof }),
        ))
    })
    .await?
}

/// How one supervisor request record is shown: its key, its encoded
/// state, and the service keys of the validators in force.
type DescribeRequest = fn(&[u8], &[u8], &[Vec<u8>]) -> Result<Value, ApiError>;

/// A supervisor record of this node's committed state that does not
/// decode: the node's own data, not the caller's request.
fn unreadable(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("the supervisor's {what} does not decode: {error}"))
}

/// The supervisor's record of one deploy request, for people.
fn deploy_json(key: &[u8], bytes: &[u8], validators: &[Vec<u8>]) -> Result<Value, ApiError> {
    use wasmvisor_proto::supervisor::{DeployState, DeployStatus};
    let state = DeployState::decode(bytes).map_err(|error| unreadable("deploy request", error))?;
    let status = match DeployStatus::try_from(state.status) {
        Ok(DeployStatus::DeployPending) => "pending",
        Ok(DeployStatus::DeploySucceeded) => "succeeded",
        Ok(DeployStatus::DeployFailed) => "failed",
        Ok(DeployStatus::DeployTimeout) => "timeout",
        Err(_) => "unknown",
    };
    let request = state.request.unwrap_or_default();
    Ok(json!({
        "request_hash": hex::encode(key),
        "artifact": request.artifact.as_ref().map(proto_artifact_text),
        "deadline_height": request.deadline_height,
        "status": status,
        "approvals": state.approvals.iter().filter(|key| validators.contains(key)).count(),
        "reported_ok": state.reported_ok.len(),
        "error": (!state.error.is_empty()).then_some(state.error),
    }))
}

/// The supervisor's record of one migration request, for people.
fn migration_json(key: &[u8], bytes: &[u8], validators: &[Vec<u8>]) -> Result<Value, ApiError> {
    use wasmvisor_proto::supervisor::{MigrationState, MigrationStatus};
    let state = MigrationState::decode(bytes).map_err(|error| unreadable("migration request", error))?;
    let status = match MigrationStatus::try_from(state.status) {
        Ok(MigrationStatus::MigrationPending) => "pending",
        Ok(MigrationStatus::MigrationSucceeded) => "succeeded",
        Ok(MigrationStatus::MigrationFailed) => "failed",
        Ok(MigrationStatus::MigrationTimeout) => "timeout",
        Err(_) => "unknown",
    };
    let request = state.request.unwrap_or_default();
    Ok(json!({
        "request_hash": hex::encode(key),
        "service": request.service,
        "artifact": request.new_artifact.as_ref().map(proto_artifact_text),
        "deadline_height": request.deadline_height,
        "status": status,
        "approvals": state.approvals.iter().filter(|key| validators.contains(key)).count(),
        "error": (!state.error.is_empty()).then_some(state.error),
    }))
}

/// `GET /api/explorer/v1/governance`: the supervisor's mode, the approvals
/// a decision needs, the pending proposal with its approvals and changes,
/// and the deploy and migration requests with their statuses (at most
/// [`GOVERNANCE_REQUESTS_ITEMS_MAX`] of each, in the order of their
/// request hashes; `truncated` says whether there were more), read from
/// the supervisor's committed state.
#[utoipa::path(get, path = "/api/explorer/v1/governance", tag = "explorer",
    responses((status = 200, description = "The supervisor's mode, the pending proposal, deploy and migration requests", body = crate::openapi::Governance)))]
async fn governance(State(node): State<Arc<Node>>) -> ApiResult {
    use wasmvisor_proto::supervisor::{ConfigProposalState, SupervisorConfig, SupervisorMode};
    blocking(move || {
        let internal = |error: wasmvisor_storage::StorageError| ApiError::internal(error.to_string());
        let address = |name: &str| {
            wasmvisor_storage::IndexAddress::new(
                wasmvisor_storage::Namespace::Service(wasmvisor_runtime::SUPERVISOR_INSTANCE_ID),
                name,
            )
            .expect("the supervisor's index names are valid")
        };
        let validators: Vec<Vec<u8>> = node
            .reader()
            .consensus_config()
            .map_err(|error| ApiError::internal(error.to_string()))?
            .validator_keys
            .into_iter()
            .map(|keys| keys.service_key)
            .collect();
        let mut fork = node.reader().read_fork();
        let config = fork
            .proof_entry(&address("config"))
            .map_err(internal)?
            .get()
            .map_err(internal)?;
        let config = config
            .map(|bytes| SupervisorConfig::decode(bytes.as_slice()))
            .transpose()
            .map_err(|error| unreadable("configuration", error))?;
        let decentralized = config.is_some_and(|config| config.mode == SupervisorMode::Decentralized as i32);
        let needed = if decentralized {
            wasmvisor_blockchain::byzantine_quorum(validators.len())
        } else {
            1
        };
        let pending = fork
            .proof_entry(&address("pending_proposal"))
            .map_err(internal)?
            .get()
            .map_err(internal)?
            .map(|bytes| ConfigProposalState::decode(bytes.as_slice()))
            .transpose()
            .map_err(|error| unreadable("pending proposal", error))?
            .map(|state| {
                json!({
                    "propose_hash": hex::encode(&state.propose_hash),
                    "actual_from": state.actual_from,
                    "approvals": state.approvals.iter().filter(|key| validators.contains(key)).count(),
                    "approved_by": state.approvals.iter().map(hex::encode).collect::<Vec<_>>(),
                    "changes": state.propose.as_ref().map(|propose| {
                        propose.changes.iter().map(crate::requests::describe_change).collect::<Vec<_>>()
                    }).unwrap_or_default(),
                })
            });
        let mut truncated = false;
        let mut requests = |name: &str, describe: DescribeRequest| {
            let map = fork.proof_map(&address(name)).map_err(internal)?;
            let entries = map.range(None, None, GOVERNANCE_REQUESTS_ITEMS_MAX).map_err(internal)?;
            // A range also stops at its byte limit: ask for one entry past
            // the last listed to know whether there are more.
            if let Some((last, _)) = entries.last() {
                let mut after = last.clone();
                after.push(0);
                truncated |= !map.range(Some(&after), None, 1).map_err(internal)?.is_empty();
            }
            entries
                .iter()
                .map(|(key, value)| describe(key, value, &validators))
                .collect::<Result<Vec<_>, ApiError>>()
        };
        let deploys = requests("deploys", deploy_json)?;
        let migrations = requests("migrations", migration_json)?;
        Ok(Json(json!({
            "mode": if decentralized { "decentralized" } else { "simple" },
            "validators": validators.len(),
            "approvals_needed": needed,
            "proposal": pending,
            "deploys": deploys,
            "migrations": migrations,
            "truncated": truncated,
        })))
    })
    .await?
}

/// The environment variable that makes a node of the Byzantine test build
/// lie in its proofs: every proven value's last byte is flipped.
#[cfg(feature = "byzantine")]
pub const TAMPER_PROOFS_ENV: &str = "WASMVISOR_BYZANTINE_TAMPER_PROOFS";

/// A proof with its value changed, when [`TAMPER_PROOFS_ENV`] is set (the
/// explorer's test shows that a page refuses what a lying node serves).
#[cfg(feature = "byzantine")]
fn tampered_for_tests(mut proof: Value) -> Value {
    if std::env::var_os(TAMPER_PROOFS_ENV).is_some()
        && let Some(value) = proof["value"].as_str().and_then(|text| hex::decode(text).ok())
        && let Some((last, rest)) = value.split_last()
    {
        let mut forged = rest.to_vec();
        forged.push(last ^ 1);
        proof["value"] = json!(hex::encode(forged));
    }
    proof
}

/// `GET /metrics`: the node's counters read at scrape time, as OpenMetrics
/// text to a scraper that asks for it (its `Accept` header), else the
/// Prometheus text format (0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, description = "The Prometheus text format, or OpenMetrics when the Accept header asks for it", content_type = "text/plain")))]
async fn metrics(State(node): State<Arc<Node>>, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"));
    let text = blocking(move || {
        let snapshot = node.metrics_snapshot().map_err(ApiError::internal)?;
        node.metrics()
            .encode(&snapshot)
            .map_err(|error| ApiError::internal(format!("the metrics cannot be written: {error}")))
    })
    .await??;
    Ok(if openmetrics {
        ([(header::CONTENT_TYPE, crate::metrics::OPENMETRICS_CONTENT_TYPE)], text).into_response()
    } else {
        let text = crate::metrics::to_prometheus_text(&text);
        ([(header::CONTENT_TYPE, crate::metrics::PROMETHEUS_CONTENT_TYPE)], text).into_response()
    })
}

/// Longest text of a framework rejection carried into its JSON error.
const REJECTION_TEXT_MAX: usize = 4096;

/// Makes every error JSON: the framework's own rejections (a query string
/// that does not parse, a body over its route's limit, a method not allowed)
/// answer in plain text; they become `{"error": "<that text>"}` with the
/// same status.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), REJECTION_TEXT_MAX)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("the request failed").to_owned()
    } else {
        text
    };
    ApiError(status, message).into_response()
}

async fn fallback() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// `GET /api/openapi.json`: this API's OpenAPI description, generated
/// from its handlers.
#[utoipa::path(get, path = "/api/openapi.json", tag = "node",
    responses((status = 200, description = "This API's OpenAPI 3.1 description", content_type = "application/json")))]
async fn openapi_document(axum::Extension(document): axum::Extension<Arc<String>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.as_str().to_owned(),
    )
        .into_response()
}

/// Routes whose body may be large: the handler's route with the large-body
/// limit and the API's gate ([`crate::http::large_bodies`]).
fn with_large_bodies(
    (schemas, paths, route): UtoipaMethodRouter<Arc<Node>>,
    gate: &Arc<crate::http::LargeBodyGate>,
) -> UtoipaMethodRouter<Arc<Node>> {
    (schemas, paths, crate::http::large_bodies(route, gate))
}

/// The public API's router and its OpenAPI description.
pub fn public_api() -> (Router<Arc<Node>>, utoipa::openapi::OpenApi) {
    let gate = crate::http::LargeBodyGate::new();
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(blocks_list))
        .routes(routes!(block))
        .routes(routes!(governance))
        .routes(routes!(transaction))
        .routes(with_large_bodies(routes!(submit), &gate))
        .routes(with_large_bodies(routes!(submit_batch), &gate))
        .routes(routes!(services))
        .routes(routes!(proof))
        .routes(routes!(service_interface))
        .routes(routes!(service_query, service_query_json))
        .routes(routes!(openapi_document))
        .split_for_parts()
}

/// The private API's router and its OpenAPI description.
pub fn private_api() -> (Router<Arc<Node>>, utoipa::openapi::OpenApi) {
    let gate = crate::http::LargeBodyGate::new();
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(private_supervisor_query))
        .routes(with_large_bodies(routes!(supervisor_action), &gate))
        .routes(routes!(private_service_query, private_service_query_json))
        .routes(routes!(openapi_document))
        .split_for_parts()
}

/// The public API's OpenAPI description.
pub fn public_openapi() -> utoipa::openapi::OpenApi {
    crate::openapi::finish(public_api().1, PUBLIC_TITLE, PUBLIC_DESCRIPTION, false)
}

/// The private API's OpenAPI description.
pub fn private_openapi() -> utoipa::openapi::OpenApi {
    crate::openapi::finish(private_api().1, PRIVATE_TITLE, PRIVATE_DESCRIPTION, true)
}

const PUBLIC_TITLE: &str = "wasmvisor public API";
const PUBLIC_DESCRIPTION: &str = "A node's public API: the chain, its transactions, services, queries and proofs \
     (docs/API.md; the wire formats in docs/WIRE-FORMAT.md).";
const PRIVATE_TITLE: &str = "wasmvisor private API";
const PRIVATE_DESCRIPTION: &str = "A node's operator API: supervisor actions signed with the node's service key, \
     private queries and metrics. Every request carries the node's bearer token and no Origin header (docs/API.md).";

/// `router` serving `spec` at `GET /api/openapi.json` ([`openapi_document`]).
fn serving(router: Router<Arc<Node>>, spec: &utoipa::openapi::OpenApi) -> Router<Arc<Node>> {
    let document = Arc::new(spec.to_pretty_json().expect("an OpenAPI description is JSON"));
    router.layer(axum::Extension(document))
}

/// The public API (bounded: see [`crate::http`]), with the explorer page.
pub fn public_router(node: Arc<Node>) -> Router {
    let (router, spec) = public_api();
    let spec = crate::openapi::finish(spec, PUBLIC_TITLE, PUBLIC_DESCRIPTION, false);
    let router = serving(router, &spec)
        .merge(crate::explorer::routes())
        .fallback(fallback);
    crate::http::bounded(router)
        .with_state(node)
        .layer(axum::middleware::map_response(json_errors))
}

/// Content types a POST to the private API may carry: what no web page can
/// send cross-site without the browser asking first.
const PRIVATE_CONTENT_TYPES: [&str; 3] = ["application/json", "application/octet-stream", "application/x-protobuf"];

/// Who may use the private API: no request a web page sent (one that
/// carries an `Origin` header: 403), no POST a web page can send without
/// the browser asking first (any other content type than
/// [`PRIVATE_CONTENT_TYPES`]: 415), and only with the node's bearer token
/// (401), on loopback too.
async fn guard_private(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN) {
        return ApiError(
            StatusCode::FORBIDDEN,
            "requests from web pages (with an Origin header) are refused by the private API".into(),
        )
        .into_response();
    }
    if request.method() == axum::http::Method::POST {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if !PRIVATE_CONTENT_TYPES.contains(&content_type.as_str()) {
            return ApiError(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("the private API takes POST bodies of {PRIVATE_CONTENT_TYPES:?}"),
            )
            .into_response();
        }
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    // Compared through their blake3 hashes, whose equality is constant
    // time: how long a refusal takes says nothing about the token.
    let matches =
        presented.is_some_and(|presented| blake3::hash(presented.as_bytes()) == blake3::hash(token.as_bytes()));
    if !matches {
        return ApiError(StatusCode::UNAUTHORIZED, "a valid bearer token is required".into()).into_response();
    }
    next.run(request).await
}

/// The private (operator) API: only with the node's bearer token, and
/// never from a web page (see [`guard_private`]).
pub fn private_router(node: Arc<Node>) -> Router {
    let token: Arc<str> = Arc::from(node.private_api_token());
    let (router, spec) = private_api();
    let spec = crate::openapi::finish(spec, PRIVATE_TITLE, PRIVATE_DESCRIPTION, true);
    let router = serving(router, &spec).fallback(fallback);
    crate::http::bounded(router)
        .with_state(node)
        .layer(axum::middleware::from_fn_with_state(token, guard_private))
        .layer(axum::middleware::map_response(json_errors))
}
