//! The wasmvisor node: a chain on RocksDB, a bounded mempool, the public
//! and private REST APIs, and block agreement — a single validator's block
//! producer, or the BFT consensus engine among several validators
//! ([`engine`]).
//!
//! [`run`] is what the `wasmvisor` binary's `run` and `run-dev` commands
//! execute: open the chain (genesis or restart), serve both APIs, produce
//! or agree on a block at the consensus configuration's interval, and stop
//! cleanly on Ctrl-C / SIGTERM.

pub mod api;
pub mod author;
pub mod batch;
pub mod client;
pub mod config;
pub mod datadir;
#[cfg(feature = "engine")]
pub mod engine;
pub mod explorer;
pub mod genesis;
pub mod gossip;
pub mod http;
pub mod keys;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod node;
pub mod openapi;
pub mod operator;
pub mod requests;
#[cfg(all(feature = "engine", feature = "rocksdb"))]
mod runner;
pub mod secrets;
pub mod system;
pub mod testing;

pub use config::{ConfigError, NodeConfig};
pub use node::{Node, StartError};
#[cfg(all(feature = "engine", feature = "rocksdb"))]
pub use runner::run;
