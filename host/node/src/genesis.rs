//! A network's genesis, what its first block is made of, and the file that
//! carries it to a node that was not there at the start.
//!
//! A node builds its genesis block from its configuration (the template's
//! settings, `genesis_validators`, `[system_services]`); the block's hash
//! is the chain id every transaction and precommit signs. Once the
//! validator set has changed, a new node cannot rebuild that genesis from
//! the validators it sees, so any node can export it
//! (`wasmvisor genesis export`): a [`GenesisFile`] holding every input of
//! the genesis block, system services' deploy specs included, and the chain
//! id they make. A node importing it (`wasmvisor finalize --genesis FILE
//! --chain-id ID`, the id learnt from the network's operators, not from
//! the file) rebuilds the genesis block from the file's contents and
//! refuses the file unless it makes that id; the node then starts its
//! chain from it, and refuses to start on a chain with another id.

use std::io::Read as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use wasmvisor_dispatcher::GenesisConfig;
use wasmvisor_limits::{CONSENSUS_CONFIG_BYTES_MAX, DEPLOY_SPEC_BYTES_MAX, KIB, SERVICE_PARAMS_BYTES_MAX};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, ValidatorKeys};
use wasmvisor_proto::supervisor::{SupervisorConfig, SupervisorMode};
use wasmvisor_runtime::{ArtifactId, InstanceSpec, runtime_id};
use wasmvisor_storage::Hash;

use crate::config::{Mode, NodeConfig, parse_chain_id};
use crate::requests::{ValidatorSpec, artifact_text, parse_artifact};
use crate::system::{self, SYSTEM_SERVICES_MAX, SystemService};

/// Largest genesis file a node reads, in bytes: every system service's
/// deploy spec and parameters in hex (two characters a byte), the
/// validator set in hex, and 64 KiB of TOML around them.
pub const GENESIS_FILE_BYTES_MAX: usize = 2 * SYSTEM_SERVICES_MAX * (DEPLOY_SPEC_BYTES_MAX + SERVICE_PARAMS_BYTES_MAX)
    + 2 * CONSENSUS_CONFIG_BYTES_MAX
    + 64 * KIB;

/// The inputs of a chain's genesis block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Genesis {
    /// The supervisor's mode.
    pub supervisor_mode: Mode,
    /// Milliseconds between blocks.
    pub block_interval_ms: u64,
    /// Most transactions in one block.
    pub transactions_per_block_max: u32,
    /// The validator set.
    pub validators: Vec<ValidatorKeys>,
    /// System services deployed and started in the genesis block.
    pub system_services: Vec<SystemService>,
}

/// An exported genesis (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// The genesis block's hash (hex) that the rest of the file makes.
    pub chain_id: String,
    /// The supervisor's mode.
    pub supervisor_mode: Mode,
    /// Milliseconds between blocks.
    pub block_interval_ms: u64,
    /// Most transactions in one block.
    pub transactions_per_block_max: u32,
    /// The genesis validator set, in its order.
    pub validators: Vec<ValidatorSpec>,
    /// System services of the genesis block, in their order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_services: Vec<GenesisService>,
}

/// A system service in a genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisService {
    /// The instance's name.
    pub name: String,
    /// The artifact, `runtime:name:version`.
    pub artifact: String,
    /// The deploy spec (hex; empty for a native artifact).
    #[serde(default)]
    pub spec: String,
    /// Constructor parameters (hex).
    #[serde(default)]
    pub params: String,
}

impl Genesis {
    /// The genesis a node configured by `config` makes: its validator set
    /// is `genesis_validators`, or this node alone (`own`) when that is
    /// empty.
    pub fn of_config(
        config: &NodeConfig,
        own: ValidatorKeys,
        system_services: Vec<SystemService>,
    ) -> Result<Self, String> {
        let validators = if config.genesis_validators.is_empty() {
            vec![own]
        } else {
            config
                .genesis_validators
                .iter()
                .map(ValidatorSpec::keys)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| format!("genesis_validators: {error}"))?
        };
        Ok(Self {
            supervisor_mode: config.supervisor_mode,
            block_interval_ms: config.block_interval_ms,
            transactions_per_block_max: config.transactions_per_block_max,
            validators,
            system_services,
        })
    }

    /// Reads a genesis file: the genesis and the chain id the file names
    /// (which the caller must check: only building the chain shows whether
    /// the contents make it).
    pub fn read(path: &Path) -> Result<(Self, Hash), String> {
        let why = |message: String| format!("the genesis file {}: {message}", path.display());
        let mut text = String::new();
        std::io::Read::take(
            std::fs::File::open(path).map_err(|error| why(error.to_string()))?,
            GENESIS_FILE_BYTES_MAX as u64 + 1,
        )
        .read_to_string(&mut text)
        .map_err(|error| why(error.to_string()))?;
        if text.len() > GENESIS_FILE_BYTES_MAX {
            return Err(why(format!("more than {GENESIS_FILE_BYTES_MAX} bytes")));
        }
        let file: GenesisFile = toml::from_str(&text).map_err(|error| why(error.to_string()))?;
        Self::from_file(&file).map_err(why)
    }

    /// The genesis a file describes, and the chain id it names.
    pub fn from_file(file: &GenesisFile) -> Result<(Self, Hash), String> {
        let chain_id = parse_chain_id(&file.chain_id)?;
        if file.block_interval_ms == 0 || file.block_interval_ms > crate::config::BLOCK_INTERVAL_MS_MAX {
            return Err(format!(
                "block_interval_ms must be 1..={}",
                crate::config::BLOCK_INTERVAL_MS_MAX
            ));
        }
        if file.system_services.len() > SYSTEM_SERVICES_MAX {
            return Err(format!("at most {SYSTEM_SERVICES_MAX} system services"));
        }
        let validators = file
            .validators
            .iter()
            .map(ValidatorSpec::keys)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| format!("validators: {error}"))?;
        let mut services: Vec<SystemService> = Vec::new();
        for service in &file.system_services {
            let service = Self::service(service, &services)?;
            services.push(service);
        }
        let genesis = Self {
            supervisor_mode: file.supervisor_mode,
            block_interval_ms: file.block_interval_ms,
            transactions_per_block_max: file.transactions_per_block_max,
            validators,
            system_services: services,
        };
        Ok((genesis, chain_id))
    }

    /// A system service of a genesis file, held to the rules of a node
    /// configuration's, after the ones `before` it.
    fn service(service: &GenesisService, before: &[SystemService]) -> Result<SystemService, String> {
        system::check_name(&service.name, before.iter().map(|known| known.name.as_str()))?;
        let why = |message: String| format!("system service {:?}: {message}", service.name);
        let (runtime, name, version) = parse_artifact(&service.artifact).map_err(|error| why(error.0))?;
        let runtime = runtime.unwrap_or(runtime_id::WASM);
        let spec = hex::decode(&service.spec).map_err(|error| why(format!("spec is not hex: {error}")))?;
        let params = hex::decode(&service.params).map_err(|error| why(format!("params are not hex: {error}")))?;
        if (runtime == runtime_id::NATIVE) != spec.is_empty() {
            return Err(why("a wasm artifact has a deploy spec, a native one none".into()));
        }
        if spec.len() > DEPLOY_SPEC_BYTES_MAX || params.len() > SERVICE_PARAMS_BYTES_MAX {
            return Err(why(format!(
                "a spec has at most {DEPLOY_SPEC_BYTES_MAX} bytes, parameters at most {SERVICE_PARAMS_BYTES_MAX}"
            )));
        }
        let artifact = ArtifactId {
            runtime_id: runtime,
            name,
            version,
        };
        // The genesis block deploys an artifact once: another service of
        // it carries the same spec.
        if let Some(first) = before.iter().find(|known| known.artifact == artifact)
            && first.spec != spec
        {
            return Err(why(format!("another spec for the artifact of {:?}", first.name)));
        }
        Ok(SystemService {
            name: service.name.clone(),
            artifact,
            spec,
            params,
        })
    }

    /// The file describing this genesis, naming `chain_id`.
    pub fn to_file(&self, chain_id: &Hash) -> GenesisFile {
        GenesisFile {
            chain_id: hex::encode(chain_id),
            supervisor_mode: self.supervisor_mode,
            block_interval_ms: self.block_interval_ms,
            transactions_per_block_max: self.transactions_per_block_max,
            validators: self.validators.iter().map(ValidatorSpec::from).collect(),
            system_services: self
                .system_services
                .iter()
                .map(|service| GenesisService {
                    name: service.name.clone(),
                    artifact: artifact_text(&service.artifact),
                    spec: hex::encode(&service.spec),
                    params: hex::encode(&service.params),
                })
                .collect(),
        }
    }

    /// The genesis consensus configuration.
    pub fn consensus(&self) -> ConsensusConfig {
        ConsensusConfig {
            validator_keys: self.validators.clone(),
            transactions_per_block_max: self.transactions_per_block_max,
            block_interval_ms: self.block_interval_ms,
            ..ConsensusConfig::default()
        }
    }

    /// What the dispatcher's genesis deploys and starts: the supervisor,
    /// then the system services.
    pub fn config(&self) -> GenesisConfig {
        let spec = wasmvisor_wasm::deploy_spec(wasmvisor_artifacts::SUPERVISOR.bytes);
        let supervisor = ArtifactId::new(runtime_id::WASM, "wasmvisor.supervisor", "1.0.0").expect("a valid version");
        let mode = match self.supervisor_mode {
            Mode::Simple => SupervisorMode::Simple,
            Mode::Decentralized => SupervisorMode::Decentralized,
        };
        let mut genesis = GenesisConfig {
            artifacts: vec![(supervisor.clone(), spec.encode_to_vec())],
            instances: vec![(
                InstanceSpec {
                    id: wasmvisor_runtime::SUPERVISOR_INSTANCE_ID,
                    name: "supervisor".into(),
                    artifact: supervisor,
                },
                SupervisorConfig { mode: mode as i32 }.encode_to_vec(),
            )],
            consensus: self.consensus(),
        };
        system::add_to_genesis(&self.system_services, &mut genesis);
        genesis
    }
}

/// Writes `file` to `path`.
pub fn write(path: &Path, file: &GenesisFile) -> Result<(), String> {
    let text = toml::to_string_pretty(file).map_err(|error| error.to_string())?;
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}
