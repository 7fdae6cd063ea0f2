//! System services: services the node operator lists in the node's
//! configuration (`[system_services]`), deployed and started at genesis and
//! kept at the configured version afterwards.
//!
//! At genesis they are part of the genesis block; a component that cannot
//! be read or deployed stops the node from starting, naming the service.
//! On every later start the node reconciles by service name, through the
//! supervisor like any operator (so in decentralized mode the other
//! validators' votes are still needed; a node whose configuration agrees
//! votes for a matching pending proposal):
//!
//! - absent: deploy the artifact if it is not registered, then propose to
//!   start the service;
//! - running another version of the same artifact name, older than the
//!   configured one: deploy the new artifact, stop the service, request the
//!   migration (repeated after a data migration so the new artifact is
//!   associated), and resume it;
//! - running the configured artifact: nothing. A service an operator
//!   stopped or froze stays so; only a service this process stopped for an
//!   upgrade is resumed. A newer running version is never downgraded.
//!
//! The reconciler is level-triggered: after every block it compares the
//! committed state with the configuration and takes at most one step per
//! service, waiting for the previous step's transaction (and any pending
//! proposal) first; a step that keeps failing is given up after
//! [`ATTEMPTS_MAX`] tries with an error in the log.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wasmvisor_blockchain::Blockchain;
use wasmvisor_dispatcher::{GenesisConfig, artifact_to_proto};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigProposalState, ConfigPropose, ConfigVote, MigrationRequest, ResumeService, StartService,
    StopService, config_change,
};
use wasmvisor_runtime::{ArtifactId, InstanceSpec, InstanceStatus, runtime_id};
use wasmvisor_storage::Hash;

use crate::requests::{SupervisorAction, configuration_number, parse_artifact, pending_proposal};

/// Most system services one node configures.
pub const SYSTEM_SERVICES_MAX: usize = 64;
use wasmvisor_limits::{COMPONENT_BYTES_MAX, INSTANCE_NAME_BYTES_MAX};
/// A step whose transaction is in no block this many blocks after it was
/// sent (dropped from the mempool) is sent again.
pub const RESEND_AFTER_BLOCKS: u64 = 20;
/// Tries of one reconciliation step before it is given up.
pub const ATTEMPTS_MAX: u32 = 3;
/// Deadlines of deploys and migrations the reconciler requests are the
/// next multiple of this many blocks at least this far ahead, so that
/// validators with the same configuration make identical requests.
pub const DEADLINE_ROUNDING_BLOCKS: u64 = 1000;

/// The `[system_services]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemServicesConfig {
    /// The services to run, by name (default: every service table).
    #[serde(default)]
    pub enable: Option<Vec<String>>,
    /// One `[system_services.<name>]` table per service.
    #[serde(flatten)]
    pub services: BTreeMap<String, SystemServiceConfig>,
}

/// One `[system_services.<name>]` table; the table's name is the service
/// instance's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemServiceConfig {
    /// The artifact, `name:version` (a wasm component) or
    /// `native:name:version` (compiled into the node).
    pub artifact: String,
    /// The component file (wasm artifacts); relative paths are relative to
    /// the configuration file.
    #[serde(default)]
    pub component: Option<PathBuf>,
    /// Constructor parameters (hex).
    #[serde(default)]
    pub params: String,
}

/// A system service ready to deploy: its artifact, deploy spec and
/// parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemService {
    /// The instance name.
    pub name: String,
    /// The artifact.
    pub artifact: ArtifactId,
    /// The deploy spec (a `WasmDeploySpec`, or empty for native).
    pub spec: Vec<u8>,
    /// Constructor parameters.
    pub params: Vec<u8>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= INSTANCE_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

/// A system service's name: 1 to `INSTANCE_NAME_BYTES_MAX` bytes of
/// `[A-Za-z0-9_.-]`, not the supervisor's, and not among `before`.
pub(crate) fn check_name<'a>(name: &str, mut before: impl Iterator<Item = &'a str>) -> Result<(), String> {
    if !valid_name(name) || name == "supervisor" {
        return Err(format!(
            "system service name {name:?} must be 1 to {INSTANCE_NAME_BYTES_MAX} bytes of [A-Za-z0-9_.-] and not \"supervisor\""
        ));
    }
    if before.any(|known| known == name) {
        return Err(format!("system service {name:?} is named twice"));
    }
    Ok(())
}

impl SystemServicesConfig {
    /// The enabled services in order, checked against the rules the types
    /// cannot express.
    pub fn enabled(&self) -> Result<Vec<(&str, &SystemServiceConfig)>, String> {
        let names: Vec<&str> = match &self.enable {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => self.services.keys().map(String::as_str).collect(),
        };
        if names.len() > SYSTEM_SERVICES_MAX {
            return Err(format!("at most {SYSTEM_SERVICES_MAX} system services"));
        }
        let mut enabled = Vec::new();
        for name in names {
            check_name(name, enabled.iter().map(|(known, _)| *known))?;
            let config = self.services.get(name).ok_or_else(|| {
                format!("system service {name:?} is enabled but has no [system_services.{name}] table")
            })?;
            let (runtime, _, _) =
                parse_artifact(&config.artifact).map_err(|error| format!("system service {name:?}: {error}"))?;
            match (runtime.unwrap_or(runtime_id::WASM), &config.component) {
                (runtime_id::WASM, None) => {
                    return Err(format!(
                        "system service {name:?}: a wasm artifact needs `component = \"<file>\"`"
                    ));
                }
                (runtime_id::NATIVE, Some(_)) => {
                    return Err(format!("system service {name:?}: a native artifact takes no component"));
                }
                _ => {}
            }
            hex::decode(&config.params)
                .map_err(|error| format!("system service {name:?}: params are not hex: {error}"))?;
            enabled.push((name, config));
        }
        Ok(enabled)
    }

    /// Makes relative component paths relative to `base` (the directory of
    /// the configuration file).
    pub fn resolve_paths(&mut self, base: &Path) {
        for config in self.services.values_mut() {
            if let Some(component) = &mut config.component
                && component.is_relative()
            {
                *component = base.join(&*component);
            }
        }
    }

    /// Reads every enabled service's component; the error names the
    /// service and says why.
    pub fn load(&self) -> Result<Vec<SystemService>, String> {
        self.enabled()?
            .into_iter()
            .map(|(name, config)| {
                let why = |message: String| format!("system service {name:?} ({}): {message}", config.artifact);
                let (runtime, artifact_name, version) =
                    parse_artifact(&config.artifact).map_err(|error| why(error.0))?;
                let artifact = ArtifactId {
                    runtime_id: runtime.unwrap_or(runtime_id::WASM),
                    name: artifact_name,
                    version,
                };
                let spec = match &config.component {
                    Some(path) => wasmvisor_wasm::deploy_spec(&read_component(path).map_err(why)?).encode_to_vec(),
                    None => Vec::new(),
                };
                Ok(SystemService {
                    name: name.to_owned(),
                    artifact,
                    spec,
                    params: hex::decode(&config.params).unwrap_or_default(),
                })
            })
            .collect()
    }
}

fn read_component(path: &Path) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|error| format!("cannot read the component {}: {error}", path.display()))?
        .len();
    if size > COMPONENT_BYTES_MAX as u64 {
        return Err(format!(
            "the component {} has {size} bytes; at most {COMPONENT_BYTES_MAX}",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|error| format!("cannot read the component {}: {error}", path.display()))
}

/// Adds `services` to a genesis configuration; instance ids follow the
/// ones already there (the supervisor's 0: 1, 2, ...).
pub fn add_to_genesis(services: &[SystemService], genesis: &mut GenesisConfig) {
    for service in services {
        if !genesis.artifacts.iter().any(|(known, _)| *known == service.artifact) {
            genesis.artifacts.push((service.artifact.clone(), service.spec.clone()));
        }
        let id = u32::try_from(genesis.instances.len()).unwrap_or(u32::MAX);
        genesis.instances.push((
            InstanceSpec {
                id,
                name: service.name.clone(),
                artifact: service.artifact.clone(),
            },
            service.params.clone(),
        ));
    }
}

/// A supervisor transaction the reconciler wants sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The supervisor method.
    pub method_id: u32,
    /// Its payload.
    pub payload: Vec<u8>,
    /// What it does, for the log.
    pub what: String,
}

/// What the reconciler remembers of one service between blocks.
#[derive(Debug, Default)]
struct Progress {
    /// The last transaction sent and when (height), until it is in a block.
    waiting_for: Option<(Hash, u64)>,
    /// The artifact deploy requested, until its deadline.
    deploy_deadline: Option<u64>,
    /// The migration requested: the instance's artifact and data version
    /// when it was requested, and the request's deadline.
    migration: Option<(String, u64)>,
    /// This process stopped the service to upgrade it: resume it after.
    upgrading: bool,
    /// Failed tries of the current step.
    attempts: u32,
    /// Done (or given up): nothing more to do in this process.
    settled: bool,
}

/// Keeps the running system services at their configured versions.
pub struct Reconciler {
    services: Vec<SystemService>,
    progress: HashMap<String, Progress>,
}

fn rounded_deadline(height: u64) -> u64 {
    (height / DEADLINE_ROUNDING_BLOCKS + 2) * DEADLINE_ROUNDING_BLOCKS
}

fn seed(parts: &[&[u8]]) -> u64 {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    u64::from_le_bytes(hasher.finalize().as_bytes()[..8].try_into().unwrap_or_default())
}

impl Reconciler {
    /// A reconciler of `services`.
    pub fn new(services: Vec<SystemService>) -> Self {
        Self {
            services,
            progress: HashMap::new(),
        }
    }

    /// Whether every service is settled (done or given up).
    pub fn is_settled(&self) -> bool {
        self.services.iter().all(|service| {
            self.progress
                .get(&service.name)
                .is_some_and(|progress| progress.settled)
        })
    }

    /// Looks at the committed state and returns the transactions to send
    /// now (at most one per service); `sent` must then be told each one's
    /// hash.
    pub fn steps(&mut self, chain: &Blockchain, height: u64, my_key: Option<&[u8]>) -> Vec<(String, Step)> {
        let pending = pending_proposal(chain);
        let mut steps = Vec::new();
        for service in &self.services {
            let progress = self.progress.entry(service.name.clone()).or_default();
            if progress.settled {
                continue;
            }
            if let Some((hash, sent_at)) = progress.waiting_for {
                let committed = wasmvisor_blockchain::blocks::transaction(&mut chain.read_fork(), &hash)
                    .ok()
                    .flatten();
                match committed {
                    Some((_, record)) => {
                        progress.waiting_for = None;
                        if record.error.is_some() {
                            progress.attempts += 1;
                        }
                    }
                    None if height > sent_at + RESEND_AFTER_BLOCKS => progress.waiting_for = None,
                    None => continue,
                }
            }
            if progress.attempts >= ATTEMPTS_MAX {
                tracing::error!(
                    service = service.name,
                    "system service: giving up after {ATTEMPTS_MAX} failed steps; see the supervisor's transactions"
                );
                progress.settled = true;
                continue;
            }
            match next_step(chain, service, progress, pending.as_ref(), my_key, height) {
                Ok(Some(step)) => steps.push((service.name.clone(), step)),
                Ok(None) => {}
                Err(message) => {
                    tracing::error!(service = service.name, "system service: {message}");
                    progress.settled = true;
                }
            }
        }
        steps
    }

    /// Records that the step for `service` was sent as `hash` at `height`
    /// (or could not be: `None` counts as a failed try).
    pub fn sent(&mut self, service: &str, hash: Option<Hash>, height: u64) {
        if let Some(progress) = self.progress.get_mut(service) {
            match hash {
                Some(hash) => progress.waiting_for = Some((hash, height)),
                None => progress.attempts += 1,
            }
        }
    }
}

/// Whether the pending proposal makes the `wanted` change (so a validator
/// with the same configuration votes for it instead of proposing).
fn proposes(state: &ConfigProposalState, wanted: &config_change::Kind) -> bool {
    state.propose.as_ref().is_some_and(|propose| {
        propose
            .changes
            .iter()
            .any(|change| change.kind.as_ref() == Some(wanted))
    })
}

/// A proposal of one change, or a vote for a pending proposal that makes
/// it; `None` while another proposal is pending.
fn propose_or_vote(
    chain: &Blockchain,
    pending: Option<&ConfigProposalState>,
    my_key: Option<&[u8]>,
    kind: config_change::Kind,
    what: String,
) -> Result<Option<Step>, String> {
    if let Some(state) = pending {
        if proposes(state, &kind) && my_key.is_some_and(|key| !state.approvals.iter().any(|approver| approver == key)) {
            return Ok(Some(Step {
                method_id: SupervisorAction::Vote.method_id(),
                payload: ConfigVote {
                    propose_hash: state.propose_hash.clone(),
                }
                .encode_to_vec(),
                what: format!("vote for {what}"),
            }));
        }
        return Ok(None);
    }
    let configuration_number = configuration_number(chain).map_err(|error| error.0)?;
    Ok(Some(Step {
        method_id: SupervisorAction::Propose.method_id(),
        payload: ConfigPropose {
            actual_from: 0,
            changes: vec![ConfigChange { kind: Some(kind) }],
            configuration_number,
        }
        .encode_to_vec(),
        what,
    }))
}

fn next_step(
    chain: &Blockchain,
    service: &SystemService,
    progress: &mut Progress,
    pending: Option<&ConfigProposalState>,
    my_key: Option<&[u8]>,
    height: u64,
) -> Result<Option<Step>, String> {
    let dispatcher = chain.dispatcher();
    let registered = dispatcher
        .artifacts()
        .map_err(|error| error.to_string())?
        .iter()
        .any(|(artifact, _)| *artifact == service.artifact);
    let instance = dispatcher
        .instance_by_name(&service.name)
        .map_err(|error| error.to_string())?;
    if let Some(instance) = &instance {
        let running = &instance.spec.artifact;
        if *running == service.artifact {
            return Ok(match instance.status {
                Some(InstanceStatus::Stopped | InstanceStatus::Frozen) if progress.upgrading => propose_or_vote(
                    chain,
                    pending,
                    my_key,
                    config_change::Kind::ResumeService(ResumeService {
                        instance_id: instance.spec.id,
                        params: Vec::new(),
                    }),
                    format!("resume {} after its upgrade", service.name),
                )?,
                Some(InstanceStatus::Migrating(_)) | None => None,
                _ => {
                    tracing::info!(service = service.name, "system service is at {}", service.artifact);
                    progress.settled = true;
                    None
                }
            });
        }
        if running.runtime_id != service.artifact.runtime_id
            || running.name != service.artifact.name
            || running.version > service.artifact.version
        {
            return Err(format!(
                "runs {running}; the configuration names {} (only newer versions of the same artifact are installed)",
                service.artifact
            ));
        }
    }
    if !registered {
        if progress.deploy_deadline.is_some_and(|deadline| height <= deadline) {
            return Ok(None);
        }
        if progress.deploy_deadline.is_some() {
            progress.attempts += 1;
        }
        let deadline = rounded_deadline(height);
        progress.deploy_deadline = Some(deadline);
        let request = wasmvisor_proto::supervisor::DeployRequest {
            artifact: Some(artifact_to_proto(&service.artifact)),
            spec: service.spec.clone(),
            deadline_height: deadline,
            seed: seed(&[service.name.as_bytes(), service.artifact.to_string().as_bytes()]),
        };
        return Ok(Some(Step {
            method_id: SupervisorAction::Deploy.method_id(),
            payload: request.encode_to_vec(),
            what: format!("deploy {}", service.artifact),
        }));
    }
    progress.deploy_deadline = None;
    let Some(instance) = instance else {
        return propose_or_vote(
            chain,
            pending,
            my_key,
            config_change::Kind::StartService(StartService {
                artifact: Some(artifact_to_proto(&service.artifact)),
                name: service.name.clone(),
                config: service.params.clone(),
            }),
            format!("start {}", service.name),
        );
    };
    match instance.status {
        Some(InstanceStatus::Active) => {
            progress.upgrading = true;
            propose_or_vote(
                chain,
                pending,
                my_key,
                config_change::Kind::StopService(StopService {
                    instance_id: instance.spec.id,
                }),
                format!("stop {} to upgrade it", service.name),
            )
        }
        Some(InstanceStatus::Stopped | InstanceStatus::Frozen) => {
            progress.upgrading = true;
            let data_version = instance.data_version.clone().unwrap_or_default();
            // A request made for this very state waits for its outcome
            // (other validators' approvals, or its deadline).
            let state = format!("{}/{data_version}", instance.spec.artifact);
            if let Some((requested, deadline)) = &progress.migration
                && *requested == state
                && height <= *deadline
            {
                return Ok(None);
            }
            progress.migration = Some((state, rounded_deadline(height)));
            let request = MigrationRequest {
                new_artifact: Some(artifact_to_proto(&service.artifact)),
                service: service.name.clone(),
                deadline_height: rounded_deadline(height),
                seed: seed(&[
                    service.name.as_bytes(),
                    service.artifact.to_string().as_bytes(),
                    instance.spec.artifact.to_string().as_bytes(),
                    data_version.as_bytes(),
                    &progress.attempts.to_le_bytes(),
                ]),
            };
            Ok(Some(Step {
                method_id: SupervisorAction::Migrate.method_id(),
                payload: request.encode_to_vec(),
                what: format!("migrate {} to {}", service.name, service.artifact),
            }))
        }
        Some(InstanceStatus::Migrating(_)) | None => Ok(None),
    }
}
