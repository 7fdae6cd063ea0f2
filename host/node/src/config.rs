//! The node's TOML configuration (see `docs/node.example.toml`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use wasmvisor_limits::{
    SERVICE_SETTING_KEY_BYTES_MAX, SERVICE_SETTING_VALUE_BYTES_MAX, SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX,
};
use wasmvisor_runtime::ServiceSettings;
use wasmvisor_storage::Hash;

use crate::requests::ValidatorSpec;
use crate::system::SystemServicesConfig;

/// Runtimes a node can enable, by name.
pub const KNOWN_RUNTIMES: &[&str] = &["native", "wasm"];
/// Shortest accepted bearer token for a private API bound off loopback.
pub const TOKEN_LEN_MIN: usize = 16;

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path} is not a valid node configuration: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the line, from the TOML parser).
        message: String,
    },
    /// The values break a rule.
    #[error("invalid node configuration: {0}")]
    Invalid(String),
}

/// The supervisor's decision mode at genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One approval (a single admin) is enough.
    #[default]
    Simple,
    /// More than 2/3 of the validators must approve.
    Decentralized,
}

/// Settings of the wasm runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WasmSettings {
    /// Directory of the compiled-component cache (none: compile on every
    /// start).
    pub compiled_cache_dir: Option<PathBuf>,
}

/// Which runtimes run, and their settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimesConfig {
    /// Enabled runtimes: "native", "wasm" (the wasm runtime is required:
    /// the supervisor is a wasm component).
    pub enabled: Vec<String>,
    /// The wasm runtime's settings.
    #[serde(default)]
    pub wasm: WasmSettings,
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self {
            enabled: KNOWN_RUNTIMES.iter().map(|name| (*name).to_owned()).collect(),
            wasm: WasmSettings::default(),
        }
    }
}

/// A node's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the database and the node's keys live.
    pub data_dir: PathBuf,
    /// Address of the public API.
    #[serde(default = "default_public_api")]
    pub public_api: SocketAddr,
    /// Address of the private (operator) API; loopback unless a token is
    /// set.
    #[serde(default = "default_private_api")]
    pub private_api: SocketAddr,
    /// Bearer token the private API requires (mandatory off loopback).
    #[serde(default)]
    pub private_api_token: Option<String>,
    /// A file (mode 0600) whose first line is the passphrase of the
    /// validator's encrypted key file (written by `wasmvisor
    /// generate-config --passphrase-file`; relative paths are relative to
    /// this file). Without it the passphrase is read from
    /// `WASMVISOR_KEY_PASSPHRASE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_passphrase_file: Option<PathBuf>,
    /// Milliseconds between blocks (genesis consensus configuration; later
    /// changed by a supervisor proposal).
    #[serde(default = "default_block_interval_ms")]
    pub block_interval_ms: u64,
    /// Most transactions in one block (genesis consensus configuration).
    #[serde(default = "default_transactions_per_block_max")]
    pub transactions_per_block_max: u32,
    /// Most transactions waiting in the mempool.
    #[serde(default = "default_mempool_size_max")]
    pub mempool_size_max: usize,
    /// Most bytes of transactions waiting in the mempool (each counted with
    /// its signed form and its decoded arguments); at least one transaction
    /// of the largest size.
    #[serde(default = "default_mempool_bytes_max")]
    pub mempool_bytes_max: usize,
    /// The supervisor's mode at genesis.
    #[serde(default)]
    pub supervisor_mode: Mode,
    /// Runtimes.
    #[serde(default)]
    pub runtimes: RuntimesConfig,
    /// System services, deployed at genesis and kept at their versions.
    #[serde(default)]
    pub system_services: SystemServicesConfig,
    /// The genesis validator set (written by `wasmvisor finalize`); empty:
    /// this node alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub genesis_validators: Vec<ValidatorSpec>,
    /// How this validator reaches the others (written by `wasmvisor
    /// finalize`): with it, blocks are agreed by the BFT consensus engine;
    /// without it, this node produces blocks alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusSettings>,
    /// Whether this node is an auditor (written by `wasmvisor finalize` for
    /// `generate-config --auditor`): it follows the network from outside
    /// the validator set. A node outside the set without it refuses to
    /// start — a validator with the wrong keys must not quietly stop voting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auditor: bool,
    /// An exported genesis file (written by `wasmvisor finalize
    /// --genesis`; relative paths are relative to this file): the node
    /// builds its genesis block from it instead of from
    /// `genesis_validators`, `[system_services]` and the genesis settings
    /// above, and refuses to start on a chain whose id is not the one the
    /// file names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<PathBuf>,
    /// The chain id (hex) the network's operators gave for `genesis`
    /// (written by `wasmvisor finalize --genesis`): the file must name it,
    /// and the chain the node holds must have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<String>,
    /// This node's settings for its services, by instance name
    /// (`[service_settings.<instance>]`, string values): node-local, read by
    /// a service only in after-commit, so they never change a block's
    /// outcome.
    #[serde(default, skip_serializing_if = "ServiceSettings::is_empty")]
    pub service_settings: ServiceSettings,
}

/// A validator's place in a network of validators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusSettings {
    /// Where this validator's consensus engine listens for the others
    /// (TCP).
    pub listen_address: SocketAddr,
    /// The other validators.
    pub peers: Vec<PeerSettings>,
    /// Milliseconds a round waits for its proposal (grows by half of it
    /// per round).
    #[serde(default = "default_propose_timeout_ms")]
    pub propose_timeout_ms: u64,
    /// Milliseconds a round waits for prevotes or precommits after seeing
    /// more than 2/3 of them for different blocks (grows by half of it per
    /// round).
    #[serde(default = "default_vote_timeout_ms")]
    pub vote_timeout_ms: u64,
}

/// Another validator, as this one reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// Its consensus engine's address.
    pub peer_address: SocketAddr,
    /// Its public API (`http://host:port`; plain HTTP), where
    /// transactions are relayed.
    pub public_api: String,
}

/// A chain id from its hex form.
pub fn parse_chain_id(text: &str) -> Result<Hash, String> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| <Hash>::try_from(bytes.as_slice()).ok())
        .ok_or_else(|| format!("the chain id {text:?} is not 32 bytes of hex"))
}

/// Prefix of the environment variables that override a configuration
/// file's keys ([`NodeConfig::load`]).
pub const CONFIG_ENV_PREFIX: &str = "WASMVISOR_CONFIG_";

/// Longest block interval a configuration may set, in milliseconds.
pub const BLOCK_INTERVAL_MS_MAX: u64 = 60_000;

/// Longest consensus timeout a configuration may set, in milliseconds.
pub const CONSENSUS_TIMEOUT_MAX_MS: u64 = 60_000;

pub(crate) fn default_propose_timeout_ms() -> u64 {
    1000
}

pub(crate) fn default_vote_timeout_ms() -> u64 {
    500
}

fn default_public_api() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_private_api() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8081))
}

fn default_block_interval_ms() -> u64 {
    1000
}

fn default_transactions_per_block_max() -> u32 {
    1000
}

fn default_mempool_size_max() -> usize {
    wasmvisor_limits::MEMPOOL_ITEMS_MAX_DEFAULT
}

fn default_mempool_bytes_max() -> usize {
    wasmvisor_limits::MEMPOOL_BYTES_MAX_DEFAULT
}

impl NodeConfig {
    /// The development configuration of `run-dev`.
    pub fn development(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            public_api: default_public_api(),
            private_api: default_private_api(),
            private_api_token: None,
            key_passphrase_file: None,
            block_interval_ms: 200,
            transactions_per_block_max: default_transactions_per_block_max(),
            mempool_size_max: default_mempool_size_max(),
            mempool_bytes_max: default_mempool_bytes_max(),
            supervisor_mode: Mode::Simple,
            runtimes: RuntimesConfig::default(),
            system_services: SystemServicesConfig::default(),
            genesis_validators: Vec::new(),
            consensus: None,
            auditor: false,
            genesis: None,
            chain_id: None,
            service_settings: ServiceSettings::new(),
        }
    }

    /// Reads and checks a configuration file, with environment variables
    /// named [`CONFIG_ENV_PREFIX`] + a key overriding that key (nested
    /// keys joined by `__`: `WASMVISOR_CONFIG_CONSENSUS__PROPOSE_TIMEOUT_MS`;
    /// values in TOML's syntax). Layered by `figment`; unknown keys are
    /// refused from either source, and the rules are checked on the result.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let parse_error = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        // The syntax first, by the TOML parser, whose errors name the line.
        toml::from_str::<toml::Table>(&text).map_err(|error| parse_error(error.to_string()))?;
        let overridden: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.to_str()?.strip_prefix(CONFIG_ENV_PREFIX).map(str::to_lowercase))
            .collect();
        if !overridden.is_empty() {
            // Names only: a value may be a secret.
            tracing::info!(keys = ?overridden, "configuration keys set from the environment");
        }
        let mut config: Self = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(&text))
            .merge(figment::providers::Env::prefixed(CONFIG_ENV_PREFIX).split("__"))
            .extract()
            .map_err(|error| parse_error(error.to_string()))?;
        // Relative paths in the file are relative to the file.
        if let Some(base) = path.parent() {
            if config.data_dir.is_relative() {
                config.data_dir = base.join(&config.data_dir);
            }
            if let Some(cache) = &mut config.runtimes.wasm.compiled_cache_dir
                && cache.is_relative()
            {
                *cache = base.join(&*cache);
            }
            config.system_services.resolve_paths(base);
            if let Some(genesis) = &mut config.genesis
                && genesis.is_relative()
            {
                *genesis = base.join(&*genesis);
            }
            if let Some(passphrase) = &mut config.key_passphrase_file
                && passphrase.is_relative()
            {
                *passphrase = base.join(&*passphrase);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (instance, settings) in &self.service_settings {
            let invalid = |what: String| ConfigError::Invalid(format!("service_settings.{instance}: {what}"));
            if settings.len() > SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX {
                return Err(invalid(format!(
                    "{} settings exceed the maximum of {SERVICE_SETTINGS_PER_SERVICE_ITEMS_MAX}",
                    settings.len()
                )));
            }
            for (key, value) in settings {
                if key.is_empty() || key.len() > SERVICE_SETTING_KEY_BYTES_MAX {
                    return Err(invalid(format!(
                        "a setting's name is 1 to {SERVICE_SETTING_KEY_BYTES_MAX} bytes"
                    )));
                }
                if value.len() > SERVICE_SETTING_VALUE_BYTES_MAX {
                    return Err(invalid(format!(
                        "{key} is {} bytes; a value is at most {SERVICE_SETTING_VALUE_BYTES_MAX}",
                        value.len()
                    )));
                }
            }
        }
        if self
            .private_api_token
            .as_ref()
            .is_some_and(|token| token.len() < TOKEN_LEN_MIN)
        {
            return Err(ConfigError::Invalid(format!(
                "private_api_token has at least {TOKEN_LEN_MIN} characters"
            )));
        }
        if !self.private_api.ip().is_loopback()
            && self
                .private_api_token
                .as_ref()
                .is_none_or(|token| token.len() < TOKEN_LEN_MIN)
        {
            return Err(ConfigError::Invalid(format!(
                "the private API binds {} (not loopback): set private_api_token (at least {TOKEN_LEN_MIN} characters)",
                self.private_api
            )));
        }
        for name in &self.runtimes.enabled {
            if !KNOWN_RUNTIMES.contains(&name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "unknown runtime {name:?}; known: {KNOWN_RUNTIMES:?}"
                )));
            }
        }
        if !self.runtimes.enabled.iter().any(|name| name == "wasm") {
            return Err(ConfigError::Invalid(
                "the wasm runtime must be enabled: the supervisor is a wasm component".into(),
            ));
        }
        if self.block_interval_ms == 0 || self.block_interval_ms > BLOCK_INTERVAL_MS_MAX {
            return Err(ConfigError::Invalid(format!(
                "block_interval_ms must be 1..={BLOCK_INTERVAL_MS_MAX}"
            )));
        }
        if self.mempool_size_max == 0 {
            return Err(ConfigError::Invalid("mempool_size_max must be positive".into()));
        }
        let largest = crate::mempool::pooled_bytes(wasmvisor_limits::TRANSACTION_BYTES_MAX);
        if self.mempool_bytes_max < largest {
            return Err(ConfigError::Invalid(format!(
                "mempool_bytes_max must hold a transaction of the largest size: at least {largest}"
            )));
        }
        for (index, validator) in self.genesis_validators.iter().enumerate() {
            validator
                .keys()
                .map_err(|error| ConfigError::Invalid(format!("genesis_validators[{index}]: {error}")))?;
        }
        if self.genesis.is_some() != self.chain_id.is_some() {
            return Err(ConfigError::Invalid(
                "genesis and chain_id go together: the file, and the id its network's operators gave".into(),
            ));
        }
        if let Some(chain_id) = &self.chain_id {
            parse_chain_id(chain_id).map_err(ConfigError::Invalid)?;
        }
        if self.genesis.is_some() && !self.genesis_validators.is_empty() {
            return Err(ConfigError::Invalid(
                "genesis and genesis_validators both name the genesis validators: keep one".into(),
            ));
        }
        if let Some(consensus) = &self.consensus {
            consensus.validate()?;
        }
        let services = self.system_services.enabled().map_err(ConfigError::Invalid)?;
        if !self.runtimes.enabled.iter().any(|name| name == "native")
            && let Some((name, _)) = services
                .iter()
                .find(|(_, service)| service.artifact.starts_with("native:"))
        {
            return Err(ConfigError::Invalid(format!(
                "system service {name:?} needs the native runtime, which is not enabled"
            )));
        }
        Ok(())
    }
}

impl ConsensusSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(format!("consensus: {message}")));
        if self.peers.len() >= wasmvisor_limits::VALIDATORS_ITEMS_MAX {
            return invalid(format!("at most {} peers", wasmvisor_limits::VALIDATORS_ITEMS_MAX - 1));
        }
        for (name, value) in [
            ("propose_timeout_ms", self.propose_timeout_ms),
            ("vote_timeout_ms", self.vote_timeout_ms),
        ] {
            if value == 0 || value > CONSENSUS_TIMEOUT_MAX_MS {
                return invalid(format!("{name} must be 1..={CONSENSUS_TIMEOUT_MAX_MS}"));
            }
        }
        let mut seen = std::collections::HashSet::from([self.listen_address]);
        for (index, peer) in self.peers.iter().enumerate() {
            if !seen.insert(peer.peer_address) {
                return invalid(format!(
                    "peers[{index}]: the address {} is named twice",
                    peer.peer_address
                ));
            }
            if !peer.public_api.starts_with("http://") {
                return invalid(format!(
                    "peers[{index}]: public_api {:?} is not an http:// URL",
                    peer.public_api
                ));
            }
        }
        Ok(())
    }
}
