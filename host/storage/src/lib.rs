//! Merkelized state storage of wasmvisor.
//!
//! Services keep all state here. A [`Database`] (RocksDB, in memory, or
//! fault-injecting for crash tests) hands out [`Snapshot`]s; a [`Fork`] is a
//! snapshot plus changes with checkpoints ([`Fork::flush`],
//! [`Fork::rollback`]); a finished fork becomes a [`Patch`] that
//! [`Database::merge`] applies atomically and durably.
//!
//! Data lives in *indexes* addressed by [`IndexAddress`] (a [`Namespace`]
//! and a name): entries, maps, lists, key sets and their proof variants.
//! Every proof index enters one state root per block ([`Fork::state_root`]),
//! and any read of one can be proven against that root ([`Fork::map_proof`],
//! [`Fork::list_proof`], [`Fork::entry_proof`]); the [`proof`] module checks
//! proofs without a database.
//!
//! This crate knows nothing of wasm, runtimes or HTTP.
//!
//! # Why our own trees
//! The commitment uses a compact sparse Merkle tree (maps and the state
//! aggregator) and a binary Merkle tree (lists), written here; see
//! ARCHITECTURE.md for why the `jmt` crate was not used.

mod address;
mod backend;
mod error;
mod faulty;
mod fork;
pub mod hash;
mod indexes;
pub mod limits;
mod list_tree;
mod memory;
pub mod proof;
#[cfg(feature = "rocksdb")]
mod rocks;
mod smt;
mod state;

pub use address::{IndexAddress, IndexKind, Namespace};
pub use backend::{Change, Database, Entries, Patch, Snapshot};
pub use error::StorageError;
pub use faulty::{FaultMode, FaultyDatabase};
pub use fork::{Fork, Savepoint, Scan, ScanLimit, WriteLimits, WriteUsage};
pub use hash::Hash;
pub use indexes::{EntryIndex, ListIndex, MapIndex};
pub use list_tree::list_root_from_scratch;
pub use memory::{MemoryCheckpoint, MemoryDatabase, MemorySnapshot};
#[cfg(feature = "rocksdb")]
pub use rocks::RocksDatabase;
pub use smt::smt_root_from_scratch;
pub use state::NamespaceData;
