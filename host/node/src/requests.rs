//! Human forms of the supervisor's payloads: what an operator writes (a
//! TOML file for `wasmvisor propose`, or JSON to the private API) and how
//! the node turns it into the protobuf payload, resolving names against
//! the committed state.
//!
//! Artifacts are written `name:version`, or `native:name:version` /
//! `wasm:name:version` when both runtimes hold the same name and version;
//! instances by name; parameters as hex.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmvisor_blockchain::Blockchain;
use wasmvisor_dispatcher::InstanceRef;
use wasmvisor_dispatcher::artifact_to_proto;
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, ValidatorKeys};
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigProposalState, ConfigPropose, ConfigVote, DeployRequest, FreezeService, MigrationRequest,
    ResumeService, ServiceConfig, StartService, StopService, UnloadArtifact, config_change,
};
use wasmvisor_runtime::interface::{Payload, ServiceInterface};
use wasmvisor_runtime::{ArtifactId, runtime_id};

/// How far ahead of the current height a deploy or migration deadline is
/// set when the request does not name one.
pub const DEADLINE_BLOCKS_DEFAULT: u64 = 1000;
/// Most changes one proposal may carry (the supervisor's own limit).
pub use wasmvisor_limits::PROPOSAL_CHANGES_ITEMS_MAX;

/// The supervisor transactions an operator (or the node) sends, by the
/// private API path that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorAction {
    /// `deploy-artifact`: a `DeployRequest`.
    Deploy,
    /// `propose-config`: a `ConfigPropose`.
    Propose,
    /// `confirm-config`: a `ConfigVote`.
    Vote,
    /// `migrate`: a `MigrationRequest`.
    Migrate,
}

impl SupervisorAction {
    /// The action a private API path segment names.
    pub fn from_path(path: &str) -> Option<Self> {
        match path {
            "deploy-artifact" => Some(Self::Deploy),
            "propose-config" => Some(Self::Propose),
            "confirm-config" => Some(Self::Vote),
            "migrate" => Some(Self::Migrate),
            _ => None,
        }
    }

    /// The supervisor method it calls.
    pub fn method_id(self) -> u32 {
        match self {
            Self::Deploy => 0,
            Self::Propose => 2,
            Self::Vote => 3,
            Self::Migrate => 4,
        }
    }

    /// The payload from the action's human JSON form.
    pub fn payload(self, chain: &Blockchain, value: serde_json::Value) -> Result<Vec<u8>, RequestError> {
        fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, RequestError> {
            serde_json::from_value(value).map_err(|cause| error(format!("the request is invalid: {cause}")))
        }
        match self {
            Self::Deploy => parse::<DeploySpec>(value)?.to_payload(chain),
            Self::Propose => parse::<ProposalSpec>(value)?.to_payload(chain),
            Self::Vote => parse::<VoteSpec>(value)?.to_payload(chain),
            Self::Migrate => parse::<MigrateSpec>(value)?.to_payload(chain),
        }
    }
}

/// Why a request cannot become a payload: said to the operator as a 400.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

fn error(message: impl Into<String>) -> RequestError {
    RequestError(message.into())
}

/// A proposal: the changes to enact together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalSpec {
    /// The height from which the changes apply (0: the next block).
    #[serde(default)]
    pub actual_from: u64,
    /// The configuration number the proposal builds on (default: the
    /// current one).
    #[serde(default)]
    pub configuration_number: Option<u64>,
    /// The changes (`[[changes]]` tables in TOML).
    pub changes: Vec<ChangeSpec>,
}

/// One change, tagged by `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ChangeSpec {
    /// Start a new instance of an Active artifact.
    Start {
        /// `name:version` of the artifact.
        artifact: String,
        /// The new instance's name.
        instance: String,
        /// Constructor parameters (hex).
        #[serde(default)]
        params: String,
        /// Constructor parameters in JSON, encoded through the artifact's
        /// interface (instead of `params`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        params_json: Option<serde_json::Value>,
    },
    /// Stop an instance.
    Stop {
        /// The instance's name.
        instance: String,
    },
    /// Freeze an instance (it keeps answering queries).
    Freeze {
        /// The instance's name.
        instance: String,
    },
    /// Resume a stopped or frozen instance.
    Resume {
        /// The instance's name.
        instance: String,
        /// Resume parameters (hex).
        #[serde(default)]
        params: String,
    },
    /// Reconfigure a running instance.
    Configure {
        /// The instance's name.
        instance: String,
        /// The new configuration (hex).
        #[serde(default)]
        params: String,
        /// The new configuration in JSON, encoded through the instance's
        /// interface (instead of `params`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        params_json: Option<serde_json::Value>,
    },
    /// Unload an artifact no instance uses.
    Unload {
        /// `name:version` of the artifact.
        artifact: String,
    },
    /// Change the consensus configuration; absent fields keep their value.
    Consensus {
        /// Most transactions per block.
        #[serde(default)]
        transactions_per_block_max: Option<u32>,
        /// Milliseconds between blocks.
        #[serde(default)]
        block_interval_ms: Option<u64>,
        /// The new validator set.
        #[serde(default)]
        validators: Option<Vec<ValidatorSpec>>,
    },
}

/// A validator's public keys (hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSpec {
    /// Ed25519 key that signs precommits.
    pub consensus_key: String,
    /// Ed25519 key that signs the validator's transactions.
    pub service_key: String,
}

/// A vote for the pending proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteSpec {
    /// The proposal's hash (hex); default: the pending proposal.
    #[serde(default)]
    pub propose_hash: Option<String>,
}

/// A migration request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrateSpec {
    /// `name:version` of the new artifact.
    pub artifact: String,
    /// The instance to migrate.
    pub instance: String,
    /// Height by which every validator must have reported (default: 1000
    /// blocks ahead).
    #[serde(default)]
    pub deadline_height: Option<u64>,
}

/// A deploy request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// `name:version` of the new artifact (the wasm runtime).
    pub artifact: String,
    /// The component (hex).
    pub component: String,
    /// Height by which every validator must have deployed it (default:
    /// 1000 blocks ahead).
    #[serde(default)]
    pub deadline_height: Option<u64>,
}

fn hex_bytes(what: &str, text: &str) -> Result<Vec<u8>, RequestError> {
    hex::decode(text).map_err(|cause| error(format!("{what} is not hex: {cause}")))
}

/// Parses `[runtime:]name:version` (the runtime as given, if given).
pub fn parse_artifact(text: &str) -> Result<(Option<u32>, String, semver::Version), RequestError> {
    let (rest, version) = text
        .rsplit_once(':')
        .ok_or_else(|| error(format!("artifact {text:?} is not name:version")))?;
    let version = semver::Version::parse(version)
        .map_err(|_| error(format!("artifact {text:?}: {version:?} is not a semantic version")))?;
    let (runtime, name) = match rest.split_once(':') {
        Some(("native", name)) => (Some(runtime_id::NATIVE), name),
        Some(("wasm", name)) => (Some(runtime_id::WASM), name),
        Some((runtime, _)) => return Err(error(format!("artifact {text:?}: unknown runtime {runtime:?}"))),
        None => (None, rest),
    };
    if name.is_empty() {
        return Err(error(format!("artifact {text:?} has no name")));
    }
    Ok((runtime, name.to_owned(), version))
}

/// `runtime:name:version` of an artifact, as people write it.
pub fn artifact_text(artifact: &ArtifactId) -> String {
    proto_artifact_text(&wasmvisor_dispatcher::artifact_to_proto(artifact))
}

/// [`artifact_text`] of an artifact id as the supervisor's messages hold it.
pub fn proto_artifact_text(artifact: &wasmvisor_proto::runtime::ArtifactId) -> String {
    let runtime = if artifact.runtime_id == runtime_id::NATIVE {
        "native"
    } else {
        "wasm"
    };
    format!("{runtime}:{}:{}", artifact.name, artifact.version)
}

/// The supervisor's current configuration number (what a proposal builds
/// on).
pub fn configuration_number(chain: &Blockchain) -> Result<u64, RequestError> {
    let answer = chain
        .dispatcher()
        .query("supervisor", "configuration-number", &[])
        .map_err(|cause| error(format!("the configuration number: {cause}")))?;
    u64::decode(answer.as_slice()).map_err(|cause| error(cause.to_string()))
}

/// The pending proposal, if any.
pub fn pending_proposal(chain: &Blockchain) -> Option<ConfigProposalState> {
    let answer = chain.dispatcher().query("supervisor", "config-proposal", &[]).ok()?;
    ConfigProposalState::decode(answer.as_slice()).ok()
}

/// Parameters as bytes: `params` (hex), or `json` encoded as the payload
/// `which` picks from the service's interface (looked up only then).
fn parameters(
    params: &str,
    json: Option<&serde_json::Value>,
    interface: impl FnOnce() -> Result<Option<Arc<ServiceInterface>>, RequestError>,
    which: fn(&ServiceInterface) -> Option<&Payload>,
) -> Result<Vec<u8>, RequestError> {
    let Some(value) = json else {
        return hex_bytes("params", params);
    };
    if !params.is_empty() {
        return Err(error("give params (hex) or params_json, not both"));
    }
    let interface = interface()?;
    let interface = interface.as_deref().ok_or_else(|| {
        error("the service declares no interface (or is not deployed on this node): give params in hex")
    })?;
    let payload = which(interface).ok_or_else(|| error("the service's interface states no such parameters"))?;
    interface
        .encode_json(payload, value)
        .map_err(|cause| error(format!("params_json: {cause}")))
}

/// Names resolved against the committed state.
struct Resolver<'a> {
    chain: &'a Blockchain,
}

impl Resolver<'_> {
    /// A registered artifact, in its wire form.
    fn artifact(&self, text: &str) -> Result<wasmvisor_proto::runtime::ArtifactId, RequestError> {
        self.artifact_id(text).map(|artifact| artifact_to_proto(&artifact))
    }

    /// A registered artifact; the runtime is looked up unless given.
    fn artifact_id(&self, text: &str) -> Result<ArtifactId, RequestError> {
        let (runtime, name, version) = parse_artifact(text)?;
        let artifacts = self
            .chain
            .dispatcher()
            .artifacts()
            .map_err(|cause| error(cause.to_string()))?;
        let matching: Vec<&ArtifactId> = artifacts
            .iter()
            .map(|(artifact, _)| artifact)
            .filter(|artifact| artifact.name == name && artifact.version == version)
            .filter(|artifact| runtime.is_none_or(|runtime| artifact.runtime_id == runtime))
            .collect();
        match matching.as_slice() {
            [artifact] => Ok((*artifact).clone()),
            [] => Err(error(format!("no artifact {text} is deployed"))),
            _ => Err(error(format!(
                "{text} exists in several runtimes: write native:{text} or wasm:{text}"
            ))),
        }
    }

    fn instance_id(&self, name: &str) -> Result<u32, RequestError> {
        self.chain
            .dispatcher()
            .instance_by_name(name)
            .map_err(|cause| error(cause.to_string()))?
            .map(|state| state.spec.id)
            .ok_or_else(|| error(format!("no service named {name:?}")))
    }

    fn height(&self) -> Result<u64, RequestError> {
        self.chain
            .last_header()
            .map(|header| header.height)
            .map_err(|cause| error(cause.to_string()))
    }
}

impl From<&ValidatorKeys> for ValidatorSpec {
    fn from(keys: &ValidatorKeys) -> Self {
        Self {
            consensus_key: hex::encode(&keys.consensus_key),
            service_key: hex::encode(&keys.service_key),
        }
    }
}

impl ValidatorSpec {
    /// The keys, checked: each is a well-formed Ed25519 public key.
    pub fn keys(&self) -> Result<ValidatorKeys, RequestError> {
        let keys = ValidatorKeys {
            consensus_key: hex_bytes("consensus_key", &self.consensus_key)?,
            service_key: hex_bytes("service_key", &self.service_key)?,
        };
        for (what, key) in [
            ("consensus_key", &keys.consensus_key),
            ("service_key", &keys.service_key),
        ] {
            let bytes: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| error(format!("{what} is 32 bytes (64 hex characters)")))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| error(format!("{what} is not an Ed25519 public key")))?;
        }
        Ok(keys)
    }
}

impl ChangeSpec {
    fn to_proto(&self, resolver: &Resolver<'_>, current: &ConsensusConfig) -> Result<ConfigChange, RequestError> {
        use config_change::Kind;
        let kind = match self {
            ChangeSpec::Start {
                artifact,
                instance,
                params,
                params_json,
            } => {
                let artifact = resolver.artifact_id(artifact)?;
                let interface = || Ok(resolver.chain.dispatcher().artifact_interface(&artifact));
                let config = parameters(params, params_json.as_ref(), interface, ServiceInterface::constructor)?;
                Kind::StartService(StartService {
                    artifact: Some(artifact_to_proto(&artifact)),
                    name: instance.clone(),
                    config,
                })
            }
            ChangeSpec::Stop { instance } => Kind::StopService(StopService {
                instance_id: resolver.instance_id(instance)?,
            }),
            ChangeSpec::Freeze { instance } => Kind::FreezeService(FreezeService {
                instance_id: resolver.instance_id(instance)?,
            }),
            ChangeSpec::Resume { instance, params } => Kind::ResumeService(ResumeService {
                instance_id: resolver.instance_id(instance)?,
                params: hex_bytes("params", params)?,
            }),
            ChangeSpec::Configure {
                instance,
                params,
                params_json,
            } => {
                let interface = || {
                    let declared = resolver.chain.reader().interface(InstanceRef::Name(instance));
                    declared
                        .map(|(_, interface)| interface)
                        .map_err(|cause| error(cause.to_string()))
                };
                let params = parameters(params, params_json.as_ref(), interface, ServiceInterface::configuration)?;
                Kind::Service(ServiceConfig {
                    instance_id: resolver.instance_id(instance)?,
                    params,
                })
            }
            ChangeSpec::Unload { artifact } => Kind::UnloadArtifact(UnloadArtifact {
                artifact_id: Some(resolver.artifact(artifact)?),
            }),
            ChangeSpec::Consensus {
                transactions_per_block_max,
                block_interval_ms,
                validators,
            } => {
                let mut config = current.clone();
                if let Some(value) = transactions_per_block_max {
                    config.transactions_per_block_max = *value;
                }
                if let Some(value) = block_interval_ms {
                    config.block_interval_ms = *value;
                }
                if let Some(validators) = validators {
                    config.validator_keys = validators.iter().map(ValidatorSpec::keys).collect::<Result<_, _>>()?;
                }
                Kind::Consensus(config)
            }
        };
        Ok(ConfigChange { kind: Some(kind) })
    }
}

impl ProposalSpec {
    /// The `ConfigPropose` payload.
    pub fn to_payload(&self, chain: &Blockchain) -> Result<Vec<u8>, RequestError> {
        if self.changes.is_empty() {
            return Err(error("a proposal needs at least one change"));
        }
        if self.changes.len() > PROPOSAL_CHANGES_ITEMS_MAX {
            return Err(error(format!(
                "a proposal carries at most {PROPOSAL_CHANGES_ITEMS_MAX} changes"
            )));
        }
        let resolver = Resolver { chain };
        let current = chain.consensus_config().map_err(|cause| error(cause.to_string()))?;
        let changes = self
            .changes
            .iter()
            .map(|change| change.to_proto(&resolver, &current))
            .collect::<Result<_, _>>()?;
        let configuration_number = match self.configuration_number {
            Some(number) => number,
            None => configuration_number(chain)?,
        };
        Ok(ConfigPropose {
            actual_from: self.actual_from,
            changes,
            configuration_number,
        }
        .encode_to_vec())
    }
}

impl VoteSpec {
    /// The `ConfigVote` payload.
    pub fn to_payload(&self, chain: &Blockchain) -> Result<Vec<u8>, RequestError> {
        let propose_hash = match &self.propose_hash {
            Some(text) => hex_bytes("propose_hash", text)?,
            None => {
                pending_proposal(chain)
                    .ok_or_else(|| error("nothing to vote for: no proposal is pending"))?
                    .propose_hash
            }
        };
        Ok(ConfigVote { propose_hash }.encode_to_vec())
    }
}

impl MigrateSpec {
    /// The `MigrationRequest` payload.
    pub fn to_payload(&self, chain: &Blockchain) -> Result<Vec<u8>, RequestError> {
        let resolver = Resolver { chain };
        resolver.instance_id(&self.instance)?;
        let height = resolver.height()?;
        Ok(MigrationRequest {
            new_artifact: Some(resolver.artifact(&self.artifact)?),
            service: self.instance.clone(),
            deadline_height: self.deadline_height.unwrap_or(height + DEADLINE_BLOCKS_DEFAULT),
            seed: height,
        }
        .encode_to_vec())
    }
}

impl DeploySpec {
    /// The `DeployRequest` payload for a wasm component.
    pub fn to_payload(&self, chain: &Blockchain) -> Result<Vec<u8>, RequestError> {
        let (runtime, name, version) = parse_artifact(&self.artifact)?;
        if runtime.is_some_and(|runtime| runtime != runtime_id::WASM) {
            return Err(error("only wasm components are deployed by request"));
        }
        let artifact = ArtifactId {
            runtime_id: runtime_id::WASM,
            name,
            version,
        };
        let component = hex_bytes("component", &self.component)?;
        let height = Resolver { chain }.height()?;
        let deadline_height = self.deadline_height.unwrap_or(height + DEADLINE_BLOCKS_DEFAULT);
        Ok(deploy_request(&artifact, &component, deadline_height, height).encode_to_vec())
    }
}

/// The key the supervisor knows a deploy request by (what
/// `deploy-status-by-hash` takes): blake3 of the request with its spec
/// replaced by the spec's blake3 hash.
pub fn deploy_request_key(request: &DeployRequest) -> [u8; 32] {
    let spec_hash = *blake3::hash(&request.spec).as_bytes();
    *blake3::hash(&request.key_preimage(&spec_hash)).as_bytes()
}

/// A deploy request for `artifact` (a wasm component, or an empty spec for
/// a native artifact).
pub fn deploy_request(artifact: &ArtifactId, component: &[u8], deadline_height: u64, seed: u64) -> DeployRequest {
    let spec = if artifact.runtime_id == runtime_id::WASM {
        wasmvisor_wasm::deploy_spec(component).encode_to_vec()
    } else {
        Vec::new()
    };
    DeployRequest {
        artifact: Some(artifact_to_proto(artifact)),
        spec,
        deadline_height,
        seed,
    }
}

/// One change of a proposal, for people (the CLI's `proposals`, the
/// explorer's governance view).
pub fn describe_change(change: &wasmvisor_proto::supervisor::ConfigChange) -> serde_json::Value {
    use serde_json::json;
    use wasmvisor_proto::supervisor::config_change::Kind;
    match &change.kind {
        Some(Kind::Consensus(config)) => json!({
            "action": "consensus",
            "validators": config.validator_keys.iter().map(|keys| json!({
                "consensus_key": hex::encode(&keys.consensus_key),
                "service_key": hex::encode(&keys.service_key),
            })).collect::<Vec<_>>(),
            "block_interval_ms": config.block_interval_ms,
        }),
        Some(Kind::Service(service)) => json!({
            "action": "configure",
            "instance_id": service.instance_id,
            "params_bytes": service.params.len(),
        }),
        Some(Kind::StartService(start)) => json!({
            "action": "start",
            "artifact": start.artifact.as_ref().map(|artifact| format!("{}:{}", artifact.name, artifact.version)),
            "instance": start.name,
            "config_bytes": start.config.len(),
        }),
        Some(Kind::StopService(stop)) => json!({ "action": "stop", "instance_id": stop.instance_id }),
        Some(Kind::FreezeService(freeze)) => json!({ "action": "freeze", "instance_id": freeze.instance_id }),
        Some(Kind::ResumeService(resume)) => json!({
            "action": "resume",
            "instance_id": resume.instance_id,
            "params_bytes": resume.params.len(),
        }),
        Some(Kind::UnloadArtifact(unload)) => json!({
            "action": "unload",
            "artifact": unload.artifact_id.as_ref().map(|artifact| format!("{}:{}", artifact.name, artifact.version)),
        }),
        None => json!({ "action": "none" }),
    }
}
