//! `wasmvisor`: run a node.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use wasmvisor_node::NodeConfig;
use wasmvisor_node::author;
use wasmvisor_node::client::{self, ClientKey};
use wasmvisor_node::config::Mode;
use wasmvisor_node::keys::Passphrase;
use wasmvisor_node::network;
use wasmvisor_node::operator::{self, Client};
use wasmvisor_node::requests::{ChangeSpec, MigrateSpec, ProposalSpec, VoteSpec};

/// The wasmvisor node.
#[derive(Parser)]
#[command(name = "wasmvisor", version, about)]
struct Cli {
    /// How log lines are written to standard error: `text` (colored only
    /// on a terminal) or `json` (one object per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How a command's result is printed: `json` (for programs) or `text`
    /// (indented `key: value` lines, for people). (Not `--output`, which
    /// names the file several commands write.)
    #[arg(long = "format", global = true, value_enum, default_value_t = Output::Json)]
    result_format: Output,
    #[command(subcommand)]
    command: Command,
}

/// The form of a command's result ([`Cli::result_format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Json,
    Text,
}

/// `value` as indented `key: value` lines: objects by key, arrays as `-`
/// items, strings without quotes, null as `-`.
fn text_of(value: &Value, indent: usize, text: &mut String) {
    let pad = " ".repeat(indent);
    // A string with a control character (a newline, a terminal escape) is
    // printed quoted and escaped: it cannot forge lines or drive the
    // terminal.
    let scalar = |value: &Value| match value {
        Value::String(text) if text.chars().any(char::is_control) || text.is_empty() || text == "-" => {
            format!("{text:?}")
        }
        Value::String(text) => text.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let nested = |value: &Value| match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    };
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if nested(item) {
                    text.push_str(&format!("{pad}{key}:\n"));
                    text_of(item, indent + 2, text);
                } else {
                    text.push_str(&format!("{pad}{key}: {}\n", scalar(item)));
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if nested(item) {
                    text.push_str(&format!("{pad}-\n"));
                    text_of(item, indent + 2, text);
                } else {
                    text.push_str(&format!("{pad}- {}\n", scalar(item)));
                }
            }
        }
        other => text.push_str(&format!("{pad}{}\n", scalar(other))),
    }
}

/// The form of the log lines ([`Cli::log_format`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a single development node (supervisor in simple mode, APIs on
    /// 127.0.0.1:8080 and 127.0.0.1:8081).
    RunDev {
        /// Data directory (database and keys).
        #[arg(long, default_value = ".wasmvisor-dev")]
        data_dir: PathBuf,
        /// Delete the data directory first.
        #[arg(long)]
        clean: bool,
        /// Public API address.
        #[arg(long)]
        public_api: Option<SocketAddr>,
        /// Private API address.
        #[arg(long)]
        private_api: Option<SocketAddr>,
    },
    /// Writes the settings every validator of a new network shares.
    GenerateTemplate {
        /// The template file to write.
        output: PathBuf,
        /// How many validators the network starts with.
        #[arg(long)]
        validators_count: u32,
        /// The supervisor's mode at genesis.
        #[arg(long, value_enum, default_value = "decentralized")]
        supervisor_mode: Mode,
        /// Milliseconds between blocks.
        #[arg(long, default_value_t = 1000)]
        block_interval_ms: u64,
        /// Most transactions in one block.
        #[arg(long, default_value_t = 1000)]
        transactions_per_block_max: u32,
    },
    /// Creates one validator's keys and its public and private
    /// configurations in a directory.
    GenerateConfig {
        /// The network template.
        template: PathBuf,
        /// The validator's directory (keys in `data/`, `public.toml`,
        /// `private.toml`).
        output_dir: PathBuf,
        /// Its public API address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        public_api: SocketAddr,
        /// Its private API address.
        #[arg(long, default_value = "127.0.0.1:8081")]
        private_api: SocketAddr,
        /// Where the other validators' consensus engines reach it
        /// (`ip:port`; required with more than one validator, and for an
        /// auditor).
        #[arg(long)]
        peer_address: Option<SocketAddr>,
        /// Make an auditor: a node that follows the validators' chain,
        /// re-executes and checks every block, serves the APIs, and never
        /// votes or proposes.
        #[arg(long)]
        auditor: bool,
        /// A file (mode 0600) whose first line is the passphrase that seals
        /// the keys; the node configuration names it. Without it, the
        /// passphrase comes from WASMVISOR_KEY_PASSPHRASE, or is asked for
        /// on a terminal.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Combines a validator's private configuration with every
    /// validator's public one into its runnable node configuration.
    Finalize {
        /// The validator's `private.toml`.
        private: PathBuf,
        /// The node configuration to write.
        output: PathBuf,
        /// Every validator's `public.toml` (this one's included; an
        /// auditor's is not). With `--genesis`, today's validators.
        #[arg(long, num_args = 1.., required = true)]
        public_configs: Vec<PathBuf>,
        /// Start from an exported genesis file (`wasmvisor genesis
        /// export`) instead of making the genesis from the public
        /// configurations: how a node joins a network whose validators have
        /// changed since genesis. The file is copied into the data
        /// directory.
        #[arg(long, requires = "chain_id")]
        genesis: Option<PathBuf>,
        /// The chain id (hex) the network's operators give: the genesis
        /// file must name it and make it.
        #[arg(long, requires = "genesis")]
        chain_id: Option<String>,
    },
    /// A network's genesis.
    Genesis {
        #[command(subcommand)]
        command: GenesisCommand,
    },
    /// Runs a node from a configuration file.
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Re-executes every block a stopped node stored on a fresh in-memory
    /// chain from the same genesis, and checks each block's state,
    /// transaction and error roots and hash.
    Replay {
        /// The node's TOML configuration.
        #[arg(long, required_unless_present = "data_dir", conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// A `run-dev` node's data directory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Deploys a wasm component and waits until it is active.
    ///
    /// In decentralized mode every validator must post the same request:
    /// one operator writes it with `--request-out FILE`, and each validator
    /// posts that file with `--request FILE`. Until the request has enough
    /// approvals the command answers at once with the count (`2/3`); the
    /// post that completes them waits until the artifact is active.
    Deploy {
        /// The component (`.wasm`).
        #[arg(required_unless_present = "request", conflicts_with = "request")]
        file: Option<PathBuf>,
        /// Artifact name.
        #[arg(long, required_unless_present = "request", conflicts_with = "request")]
        name: Option<String>,
        /// Artifact version (semver).
        #[arg(long, required_unless_present = "request", conflicts_with = "request")]
        version: Option<String>,
        /// Writes the request to this file instead of posting it.
        #[arg(long, conflicts_with = "request")]
        request_out: Option<PathBuf>,
        /// Posts the request in this file (written by `--request-out`).
        #[arg(long)]
        request: Option<PathBuf>,
        #[command(flatten)]
        apis: Apis,
    },
    /// Shows the pending proposal: its approvals against those needed
    /// (`2/3`), who approved it, and what it changes.
    Proposals {
        #[command(flatten)]
        apis: Apis,
    },
    /// Proposes the changes in a TOML file (`actual_from`, and
    /// `[[changes]]` tables with an `action`: start, stop, freeze, resume,
    /// configure, unload, consensus).
    Propose {
        /// The TOML file of changes.
        file: PathBuf,
        #[command(flatten)]
        apis: Apis,
    },
    /// Votes for the pending proposal.
    Vote {
        /// The proposal's hash (hex); default: the pending proposal.
        #[arg(long)]
        hash: Option<String>,
        #[command(flatten)]
        apis: Apis,
    },
    /// Proposes to start a new service instance and waits until it runs.
    StartService {
        /// The artifact, `name:version` (or `wasm:name:version`).
        #[arg(long)]
        artifact: String,
        /// The new instance's name.
        #[arg(long)]
        instance: String,
        /// A file holding the constructor parameters (binary).
        #[arg(long, conflicts_with = "params_json")]
        params: Option<PathBuf>,
        /// The constructor parameters in JSON, encoded through the
        /// artifact's interface.
        #[arg(long)]
        params_json: Option<String>,
        #[command(flatten)]
        apis: Apis,
    },
    /// Proposes to stop a service.
    Stop {
        /// The instance's name.
        #[arg(long)]
        instance: String,
        #[command(flatten)]
        apis: Apis,
    },
    /// Proposes to freeze a service (it keeps answering queries).
    Freeze {
        /// The instance's name.
        #[arg(long)]
        instance: String,
        #[command(flatten)]
        apis: Apis,
    },
    /// Proposes to resume a stopped or frozen service.
    Resume {
        /// The instance's name.
        #[arg(long)]
        instance: String,
        /// A file holding the resume parameters (binary).
        #[arg(long)]
        params: Option<PathBuf>,
        #[command(flatten)]
        apis: Apis,
    },
    /// Requests a migration of a service to a newer artifact.
    Migrate {
        /// The new artifact, `name:version`.
        #[arg(long)]
        artifact: String,
        /// The instance's name.
        #[arg(long)]
        instance: String,
        /// Height by which every validator must have reported.
        #[arg(long)]
        deadline_height: Option<u64>,
        #[command(flatten)]
        apis: Apis,
    },
    /// Lists artifacts and service instances.
    Services {
        #[command(flatten)]
        apis: Apis,
    },
    /// Prints the node's status (height, validators, runtimes).
    Status {
        #[command(flatten)]
        apis: Apis,
    },
    /// Writes a new service project into a new directory `<name>`: a
    /// typed example service (one transaction, one query, one error), its
    /// protobuf schema and a test on the testkit.
    New {
        /// The service's name (also the directory's).
        name: String,
        /// The wasmvisor source the project depends on (its SDK and
        /// testkit; default: WASMVISOR_SOURCE, else the source this binary
        /// was built from).
        #[arg(long)]
        wasmvisor_path: Option<PathBuf>,
    },
    /// Compiles the service project in a directory to a component
    /// (`build/<name>.wasm`), checks it as a deploy will, and prints its
    /// path, hash and interface.
    Build {
        /// The project's directory.
        #[arg(long, default_value = ".")]
        project: PathBuf,
    },
    /// Client keys (an Ed25519 signing key in a file only its user may
    /// read), and a validator's keys (`keys validator ...`).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Shows the interface a service declares: its methods, queries,
    /// errors and messages.
    Interface {
        /// The instance's name.
        instance: String,
        #[command(flatten)]
        apis: Apis,
    },
    /// Calls a service's method: encodes the JSON arguments through the
    /// service's interface, signs the transaction with the key, submits
    /// it, waits for its block and prints its outcome (a failure names the
    /// error, and the command exits non-zero).
    Call {
        /// The instance's name.
        instance: String,
        /// The method's name.
        method: String,
        /// The arguments in JSON (a message in the protobuf JSON mapping,
        /// with its bytes fields in base64).
        #[arg(long, default_value = "null")]
        args: String,
        /// The key file that signs (`wasmvisor keys new`).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        apis: Apis,
    },
    /// Runs a service's read query with JSON arguments and prints its JSON
    /// answer.
    Query {
        /// The instance's name.
        instance: String,
        /// The query's name.
        query: String,
        /// The arguments in JSON.
        #[arg(long, default_value = "null")]
        args: String,
        /// Ask the private API (which also serves private queries).
        #[arg(long)]
        private: bool,
        #[command(flatten)]
        apis: Apis,
    },
    /// Prints a transaction's status.
    Tx {
        /// The transaction hash (hex).
        hash: String,
        #[command(flatten)]
        apis: Apis,
    },
}

/// `wasmvisor keys` commands.
#[derive(Subcommand)]
enum KeysCommand {
    /// Makes a new key and writes it to a new file (mode 0600), printing
    /// its public key.
    New {
        /// The key file to create (never overwritten).
        output: PathBuf,
    },
    /// Prints a key file's public key (hex, and base64 as message JSON
    /// writes bytes).
    Show {
        /// The key file.
        file: PathBuf,
    },
    /// A validator's keys.
    Validator {
        #[command(subcommand)]
        command: ValidatorKeysCommand,
    },
}

/// `wasmvisor keys validator` commands: a validator's key file in its
/// data directory (`validator-keys.json`).
#[derive(Subcommand)]
enum ValidatorKeysCommand {
    /// Creates a validator's keys in a data directory, sealed with a
    /// passphrase, and prints the public keys.
    Generate {
        /// The data directory (created if missing; its key file must not
        /// exist).
        #[arg(long)]
        data_dir: PathBuf,
        /// A file (mode 0600) whose first line is the passphrase; else
        /// WASMVISOR_KEY_PASSPHRASE, else asked on a terminal.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Prints the public keys of a data directory's key file (no
    /// passphrase needed) and whether it is sealed.
    Show {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Seals the keys with a new passphrase (an unencrypted development
    /// key file too).
    ChangePassphrase {
        /// The data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The current passphrase's file; else WASMVISOR_KEY_PASSPHRASE,
        /// else asked on a terminal (not needed for unencrypted keys).
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
        /// The new passphrase's file (mode 0600); else asked on a
        /// terminal.
        #[arg(long)]
        new_passphrase_file: Option<PathBuf>,
    },
}

/// Runs a `keys validator` command.
fn validator_keys(command: ValidatorKeysCommand) -> Result<Value, String> {
    use wasmvisor_node::keys::NodeKeys;
    let shown = |data_dir: &Path| -> Result<Value, String> {
        let keys = NodeKeys::public_keys(data_dir).map_err(|error| error.to_string())?;
        Ok(json!({
            "consensus_key": hex::encode(&keys.consensus_key),
            "service_key": hex::encode(&keys.service_key),
            "sealed": NodeKeys::is_sealed(data_dir).map_err(|error| error.to_string())?,
        }))
    };
    match command {
        ValidatorKeysCommand::Generate {
            data_dir,
            passphrase_file,
        } => {
            let path = data_dir.join(wasmvisor_node::keys::KEYS_FILE);
            if std::fs::symlink_metadata(&path).is_ok() {
                return Err(format!("{} exists: this directory already holds keys", path.display()));
            }
            let passphrase = new_passphrase(passphrase_file.as_deref())?;
            std::fs::create_dir_all(&data_dir)
                .map_err(|error| format!("cannot create {}: {error}", data_dir.display()))?;
            NodeKeys::open_or_create(&data_dir, Some(&passphrase)).map_err(|error| error.to_string())?;
            shown(&data_dir)
        }
        ValidatorKeysCommand::Show { data_dir } => shown(&data_dir),
        ValidatorKeysCommand::ChangePassphrase {
            data_dir,
            passphrase_file,
            new_passphrase_file,
        } => {
            let sealed = NodeKeys::is_sealed(&data_dir).map_err(|error| error.to_string())?;
            let old = if sealed {
                Some(existing_passphrase(passphrase_file.as_deref())?)
            } else {
                None
            };
            let new = match &new_passphrase_file {
                Some(path) => Passphrase::from_file(path).map_err(|error| error.to_string())?,
                None => prompt_new_passphrase()?,
            };
            NodeKeys::change_passphrase(&data_dir, old.as_ref(), &new).map_err(|error| error.to_string())?;
            let mut changed = shown(&data_dir)?;
            changed["note"] = json!(
                "the node now needs the new passphrase: update the file its key_passphrase_file names (or \
                 WASMVISOR_KEY_PASSPHRASE) before it starts again"
            );
            Ok(changed)
        }
    }
}

/// The passphrase of existing keys: from `file`, else the environment,
/// else asked on a terminal.
fn existing_passphrase(file: Option<&Path>) -> Result<Passphrase, String> {
    if let Some(passphrase) = Passphrase::from_file_or_env(file).map_err(|error| error.to_string())? {
        return Ok(passphrase);
    }
    let text = prompt("the keys' passphrase: ")?;
    Passphrase::new(text, "the terminal").map_err(|error| error.to_string())
}

/// The passphrase that seals new keys: from `file`, else the
/// environment, else asked twice on a terminal.
fn new_passphrase(file: Option<&Path>) -> Result<Passphrase, String> {
    match Passphrase::from_file_or_env(file).map_err(|error| error.to_string())? {
        Some(passphrase) => Ok(passphrase),
        None => prompt_new_passphrase(),
    }
}

fn prompt_new_passphrase() -> Result<Passphrase, String> {
    let first = prompt("a passphrase for the keys: ")?;
    let second = zeroize::Zeroizing::new(prompt("the same passphrase again: ")?);
    let first = Passphrase::new(first, "the terminal").map_err(|error| error.to_string())?;
    if !first.is(&second) {
        return Err("the two passphrases differ".into());
    }
    Ok(first)
}

/// Asks on the terminal without echo; an error naming the other ways when
/// there is no terminal.
fn prompt(question: &str) -> Result<String, String> {
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(format!(
            "no passphrase: give --passphrase-file (a file of mode 0600) or set {}; there is no terminal to ask on",
            wasmvisor_node::keys::PASSPHRASE_ENV
        ));
    }
    rpassword::prompt_password(question).map_err(|error| format!("reading the passphrase: {error}"))
}

/// `wasmvisor genesis` commands.
#[derive(Subcommand)]
enum GenesisCommand {
    /// Writes the genesis of a node's chain to a file another node can
    /// start from, and prints its chain id. Reads the node's configuration
    /// and files, not its database: the node may be running.
    Export {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
        /// The genesis file to write.
        #[arg(long)]
        output: PathBuf,
    },
}

/// Where the node's APIs are, and the private API's token.
#[derive(clap::Args)]
struct Apis {
    /// The private API.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    private_api: String,
    /// The public API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    public_api: String,
    /// Bearer token of the private API (or WASMVISOR_TOKEN); without it,
    /// the token the node keeps in its data directory is read.
    #[arg(long, env = "WASMVISOR_TOKEN")]
    token: Option<String>,
    /// The node's data directory, where it keeps the private API's token
    /// (`private-api-token`) when its configuration names none.
    #[arg(long, env = "WASMVISOR_DATA_DIR", default_value = ".wasmvisor-dev")]
    data_dir: PathBuf,
}

impl Apis {
    /// The public client alone (no token is read).
    fn public(&self) -> Client {
        Client::new(&self.public_api, None)
    }

    /// The public and private clients; the private one with the token
    /// given, or the one found in the data directory (an error if that
    /// file cannot be used; no token if there is none).
    fn clients(&self) -> Result<(Client, Client), String> {
        let token = match &self.token {
            Some(token) => Some(token.clone()),
            None => {
                let path = self.data_dir.join(wasmvisor_node::secrets::PRIVATE_API_TOKEN_FILE);
                if path.exists() {
                    Some(wasmvisor_node::secrets::read_token(&path).map_err(|error| error.to_string())?)
                } else {
                    None
                }
            }
        };
        Ok((
            Client::new(&self.public_api, None),
            Client::new(&self.private_api, token),
        ))
    }
}

/// Runs an operator command: prints its result, or the error.
fn operate(result: Result<Option<Value>, String>, output: Output) -> ExitCode {
    match result {
        Ok(Some(value)) => {
            match output {
                Output::Json => println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default()),
                Output::Text => {
                    let mut text = String::new();
                    text_of(&value, 0, &mut text);
                    print!("{text}");
                }
            }
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Proposes one change from the next block and reports the outcome.
fn propose_one(apis: &Apis, change: ChangeSpec) -> Result<Option<Value>, String> {
    let (public, private) = apis.clients()?;
    operator::propose(&public, &private, &one_change(change)).map(Some)
}

/// A proposal of one change, from the next block.
fn one_change(change: ChangeSpec) -> ProposalSpec {
    ProposalSpec {
        actual_from: 0,
        configuration_number: None,
        changes: vec![change],
    }
}

/// Parses an option's JSON, naming the option when it does not parse.
fn parse_json(option: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|error| format!("{option} is not JSON: {error}"))
}

/// Reads a parameters file as hex (none: empty parameters).
fn read_params(path: Option<&PathBuf>) -> Result<String, String> {
    path.map_or(Ok(String::new()), |path| {
        std::fs::read(path)
            .map(hex::encode)
            .map_err(|error| format!("{}: {error}", path.display()))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    abort_on_panic();
    operate(command(cli.command), cli.result_format)
}

/// A panic anywhere — on a worker thread too — stops the whole process
/// (after the panic's own report), with SIGABRT: a node never goes on
/// serving with one of its threads gone and its chain half updated. The
/// one exception is a native service's panic, which the runtime catches
/// and records as the call's Unexpected outcome, as the runtime contract
/// asks.
fn abort_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if wasmvisor_runtime::panic_is_caught() {
            tracing::warn!("a native service panicked: {info}");
            return;
        }
        report(info);
        tracing::error!("a panic is fatal: the node stops");
        std::process::abort();
    }));
}

/// Runs a command: a node until it stops, or an operator command's result.
fn command(command: Command) -> Result<Option<Value>, String> {
    match command {
        Command::RunDev {
            data_dir,
            clean,
            public_api,
            private_api,
        } => {
            if clean && data_dir.exists() {
                std::fs::remove_dir_all(&data_dir)
                    .map_err(|error| format!("cannot clean {}: {error}", data_dir.display()))?;
            }
            let mut config = NodeConfig::development(data_dir);
            config.public_api = public_api.unwrap_or(config.public_api);
            config.private_api = private_api.unwrap_or(config.private_api);
            wasmvisor_node::run(config).map(|()| None)
        }
        Command::Run { config } => {
            let config = NodeConfig::load(&config).map_err(|error| error.to_string())?;
            wasmvisor_node::run(config).map(|()| None)
        }
        Command::Replay { config, data_dir } => {
            let config = match (config, data_dir) {
                (Some(config), _) => NodeConfig::load(&config).map_err(|error| error.to_string())?,
                (None, Some(data_dir)) => NodeConfig::development(data_dir),
                (None, None) => return Err("--config or --data-dir is required".into()),
            };
            let report = wasmvisor_node::Node::replay_stored_chain(config)?;
            Ok(Some(serde_json::json!({
                "blocks": report.blocks,
                "transactions": report.transactions,
                "result": "every block replayed identically",
            })))
        }
        Command::GenerateTemplate {
            output,
            validators_count,
            supervisor_mode,
            block_interval_ms,
            transactions_per_block_max,
        } => {
            let template = network::NetworkTemplate {
                validators_count,
                supervisor_mode,
                block_interval_ms,
                transactions_per_block_max,
            };
            network::generate_template(&output, &template).map(|()| None)
        }
        Command::GenerateConfig {
            template,
            output_dir,
            public_api,
            private_api,
            peer_address,
            auditor,
            passphrase_file,
        } => {
            let (public, private) = network::generate_config(
                &template,
                &output_dir,
                public_api,
                private_api,
                peer_address,
                auditor,
                || new_passphrase(passphrase_file.as_deref()),
                passphrase_file.as_deref(),
            )?;
            Ok(Some(json!({ "public": public, "private": private })))
        }
        Command::Finalize {
            private,
            output,
            public_configs,
            genesis,
            chain_id,
        } => {
            let genesis = genesis.as_deref().zip(chain_id.as_deref());
            let config = network::finalize(&private, &public_configs, &output, genesis)?;
            let report = match &config.genesis {
                Some(file) => json!({
                    "config": output,
                    "genesis": file,
                    "chain_id": config.chain_id,
                    "auditor": config.auditor,
                }),
                None => json!({ "config": output, "validators": config.genesis_validators.len() }),
            };
            Ok(Some(report))
        }
        Command::Genesis {
            command: GenesisCommand::Export { config, output },
        } => {
            let config = NodeConfig::load(&config).map_err(|error| error.to_string())?;
            let file = wasmvisor_node::Node::export_genesis(&config)?;
            wasmvisor_node::genesis::write(&output, &file)?;
            Ok(Some(json!({ "genesis": output, "chain_id": file.chain_id })))
        }
        Command::Deploy {
            file,
            name,
            version,
            request_out,
            request,
            apis,
        } => {
            let request = match (request, file, name, version) {
                (Some(path), ..) => operator::read_deploy_request(&path)?,
                (None, Some(file), Some(name), Some(version)) => {
                    let component = std::fs::read(&file).map_err(|error| format!("{}: {error}", file.display()))?;
                    operator::deploy_request(&apis.public(), &component, &name, &version)?
                }
                _ => return Err("give the component, --name and --version, or --request".into()),
            };
            if let Some(path) = request_out {
                return operator::write_deploy_request(&request, &path).map(Some);
            }
            let (public, private) = apis.clients()?;
            operator::deploy(&public, &private, &request).map(Some)
        }
        Command::Proposals { apis } => {
            let (public, private) = apis.clients()?;
            operator::proposals(&public, &private).map(Some)
        }
        Command::Propose { file, apis } => {
            let text = std::fs::read_to_string(&file).map_err(|error| format!("{}: {error}", file.display()))?;
            let spec: ProposalSpec = toml::from_str(&text).map_err(|error| format!("{}: {error}", file.display()))?;
            let (public, private) = apis.clients()?;
            operator::propose(&public, &private, &spec).map(Some)
        }
        Command::Vote { hash, apis } => {
            let (public, private) = apis.clients()?;
            let body = json!(VoteSpec { propose_hash: hash });
            operator::act(&public, &private, "confirm-config", &body).map(Some)
        }
        Command::StartService {
            artifact,
            instance,
            params,
            params_json,
            apis,
        } => {
            let change = ChangeSpec::Start {
                artifact,
                instance: instance.clone(),
                params: read_params(params.as_ref())?,
                params_json: params_json
                    .as_deref()
                    .map(|text| parse_json("--params-json", text))
                    .transpose()?,
            };
            let (public, private) = apis.clients()?;
            let mut result = operator::propose(&public, &private, &one_change(change))?;
            if result["proposal"]["status"] == "enacted" {
                result["service"] = operator::wait_for_service(&public, &instance, "active")?;
            }
            Ok(Some(result))
        }
        Command::Stop { instance, apis } => propose_one(&apis, ChangeSpec::Stop { instance }),
        Command::Freeze { instance, apis } => propose_one(&apis, ChangeSpec::Freeze { instance }),
        Command::Resume { instance, params, apis } => {
            let params = read_params(params.as_ref())?;
            propose_one(&apis, ChangeSpec::Resume { instance, params })
        }
        Command::Migrate {
            artifact,
            instance,
            deadline_height,
            apis,
        } => {
            let (public, private) = apis.clients()?;
            let body = json!(MigrateSpec {
                artifact,
                instance,
                deadline_height,
            });
            operator::act(&public, &private, "migrate", &body).map(Some)
        }
        Command::Services { apis } => apis.clients()?.0.get("/api/system/v1/services").map(Some),
        Command::Status { apis } => apis.clients()?.0.get("/api/system/v1/info").map(Some),
        Command::New { name, wasmvisor_path } => {
            let source = author::wasmvisor_source(wasmvisor_path)?;
            author::new_project(Path::new(&name), &name, &source).map(Some)
        }
        Command::Build { project } => author::build_project(&project).map(Some),
        Command::Keys {
            command: KeysCommand::New { output },
        } => ClientKey::create(&output).map(|key| Some(key.shown())),
        Command::Keys {
            command: KeysCommand::Show { file },
        } => ClientKey::load(&file).map(|key| Some(key.shown())),
        Command::Keys {
            command: KeysCommand::Validator { command },
        } => validator_keys(command).map(Some),
        Command::Interface { instance, apis } => client::interface_json(&apis.public(), &instance).map(Some),
        Command::Call {
            instance,
            method,
            args,
            key,
            apis,
        } => {
            let arguments = parse_json("--args", &args)?;
            let key = ClientKey::load(&key)?;
            let outcome = client::call(&apis.public(), &instance, &method, &arguments, &key)?;
            if outcome["status"] == "failed" {
                println!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
                let error = &outcome["error"];
                return Err(format!(
                    "the transaction failed: {}",
                    error["name"]
                        .as_str()
                        .or(error["description"].as_str())
                        .unwrap_or("unknown error")
                ));
            }
            Ok(Some(outcome))
        }
        Command::Query {
            instance,
            query,
            args,
            private,
            apis,
        } => {
            let arguments = parse_json("--args", &args)?;
            let client = if private { apis.clients()?.1 } else { apis.public() };
            client::query(&client, &instance, &query, &arguments).map(Some)
        }
        Command::Tx { hash, apis } => apis
            .clients()?
            .0
            .get(&format!("/api/explorer/v1/transactions?hash={hash}"))
            .map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_output_escapes_what_could_forge_lines_or_drive_a_terminal() {
        let value = json!({
            "plain": "coins",
            "forged": "x\nheight: 999",
            "escape": "\u{1b}[2J",
            "empty": "",
            "dash": "-",
            "none": null,
            "list": ["a", {"b": 1}],
        });
        let mut text = String::new();
        text_of(&value, 0, &mut text);
        for line in [
            "plain: coins",
            "forged: \"x\\nheight: 999\"",
            "escape: \"\\u{1b}[2J\"",
            "empty: \"\"",
            "dash: \"-\"",
            "none: -",
            "list:",
            "  - a",
            "  -",
            "    b: 1",
        ] {
            assert!(text.lines().any(|found| found == line), "{line:?} not in\n{text}");
        }
        assert!(
            !text.contains('\u{1b}') && !text.lines().any(|line| line == "height: 999"),
            "{text}"
        );
    }
}
