//! Reading the dispatcher's registries, and converting artifact ids
//! between the protobuf payloads and the WIT types.

use wasmvisor_limits::{ARTIFACT_NAME_BYTES_MAX, ARTIFACT_VERSION_BYTES_MAX};
use wasmvisor_sdk::{ArtifactId, CommonError, ExecutionError, InstanceStatus, common_error};

use crate::errors::SupervisorError;
use crate::privileged::wasmvisor::service::dispatcher::{self, ArtifactRecord, ArtifactState, InstanceRecord};

/// The WIT artifact id of a payload's, or MalformedArguments if absent.
pub fn artifact_id(
    artifact: Option<&wasmvisor_proto::runtime::ArtifactId>,
    what: &str,
) -> Result<ArtifactId, ExecutionError> {
    let artifact =
        artifact.ok_or_else(|| common_error(CommonError::MalformedArguments, format!("{what} names an artifact")))?;
    Ok(ArtifactId {
        runtime_id: artifact.runtime_id,
        name: artifact.name.clone(),
        version: artifact.version.clone(),
    })
}

/// The protobuf form of an artifact id.
pub fn proto_artifact(artifact: &ArtifactId) -> wasmvisor_proto::runtime::ArtifactId {
    wasmvisor_proto::runtime::ArtifactId {
        runtime_id: artifact.runtime_id,
        name: artifact.name.clone(),
        version: artifact.version.clone(),
    }
}

/// Whether two artifact ids are the same.
pub fn same(left: &ArtifactId, right: &ArtifactId) -> bool {
    left.runtime_id == right.runtime_id && left.name == right.name && left.version == right.version
}

/// The registry's record of `artifact`, if it has one.
pub fn artifact(artifact: &ArtifactId) -> Option<ArtifactRecord> {
    dispatcher::artifacts()
        .into_iter()
        .find(|record| same(&record.id, artifact))
}

/// The record of an Active artifact, or UnknownArtifact.
pub fn active_artifact(id: &ArtifactId) -> Result<ArtifactRecord, ExecutionError> {
    artifact(id)
        .filter(|record| record.state == ArtifactState::Active)
        .ok_or_else(|| {
            SupervisorError::UnknownArtifact.with(format!(
                "{}:{}:{} is not an active artifact",
                id.runtime_id, id.name, id.version
            ))
        })
}

/// The registry's record of instance `id`.
pub fn instance(id: u32) -> Option<InstanceRecord> {
    dispatcher::instances().into_iter().find(|record| record.spec.id == id)
}

/// The registry's record of the instance called `name`.
pub fn instance_named(name: &str) -> Option<InstanceRecord> {
    dispatcher::instances()
        .into_iter()
        .find(|record| record.spec.name == name)
}

/// Whether an instance uses `artifact` (runs it, or migrates to it).
pub fn in_use(artifact: &ArtifactId) -> bool {
    let migrating_to = |status: &Option<InstanceStatus>| matches!(status, Some(InstanceStatus::Migrating(target)) if same(target, artifact));
    dispatcher::instances().iter().any(|record| {
        same(&record.spec.artifact, artifact) || migrating_to(&record.status) || migrating_to(&record.pending_status)
    })
}

/// An artifact id a request may name: a name of 1 to
/// [`ARTIFACT_NAME_BYTES_MAX`] bytes and a version of at most
/// [`ARTIFACT_VERSION_BYTES_MAX`] bytes (the dispatcher checks it is semver).
pub fn check_artifact_id(artifact: &ArtifactId) -> Result<(), ExecutionError> {
    if artifact.name.is_empty() || artifact.name.len() > ARTIFACT_NAME_BYTES_MAX {
        return Err(SupervisorError::InvalidArtifactId.with(format!(
            "an artifact name has 1 to {ARTIFACT_NAME_BYTES_MAX} bytes, not {}",
            artifact.name.len()
        )));
    }
    if artifact.version.len() > ARTIFACT_VERSION_BYTES_MAX {
        return Err(SupervisorError::InvalidArtifactId.with(format!(
            "an artifact version has at most {ARTIFACT_VERSION_BYTES_MAX} bytes, not {}",
            artifact.version.len()
        )));
    }
    Ok(())
}
