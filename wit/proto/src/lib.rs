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

    /// The encoded `google.protobuf.FileDescriptorSet` of
    /// `supervisor.proto` and what it imports: the supervisor embeds it in
    /// its interface.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/supervisor.descriptors.bin"));

    impl DeployRequest {
        /// What a deploy request's key is the blake3 hash of: the request
        /// encoded with its spec replaced by `spec_hash`, the spec's blake3
        /// hash (so the key is cheap to compute for a spec of any size, and
        /// the spec is stored once, by its hash). Approvals, results and the
        /// `deploy-status-by-hash` query name a request by this key.
        pub fn key_preimage(&self, spec_hash: &[u8; 32]) -> Vec<u8> {
            use prost::Message;
            DeployRequest {
                artifact: self.artifact.clone(),
                spec: spec_hash.to_vec(),
                deadline_height: self.deadline_height,
                seed: self.seed,
            }
            .encode_to_vec()
        }
    }
}

/// The sample token service (`token.proto`).
pub mod token {
    include!(concat!(env!("OUT_DIR"), "/wasmvisor.token.rs"));

    /// The encoded `google.protobuf.FileDescriptorSet` of `token.proto` and
    /// what it imports: the token service embeds it in its interface.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/token.descriptors.bin"));
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
