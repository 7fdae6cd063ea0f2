//! Deploying artifacts: requests approved by the mode, a local deploy on
//! every validator in after-commit, results from every validator, and the
//! artifact registered with the dispatcher when all succeeded.
//!
//! State: the proof map `deploys` from blake3(DeployRequest) to its
//! `DeployState`.

use prost::Message;
use wasmvisor_proto::supervisor::{DeployRequest, DeployResult, DeployState, DeployStatus, Empty, deploy_result};
use wasmvisor_sdk::{CommonError, ExecutionError, ProofMap, common_error, context};

use crate::errors::SupervisorError;
use crate::privileged::wasmvisor::service::dispatcher::{self, LocalOutcome};
use crate::{registry, validators};

/// Method ids.
pub const REQUEST_ARTIFACT_DEPLOY: u32 = 0;
pub const REPORT_DEPLOY_RESULT: u32 = 1;

fn deploys() -> ProofMap<[u8; 32], DeployState> {
    ProofMap::new("deploys")
}

/// The key of a request: blake3 of its encoding.
pub fn request_key(request: &DeployRequest) -> [u8; 32] {
    *blake3::hash(&request.encode_to_vec()).as_bytes()
}

fn artifact_of(request: &DeployRequest) -> Result<wasmvisor_sdk::ArtifactId, ExecutionError> {
    registry::artifact_id(request.artifact.as_ref(), "a deploy request")
}

/// Whether the request has the approvals its mode needs.
fn approved(state: &DeployState) -> bool {
    state.approvals.len() >= validators::approvals_needed()
}

/// Method 0: a validator asks for a deploy (another validator asking for
/// the same counts as its approval).
pub fn request(request: DeployRequest) -> Result<(), ExecutionError> {
    let validator = validators::author_index()?;
    if request.deadline_height <= context::height() {
        return Err(SupervisorError::DeadlineExceeded.into());
    }
    if registry::artifact(&artifact_of(&request)?).is_some() {
        return Err(SupervisorError::AlreadyDeployed.into());
    }
    let key = request_key(&request);
    let mut state = deploys().get(&key)?.unwrap_or(DeployState {
        request: Some(request),
        status: DeployStatus::DeployPending as i32,
        ..DeployState::default()
    });
    if state.status != DeployStatus::DeployPending as i32 || state.approvals.contains(&validator) {
        return Err(SupervisorError::DeployRequestAlreadyRegistered.into());
    }
    state.approvals.push(validator);
    deploys().put(&key, &state)
}

/// Method 1: a validator reports its local deploy. All must succeed; one
/// failure fails the request.
pub fn report(result: DeployResult) -> Result<(), ExecutionError> {
    let validator = validators::author_index()?;
    let request = result
        .request
        .ok_or_else(|| common_error(CommonError::MalformedArguments, "a deploy result names its request"))?;
    let key = request_key(&request);
    let mut state = deploys()
        .get(&key)?
        .filter(|state| state.status == DeployStatus::DeployPending as i32 && approved(state))
        .ok_or(SupervisorError::DeployRequestNotRegistered)?;
    match result.result {
        Some(deploy_result::Result::Ok(Empty {})) => {
            if !state.reported_ok.contains(&validator) {
                state.reported_ok.push(validator);
            }
        }
        Some(deploy_result::Result::Error(error)) => {
            state.status = DeployStatus::DeployFailed as i32;
            state.error = error;
        }
        None => {
            return Err(common_error(
                CommonError::MalformedArguments,
                "a deploy result has an outcome",
            ));
        }
    }
    if state.status == DeployStatus::DeployPending as i32 && state.reported_ok.len() == validators::count() {
        dispatcher::register_artifact(&artifact_of(&request)?, &request.spec)?;
        state.status = DeployStatus::DeploySucceeded as i32;
    }
    deploys().put(&key, &state)
}

/// Before each block's transactions: pending deploys past their deadline
/// time out.
pub fn expire() -> Result<(), ExecutionError> {
    let height = context::height();
    for (key, mut state) in deploys().entries()? {
        let deadline = state.request.as_ref().map_or(0, |request| request.deadline_height);
        if state.status == DeployStatus::DeployPending as i32 && deadline < height {
            state.status = DeployStatus::DeployTimeout as i32;
            deploys().put(&key, &state)?;
        }
    }
    Ok(())
}

/// After each block, on a validator: deploy approved artifacts locally and
/// report the outcome (identical reports are the same transaction, which
/// the node's pool drops when repeated).
pub fn after_commit() {
    let Some(me) = validators::node_index() else { return };
    let Ok(entries) = deploys().entries() else { return };
    for (_, state) in entries {
        let pending = state.status == DeployStatus::DeployPending as i32 && approved(&state);
        let (Some(request), true) = (state.request, pending && !state.reported_ok.contains(&me)) else {
            continue;
        };
        let Ok(artifact) = artifact_of(&request) else { continue };
        let outcome = match dispatcher::local_deploy_status(&artifact) {
            LocalOutcome::Unknown => {
                let _queued = dispatcher::request_local_deploy(&artifact, &request.spec);
                continue;
            }
            LocalOutcome::Pending => continue,
            LocalOutcome::Succeeded(_) => deploy_result::Result::Ok(Empty {}),
            LocalOutcome::Failed(reason) => deploy_result::Result::Error(reason),
        };
        let result = DeployResult {
            request: Some(request),
            result: Some(outcome),
        };
        let _queued = dispatcher::broadcast(REPORT_DEPLOY_RESULT, &result.encode_to_vec());
    }
}

/// Query `deploy-status-by-hash`: argument the 32-byte blake3 hash of an
/// encoded `DeployRequest` (requests carry whole components, too large for
/// a URL), answer its `DeployState`.
pub fn status_by_hash(arguments: &[u8]) -> Option<DeployState> {
    let key: [u8; 32] = arguments.try_into().ok()?;
    deploys().get(&key).ok()?
}

/// Query `deploy-status`: argument a `DeployRequest`, answer its
/// `DeployState`.
pub fn status(arguments: &[u8]) -> Option<DeployState> {
    let request = DeployRequest::decode(arguments).ok()?;
    deploys().get(&request_key(&request)).ok()?
}
