//! `wasmvisor`: run a node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmvisor_node::NodeConfig;
use wasmvisor_node::operator::{Client, deploy};

/// The wasmvisor node.
#[derive(Parser)]
#[command(name = "wasmvisor", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Runs a node from a configuration file.
    Run {
        /// The node's TOML configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Deploys a wasm component and waits until it is active.
    Deploy {
        /// The component (`.wasm`).
        file: PathBuf,
        /// Artifact name.
        #[arg(long)]
        name: String,
        /// Artifact version (semver).
        #[arg(long)]
        version: String,
        #[command(flatten)]
        apis: Apis,
    },
    /// Prints the node's status (height, validators, runtimes).
    Status {
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

/// Where the node's APIs are.
#[derive(clap::Args)]
struct Apis {
    /// The private API.
    #[arg(long, default_value = "http://127.0.0.1:8081")]
    private_api: String,
    /// The public API.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    public_api: String,
    /// Bearer token of the private API (or WASMVISOR_TOKEN).
    #[arg(long, env = "WASMVISOR_TOKEN")]
    token: Option<String>,
}

impl Apis {
    fn clients(&self) -> (Client, Client) {
        (
            Client::new(&self.public_api, None),
            Client::new(&self.private_api, self.token.clone()),
        )
    }
}

/// Runs an operator command: prints its result, or the error.
fn operate(result: Result<Option<serde_json::Value>, String>) -> ExitCode {
    match result {
        Ok(Some(value)) => {
            println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Cli::parse().command {
        Command::RunDev {
            data_dir,
            clean,
            public_api,
            private_api,
        } => {
            if clean
                && data_dir.exists()
                && let Err(error) = std::fs::remove_dir_all(&data_dir)
            {
                eprintln!("error: cannot clean {}: {error}", data_dir.display());
                return ExitCode::FAILURE;
            }
            let mut config = NodeConfig::development(data_dir);
            config.public_api = public_api.unwrap_or(config.public_api);
            config.private_api = private_api.unwrap_or(config.private_api);
            config
        }
        Command::Deploy {
            file,
            name,
            version,
            apis,
        } => {
            let (public, private) = apis.clients();
            return operate(
                std::fs::read(&file)
                    .map_err(|error| format!("{}: {error}", file.display()))
                    .and_then(|component| deploy(&public, &private, &component, &name, &version))
                    .map(|()| None),
            );
        }
        Command::Status { apis } => return operate(apis.clients().0.get("/api/system/v1/info").map(Some)),
        Command::Tx { hash, apis } => {
            return operate(
                apis.clients()
                    .0
                    .get(&format!("/api/explorer/v1/transactions?hash={hash}"))
                    .map(Some),
            );
        }
        Command::Run { config } => match NodeConfig::load(&config) {
            Ok(config) => config,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        },
    };
    match wasmvisor_node::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
