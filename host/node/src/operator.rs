//! Operator commands: the CLI's client side of the node's HTTP APIs.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasmvisor_proto::Message;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{DeployRequest, DeployState, DeployStatus, WasmDeploySpec};

/// How long `deploy` waits for the artifact to become Active.
pub const DEPLOY_WAIT_MAX: Duration = Duration::from_secs(600);
/// How far ahead of the current height a deploy's deadline is set.
pub const DEPLOY_DEADLINE_BLOCKS: u64 = 1000;

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
            Err(format!("{status}: {message}"))
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.call().map_err(|error| format!("{}: {error}", self.base))?;
        self.answer(response)
    }

    /// `POST path` with a protobuf body.
    pub fn post_protobuf(&self, path: &str, body: &[u8]) -> Result<Value, String> {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-protobuf");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = request.send(body).map_err(|error| format!("{}: {error}", self.base))?;
        self.answer(response)
    }
}

fn hex_answer(value: &Value) -> Result<Vec<u8>, String> {
    let text = value["answer"].as_str().ok_or("the node gave no answer")?;
    hex::decode(text).map_err(|error| format!("the answer is not hex: {error}"))
}

/// Deploys a wasm component as `name`:`version` through the private API
/// and waits until it is Active, printing progress; says why not if it
/// fails or times out.
pub fn deploy(public: &Client, private: &Client, component: &[u8], name: &str, version: &str) -> Result<(), String> {
    let height = public.get("/api/system/v1/info")?["height"]
        .as_u64()
        .ok_or("the node reported no height")?;
    let request = DeployRequest {
        artifact: Some(ArtifactId {
            runtime_id: wasmvisor_runtime::runtime_id::WASM,
            name: name.to_owned(),
            version: version.to_owned(),
        }),
        spec: WasmDeploySpec {
            component_hash: blake3::hash(component).as_bytes().to_vec(),
            component: component.to_vec(),
        }
        .encode_to_vec(),
        deadline_height: height + DEPLOY_DEADLINE_BLOCKS,
        seed: height,
    };
    let encoded = request.encode_to_vec();
    let sent = private.post_protobuf("/api/services/supervisor/deploy-artifact", &encoded)?;
    let tx_hash = sent["tx_hash"].as_str().unwrap_or_default().to_owned();
    eprintln!("deploy requested in transaction {tx_hash}");
    let path = format!(
        "/api/services/supervisor/deploy-status-by-hash?arguments={}",
        hex::encode(blake3::hash(&encoded).as_bytes())
    );
    let start = Instant::now();
    loop {
        if let Ok(value) = private.get(&path) {
            let state = DeployState::decode(hex_answer(&value)?.as_slice())
                .map_err(|error| format!("the deploy status does not decode: {error}"))?;
            match DeployStatus::try_from(state.status) {
                Ok(DeployStatus::DeploySucceeded) => {
                    eprintln!();
                    println!("{name}:{version} is active");
                    return Ok(());
                }
                Ok(DeployStatus::DeployFailed) => return Err(format!("the deploy failed: {}", state.error)),
                Ok(DeployStatus::DeployTimeout) => return Err("the deploy timed out".into()),
                _ => {}
            }
        }
        // The request itself may fail (e.g. the artifact is known).
        if let Ok(transaction) = public.get(&format!("/api/explorer/v1/transactions?hash={tx_hash}"))
            && transaction["status"] == "failed"
        {
            let reason = transaction["error"]["description"].as_str().unwrap_or("unknown");
            return Err(format!("the deploy request failed: {reason}"));
        }
        if start.elapsed() > DEPLOY_WAIT_MAX {
            return Err(format!("the artifact is not active after {DEPLOY_WAIT_MAX:?}"));
        }
        eprint!(".");
        std::thread::sleep(Duration::from_millis(200));
    }
}
