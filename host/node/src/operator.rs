//! Operator commands: the CLI's client side of the node's HTTP APIs.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{
    ConfigProposalState, DeployRequest, DeployState, DeployStatus, SupervisorConfig, SupervisorMode,
};

/// How long `deploy` waits for the artifact to become Active.
pub const DEPLOY_WAIT_MAX: Duration = Duration::from_secs(600);

/// A client of one node's APIs.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    /// A client of the API at `base` (e.g. `http://127.0.0.1:8081`).
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    fn answer(&self, mut response: ureq::http::Response<ureq::Body>) -> Result<Value, String> {
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|error| format!("reading the answer: {error}"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            Ok(value)
        } else {
            let message = value["error"].as_str().map_or_else(|| value.to_string(), str::to_owned);
            let hint = if status == ureq::http::StatusCode::UNAUTHORIZED {
                " (give the token with --token or WASMVISOR_TOKEN, or the node's data directory, which holds its private-api-token file, with --data-dir)"
            } else {
                ""
            };
            Err(format!("{status}: {message}{hint}"))
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        self.answer(self.call_get(path)?)
    }

    /// `GET path`; `None` if the node has no such thing (404).
    pub fn get_optional(&self, path: &str) -> Result<Option<Value>, String> {
        let response = self.call_get(path)?;
        if response.status() == ureq::http::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        self.answer(response).map(Some)
    }

    fn call_get(&self, path: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        let request = self.authorized(self.agent.get(format!("{}{path}", self.base)));
        request.call().map_err(|error| format!("{}: {error}", self.base))
    }

    /// `POST path` with a protobuf body.
    pub fn post_protobuf(&self, path: &str, body: &[u8]) -> Result<Value, String> {
        self.post(path, "application/x-protobuf", body)
    }

    /// `POST path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value, String> {
        self.post(path, "application/json", body.to_string().as_bytes())
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<Value, String> {
        let request = self.authorized(self.agent.post(format!("{}{path}", self.base)));
        let response = request
            .header("content-type", content_type)
            .send(body)
            .map_err(|error| format!("{}: {error}", self.base))?;
        self.answer(response)
    }

    /// Adds the bearer token, if any.
    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("authorization", format!("Bearer {token}")),
            None => request,
        }
    }
}

/// How long an operator command waits for its transaction's block.
pub const TRANSACTION_WAIT_MAX: Duration = Duration::from_secs(120);

/// Waits until transaction `tx_hash` is in a block; an error says why it
/// failed.
pub fn wait_for_transaction(public: &Client, tx_hash: &str) -> Result<Value, String> {
    let transaction = wait_for_outcome(public, tx_hash)?;
    if transaction["status"] == "failed" {
        let error = &transaction["error"];
        return Err(format!(
            "transaction {tx_hash} failed: {} ({}{})",
            error["description"].as_str().unwrap_or("no description"),
            error["kind"].as_str().unwrap_or("unknown kind"),
            error["name"]
                .as_str()
                .map(|name| format!(", {name}"))
                .unwrap_or_default(),
        ));
    }
    Ok(transaction)
}

/// Waits until transaction `tx_hash` is in a block and answers its record
/// (`status` `committed` or `failed`).
pub fn wait_for_outcome(public: &Client, tx_hash: &str) -> Result<Value, String> {
    let start = Instant::now();
    loop {
        let transaction = public.get(&format!("/api/explorer/v1/transactions?hash={tx_hash}"))?;
        if matches!(transaction["status"].as_str(), Some("committed" | "failed")) {
            return Ok(transaction);
        }
        if start.elapsed() > TRANSACTION_WAIT_MAX {
            return Err(format!(
                "transaction {tx_hash} is not in a block after {TRANSACTION_WAIT_MAX:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a supervisor action in its human JSON form, waits for its block
/// and answers `{"tx_hash", "height"}`.
pub fn act(public: &Client, private: &Client, action: &str, body: &Value) -> Result<Value, String> {
    let sent = private.post_json(&format!("/api/services/supervisor/{action}"), body)?;
    let tx_hash = sent["tx_hash"]
        .as_str()
        .ok_or("the node answered no transaction hash")?
        .to_owned();
    let transaction = wait_for_transaction(public, &tx_hash)?;
    Ok(serde_json::json!({ "tx_hash": tx_hash, "height": transaction["height"] }))
}

/// Proposes changes, waits for the proposal's block and reports whether
/// it was enacted or waits for votes (or its height).
pub fn propose(public: &Client, private: &Client, spec: &crate::requests::ProposalSpec) -> Result<Value, String> {
    let body = serde_json::to_value(spec).map_err(|error| error.to_string())?;
    let mut result = act(public, private, "propose-config", &body)?;
    // No longer pending: enacted (or dropped, had a change failed at
    // enactment; `services` shows which).
    match public.get_optional("/api/services/supervisor/config-proposal")? {
        Some(value) => {
            let state = ConfigProposalState::decode(hex_answer(&value)?.as_slice())
                .map_err(|error| format!("the pending proposal does not decode: {error}"))?;
            result["proposal"] = serde_json::json!({
                "status": "pending",
                "propose_hash": hex::encode(&state.propose_hash),
                "actual_from": state.actual_from,
                "approvals": state.approvals.iter().map(hex::encode).collect::<Vec<_>>(),
            });
        }
        None => result["proposal"] = serde_json::json!({ "status": "enacted" }),
    }
    Ok(result)
}

/// Waits until the service called `name` has `status` (as
/// `/api/system/v1/services` says it).
pub fn wait_for_service(public: &Client, name: &str, status: &str) -> Result<Value, String> {
    let start = Instant::now();
    loop {
        let services = public.get("/api/system/v1/services")?;
        let found = services["instances"]
            .as_array()
            .and_then(|instances| instances.iter().find(|instance| instance["name"] == name))
            .cloned();
        if let Some(instance) = &found
            && instance["status"] == status
        {
            return Ok(instance.clone());
        }
        if start.elapsed() > TRANSACTION_WAIT_MAX {
            let now = found.map_or_else(|| "absent".to_owned(), |instance| instance["status"].to_string());
            return Err(format!(
                "{name} is not {status} after {TRANSACTION_WAIT_MAX:?} (it is {now})"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn hex_answer(value: &Value) -> Result<Vec<u8>, String> {
    let text = value["answer"].as_str().ok_or("the node gave no answer")?;
    hex::decode(text).map_err(|error| format!("the answer is not hex: {error}"))
}

/// The deploy request of a wasm component as `name`:`version`, its
/// deadline [`crate::requests::DEADLINE_BLOCKS_DEFAULT`] blocks after the
/// node's height (which is also its seed: two requests of the same
/// component made at different heights are different requests).
pub fn deploy_request(public: &Client, component: &[u8], name: &str, version: &str) -> Result<DeployRequest, String> {
    let height = public.get("/api/system/v1/info")?["height"]
        .as_u64()
        .ok_or("the node reported no height")?;
    let artifact = wasmvisor_runtime::ArtifactId::new(wasmvisor_runtime::runtime_id::WASM, name, version)
        .map_err(|error| format!("version {version:?}: {error}"))?;
    let deadline_height = height + crate::requests::DEADLINE_BLOCKS_DEFAULT;
    Ok(crate::requests::deploy_request(
        &artifact,
        component,
        deadline_height,
        height,
    ))
}

/// Writes `request` to `path` (the encoded `DeployRequest`): the bytes
/// every validator posts with `deploy --request`. Answers what it holds.
pub fn write_deploy_request(request: &DeployRequest, path: &std::path::Path) -> Result<Value, String> {
    use std::io::Write;
    // A new file, never one that exists (nor what a link there points to).
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut file| file.write_all(&request.encode_to_vec()))
        .map_err(|error| format!("{}: {error}", path.display()))?;
    let mut shown = request_json(request);
    shown["request"] = serde_json::json!(path);
    Ok(shown)
}

/// What a deploy request is, as the CLI shows it: what every validator
/// that posts it approves.
fn request_json(request: &DeployRequest) -> Value {
    serde_json::json!({
        "artifact": request.artifact.as_ref().map(artifact_json),
        "spec_hash": hex::encode(blake3::hash(&request.spec).as_bytes()),
        "deadline_height": request.deadline_height,
        "request_hash": hex::encode(crate::requests::deploy_request_key(request)),
    })
}

/// Reads a deploy request written by [`write_deploy_request`]: at most
/// the private API's largest body, and it must decode.
pub fn read_deploy_request(path: &std::path::Path) -> Result<DeployRequest, String> {
    let limit = wasmvisor_limits::HTTP_LARGE_BODY_BYTES_MAX;
    let file = std::fs::File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limit as u64 + 1), &mut bytes)
        .map_err(|error| format!("{}: {error}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!(
            "{} is larger than {limit} bytes, the most the node takes",
            path.display()
        ));
    }
    let request = DeployRequest::decode(bytes.as_slice())
        .map_err(|error| format!("{} is not a deploy request: {error}", path.display()))?;
    if request.artifact.is_none() || request.spec.is_empty() {
        return Err(format!(
            "{} is not a deploy request: it names no artifact or carries no component",
            path.display()
        ));
    }
    Ok(request)
}

fn artifact_json(artifact: &wasmvisor_proto::runtime::ArtifactId) -> String {
    format!("{}:{}", artifact.name, artifact.version)
}

/// Approvals of validators in force among `approvals` (service keys) and
/// how many the supervisor's mode needs: one in simple mode, more than two
/// thirds of the validators in decentralized mode.
pub fn approvals_of(public: &Client, private: &Client, approvals: &[Vec<u8>]) -> Result<(usize, usize), String> {
    let info = public.get("/api/system/v1/info")?;
    let validators: Vec<Vec<u8>> = info["validators"]
        .as_array()
        .ok_or("the node reported no validators")?
        .iter()
        .filter_map(|validator| validator["service_key"].as_str().and_then(|key| hex::decode(key).ok()))
        .collect();
    let counted = approvals.iter().filter(|key| validators.contains(key)).count();
    let config = private.get("/api/services/supervisor/supervisor-config")?;
    let config = SupervisorConfig::decode(hex_answer(&config)?.as_slice())
        .map_err(|error| format!("the supervisor's configuration does not decode: {error}"))?;
    let needed = if config.mode == SupervisorMode::Decentralized as i32 {
        wasmvisor_blockchain::byzantine_quorum(validators.len())
    } else {
        1
    };
    Ok((counted, needed))
}

/// Whether progress dots go to standard error: only on a terminal, so
/// piped output carries none.
fn show_progress() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Posts `request` through the private API and waits for its block. Once
/// the request has the approvals the supervisor's mode needs, waits until
/// the artifact is Active; before that (the first validators of a
/// decentralized network), answers at once with the approvals so far.
/// Says why if the deploy fails or times out.
pub fn deploy(public: &Client, private: &Client, request: &DeployRequest) -> Result<Value, String> {
    let artifact = request.artifact.as_ref().map(artifact_json).unwrap_or_default();
    let sent = private.post_protobuf("/api/services/supervisor/deploy-artifact", &request.encode_to_vec())?;
    let tx_hash = sent["tx_hash"]
        .as_str()
        .ok_or("the node answered no transaction hash")?
        .to_owned();
    if show_progress() {
        eprintln!("deploy requested in transaction {tx_hash}");
    }
    // The request itself may fail (e.g. the artifact is known).
    wait_for_transaction(public, &tx_hash)?;
    let path = format!(
        "/api/services/supervisor/deploy-status-by-hash?arguments={}",
        hex::encode(crate::requests::deploy_request_key(request))
    );
    let start = Instant::now();
    let mut progress = false;
    loop {
        if let Some(value) = private.get_optional(&path)? {
            let state = DeployState::decode(hex_answer(&value)?.as_slice())
                .map_err(|error| format!("the deploy status does not decode: {error}"))?;
            let (approvals, needed) = approvals_of(public, private, &state.approvals)?;
            let report = |status: &str| {
                let mut shown = request_json(request);
                shown["status"] = serde_json::json!(status);
                shown["tx_hash"] = serde_json::json!(tx_hash);
                shown["approvals"] = serde_json::json!(format!("{approvals}/{needed}"));
                shown
            };
            match DeployStatus::try_from(state.status) {
                Ok(DeployStatus::DeploySucceeded) => {
                    if progress {
                        eprintln!();
                    }
                    return Ok(report("active"));
                }
                Ok(DeployStatus::DeployFailed) => return Err(format!("the deploy failed: {}", state.error)),
                Ok(DeployStatus::DeployTimeout) => return Err("the deploy timed out".into()),
                _ if approvals < needed => return Ok(report("waiting for approvals")),
                _ => {}
            }
        }
        if start.elapsed() > DEPLOY_WAIT_MAX {
            return Err(format!("{artifact} is not active after {DEPLOY_WAIT_MAX:?}"));
        }
        if show_progress() {
            eprint!(".");
            progress = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pending proposal, if any: its hash, the height it is enacted at,
/// its approvals against the number needed (`"2/3"`), who approved it, and
/// each change it makes.
pub fn proposals(public: &Client, private: &Client) -> Result<Value, String> {
    let Some(value) = public.get_optional("/api/services/supervisor/config-proposal")? else {
        return Ok(serde_json::json!({ "pending": null }));
    };
    let state = ConfigProposalState::decode(hex_answer(&value)?.as_slice())
        .map_err(|error| format!("the pending proposal does not decode: {error}"))?;
    let (approvals, needed) = approvals_of(public, private, &state.approvals)?;
    let changes: Vec<Value> = state
        .propose
        .as_ref()
        .map(|propose| propose.changes.iter().map(crate::requests::describe_change).collect())
        .unwrap_or_default();
    Ok(serde_json::json!({
        "pending": {
            "propose_hash": hex::encode(&state.propose_hash),
            "actual_from": state.actual_from,
            "approvals": format!("{approvals}/{needed}"),
            "approved_by": state.approvals.iter().map(hex::encode).collect::<Vec<_>>(),
            "changes": changes,
        }
    }))
}
