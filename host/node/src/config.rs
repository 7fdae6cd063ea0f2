//! The node's TOML configuration (see `docs/node.example.toml`).

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
    10_000
}

impl NodeConfig {
    /// The development configuration of `run-dev`.
    pub fn development(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            public_api: default_public_api(),
            private_api: default_private_api(),
            private_api_token: None,
            block_interval_ms: 200,
            transactions_per_block_max: default_transactions_per_block_max(),
            mempool_size_max: default_mempool_size_max(),
            supervisor_mode: Mode::Simple,
            runtimes: RuntimesConfig::default(),
            system_services: SystemServicesConfig::default(),
            genesis_validators: Vec::new(),
        }
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Self = toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
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
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules the types cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
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
        if self.block_interval_ms == 0 || self.block_interval_ms > 60_000 {
            return Err(ConfigError::Invalid("block_interval_ms must be 1..=60000".into()));
        }
        if self.mempool_size_max == 0 {
            return Err(ConfigError::Invalid("mempool_size_max must be positive".into()));
        }
        for (index, validator) in self.genesis_validators.iter().enumerate() {
            validator
                .keys()
                .map_err(|error| ConfigError::Invalid(format!("genesis_validators[{index}]: {error}")))?;
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
