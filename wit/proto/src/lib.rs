//! Protobuf wire messages of wasmvisor.
//!
//! The schemas live in `wit/proto/schemas/*.proto` and are the contract
//! between clients, nodes and guests; this crate only compiles them. It is
//! used by the host and by wasm guests alike, so it has no dependency beyond
//! `prost`.

#![allow(missing_docs)] // generated code: the documentation is in the schemas

/// Runtime identifiers and errors (`runtime.proto`).
pub mod runtime {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.runtime.rs"));
}

/// Transactions (`messages.proto`).
pub mod messages {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.messages.rs"));
}

/// Blocks and the consensus configuration (`blockchain.proto`).
pub mod blockchain {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.blockchain.rs"));
}

/// Supervisor transactions and configuration (`supervisor.proto`).
pub mod supervisor {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.supervisor.rs"));
}

/// The sample token service (`token.proto`).
pub mod token {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.token.rs"));
}

pub use prost::Message;

/// Records of the dispatcher's registries (`dispatcher.proto`).
pub mod dispatcher {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.dispatcher.rs"));
}

/// Messages of the BFT consensus engine between validators
/// (`consensus.proto`).
pub mod consensus {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.consensus.rs"));
}
