//! Deploying artifacts: requests approved by the mode, a local deploy on
//! every validator in after-commit, results from every validator, and the
//! artifact registered with the dispatcher when all succeeded.
//!
//! State, so that no block's work grows with the history of deploys:
//! - `deploys` (proof map): request key (see
//!   `DeployRequest::key_preimage`) → `DeployState`, the request kept
//!   without its spec;
//! - `pending_deploys` (proof map): deadline (u64 BE) ++ request key → empty,
//!   the requests still pending, ordered by deadline: the hooks read only
//!   these (and expiry only those past their deadline);
//! - `deploy_specs` (proof map): spec hash ++ piece number (u32 BE) → a piece
//!   of at most one service value: each spec stored once, by hash, while a
//!   pending request needs it;
//! - `deploy_spec_users` (proof map): spec hash → (pending requests using
//!   it, pieces), as a `u64` (high and low 32 bits).

use prost::Message;
use wasmvisor_limits::{DEPLOY_SPEC_BYTES_MAX, SPEC_CHUNK_BYTES_MAX, SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX};
use wasmvisor_proto::supervisor::{DeployRequest, DeployResult, DeployState, DeployStatus, Empty, deploy_result};
use wasmvisor_sdk::{CommonError, Entry, ExecutionError, ProofMap, RawBytes, common_error, context};

use crate::errors::SupervisorError;
use crate::privileged::wasmvisor::service::dispatcher::{self, LocalOutcome};
use crate::{registry, validators};

/// The id of `report_deploy_result` (`#[method(id = 1)]` in `lib.rs`),
/// which validators broadcast.
pub const REPORT_DEPLOY_RESULT: u32 = 1;

fn deploys() -> ProofMap<[u8; 32], DeployState> {
    ProofMap::new("deploys")
}

fn pending_deploys() -> ProofMap<Vec<u8>, Vec<u8>> {
    ProofMap::new("pending_deploys")
}

fn specs() -> ProofMap<Vec<u8>, RawBytes> {
    ProofMap::new("deploy_specs")
}

fn spec_users() -> ProofMap<[u8; 32], u64> {
    ProofMap::new("deploy_spec_users")
}

/// The key of a request whose spec hashes to `spec_hash`.
pub fn request_key(request: &DeployRequest, spec_hash: &[u8; 32]) -> [u8; 32] {
    context::blake3(&request.key_preimage(spec_hash))
}

fn pending_key(deadline_height: u64, key: &[u8; 32]) -> Vec<u8> {
    [&deadline_height.to_be_bytes()[..], key].concat()
}

fn piece_key(spec_hash: &[u8; 32], piece: u32) -> Vec<u8> {
    [&spec_hash[..], &piece.to_be_bytes()].concat()
}

fn spec_hash_of(state: &DeployState) -> Result<[u8; 32], ExecutionError> {
    state
        .spec_hash
        .as_slice()
        .try_into()
        .map_err(|_| common_error(CommonError::MalformedArguments, "a stored deploy has no spec hash"))
}

/// Stores `spec` under its hash (once: a second pending request of the
/// same spec only counts as a user).
fn keep_spec(spec_hash: &[u8; 32], spec: &[u8]) -> Result<(), ExecutionError> {
    if let Some(users) = spec_users().get(spec_hash)? {
        return spec_users().put(spec_hash, &(users + (1 << 32)));
    }
    let mut pieces = 0u32;
    for piece in spec.chunks(SPEC_CHUNK_BYTES_MAX) {
        specs().put_slice(&piece_key(spec_hash, pieces), piece)?;
        pieces += 1;
    }
    spec_users().put(spec_hash, &((1 << 32) | u64::from(pieces)))
}

/// The spec stored under `spec_hash`.
fn load_spec(spec_hash: &[u8; 32]) -> Result<Vec<u8>, ExecutionError> {
    let pieces = spec_users().get(spec_hash)?.unwrap_or(0) as u32;
    let mut spec = Vec::new();
    for piece in 0..pieces {
        spec.extend(specs().get(&piece_key(spec_hash, piece))?.unwrap_or_default().0);
    }
    Ok(spec)
}

/// A pending request using `spec_hash` ended: the spec goes with its last
/// user.
fn release_spec(spec_hash: &[u8; 32]) -> Result<(), ExecutionError> {
    let Some(users) = spec_users().get(spec_hash)? else {
        return Ok(());
    };
    if users >> 32 > 1 {
        return spec_users().put(spec_hash, &(users - (1 << 32)));
    }
    for piece in 0..users as u32 {
        specs().remove(&piece_key(spec_hash, piece))?;
    }
    spec_users().remove(spec_hash).map(drop)
}

/// Ends a pending request with `status`: no longer pending, its spec
/// released.
fn finish(key: &[u8; 32], state: &mut DeployState, status: DeployStatus) -> Result<(), ExecutionError> {
    state.status = status as i32;
    let deadline = state.request.as_ref().map_or(0, |request| request.deadline_height);
    pending_deploys().remove(&pending_key(deadline, key))?;
    release_spec(&spec_hash_of(state)?)?;
    deploys().put(key, state)
}

fn artifact_of(request: &DeployRequest) -> Result<wasmvisor_sdk::ArtifactId, ExecutionError> {
    registry::artifact_id(request.artifact.as_ref(), "a deploy request")
}

/// Whether the request has the approvals its mode needs from the
/// validators in force.
fn approved(state: &DeployState) -> bool {
    validators::approved(&state.approvals)
}

/// Method 0: a validator asks for a deploy (another validator asking for
/// the same counts as its approval).
pub fn request(mut request: DeployRequest) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    if request.deadline_height <= context::height() {
        return Err(SupervisorError::DeadlineExceeded.into());
    }
    let artifact = artifact_of(&request)?;
    registry::check_artifact_id(&artifact)?;
    if registry::artifact(&artifact).is_some() {
        return Err(SupervisorError::AlreadyDeployed.into());
    }
    let spec = std::mem::take(&mut request.spec);
    if spec.len() > DEPLOY_SPEC_BYTES_MAX {
        return Err(common_error(
            CommonError::MalformedArguments,
            format!(
                "a deploy spec has at most {DEPLOY_SPEC_BYTES_MAX} bytes, not {}",
                spec.len()
            ),
        ));
    }
    let spec_hash = context::blake3(&spec);
    let key = request_key(&request, &spec_hash);
    let mut state = match deploys().get(&key)? {
        Some(state) => state,
        None => {
            keep_spec(&spec_hash, &spec)?;
            pending_deploys().put(&pending_key(request.deadline_height, &key), &Vec::new())?;
            DeployState {
                request: Some(request),
                status: DeployStatus::DeployPending as i32,
                spec_hash: spec_hash.to_vec(),
                ..DeployState::default()
            }
        }
    };
    if state.status != DeployStatus::DeployPending as i32 || state.approvals.contains(&validator) {
        return Err(SupervisorError::DeployRequestAlreadyRegistered.into());
    }
    validators::add(&mut state.approvals, validator);
    deploys().put(&key, &state)
}

/// The key a result names: its `request_key`, else its whole request's.
fn result_key(result: &DeployResult) -> Result<[u8; 32], ExecutionError> {
    if let Ok(key) = <[u8; 32]>::try_from(result.request_key.as_slice()) {
        return Ok(key);
    }
    let request = result
        .request
        .as_ref()
        .ok_or_else(|| common_error(CommonError::MalformedArguments, "a deploy result names its request"))?;
    Ok(request_key(request, &context::blake3(&request.spec)))
}

/// Method 1: a validator reports its local deploy. All must succeed; one
/// failure fails the request.
pub fn report(result: DeployResult) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    let key = result_key(&result)?;
    let mut state = deploys()
        .get(&key)?
        .filter(|state| state.status == DeployStatus::DeployPending as i32 && approved(state))
        .ok_or(SupervisorError::DeployRequestNotRegistered)?;
    match result.result {
        Some(deploy_result::Result::Ok(Empty {})) => {
            validators::add(&mut state.reported_ok, validator);
        }
        Some(deploy_result::Result::Error(error)) => {
            state.error = error;
            return finish(&key, &mut state, DeployStatus::DeployFailed);
        }
        None => {
            return Err(common_error(
                CommonError::MalformedArguments,
                "a deploy result has an outcome",
            ));
        }
    }
    if validators::all_in_force(&state.reported_ok) {
        return succeed(&key, &mut state);
    }
    deploys().put(&key, &state)
}

/// Registers the artifact of a request every validator in force deployed.
fn succeed(key: &[u8; 32], state: &mut DeployState) -> Result<(), ExecutionError> {
    let request = state.request.clone().unwrap_or_default();
    let spec = load_spec(&spec_hash_of(state)?)?;
    dispatcher::register_artifact(&artifact_of(&request)?, &spec)?;
    finish(key, state, DeployStatus::DeploySucceeded)
}

/// Where the next walk over the pending requests starts (a pending key):
/// each block looks at a window of them and the next block at the window
/// after it, so every pending request is visited within
/// `ceil(pending / SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX)` blocks, however
/// many others come before it by deadline.
fn pending_cursor() -> Entry<RawBytes> {
    Entry::new("pending_cursor")
}

/// Up to [`SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX`] pending requests with
/// `from <= pending key < to`, in key order (oldest deadline first), as
/// (pending key, deadline, request key).
fn pending_between(from: Option<&Vec<u8>>, to: Option<&Vec<u8>>) -> Result<Vec<Pending>, ExecutionError> {
    Ok(pending_deploys()
        .first(from, to, SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX as u32)?
        .into_iter()
        .filter_map(|(pending_key, _)| {
            let deadline = u64::from_be_bytes(pending_key.get(..8)?.try_into().ok()?);
            let key = pending_key.get(8..)?.try_into().ok()?;
            Some(Pending {
                pending_key,
                deadline,
                key,
            })
        })
        .collect())
}

/// One pending request as the pending index holds it.
struct Pending {
    pending_key: Vec<u8>,
    deadline: u64,
    key: [u8; 32],
}

/// This block's window of pending requests: up to
/// [`SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX`] from the cursor on, wrapping
/// around to the oldest when fewer remain after it.
fn window() -> Result<Vec<Pending>, ExecutionError> {
    let cursor = pending_cursor().get()?.map(|cursor| cursor.0);
    let mut window = pending_between(cursor.as_ref(), None)?;
    if cursor.is_some() && window.len() < SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX {
        let wrapped = pending_between(None, cursor.as_ref())?;
        let room = SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX - window.len();
        window.extend(wrapped.into_iter().take(room));
    }
    Ok(window)
}

/// Before each block's transactions, reading only pending requests: up to
/// [`SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX`] past their deadline (the
/// oldest first) time out; then, in this block's window, the first
/// approved request every validator in force has reported succeeds (after
/// a consensus change removed the only validators yet to report, no report
/// is coming to finish it; one per block keeps the hook within one call's
/// write budget); the cursor moves past the window.
pub fn expire() -> Result<(), ExecutionError> {
    let height = context::height();
    let due = height.to_be_bytes().to_vec();
    for pending in pending_between(None, Some(&due))? {
        if let Some(mut state) = deploys().get(&pending.key)? {
            finish(&pending.key, &mut state, DeployStatus::DeployTimeout)?;
        }
    }
    let window = window()?;
    for pending in &window {
        if pending.deadline < height {
            continue;
        }
        let Some(mut state) = deploys().get(&pending.key)? else {
            continue;
        };
        if approved(&state) && validators::all_in_force(&state.reported_ok) {
            succeed(&pending.key, &mut state)?;
            break;
        }
    }
    match window.last() {
        // Just past the last key of the window (keys are 40 bytes).
        Some(last) => pending_cursor().set(&RawBytes([last.pending_key.as_slice(), &[0]].concat())),
        None if pending_cursor().get()?.is_some() => pending_cursor().remove().map(drop),
        None => Ok(()),
    }
}

/// After each block, on a validator: deploy approved artifacts locally and
/// report the outcome (identical reports are the same transaction, which
/// the node's pool drops when repeated). Reads only the pending requests
/// of the next block's window (see [`expire`]).
pub fn after_commit() {
    let Some(me) = validators::node_key() else { return };
    let Ok(window) = window() else { return };
    for Pending { key, .. } in window {
        let Some(state) = deploys().get(&key).ok().flatten() else {
            continue;
        };
        let waiting = state.status == DeployStatus::DeployPending as i32 && approved(&state);
        let (Some(request), true) = (&state.request, waiting && !state.reported_ok.contains(&me)) else {
            continue;
        };
        let Ok(artifact) = artifact_of(request) else { continue };
        let outcome = match dispatcher::local_deploy_status(&artifact) {
            LocalOutcome::Unknown => {
                let Ok(spec_hash) = spec_hash_of(&state) else { continue };
                if let Ok(spec) = load_spec(&spec_hash) {
                    let _queued = dispatcher::request_local_deploy(&artifact, &spec);
                }
                continue;
            }
            LocalOutcome::Pending => continue,
            LocalOutcome::Succeeded(_) => deploy_result::Result::Ok(Empty {}),
            LocalOutcome::Failed(reason) => deploy_result::Result::Error(reason),
        };
        let result = DeployResult {
            request: None,
            result: Some(outcome),
            request_key: key.to_vec(),
        };
        let _queued = dispatcher::broadcast(REPORT_DEPLOY_RESULT, &result.encode_to_vec());
    }
}

/// Query `deploy-status-by-hash`: argument a request's 32-byte key (see
/// `DeployRequest::key_preimage`), answer its `DeployState`.
pub fn status_by_hash(arguments: &[u8]) -> Option<DeployState> {
    let key: [u8; 32] = arguments.try_into().ok()?;
    deploys().get(&key).ok()?
}

/// Query `deploy-status`: argument a `DeployRequest`, answer its
/// `DeployState`.
pub fn status(arguments: &[u8]) -> Option<DeployState> {
    let request = DeployRequest::decode(arguments).ok()?;
    let spec_hash = context::blake3(&request.spec);
    deploys().get(&request_key(&request, &spec_hash)).ok()?
}
