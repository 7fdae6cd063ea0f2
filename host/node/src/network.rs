//! Setting up a network of validators: `generate-template` (the settings
//! every validator shares), `generate-config` (one validator's keys, its
//! public part and its private configuration), `finalize` (the private
//! configuration plus every validator's public part: a runnable node
//! configuration with the genesis validator set).
//!
//! Every validator finalizes with the same public parts and gets the same
//! genesis block: the validator set is sorted by consensus key, whatever
//! order the files are given in.
//!
//! An auditor (`generate-config --auditor`) is made the same way from the
//! same template and the validators' public parts, its own not among them:
//! it follows the chain through the consensus engine, re-executes and
//! checks every block, and never votes or proposes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{ConsensusSettings, Mode, NodeConfig, PeerSettings};
use crate::genesis::{Genesis, GenesisFile};
use crate::node::{KEYS_FILE, NodeKeys};
use crate::requests::ValidatorSpec;

/// Most validators a network template names (the consensus limit).
pub use wasmvisor_limits::VALIDATORS_ITEMS_MAX;
/// File names `generate-config` writes in its output directory.
pub const PUBLIC_FILE: &str = "public.toml";
/// See [`PUBLIC_FILE`].
pub const PRIVATE_FILE: &str = "private.toml";
/// The copy of an imported genesis file `finalize --genesis` keeps in the
/// node's data directory.
pub const GENESIS_FILE: &str = "genesis.toml";

/// The settings every validator of a network shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkTemplate {
    /// How many validators the network starts with.
    pub validators_count: u32,
    /// The supervisor's mode at genesis.
    pub supervisor_mode: Mode,
    /// Milliseconds between blocks.
    pub block_interval_ms: u64,
    /// Most transactions in one block.
    pub transactions_per_block_max: u32,
}

/// A validator's public part, shared with the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicConfig {
    /// Its keys.
    #[serde(flatten)]
    pub keys: ValidatorSpec,
    /// Where its peers' consensus engines reach it (required in a network
    /// of several validators).
    #[serde(default)]
    pub peer_address: Option<SocketAddr>,
    /// Its public API, where the others relay transactions.
    #[serde(default)]
    pub public_api: Option<SocketAddr>,
}

/// A validator's (or an auditor's) private configuration before
/// `finalize`: the node's configuration and how many validators the
/// template expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateConfig {
    /// Validators the template names.
    pub validators_count: u32,
    /// For an auditor: where its consensus engine listens (it holds no
    /// place in the validator set, so no public part names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auditor: Option<SocketAddr>,
    /// The node's configuration (without the validator set).
    pub node: NodeConfig,
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    toml::from_str(&text).map_err(|error| format!("{} is not valid: {error}", path.display()))
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let text = toml::to_string_pretty(value).map_err(|error| error.to_string())?;
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// `generate-template`: writes the shared settings.
pub fn generate_template(path: &Path, template: &NetworkTemplate) -> Result<(), String> {
    if template.validators_count == 0 || template.validators_count as usize > VALIDATORS_ITEMS_MAX {
        return Err(format!("a network has 1 to {VALIDATORS_ITEMS_MAX} validators"));
    }
    if template.block_interval_ms == 0 || template.block_interval_ms > crate::config::BLOCK_INTERVAL_MS_MAX {
        return Err(format!(
            "block_interval_ms must be 1..={}",
            crate::config::BLOCK_INTERVAL_MS_MAX
        ));
    }
    write_toml(path, template)
}

/// A network template, or the template of an exported genesis file (its
/// settings and the size of its validator set).
fn read_template(path: &Path) -> Result<NetworkTemplate, String> {
    if let Ok(template) = read_toml::<NetworkTemplate>(path) {
        return Ok(template);
    }
    let genesis: GenesisFile = read_toml(path)
        .map_err(|error| format!("{error} (neither a network template nor an exported genesis file)"))?;
    Ok(NetworkTemplate {
        validators_count: u32::try_from(genesis.validators.len()).unwrap_or(u32::MAX),
        supervisor_mode: genesis.supervisor_mode,
        block_interval_ms: genesis.block_interval_ms,
        transactions_per_block_max: genesis.transactions_per_block_max,
    })
}

/// `generate-config`: creates the validator's keys in `<dir>/data`, sealed
/// with the passphrase `passphrase` gives (asked once the rest was
/// checked), and writes `<dir>/public.toml` and
/// `<dir>/private.toml` (which names `passphrase_file`, the file the
/// passphrase came from, if any, as an absolute path); with `auditor`, an
/// auditor's keys and private configuration (its `public.toml` only says
/// who it is: no validator set names it).
#[allow(clippy::too_many_arguments)]
pub fn generate_config(
    template: &Path,
    dir: &Path,
    public_api: SocketAddr,
    private_api: SocketAddr,
    peer_address: Option<SocketAddr>,
    auditor: bool,
    passphrase: impl FnOnce() -> Result<crate::keys::Passphrase, String>,
    passphrase_file: Option<&Path>,
) -> Result<(PathBuf, PathBuf), String> {
    let template = read_template(template)?;
    if auditor && template.validators_count < 2 {
        return Err(
            "an auditor follows a network of several validators (a single validator runs without the consensus \
             engine, which an auditor follows)"
                .into(),
        );
    }
    if (auditor || template.validators_count > 1) && peer_address.is_none() {
        return Err(format!(
            "a network of {} validators needs this {}'s --peer-address",
            template.validators_count,
            if auditor { "auditor" } else { "validator" }
        ));
    }
    let data_dir = dir.join("data");
    if data_dir.join(KEYS_FILE).exists() {
        return Err(format!(
            "{} exists: this directory already holds a validator",
            data_dir.join(KEYS_FILE).display()
        ));
    }
    let passphrase = passphrase()?;
    std::fs::create_dir_all(&data_dir).map_err(|error| format!("cannot create {}: {error}", data_dir.display()))?;
    crate::datadir::check_format(&data_dir).map_err(|error| error.to_string())?;
    let keys = NodeKeys::open_or_create(&data_dir, Some(&passphrase)).map_err(|error| error.to_string())?;
    let public = PublicConfig {
        keys: ValidatorSpec::from(&keys.validator_keys()),
        peer_address,
        public_api: Some(public_api),
    };
    let mut node = NodeConfig::development("data".into());
    node.public_api = public_api;
    node.private_api = private_api;
    node.block_interval_ms = template.block_interval_ms;
    node.transactions_per_block_max = template.transactions_per_block_max;
    node.supervisor_mode = template.supervisor_mode;
    node.key_passphrase_file = passphrase_file
        .map(std::path::absolute)
        .transpose()
        .map_err(|error| format!("cannot resolve the passphrase file: {error}"))?;
    let private = PrivateConfig {
        validators_count: template.validators_count,
        auditor: if auditor { peer_address } else { None },
        node,
    };
    let (public_path, private_path) = (dir.join(PUBLIC_FILE), dir.join(PRIVATE_FILE));
    write_toml(&public_path, &public)?;
    write_toml(&private_path, &private)?;
    Ok((public_path, private_path))
}

/// `finalize`: the private configuration plus every validator's public
/// part (this validator's among them), written as a node configuration.
pub fn finalize(
    private: &Path,
    public: &[PathBuf],
    output: &Path,
    genesis: Option<(&Path, &str)>,
) -> Result<NodeConfig, String> {
    let PrivateConfig {
        validators_count,
        auditor,
        mut node,
    } = read_toml(private)?;
    // With an imported genesis the public parts are the validators of
    // today, however many; the genesis set is the file's.
    if genesis.is_none() && public.len() != validators_count as usize {
        return Err(format!(
            "the template names {validators_count} validators; {} public configurations were given",
            public.len()
        ));
    }
    // Keys in their canonical (lowercase hex) form, each used once.
    let mut members: Vec<PublicConfig> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for path in public {
        let config: PublicConfig = read_toml(path)?;
        let keys = config
            .keys
            .keys()
            .map_err(|error| format!("{}: {error}", path.display()))?;
        if !seen.insert(keys.consensus_key.clone()) || !seen.insert(keys.service_key.clone()) {
            return Err(format!(
                "{}: a key another public configuration carries",
                path.display()
            ));
        }
        members.push(PublicConfig {
            keys: ValidatorSpec::from(&keys),
            ..config
        });
    }
    let mut validators: Vec<ValidatorSpec> = members.iter().map(|member| member.keys.clone()).collect();
    validators.sort_by(|a, b| a.consensus_key.cmp(&b.consensus_key));
    // The data directory is relative to the private configuration; the
    // output keeps pointing at it.
    let base = private.parent().unwrap_or(Path::new("."));
    if node.data_dir.is_relative() {
        node.data_dir = std::path::absolute(base.join(&node.data_dir))
            .map_err(|error| format!("cannot resolve the data directory: {error}"))?;
    }
    if !node.data_dir.join(KEYS_FILE).exists() {
        return Err(format!(
            "{} is missing: run generate-config first",
            node.data_dir.join(KEYS_FILE).display()
        ));
    }
    let mine = ValidatorSpec::from(&NodeKeys::public_keys(&node.data_dir).map_err(|error| error.to_string())?);
    let imported = match genesis {
        Some((path, chain_id)) => Some(import_genesis(&node, path, chain_id)?),
        None => None,
    };
    match auditor {
        None if !validators.contains(&mine) => {
            return Err(format!(
                "this validator's own {PUBLIC_FILE} is not among the public configurations"
            ));
        }
        None if validators.len() > 1 => node.consensus = Some(consensus_settings(&mine, None, &members)?),
        None => {}
        Some(_) if validators.contains(&mine) => {
            return Err(format!(
                "this auditor's {PUBLIC_FILE} is among the validators' public configurations: an auditor holds \
                 no place in the validator set"
            ));
        }
        Some(listen) => {
            node.consensus = Some(consensus_settings(&mine, Some(listen), &members)?);
            node.auditor = true;
        }
    }
    match imported {
        Some((copy, file)) => {
            node.supervisor_mode = file.supervisor_mode;
            node.block_interval_ms = file.block_interval_ms;
            node.transactions_per_block_max = file.transactions_per_block_max;
            // A validator of today that the genesis did not name follows
            // through the engine from genesis like an auditor until its
            // height, and then votes.
            node.auditor = !file.validators.contains(&mine);
            node.genesis = Some(copy);
            node.chain_id = Some(file.chain_id);
        }
        None => node.genesis_validators = validators,
    }
    node.validate().map_err(|error| error.to_string())?;
    write_toml(output, &node)?;
    Ok(node)
}

/// Checks an exported genesis file against the chain id the operator was
/// given: the file must name it, and its contents must make it (the genesis
/// block is built in memory with `node`'s runtimes). Copies the file into
/// the node's data directory, which the node configuration then names.
fn import_genesis(node: &NodeConfig, path: &Path, chain_id: &str) -> Result<(PathBuf, GenesisFile), String> {
    let expected = crate::config::parse_chain_id(chain_id)?;
    let (genesis, named) = Genesis::read(path)?;
    if named != expected {
        return Err(format!(
            "the genesis file {} names the chain {}, not {chain_id}",
            path.display(),
            hex::encode(named)
        ));
    }
    let made = crate::Node::genesis_chain_id(node, &genesis)?;
    if made != expected {
        return Err(format!(
            "the genesis file {} makes the chain {}, not the {chain_id} it names: its contents were changed",
            path.display(),
            hex::encode(made)
        ));
    }
    let file = genesis.to_file(&made);
    let copy = node.data_dir.join(GENESIS_FILE);
    crate::genesis::write(&copy, &file)?;
    Ok((copy, file))
}

/// This node's place in the network: the peer address to listen on (its
/// own public part's, or an auditor's `listen`), and every other
/// validator's peer address and public API.
fn consensus_settings(
    mine: &ValidatorSpec,
    listen: Option<SocketAddr>,
    members: &[PublicConfig],
) -> Result<ConsensusSettings, String> {
    let mut listen_address = listen;
    let mut peers = Vec::new();
    for member in members {
        let key = &member.keys.consensus_key;
        let peer_address = member.peer_address.ok_or_else(|| {
            format!("validator {key} has no peer_address: a network of several validators needs every one's")
        })?;
        if member.keys == *mine {
            listen_address = Some(peer_address);
            continue;
        }
        let public_api = member
            .public_api
            .ok_or_else(|| format!("validator {key} has no public_api"))?;
        peers.push(PeerSettings {
            peer_address,
            public_api: format!("http://{public_api}"),
        });
    }
    Ok(ConsensusSettings {
        listen_address: listen_address.ok_or("this validator is not among the public configurations")?,
        peers,
        propose_timeout_ms: crate::config::default_propose_timeout_ms(),
        vote_timeout_ms: crate::config::default_vote_timeout_ms(),
    })
}
