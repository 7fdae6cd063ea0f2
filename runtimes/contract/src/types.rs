//! Identifiers and statuses of artifacts and instances.

use std::fmt;

/// Numeric id of a service instance; the supervisor is 0.
pub type InstanceId = u32;

/// The supervisor's instance id.
pub const SUPERVISOR_INSTANCE_ID: InstanceId = 0;

/// Runtime ids.
pub mod runtime_id {
    /// Native Rust services compiled into the node.
    pub const NATIVE: u32 = 0;
    /// WebAssembly components.
    pub const WASM: u32 = 1;
}

/// An artifact: code from which instances are created.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArtifactId {
    /// The runtime that runs it.
    pub runtime_id: u32,
    /// Its name, e.g. `wasmvisor.token`.
    pub name: String,
    /// Its semantic version.
    pub version: semver::Version,
}

impl ArtifactId {
    /// An artifact id; the version must be valid semver.
    pub fn new(runtime_id: u32, name: &str, version: &str) -> Result<Self, semver::Error> {
        Ok(Self {
            runtime_id,
            name: name.to_owned(),
            version: version.parse()?,
        })
    }
}

impl fmt::Display for ArtifactId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}:{}", self.runtime_id, self.name, self.version)
    }
}

/// A service instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceSpec {
    /// Its id.
    pub id: InstanceId,
    /// Its unique name.
    pub name: String,
    /// The artifact it runs.
    pub artifact: ArtifactId,
}

/// Lifecycle status of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InstanceStatus {
    /// Receives transactions and hooks.
    Active,
    /// Receives nothing.
    Stopped,
    /// Serves read queries only.
    Frozen,
    /// A data migration is in progress.
    Migrating(Box<MigrationState>),
}

/// An ongoing data migration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MigrationState {
    /// The artifact whose data layout the migration produces.
    pub target: ArtifactId,
    /// The agreed state hash of the migrated data, once committed.
    pub completed_hash: Option<[u8; 32]>,
}

/// How an instance's data becomes data of a newer artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationKind {
    /// No data change: the artifact is swapped, the instance stays Stopped.
    FastForward,
    /// A data migration script runs on every node.
    Data,
}

impl InstanceStatus {
    /// Whether the instance receives transactions and hooks.
    pub fn is_active(&self) -> bool {
        matches!(self, InstanceStatus::Active)
    }
}

/// The target of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallInfo {
    /// The instance.
    pub instance_id: InstanceId,
    /// The method within the instance's default interface.
    pub method_id: u32,
}

/// Who initiated a call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A signed transaction.
    Transaction {
        /// Ed25519 public key of the author.
        author: [u8; 32],
        /// Hash of the signed transaction.
        hash: [u8; 32],
    },
    /// Another service.
    Service(InstanceId),
    /// The blockchain itself (hooks, constructors).
    Blockchain,
}

/// Where in a block a call ran; errors are recorded against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallLocation {
    /// An instance's hook before the block's transactions.
    BeforeTransactions(InstanceId),
    /// The transaction at this position in the block.
    Transaction(u32),
    /// An instance's hook after the block's transactions.
    AfterTransactions(InstanceId),
}

impl CallLocation {
    /// Stable byte encoding (tag, then the number LE), used as the key of
    /// the error in the block's error root.
    pub fn to_bytes(self) -> [u8; 5] {
        let (tag, number) = match self {
            CallLocation::BeforeTransactions(id) => (0, id),
            CallLocation::Transaction(position) => (1, position),
            CallLocation::AfterTransactions(id) => (2, id),
        };
        let mut bytes = [tag, 0, 0, 0, 0];
        bytes[1..].copy_from_slice(&number.to_le_bytes());
        bytes
    }
}

/// Deployment state of an artifact in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArtifactState {
    /// Registered in the current block; Active when it commits.
    Deploying,
    /// Ready to start instances.
    Active,
    /// Being unloaded; gone when the block commits.
    Unloading,
}

/// An artifact as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactView {
    /// The artifact.
    pub artifact: ArtifactId,
    /// Its state.
    pub state: ArtifactState,
    /// blake3 of its deploy spec.
    pub spec_hash: [u8; 32],
}

/// An instance as the registry shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceView {
    /// The instance.
    pub spec: InstanceSpec,
    /// Its status (`None` while being added in the current block).
    pub status: Option<InstanceStatus>,
    /// A transition staged in the current block.
    pub pending: Option<InstanceStatus>,
    /// Version of its data layout, if it differs from the artifact's.
    pub data_version: Option<String>,
}
