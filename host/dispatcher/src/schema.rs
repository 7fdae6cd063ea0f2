//! The dispatcher's registries in storage (namespace `Dispatcher`).
//!
//! | index | kind | key | value |
//! | --- | --- | --- | --- |
//! | `artifacts` | proof map | artifact key | `ArtifactRecord` |
//! | `artifact_specs` | map | artifact key | deploy spec |
//! | `instances` | proof map | instance id (u32 LE) | `InstanceRecord` |
//! | `instance_names` | map | name | instance id (u32 LE) |
//! | `pending` | key set | `a` + artifact key, or `i` + id | staged in this block |
//!
//! An artifact key is the runtime id (u32 LE), the name length (u16 LE),
//! the name and the version string. The core namespace holds the height of
//! the last committed block (`height`, an entry, u64 LE) and the consensus
//! configuration (`consensus_config`, a proof entry, protobuf).

use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::dispatcher::{
    ArtifactRecord, ArtifactState, InstanceRecord, InstanceStatusCode, InstanceStatusRecord,
};
use wasmvisor_runtime::{ArtifactId, InstanceId, InstanceSpec, InstanceStatus, MigrationState, NodeError};
use wasmvisor_storage::{Fork, IndexAddress, Namespace};

fn address(namespace: Namespace, name: &str) -> IndexAddress {
    IndexAddress::new(namespace, name).expect("registry index names are valid")
}

pub(crate) fn artifact_key(artifact: &ArtifactId) -> Vec<u8> {
    let version = artifact.version.to_string();
    let mut key = Vec::with_capacity(6 + artifact.name.len() + version.len());
    key.extend_from_slice(&artifact.runtime_id.to_le_bytes());
    key.extend_from_slice(&(artifact.name.len() as u16).to_le_bytes());
    key.extend_from_slice(artifact.name.as_bytes());
    key.extend_from_slice(version.as_bytes());
    key
}

/// The wire form of an artifact id.
pub fn artifact_to_proto(artifact: &ArtifactId) -> wasmvisor_proto::runtime::ArtifactId {
    wasmvisor_proto::runtime::ArtifactId {
        runtime_id: artifact.runtime_id,
        name: artifact.name.clone(),
        version: artifact.version.to_string(),
    }
}

pub(crate) fn artifact_from_proto(artifact: Option<&wasmvisor_proto::runtime::ArtifactId>) -> Result<ArtifactId> {
    let artifact = artifact.ok_or_else(|| NodeError::Corrupt("record without an artifact".into()))?;
    ArtifactId::new(artifact.runtime_id, &artifact.name, &artifact.version)
        .map_err(|error| NodeError::Corrupt(format!("stored artifact version: {error}")))
}

pub(crate) fn status_record(status: Option<&InstanceStatus>) -> Option<InstanceStatusRecord> {
    let (code, migration) = match status {
        None => return None,
        Some(InstanceStatus::Active) => (InstanceStatusCode::StatusActive, None),
        Some(InstanceStatus::Stopped) => (InstanceStatusCode::StatusStopped, None),
        Some(InstanceStatus::Frozen) => (InstanceStatusCode::StatusFrozen, None),
        Some(InstanceStatus::Migrating(migration)) => (InstanceStatusCode::StatusMigrating, Some(migration)),
    };
    Some(InstanceStatusRecord {
        code: code as i32,
        migration_target: migration.map(|migration| artifact_to_proto(&migration.target)),
        migration_hash: migration
            .and_then(|migration| migration.completed_hash)
            .map(|hash| hash.to_vec())
            .unwrap_or_default(),
    })
}

pub(crate) fn status_from_record(record: Option<&InstanceStatusRecord>) -> Result<Option<InstanceStatus>> {
    let Some(record) = record else { return Ok(None) };
    match InstanceStatusCode::try_from(record.code) {
        Ok(InstanceStatusCode::StatusNone) => Ok(None),
        Ok(InstanceStatusCode::StatusActive) => Ok(Some(InstanceStatus::Active)),
        Ok(InstanceStatusCode::StatusStopped) => Ok(Some(InstanceStatus::Stopped)),
        Ok(InstanceStatusCode::StatusFrozen) => Ok(Some(InstanceStatus::Frozen)),
        Ok(InstanceStatusCode::StatusMigrating) => {
            let completed_hash = match record.migration_hash.as_slice() {
                [] => None,
                bytes => Some(
                    bytes
                        .try_into()
                        .map_err(|_| NodeError::Corrupt("migration hash is not 32 bytes".into()))?,
                ),
            };
            Ok(Some(InstanceStatus::Migrating(Box::new(MigrationState {
                target: artifact_from_proto(record.migration_target.as_ref())?,
                completed_hash,
            }))))
        }
        Err(_) => Err(NodeError::Corrupt(format!("unknown instance status {}", record.code))),
    }
}

/// An instance as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceState {
    /// The instance.
    pub spec: InstanceSpec,
    /// Its status (`None` while being added in the current block).
    pub status: Option<InstanceStatus>,
    /// A transition staged in the current block.
    pub pending: Option<InstanceStatus>,
    /// Data layout version if it differs from the artifact's.
    pub data_version: Option<String>,
}

/// Typed access to the registries in a fork.
pub(crate) struct Schema<'a> {
    pub(crate) fork: &'a mut Fork,
}

type Result<T> = std::result::Result<T, NodeError>;

impl<'a> Schema<'a> {
    pub(crate) fn new(fork: &'a mut Fork) -> Self {
        Self { fork }
    }

    pub(crate) fn artifact(&mut self, artifact: &ArtifactId) -> Result<Option<ArtifactRecord>> {
        let bytes = self
            .fork
            .proof_map(&address(Namespace::Dispatcher, "artifacts"))?
            .get(&artifact_key(artifact))?;
        bytes
            .map(|bytes| {
                ArtifactRecord::decode(bytes.as_slice()).map_err(|error| NodeError::Corrupt(error.to_string()))
            })
            .transpose()
    }

    pub(crate) fn artifact_spec(&mut self, artifact: &ArtifactId) -> Result<Vec<u8>> {
        Ok(self
            .fork
            .map(&address(Namespace::Dispatcher, "artifact_specs"))?
            .get(&artifact_key(artifact))?
            .unwrap_or_default())
    }

    pub(crate) fn put_artifact(&mut self, artifact: &ArtifactId, state: ArtifactState, spec: &[u8]) -> Result<()> {
        let record = ArtifactRecord {
            artifact: Some(artifact_to_proto(artifact)),
            state: state as i32,
            spec_hash: blake3::hash(spec).as_bytes().to_vec(),
        };
        let key = artifact_key(artifact);
        self.fork
            .proof_map(&address(Namespace::Dispatcher, "artifacts"))?
            .put(&key, &record.encode_to_vec())?;
        self.fork
            .map(&address(Namespace::Dispatcher, "artifact_specs"))?
            .put(&key, spec)?;
        Ok(())
    }

    pub(crate) fn set_artifact_state(&mut self, artifact: &ArtifactId, state: ArtifactState) -> Result<()> {
        let mut record = self
            .artifact(artifact)?
            .ok_or_else(|| NodeError::Corrupt(format!("artifact {artifact} vanished")))?;
        record.state = state as i32;
        self.fork
            .proof_map(&address(Namespace::Dispatcher, "artifacts"))?
            .put(&artifact_key(artifact), &record.encode_to_vec())?;
        Ok(())
    }

    pub(crate) fn remove_artifact(&mut self, artifact: &ArtifactId) -> Result<()> {
        let key = artifact_key(artifact);
        self.fork
            .proof_map(&address(Namespace::Dispatcher, "artifacts"))?
            .remove(&key)?;
        self.fork
            .map(&address(Namespace::Dispatcher, "artifact_specs"))?
            .remove(&key)?;
        Ok(())
    }

    /// Every artifact with its state and its spec's blake3 hash (the specs
    /// themselves, up to a component each, are read only where needed:
    /// [`Schema::artifact_spec`]).
    pub(crate) fn artifacts(&mut self) -> Result<Vec<(ArtifactId, ArtifactState, [u8; 32])>> {
        let entries = all_entries(self.fork, &address(Namespace::Dispatcher, "artifacts"), true)?;
        entries.iter().map(|(_, bytes)| decode_artifact(bytes)).collect()
    }

    /// The artifact stored under `key` (an artifact key), with its state
    /// and spec hash.
    pub(crate) fn artifact_by_key(&mut self, key: &[u8]) -> Result<Option<(ArtifactId, ArtifactState, [u8; 32])>> {
        let bytes = self
            .fork
            .proof_map(&address(Namespace::Dispatcher, "artifacts"))?
            .get(key)?;
        bytes.map(|bytes| decode_artifact(&bytes)).transpose()
    }

    pub(crate) fn instance(&mut self, instance_id: InstanceId) -> Result<Option<InstanceState>> {
        let bytes = self
            .fork
            .proof_map(&address(Namespace::Dispatcher, "instances"))?
            .get(&instance_id.to_le_bytes())?;
        bytes.map(|bytes| decode_instance(&bytes)).transpose()
    }

    pub(crate) fn instance_id_by_name(&mut self, name: &str) -> Result<Option<InstanceId>> {
        let bytes = self
            .fork
            .map(&address(Namespace::Dispatcher, "instance_names"))?
            .get(name.as_bytes())?;
        bytes
            .map(|bytes| {
                let array: [u8; 4] = bytes
                    .try_into()
                    .map_err(|_| NodeError::Corrupt("instance id is not 4 bytes".into()))?;
                Ok(u32::from_le_bytes(array))
            })
            .transpose()
    }

    pub(crate) fn put_instance(&mut self, state: &InstanceState) -> Result<()> {
        let record = InstanceRecord {
            spec: Some(wasmvisor_proto::runtime::InstanceSpec {
                id: state.spec.id,
                name: state.spec.name.clone(),
                artifact: Some(artifact_to_proto(&state.spec.artifact)),
            }),
            status: status_record(state.status.as_ref()),
            pending: status_record(state.pending.as_ref()),
            data_version: state.data_version.clone().unwrap_or_default(),
        };
        self.fork
            .proof_map(&address(Namespace::Dispatcher, "instances"))?
            .put(&state.spec.id.to_le_bytes(), &record.encode_to_vec())?;
        self.fork
            .map(&address(Namespace::Dispatcher, "instance_names"))?
            .put(state.spec.name.as_bytes(), &state.spec.id.to_le_bytes())?;
        Ok(())
    }

    /// Every instance, ordered by id.
    pub(crate) fn instances(&mut self) -> Result<Vec<InstanceState>> {
        let entries = all_entries(self.fork, &address(Namespace::Dispatcher, "instances"), true)?;
        let mut instances: Vec<InstanceState> = entries
            .iter()
            .map(|(_, bytes)| decode_instance(bytes))
            .collect::<Result<_>>()?;
        instances.sort_by_key(|instance| instance.spec.id);
        Ok(instances)
    }

    pub(crate) fn mark_pending(&mut self, key: Vec<u8>) -> Result<()> {
        self.fork
            .key_set(&address(Namespace::Dispatcher, "pending"))?
            .put(&key, &[])?;
        Ok(())
    }

    /// Takes every staged change of this block.
    pub(crate) fn take_pending(&mut self) -> Result<Vec<Vec<u8>>> {
        let pending = address(Namespace::Dispatcher, "pending");
        let keys: Vec<Vec<u8>> = all_entries(self.fork, &pending, false)?
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        self.fork.key_set(&pending)?.clear()?;
        Ok(keys)
    }

    /// The consensus configuration (a proof entry in the core namespace).
    pub(crate) fn consensus_config(&mut self) -> Result<ConsensusConfig> {
        let bytes = self
            .fork
            .proof_entry(&address(Namespace::Core, "consensus_config"))?
            .get()?
            .unwrap_or_default();
        ConsensusConfig::decode(bytes.as_slice()).map_err(|error| NodeError::Corrupt(error.to_string()))
    }

    pub(crate) fn set_consensus_config(&mut self, config: &ConsensusConfig) -> Result<()> {
        self.fork
            .proof_entry(&address(Namespace::Core, "consensus_config"))?
            .set(&config.encode_to_vec())?;
        Ok(())
    }

    pub(crate) fn height(&mut self) -> Result<Option<u64>> {
        let bytes = self.fork.entry(&address(Namespace::Core, "height"))?.get()?;
        bytes
            .map(|bytes| {
                let array: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| NodeError::Corrupt("height is not 8 bytes".into()))?;
                Ok(u64::from_le_bytes(array))
            })
            .transpose()
    }

    pub(crate) fn set_height(&mut self, height: u64) -> Result<()> {
        self.fork
            .entry(&address(Namespace::Core, "height"))?
            .set(&height.to_le_bytes())?;
        Ok(())
    }
}

fn decode_artifact(bytes: &[u8]) -> Result<(ArtifactId, ArtifactState, [u8; 32])> {
    let record = ArtifactRecord::decode(bytes).map_err(|error| NodeError::Corrupt(error.to_string()))?;
    let artifact = artifact_from_proto(record.artifact.as_ref())?;
    let state = ArtifactState::try_from(record.state)
        .map_err(|_| NodeError::Corrupt(format!("unknown artifact state {}", record.state)))?;
    let spec_hash = record
        .spec_hash
        .as_slice()
        .try_into()
        .map_err(|_| NodeError::Corrupt("an artifact's spec hash is not 32 bytes".into()))?;
    Ok((artifact, state, spec_hash))
}

fn decode_instance(bytes: &[u8]) -> Result<InstanceState> {
    let record = InstanceRecord::decode(bytes).map_err(|error| NodeError::Corrupt(error.to_string()))?;
    let spec = record
        .spec
        .ok_or_else(|| NodeError::Corrupt("instance record without a spec".into()))?;
    Ok(InstanceState {
        spec: InstanceSpec {
            id: spec.id,
            name: spec.name,
            artifact: artifact_from_proto(spec.artifact.as_ref())?,
        },
        status: status_from_record(record.status.as_ref())?,
        pending: status_from_record(record.pending.as_ref())?,
        data_version: Some(record.data_version).filter(|version| !version.is_empty()),
    })
}

/// Every entry of a map-like index (registries are small).
fn all_entries(fork: &mut Fork, index: &IndexAddress, proof: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut entries = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let map = if proof {
            fork.proof_map(index)?
        } else {
            fork.key_set(index)?
        };
        let page = map.range(cursor.as_deref(), None, wasmvisor_storage::limits::RANGE_ITEMS_MAX)?;
        let Some((last, _)) = page.last() else {
            return Ok(entries);
        };
        let mut next = last.clone();
        next.push(0);
        cursor = Some(next);
        entries.extend(page);
    }
}
