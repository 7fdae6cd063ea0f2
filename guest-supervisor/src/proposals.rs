//! Configuration proposals and votes (methods 2 and 3), enacted together
//! at `actual_from` once approved.
//!
//! State: the proof entry `pending_proposal` (at most one
//! `ConfigProposalState`) and the proof entry `configuration_number`
//! (u64), which every accepted proposal must name and then increments.

use std::collections::BTreeSet;

use prost::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigProposalState, ConfigPropose, ConfigVote, ServiceConfig, SupervisorConfig, config_change,
};
use wasmvisor_sdk::{ExecutionError, InstanceSpec, InstanceStatus, ProofEntry, context};

use crate::errors::SupervisorError;
use crate::privileged::wasmvisor::service::dispatcher;
use crate::registry::{self, artifact_id, same};
use crate::{SUPERVISOR_ARTIFACT_NAME, supervisor_config, validators};

use wasmvisor_limits::{INSTANCE_NAME_BYTES_MAX, PROPOSAL_CHANGES_ITEMS_MAX, SERVICE_PARAMS_BYTES_MAX};

fn pending() -> ProofEntry<ConfigProposalState> {
    ProofEntry::new("pending_proposal")
}

fn configuration_number() -> ProofEntry<u64> {
    ProofEntry::new("configuration_number")
}

/// The number the next proposal must carry.
pub fn current_configuration_number() -> Result<u64, ExecutionError> {
    Ok(configuration_number().get()?.unwrap_or(0))
}

/// The pending proposal, if any.
pub fn pending_proposal() -> Result<Option<ConfigProposalState>, ExecutionError> {
    pending().get()
}

fn malformed(description: impl std::fmt::Display) -> ExecutionError {
    SupervisorError::MalformedConfigPropose.with(description)
}

/// Method 2: a validator proposes a batch of changes; its own approval is
/// implied.
pub fn propose(propose: ConfigPropose) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    if pending().get()?.is_some() {
        return Err(SupervisorError::ConfigProposeExists.with("vote for the pending proposal or wait for it to end"));
    }
    let height = context::height();
    let actual_from = if propose.actual_from == 0 {
        height + 1
    } else {
        propose.actual_from
    };
    if actual_from <= height {
        return Err(SupervisorError::ActualFromIsPast.with(format!("{actual_from} is not after height {height}")));
    }
    let number = current_configuration_number()?;
    if propose.configuration_number != number {
        return Err(SupervisorError::IncorrectConfigurationNumber.with(format!(
            "the proposal names {}, the current number is {number}",
            propose.configuration_number
        )));
    }
    verify_changes(&propose.changes)?;
    let propose_hash = blake3::hash(&propose.encode_to_vec()).as_bytes().to_vec();
    pending().set(&ConfigProposalState {
        propose: Some(propose),
        propose_hash,
        actual_from,
        approvals: vec![validator],
    })?;
    configuration_number().set(&(number + 1))
}

/// Method 3: a validator approves the pending proposal.
pub fn vote(vote: ConfigVote) -> Result<(), ExecutionError> {
    let validator = validators::author()?;
    let mut state = pending()
        .get()?
        .filter(|state| state.propose_hash == vote.propose_hash)
        .ok_or_else(|| SupervisorError::ConfigProposeNotRegistered.with("no pending proposal has this hash"))?;
    if state.actual_from <= context::height() {
        return Err(SupervisorError::ActualFromIsPast.with("the proposal's actual_from has passed"));
    }
    if state.approvals.contains(&validator) {
        return Err(SupervisorError::AttemptToVoteTwice
            .with(format!("validator {} already approved", validators::name(&validator))));
    }
    validators::add(&mut state.approvals, validator);
    pending().set(&state)
}

/// Before each block's transactions: a proposal whose `actual_from` has
/// come without enough approvals is dropped.
pub fn drop_expired() -> Result<(), ExecutionError> {
    if let Some(state) = pending().get()?
        && state.actual_from <= context::height()
    {
        pending().remove()?;
    }
    Ok(())
}

/// After each block's transactions: an approved proposal due at the next
/// height is enacted, all its changes together. Any failure fails the
/// hook, which rolls every change back; the proposal is then dropped when
/// its `actual_from` comes.
pub fn enact() -> Result<(), ExecutionError> {
    let Some(state) = pending().get()? else {
        return Ok(());
    };
    if state.actual_from != context::height() + 1 || !validators::approved(&state.approvals) {
        return Ok(());
    }
    pending().remove()?;
    for change in state.propose.map(|propose| propose.changes).unwrap_or_default() {
        apply(change)?;
    }
    Ok(())
}

/// Whether `name` may name a service: 1 to 64 bytes of `[A-Za-z0-9_.-]`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= INSTANCE_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

/// Checks a consensus configuration's shape (the dispatcher checks it
/// again, in full, when it is applied).
fn check_consensus(config: &ConsensusConfig) -> Result<(), ExecutionError> {
    if config.validator_keys.is_empty() {
        return Err(SupervisorError::InvalidConfig.with("a validator set cannot be empty"));
    }
    let mut keys = BTreeSet::new();
    for validator in &config.validator_keys {
        for key in [&validator.consensus_key, &validator.service_key] {
            if key.len() != 32 {
                return Err(SupervisorError::InvalidConfig.with("validator keys are 32 bytes"));
            }
            if !keys.insert(key.clone()) {
                return Err(SupervisorError::InvalidConfig.with("a validator key is used twice"));
            }
        }
    }
    Ok(())
}

/// The registry state of an instance named by a change.
fn existing(instance_id: u32) -> Result<dispatcher::InstanceRecord, ExecutionError> {
    registry::instance(instance_id).ok_or_else(|| malformed(format!("no instance with id {instance_id}")))
}

/// The current status of an instance with no transition pending.
fn settled_status(record: &dispatcher::InstanceRecord) -> Result<InstanceStatus, ExecutionError> {
    match (&record.status, &record.pending_status) {
        (Some(status), None) => Ok(status.clone()),
        _ => Err(malformed(format!(
            "instance {} has a transition pending",
            record.spec.id
        ))),
    }
}

/// Every rule a proposal's changes must meet when it is made.
fn verify_changes(changes: &[ConfigChange]) -> Result<(), ExecutionError> {
    if changes.is_empty() {
        return Err(malformed("a proposal changes something"));
    }
    if changes.len() > PROPOSAL_CHANGES_ITEMS_MAX {
        return Err(malformed(format!(
            "at most {PROPOSAL_CHANGES_ITEMS_MAX} changes per proposal"
        )));
    }
    let mut consensus_seen = false;
    let mut claimed = BTreeSet::new();
    let mut claim = |instance_id: u32| {
        if claimed.insert(instance_id) {
            Ok(())
        } else {
            Err(malformed(format!("more than one change for instance {instance_id}")))
        }
    };
    let (mut started_names, mut started, mut unloaded) = (BTreeSet::new(), Vec::new(), Vec::new());
    for change in changes {
        let kind = change
            .kind
            .as_ref()
            .ok_or_else(|| malformed("a change without a kind"))?;
        let params = match kind {
            config_change::Kind::Service(service) => service.params.len(),
            config_change::Kind::StartService(start) => start.config.len(),
            config_change::Kind::ResumeService(resume) => resume.params.len(),
            _ => 0,
        };
        if params > SERVICE_PARAMS_BYTES_MAX {
            return Err(malformed(format!(
                "a change's parameters have at most {SERVICE_PARAMS_BYTES_MAX} bytes, not {params}"
            )));
        }
        match kind {
            config_change::Kind::Consensus(config) => {
                if std::mem::replace(&mut consensus_seen, true) {
                    return Err(malformed("at most one consensus change per proposal"));
                }
                check_consensus(config)?;
            }
            config_change::Kind::Service(ServiceConfig { instance_id, params }) => {
                claim(*instance_id)?;
                if *instance_id == wasmvisor_sdk::context::instance().id {
                    SupervisorConfig::decode(params.as_slice())
                        .map_err(|error| SupervisorError::InvalidConfig.with(format!("SupervisorConfig: {error}")))?;
                } else {
                    let record = existing(*instance_id)?;
                    if !matches!(settled_status(&record)?, InstanceStatus::Active) {
                        return Err(malformed(format!("instance {instance_id} is not active")));
                    }
                    dispatcher::verify_service_config(*instance_id, params).map_err(|error| {
                        SupervisorError::InvalidConfig
                            .with(format!("instance {instance_id} refused it: {}", error.description))
                    })?;
                }
            }
            config_change::Kind::StartService(start) => {
                let artifact = artifact_id(start.artifact.as_ref(), "a start")?;
                registry::active_artifact(&artifact)?;
                if artifact.name == SUPERVISOR_ARTIFACT_NAME {
                    return Err(
                        SupervisorError::InvalidArtifactId.with("the supervisor's artifact runs only as instance 0")
                    );
                }
                if !valid_name(&start.name) {
                    return Err(SupervisorError::InvalidInstanceName
                        .with(format!("1 to {INSTANCE_NAME_BYTES_MAX} bytes of [A-Za-z0-9_.-]")));
                }
                if registry::instance_named(&start.name).is_some() || !started_names.insert(start.name.clone()) {
                    return Err(SupervisorError::InstanceExists.with(format!("{:?} is taken", start.name)));
                }
                started.push(artifact);
            }
            config_change::Kind::StopService(stop) => {
                claim(stop.instance_id)?;
                let status = settled_status(&not_supervisor(stop.instance_id)?)?;
                if !matches!(status, InstanceStatus::Active | InstanceStatus::Frozen) {
                    return Err(malformed(format!(
                        "instance {} is not active or frozen",
                        stop.instance_id
                    )));
                }
            }
            config_change::Kind::FreezeService(freeze) => {
                claim(freeze.instance_id)?;
                let status = settled_status(&not_supervisor(freeze.instance_id)?)?;
                if !matches!(status, InstanceStatus::Active) {
                    return Err(malformed(format!("instance {} is not active", freeze.instance_id)));
                }
            }
            config_change::Kind::ResumeService(resume) => {
                claim(resume.instance_id)?;
                let record = not_supervisor(resume.instance_id)?;
                let status = settled_status(&record)?;
                if !matches!(status, InstanceStatus::Stopped | InstanceStatus::Frozen) {
                    return Err(malformed(format!(
                        "instance {} is not stopped or frozen",
                        resume.instance_id
                    )));
                }
                if let Some(data_version) = &record.data_version
                    && *data_version != record.spec.artifact.version
                {
                    return Err(malformed(format!(
                        "instance {} holds data of version {data_version}, its artifact is {}; migrate it first",
                        resume.instance_id, record.spec.artifact.version
                    )));
                }
            }
            config_change::Kind::UnloadArtifact(unload) => {
                let artifact = artifact_id(unload.artifact_id.as_ref(), "an unload")?;
                registry::active_artifact(&artifact)?;
                if registry::in_use(&artifact) {
                    return Err(malformed("an instance uses the artifact"));
                }
                unloaded.push(artifact);
            }
        }
    }
    if started
        .iter()
        .any(|artifact| unloaded.iter().any(|other| same(artifact, other)))
    {
        return Err(malformed("a proposal cannot both start from and unload one artifact"));
    }
    Ok(())
}

/// The record of an instance that is not the supervisor (which cannot
/// stop, freeze or resume itself).
fn not_supervisor(instance_id: u32) -> Result<dispatcher::InstanceRecord, ExecutionError> {
    if instance_id == wasmvisor_sdk::context::instance().id {
        return Err(malformed("the supervisor cannot stop, freeze or resume itself"));
    }
    existing(instance_id)
}

/// Applies one change of an approved proposal.
fn apply(change: ConfigChange) -> Result<(), ExecutionError> {
    let Some(kind) = change.kind else {
        return Err(malformed("a change without a kind"));
    };
    match kind {
        config_change::Kind::Consensus(config) => dispatcher::set_consensus_config(&config.encode_to_vec()),
        config_change::Kind::Service(ServiceConfig { instance_id, params }) => {
            if instance_id == wasmvisor_sdk::context::instance().id {
                let config = SupervisorConfig::decode(params.as_slice())
                    .map_err(|error| SupervisorError::InvalidConfig.with(format!("SupervisorConfig: {error}")))?;
                supervisor_config().set(&config)
            } else {
                dispatcher::apply_service_config(instance_id, &params)
            }
        }
        config_change::Kind::StartService(start) => {
            let artifact = artifact_id(start.artifact.as_ref(), "a start")?;
            // The supervisor assigns ids: one more than the largest in use
            // (including instances started earlier in this proposal).
            let largest = dispatcher::instances()
                .iter()
                .map(|record| record.spec.id)
                .max()
                .unwrap_or(0);
            let id = largest
                .checked_add(1)
                .ok_or_else(|| malformed("every instance id is taken"))?;
            let spec = InstanceSpec {
                id,
                name: start.name,
                artifact,
            };
            dispatcher::add_instance(&spec, &start.config)
        }
        config_change::Kind::StopService(stop) => dispatcher::stop_instance(stop.instance_id),
        config_change::Kind::FreezeService(freeze) => dispatcher::freeze_instance(freeze.instance_id),
        config_change::Kind::ResumeService(resume) => dispatcher::resume_instance(resume.instance_id, &resume.params),
        config_change::Kind::UnloadArtifact(unload) => {
            dispatcher::unload_artifact(&artifact_id(unload.artifact_id.as_ref(), "an unload")?)
        }
    }
}
