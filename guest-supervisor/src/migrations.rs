//! Migrations (methods 4 and 5): requests approved by the mode; a
//! fast-forward swaps the artifact at once; a data migration runs on every
//! node in the background, every validator reports the root of its result,
//! equal roots commit it and a later block flushes it; a failure or
//! differing roots roll it back, and so does a passed deadline.
//!
//! State: the proof map `migrations` from blake3(MigrationRequest) to its
//! `MigrationState`, and the proof map `migrating` from a service name to
//! the key of its migration in progress (at most one per service: the
//! guard the reference lacked).

use prost::Message;
use wasmvisor_proto::supervisor::{
    MigrationReport, MigrationRequest, MigrationResult, MigrationState, MigrationStatus, migration_result,
};
use wasmvisor_sdk::{CommonError, ExecutionError, ProofMap, common_error, context};

use crate::errors::SupervisorError;
use crate::privileged::wasmvisor::service::dispatcher::{self, LocalOutcome, MigrationType};
use crate::registry::{self, artifact_id};
use crate::validators;

/// The id of `report_migration_result` (`#[method(id = 5)]` in `lib.rs`),
/// which validators broadcast.
pub const REPORT_MIGRATION_RESULT: u32 = 5;

fn migrations() -> ProofMap<[u8; 32], MigrationState> {
    ProofMap::new("migrations")
}

/// Migrations in progress, by service name.
fn migrating() -> ProofMap<String, Vec<u8>> {
    ProofMap::new("migrating")
}

fn request_key(request: &MigrationRequest) -> [u8; 32] {
    *blake3::hash(&request.encode_to_vec()).as_bytes()
}

fn key_of(bytes: &[u8]) -> Option<[u8; 32]> {
    bytes.try_into().ok()
}

/// Method 4: a validator asks for a migration (another validator asking
/// for the same counts as its approval). Once approved it starts at once.
pub fn request(request: MigrationRequest) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    let height = context::height();
    if request.deadline_height <= height {
        return Err(SupervisorError::DeadlineExceeded.with(format!(
            "deadline {} is not after height {height}",
            request.deadline_height
        )));
    }
    let artifact = artifact_id(request.new_artifact.as_ref(), "a migration request")?;
    registry::active_artifact(&artifact)?;
    if registry::instance_named(&request.service).is_none() {
        return Err(common_error(
            CommonError::MalformedArguments,
            format!("no service named {:?}", request.service),
        ));
    }
    let key = request_key(&request);
    if let Some(other) = migrating().get(&request.service)?
        && other != key
    {
        return Err(SupervisorError::MigrationRequestAlreadyRegistered
            .with(format!("{:?} is already migrating", request.service)));
    }
    let mut state = migrations().get(&key)?.unwrap_or(MigrationState {
        request: Some(request.clone()),
        ..MigrationState::default()
    });
    if state.status != MigrationStatus::MigrationPending as i32 || state.started {
        return Err(SupervisorError::MigrationRequestAlreadyRegistered.with("the request was already decided"));
    }
    // An approver asking again is refused, unless the approvals already
    // given now suffice (a consensus change lowered the quorum): then its
    // request starts the migration, which nothing else would.
    if state.approvals.contains(&validator) && !validators::approved(&state.approvals) {
        return Err(SupervisorError::MigrationRequestAlreadyRegistered.with(format!(
            "validator {} already asked for it",
            validators::name(&validator)
        )));
    }
    validators::add(&mut state.approvals, validator);
    if validators::approved(&state.approvals) {
        state.started = true;
        match dispatcher::initiate_migration(&artifact, &request.service)? {
            MigrationType::FastForward => state.status = MigrationStatus::MigrationSucceeded as i32,
            MigrationType::Data => {
                state.data = true;
                migrating().put(&request.service, &key.to_vec())?;
            }
        }
    }
    migrations().put(&key, &state)
}

/// Ends a migration in progress with a failure and rolls it back.
fn fail(state: &mut MigrationState, error: SupervisorError, description: String) -> Result<(), ExecutionError> {
    let service = state
        .request
        .as_ref()
        .map(|request| request.service.clone())
        .unwrap_or_default();
    dispatcher::rollback_migration(&service)?;
    migrating().remove(&service)?;
    state.status = MigrationStatus::MigrationFailed as i32;
    state.error_code = error as u32;
    state.error = description;
    Ok(())
}

/// Method 5: a validator reports the outcome of its local data migration.
/// Every validator must report the same root; an error or a different
/// root fails the migration (the report itself succeeds, so the failure
/// is recorded).
pub fn report(result: MigrationResult) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    let request = result
        .request
        .ok_or_else(|| common_error(CommonError::MalformedArguments, "a migration result names its request"))?;
    let key = request_key(&request);
    let mut state = migrations()
        .get(&key)?
        .filter(|state| {
            state.status == MigrationStatus::MigrationPending as i32 && state.data && state.committed_hash.is_empty()
        })
        .ok_or_else(|| SupervisorError::MigrationRequestNotRegistered.with("no data migration awaits this result"))?;
    match result.status {
        Some(migration_result::Status::StateHash(hash)) => {
            if hash.len() != 32 {
                return Err(common_error(
                    CommonError::MalformedArguments,
                    "a state hash is 32 bytes",
                ));
            }
            // Reports of validators no longer in force neither count nor
            // fail the migration.
            let current = validators::keys();
            state.reports.retain(|report| current.contains(&report.validator_key));
            if let Some(differing) = state.reports.iter().find(|report| report.state_hash != hash) {
                let description = format!(
                    "validator {} reported a root differing from validator {}'s",
                    validators::name(&validator),
                    validators::name(&differing.validator_key)
                );
                fail(&mut state, SupervisorError::StateHashDivergence, description)?;
            } else {
                if !state.reports.iter().any(|report| report.validator_key == validator) {
                    state.reports.push(MigrationReport {
                        validator_key: validator,
                        state_hash: hash,
                    });
                }
                commit_if_every_validator_agrees(&request.service, &mut state)?;
            }
        }
        Some(migration_result::Status::Error(error)) => {
            let description = format!("validator {}: {error}", validators::name(&validator));
            fail(&mut state, SupervisorError::MigrationFailed, description)?;
        }
        None => {
            return Err(common_error(
                CommonError::MalformedArguments,
                "a migration result has an outcome",
            ));
        }
    }
    migrations().put(&key, &state)
}

/// Commits a data migration once every validator in force has reported
/// (the same root: a differing one failed it). Reports of validators no
/// longer in force do not count.
fn commit_if_every_validator_agrees(service: &str, state: &mut MigrationState) -> Result<(), ExecutionError> {
    let current = validators::keys();
    // Reports are one per validator and agree (a differing one failed the
    // migration), so every validator in force reported when as many of
    // theirs are here as there are validators.
    let in_force: Vec<&MigrationReport> = state
        .reports
        .iter()
        .filter(|report| current.contains(&report.validator_key))
        .collect();
    if !state.committed_hash.is_empty() || in_force.len() < current.len() {
        return Ok(());
    }
    let Some(agreed) = in_force.first().map(|report| report.state_hash.clone()) else {
        return Ok(());
    };
    dispatcher::commit_migration(service, &agreed)?;
    state.committed_hash = agreed;
    Ok(())
}

/// Before each block's transactions: committed migrations are flushed
/// (their data replaces the service's); uncommitted ones past their
/// deadline time out and roll back; one every validator in force has
/// reported is committed (after a consensus change removed the only
/// validators yet to report, no report is coming to commit it).
pub fn before_transactions() -> Result<(), ExecutionError> {
    let height = context::height();
    for (service, key) in migrating().entries()? {
        let Some(key) = key_of(&key) else { continue };
        let Some(mut state) = migrations().get(&key)? else {
            continue;
        };
        let deadline = state.request.as_ref().map_or(0, |request| request.deadline_height);
        if !state.committed_hash.is_empty() {
            dispatcher::flush_migration(&service)?;
            state.status = MigrationStatus::MigrationSucceeded as i32;
        } else if deadline < height {
            dispatcher::rollback_migration(&service)?;
            state.status = MigrationStatus::MigrationTimeout as i32;
        } else {
            if state.data {
                commit_if_every_validator_agrees(&service, &mut state)?;
                if !state.committed_hash.is_empty() {
                    migrations().put(&key, &state)?;
                }
            }
            continue;
        }
        migrating().remove(&service)?;
        migrations().put(&key, &state)?;
    }
    Ok(())
}

/// After each block, on a validator: report the outcome of local data
/// migrations not yet reported by this node.
pub fn after_commit() {
    let Some(me) = validators::node_key() else { return };
    let Ok(in_progress) = migrating().entries() else { return };
    for (service, key) in in_progress {
        let Some(state) = key_of(&key).and_then(|key| migrations().get(&key).ok().flatten()) else {
            continue;
        };
        if !state.committed_hash.is_empty() || state.reports.iter().any(|report| report.validator_key == me) {
            continue;
        }
        let status = match dispatcher::local_migration_status(&service) {
            LocalOutcome::Unknown | LocalOutcome::Pending => continue,
            LocalOutcome::Succeeded(root) => migration_result::Status::StateHash(root),
            LocalOutcome::Failed(reason) => migration_result::Status::Error(reason),
        };
        let result = MigrationResult {
            request: state.request,
            status: Some(status),
        };
        let _queued = dispatcher::broadcast(REPORT_MIGRATION_RESULT, &result.encode_to_vec());
    }
}

/// Query `migration-status`: argument a `MigrationRequest`, answer its
/// `MigrationState`.
pub fn status(arguments: &[u8]) -> Option<MigrationState> {
    let request = MigrationRequest::decode(arguments).ok()?;
    migrations().get(&request_key(&request)).ok()?
}
