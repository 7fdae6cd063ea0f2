//! The CLI's client commands: keys, and calls and queries of a service
//! through the interface it declares, with JSON arguments.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use wasmvisor_runtime::CallInfo;
use wasmvisor_runtime::interface::ServiceInterface;

use crate::operator::{Client, wait_for_outcome};
use crate::{keys, secrets};

/// A client's signing key, kept in a file only its user may read: JSON
/// `{"public_key": "<hex>", "seed": "<hex>"}`.
#[derive(Debug)]
pub struct ClientKey {
    signing: SigningKey,
}

impl ClientKey {
    /// Makes a new key from the operating system's randomness and writes it
    /// to `path` (created with mode 0600; an existing file is never
    /// overwritten).
    pub fn create(path: &Path) -> Result<Self, String> {
        let key = Self {
            signing: keys::random_key().map_err(|error| error.to_string())?,
        };
        let file = json!({ "public_key": key.public_hex(), "seed": hex::encode(key.signing.to_bytes()) });
        secrets::create(path, format!("{file:#}\n").as_bytes()).map_err(|error| error.to_string())?;
        Ok(key)
    }

    /// Reads the key in `path`, refusing a file others may read.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = secrets::read(path).map_err(|error| error.to_string())?;
        let file: Value =
            serde_json::from_str(&text).map_err(|error| format!("{}: not a key file: {error}", path.display()))?;
        let signing = file["seed"]
            .as_str()
            .and_then(keys::key_from_hex_seed)
            .ok_or_else(|| format!("{}: \"seed\" is not 32 bytes of hex", path.display()))?;
        let key = Self { signing };
        if file["public_key"].as_str() != Some(key.public_hex().as_str()) {
            return Err(format!(
                "{}: \"public_key\" is not the seed's public key",
                path.display()
            ));
        }
        Ok(key)
    }

    /// The public key, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// The public key as `keys show` prints it: hex (as the node's API
    /// writes keys) and base64 (as `bytes` fields are written in a
    /// message's JSON).
    pub fn shown(&self) -> Value {
        let public = self.signing.verifying_key();
        json!({ "public_key": self.public_hex(), "public_key_base64": BASE64.encode(public.as_bytes()) })
    }
}

/// The interface `instance` declares, as the node serves it.
pub fn interface_json(public: &Client, instance: &str) -> Result<Value, String> {
    public.get(&format!("/api/services/{}/interface", url_encode(instance)))
}

/// The instance id and interface `instance` declares, as the node serves
/// them.
pub fn interface(public: &Client, instance: &str) -> Result<(u32, ServiceInterface), String> {
    let served = interface_json(public, instance)?;
    let instance_id = served["instance_id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or("the node's answer names no instance id")?;
    let interface = ServiceInterface::from_served(&served).map_err(|error| error.to_string())?;
    Ok((instance_id, interface))
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// Calls `method` of `instance` with JSON `arguments` encoded through the
/// service's interface: signs the transaction with `key` for the node's
/// chain, submits it, waits for its block and answers its outcome (the
/// explorer's view, with the error's name if it failed) and `tx_hash`.
pub fn call(
    public: &Client,
    instance: &str,
    method: &str,
    arguments: &Value,
    key: &ClientKey,
) -> Result<Value, String> {
    let (instance_id, interface) = interface(public, instance)?;
    let declared = interface.method(method).ok_or_else(|| {
        format!(
            "{instance} has no method {method:?}; it has: {}",
            names(interface.methods().iter().map(|method| method.name.as_str()))
        )
    })?;
    let arguments = interface
        .encode_json(&declared.arguments, arguments)
        .map_err(|error| format!("the arguments of {method}: {error}"))?;
    let info = public.get("/api/system/v1/info")?;
    let chain_id: [u8; 32] = info["chain_id"]
        .as_str()
        .and_then(|id| hex::decode(id).ok())
        .and_then(|id| id.try_into().ok())
        .ok_or("the node's info names no chain id")?;
    let call = CallInfo {
        instance_id,
        method_id: declared.id,
    };
    let signed = wasmvisor_blockchain::sign(&key.signing, &chain_id, call, arguments);
    let sent = public.post_protobuf("/api/explorer/v1/transactions", &signed)?;
    let tx_hash = sent["tx_hash"]
        .as_str()
        .ok_or("the node answered no tx_hash")?
        .to_owned();
    let mut outcome = wait_for_outcome(public, &tx_hash)?;
    outcome["tx_hash"] = Value::String(tx_hash);
    Ok(outcome)
}

/// Runs query `query` of `instance` with JSON `arguments` and answers the
/// service's JSON answer (on the private API, `client` reaches private
/// queries too). A `GET`: on the private API a `POST` to the supervisor's
/// paths is an action, never a query.
pub fn query(client: &Client, instance: &str, query: &str, arguments: &Value) -> Result<Value, String> {
    let path = format!(
        "/api/services/{}/{}?args={}",
        url_encode(instance),
        url_encode(query),
        url_encode(&arguments.to_string())
    );
    let reply = client.get(&path)?;
    Ok(reply["answer"].clone())
}

/// `text` for a URL (every byte but the unreserved ones percent-encoded).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(byte).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
