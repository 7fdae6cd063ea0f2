//! `wasmvisor`: run a node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wasmvisor_node::NodeConfig;

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
