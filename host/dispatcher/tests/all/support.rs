//! Test support: a runtime that records every call, a native test
//! supervisor that exposes the lifecycle mechanism as transactions, and a
//! chain builder.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use wasmvisor_dispatcher::{CommittedBlock, Dispatcher, GenesisConfig, Transaction};
use wasmvisor_native::{NativeArtifact, NativeRuntime, NativeService, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_runtime::{
    ArtifactId, CallError, CallInfo, CommonError, CoreError, DeployTask, ExecutionContext, ExecutionError,
    InstanceSpec, InstanceStatus, MigrationKind, NodeError, Runtime, runtime_id,
};
use wasmvisor_storage::{Database, IndexAddress, MemoryDatabase, Namespace, Snapshot};

/// Runtime id of the recording runtime.
pub const RECORDING: u32 = 5;
pub const SUPERVISOR_ID: u32 = 0;
pub const COUNTER_ID: u32 = 1;
pub const TOKEN_ID: u32 = 2;

/// One call the recording runtime saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// One letter per contract method (see `GRAMMAR`).
    pub letter: char,
    /// The instance concerned, if any.
    pub instance: Option<u32>,
}

/// A runtime that records every call and runs "counter" services: method 0
/// adds one to the proof entry `count`; method 1 writes and then fails
/// (service error 7); method 2 tries to use the lifecycle mechanism; method
/// 3 calls itself (for the depth limit). Hooks count into plain entries.
#[derive(Default)]
pub struct RecordingRuntime {
    pub calls: Mutex<Vec<Call>>,
    deployed: Mutex<BTreeSet<ArtifactId>>,
}

impl RecordingRuntime {
    fn record(&self, letter: char, instance: Option<u32>) {
        self.calls.lock().unwrap().push(Call { letter, instance });
    }

    /// The calls as a string of letters.
    pub fn letters(&self) -> String {
        self.calls.lock().unwrap().iter().map(|call| call.letter).collect()
    }

    /// The instances that got hook `letter`, in order.
    pub fn hooked(&self, letter: char) -> Vec<u32> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|call| call.letter == letter)
            .filter_map(|call| call.instance)
            .collect()
    }

    pub fn clear(&self) {
        self.calls.lock().unwrap().clear();
    }
}

fn bump(context: &mut ExecutionContext<'_>, name: &str, proof: bool) -> Result<(), CallError> {
    let address = context.service_index(name).unwrap();
    let mut entry = if proof {
        context.fork.proof_entry(&address)
    } else {
        context.fork.entry(&address)
    }
    .unwrap();
    let count = entry
        .get()
        .unwrap()
        .map_or(0, |bytes| u64::from_le_bytes(bytes.try_into().unwrap()));
    entry.set(&(count + 1).to_le_bytes()).unwrap();
    Ok(())
}

impl Runtime for RecordingRuntime {
    fn id(&self) -> u32 {
        RECORDING
    }

    fn initialize(&self) {
        self.record('i', None);
    }

    fn deploy_artifact(&self, artifact: ArtifactId, _spec: Vec<u8>) -> DeployTask {
        self.record('d', None);
        let deployable = artifact.name.starts_with("counter");
        if deployable {
            self.deployed.lock().unwrap().insert(artifact.clone());
        }
        Box::new(move || {
            if deployable {
                Ok(())
            } else {
                Err(CommonError::FeatureNotSupported.with_description("not a counter"))
            }
        })
    }

    fn is_artifact_deployed(&self, artifact: &ArtifactId) -> bool {
        self.deployed.lock().unwrap().contains(artifact)
    }

    fn supports_freezing(&self) -> bool {
        true
    }

    /// Counters migrate by fast-forward within a major version (or when
    /// the data already has the target's version), by a data migration to
    /// the next major version, and not at all across more.
    fn migrate(
        &self,
        new_artifact: &ArtifactId,
        data_version: &semver::Version,
        _meter: &wasmvisor_runtime::Meter,
    ) -> Result<MigrationKind, CallError> {
        match new_artifact.version.major.checked_sub(data_version.major) {
            Some(0) => Ok(MigrationKind::FastForward),
            Some(1) => Ok(MigrationKind::Data),
            _ => Err(CoreError::NoMigration
                .with_description(format!("no migration from {data_version}"))
                .into()),
        }
    }

    /// The counters' data migration script: the count becomes 42 (run in
    /// the background, so not recorded).
    fn migrate_data(
        &self,
        fork: &mut wasmvisor_storage::Fork,
        instance: &InstanceSpec,
        _data_version: &semver::Version,
    ) -> Result<(), CallError> {
        let address = IndexAddress::new(Namespace::Migration(instance.id), "count").unwrap();
        fork.proof_entry(&address).unwrap().set(&42u64.to_le_bytes()).unwrap();
        Ok(())
    }

    fn start_adding_service(&self, mut context: ExecutionContext<'_>, _params: &[u8]) -> Result<(), CallError> {
        self.record('s', Some(context.instance.id));
        bump(&mut context, "constructed", false)
    }

    fn start_resuming_service(&self, context: ExecutionContext<'_>, _params: &[u8]) -> Result<(), CallError> {
        self.record('u', Some(context.instance.id));
        Ok(())
    }

    fn commit_service(
        &self,
        _snapshot: &dyn Snapshot,
        spec: &InstanceSpec,
        _status: &InstanceStatus,
    ) -> Result<(), NodeError> {
        self.record('c', Some(spec.id));
        Ok(())
    }

    fn unload_artifact(&self, artifact: &ArtifactId) {
        self.record('n', None);
        self.deployed.lock().unwrap().remove(artifact);
    }

    fn execute(&self, mut context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError> {
        self.record('e', Some(context.instance.id));
        match method_id {
            0 => bump(&mut context, "count", true),
            1 => {
                bump(&mut context, "count", true)?;
                Err(ExecutionError::service(7, "fails after writing").into())
            }
            2 => context.lifecycle().map(drop),
            3 => {
                let own = context.instance.id;
                context.call(own, "", 3, arguments)
            }
            _ => Err(CommonError::NoSuchMethod.into()),
        }
    }

    fn before_transactions(&self, mut context: ExecutionContext<'_>) -> Result<(), CallError> {
        self.record('b', Some(context.instance.id));
        bump(&mut context, "before", false)
    }

    fn after_transactions(&self, mut context: ExecutionContext<'_>) -> Result<(), CallError> {
        self.record('t', Some(context.instance.id));
        bump(&mut context, "after", false)
    }

    fn after_commit(&self, _context: wasmvisor_runtime::AfterCommitContext<'_>) -> Result<(), NodeError> {
        self.record('a', None);
        Ok(())
    }

    fn on_resume(&self) {
        self.record('r', None);
    }

    fn shutdown(&self) {
        self.record('x', None);
    }
}

/// The seed's grammar with this project's extensions, one letter per call:
/// i initialize, d deploy_artifact, s start_adding_service, u
/// start_resuming_service, c commit_service, n unload_artifact, e execute,
/// b before_transactions, t after_transactions, a after_commit, r on_resume, x
/// shutdown.
pub const GRAMMAR: &str = r"^i(?:(?:d|sc)*a|(?:d|c)*r)(?:(?:b*[esu]*t*)+d*c*n*a)*x$";

/// A test supervisor: its transactions are text commands that call the
/// lifecycle mechanism, e.g. `add 3 counter-b 5:counter:1.0.0`.
pub struct TestSupervisor;

impl NativeArtifact for TestSupervisor {
    fn artifact_id(&self) -> ArtifactId {
        ArtifactId::new(runtime_id::NATIVE, "test.supervisor", "1.0.0").unwrap()
    }

    fn create(&self) -> Arc<dyn NativeService> {
        Arc::new(TestSupervisor)
    }
}

pub fn artifact(text: &str) -> ArtifactId {
    let mut parts = text.split(':');
    let runtime_id = parts.next().unwrap().parse().unwrap();
    ArtifactId::new(runtime_id, parts.next().unwrap(), parts.next().unwrap()).unwrap()
}

impl NativeService for TestSupervisor {
    fn execute(&self, mut context: ExecutionContext<'_>, _method_id: u32, arguments: &[u8]) -> Result<(), CallError> {
        let command = String::from_utf8(arguments.to_vec()).unwrap();
        let words: Vec<&str> = command.split_whitespace().collect();
        let height = context.height;
        let meter = context.meter.clone();
        let (fork, lifecycle) = context.lifecycle()?;
        let fork: &mut wasmvisor_storage::Fork = fork;
        match words.as_slice() {
            ["add", id, name, artifact_text] => {
                let spec = InstanceSpec {
                    id: id.parse().unwrap(),
                    name: (*name).to_owned(),
                    artifact: artifact(artifact_text),
                };
                lifecycle.add_instance(fork, height, &spec, &[], &meter)
            }
            ["stop", id] => lifecycle.stop_instance(fork, id.parse().unwrap()),
            ["freeze", id] => lifecycle.freeze_instance(fork, id.parse().unwrap()),
            ["resume", id] => lifecycle.resume_instance(fork, height, id.parse().unwrap(), &[], &meter),
            ["register", artifact_text] => lifecycle.register_artifact(fork, &artifact(artifact_text), b"spec"),
            ["unload", artifact_text] => lifecycle.unload_artifact(fork, &artifact(artifact_text)),
            ["migrate", name, artifact_text] => lifecycle
                .initiate_migration(fork, &artifact(artifact_text), name, &meter)
                .map(drop),
            ["commit-migration", name, id] => {
                // Stands for the root every validator reported: the
                // instance's data with the script's change, computed here
                // independently (and discarded).
                let (live, shadow) = (
                    Namespace::Service(id.parse().unwrap()),
                    Namespace::Migration(id.parse().unwrap()),
                );
                fork.copy_namespace(live, shadow).unwrap();
                let address = IndexAddress::new(shadow, "count").unwrap();
                fork.proof_entry(&address).unwrap().set(&42u64.to_le_bytes()).unwrap();
                let hash = fork.namespace_root(shadow).unwrap();
                fork.clear_namespace(shadow).unwrap();
                lifecycle.commit_migration(fork, name, hash)
            }
            ["panic", message] => panic!("{message}"),
            ["commit-migration-hash", name, byte] => {
                // Stands for validators agreeing on a root this node's own
                // run does not give.
                lifecycle.commit_migration(fork, name, [byte.parse().unwrap(); 32])
            }
            ["rollback", name] => lifecycle.rollback_migration(fork, name),
            ["flush", name] => lifecycle.flush_migration(fork, name),
            _ => Err(CommonError::MalformedArguments.with_description(command).into()),
        }
    }
}

/// A chain: the dispatcher, the recording runtime, and a transaction
/// counter for unique hashes.
pub struct Chain {
    pub dispatcher: Dispatcher,
    pub recorder: Arc<RecordingRuntime>,
    pub database: Arc<dyn Database>,
    next_hash: u64,
}

pub fn runtimes() -> (Arc<RecordingRuntime>, Vec<Arc<dyn Runtime>>) {
    let recorder = Arc::new(RecordingRuntime::default());
    let native = NativeRuntime::new(vec![Arc::new(TestSupervisor), Arc::new(TokenService)]);
    (
        Arc::clone(&recorder),
        vec![Arc::new(native) as Arc<dyn Runtime>, recorder as Arc<dyn Runtime>],
    )
}

pub fn genesis_config() -> GenesisConfig {
    let supervisor = TestSupervisor.artifact_id();
    let token = TokenService.artifact_id();
    let counter = artifact("5:counter:1.0.0");
    let token_params = wasmvisor_proto::token::TokenConfig { issue_max: 1_000 }.encode_to_vec();
    GenesisConfig {
        consensus: Default::default(),
        artifacts: vec![
            (supervisor.clone(), vec![]),
            (token.clone(), vec![]),
            (counter.clone(), b"spec".to_vec()),
        ],
        instances: vec![
            (
                InstanceSpec {
                    id: SUPERVISOR_ID,
                    name: "supervisor".into(),
                    artifact: supervisor,
                },
                vec![],
            ),
            (
                InstanceSpec {
                    id: COUNTER_ID,
                    name: "counter-a".into(),
                    artifact: counter,
                },
                vec![],
            ),
            (
                InstanceSpec {
                    id: TOKEN_ID,
                    name: "token".into(),
                    artifact: token,
                },
                token_params,
            ),
        ],
    }
}

impl Chain {
    /// A new chain with the genesis above on `database`.
    pub fn start(database: Arc<dyn Database>) -> Self {
        let (recorder, runtimes) = runtimes();
        let mut dispatcher = Dispatcher::new(Arc::clone(&database), runtimes);
        dispatcher.genesis(genesis_config()).unwrap();
        Self {
            dispatcher,
            recorder,
            database,
            next_hash: 0,
        }
    }

    pub fn in_memory() -> Self {
        Self::start(Arc::new(MemoryDatabase::new()))
    }

    /// A transaction signed (for the dispatcher's purposes) by `author`.
    pub fn transaction(&mut self, author: [u8; 32], instance_id: u32, method_id: u32, arguments: &[u8]) -> Transaction {
        self.next_hash += 1;
        let mut hash = [0; 32];
        hash[..8].copy_from_slice(&self.next_hash.to_le_bytes());
        Transaction {
            author,
            hash,
            call: CallInfo { instance_id, method_id },
            arguments: arguments.to_vec(),
        }
    }

    /// A supervisor command as a transaction.
    pub fn command(&mut self, command: &str) -> Transaction {
        self.transaction([0xaa; 32], SUPERVISOR_ID, 0, command.as_bytes())
    }

    /// Executes and commits a block; returns its (committed) outcome.
    pub fn block(&mut self, transactions: &[Transaction]) -> CommittedBlock {
        let proposal = self.dispatcher.execute_proposal(transactions).unwrap();
        self.dispatcher.commit(proposal).unwrap()
    }

    /// The counter of a recording instance.
    pub fn count(&self, instance_id: u32, name: &str) -> u64 {
        let mut fork = self.dispatcher.read_fork();
        let address =
            wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Service(instance_id), name).unwrap();
        let bytes = if name == "count" {
            fork.proof_entry(&address)
        } else {
            fork.entry(&address)
        }
        .unwrap()
        .get()
        .unwrap();
        bytes.map_or(0, |bytes| u64::from_le_bytes(bytes.try_into().unwrap()))
    }

    pub fn status(&self, instance_id: u32) -> Option<InstanceStatus> {
        self.dispatcher
            .instance(instance_id)
            .unwrap()
            .and_then(|state| state.status)
    }
}

/// The core error code recorded for the transaction at `position`, if any
/// (any other error kind fails the test).
pub fn core_error(block: &CommittedBlock, position: u32) -> Option<u8> {
    block
        .errors
        .get(&wasmvisor_runtime::CallLocation::Transaction(position))
        .map(|error| match error.kind {
            wasmvisor_runtime::ErrorKind::Core(code) => code,
            other => panic!("expected a core error, got {other:?}"),
        })
}
