//! An in-process chain of N validators for testing services.
//!
//! The testkit runs one chain on an in-memory database with N validator key
//! pairs in its consensus configuration; every block it creates is signed
//! (precommitted) by every validator and checked against their quorum, as a
//! node would. Services are native artifacts or wasm components:
//!
//! ```text
//! let mut testkit = TestKitBuilder::new(4)
//!     .with_wasm_service(2, "token", "wasmvisor.token", TOKEN.bytes, params)
//!     .build();
//! let transfer = testkit.sign(&alice, CallInfo { instance_id: 2, method_id: 2 }, arguments);
//! let block = testkit.create_block_with(vec![transfer]);
//! assert!(block.errors.is_empty());
//! testkit.replay().unwrap(); // a fresh chain reproduces every state root
//! ```
//!
//! Beyond blocks: a transaction pool, checkpoints and rollback of the whole
//! chain, restarts on the same storage (the contract's RESUME path), read
//! queries and proofs against a block header, and a replay oracle that
//! re-executes the stored block log on a fresh chain and compares the state
//! root at every height.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmvisor_blockchain::blocks::sign_precommit;
use wasmvisor_blockchain::{BlockHeader, Blockchain, VerifiedTransaction, sign};
use wasmvisor_dispatcher::GenesisConfig;
use wasmvisor_native::{NativeArtifact, NativeRuntime};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, ValidatorKeys};

pub use ed25519_dalek::SigningKey;
pub use serde_json;
pub use wasmvisor_blockchain::ReplayMismatch;
pub use wasmvisor_proto::supervisor::SupervisorMode;

#[cfg(feature = "guests")]
pub mod governance;

/// Artifact name under which the supervisor component is deployed (the
/// wasm runtime gives the `dispatcher` interface to this name only).
pub const SUPERVISOR_ARTIFACT_NAME: &str = "wasmvisor.supervisor";
use wasmvisor_runtime::{
    ArtifactId, CallInfo, CallLocation, ExecutionError, InstanceSpec, QueryError, Runtime, runtime_id,
};
use wasmvisor_storage::proof::MapProof;
use wasmvisor_storage::{Database, Hash, IndexAddress, MemoryCheckpoint, MemoryDatabase, Namespace};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

/// One validator's keys.
#[derive(Debug, Clone)]
pub struct Validator {
    /// Signs precommits.
    pub consensus_key: SigningKey,
    /// Signs the validator's transactions (e.g. to the supervisor).
    pub service_key: SigningKey,
}

impl Validator {
    /// The testkit's deterministic keys number `index`: validators
    /// `0..n` of a testkit of `n` validators, and spare keys beyond, for
    /// consensus configurations that change the validator set.
    pub fn numbered(index: u8) -> Self {
        let mut consensus = [1; 32];
        consensus[0] = index;
        consensus[1] = 0xc0;
        let mut service = [2; 32];
        service[0] = index;
        service[1] = 0x5e;
        Self {
            consensus_key: SigningKey::from_bytes(&consensus),
            service_key: SigningKey::from_bytes(&service),
        }
    }

    /// The public keys, as a consensus configuration names them.
    pub fn keys(&self) -> ValidatorKeys {
        ValidatorKeys {
            consensus_key: self.consensus_key.verifying_key().to_bytes().to_vec(),
            service_key: self.service_key.verifying_key().to_bytes().to_vec(),
        }
    }
}

/// A service started at genesis.
#[derive(Clone)]
enum GenesisService {
    Native {
        id: u32,
        name: String,
        artifact: Arc<dyn NativeArtifact>,
        params: Vec<u8>,
    },
    Wasm {
        id: u32,
        name: String,
        artifact_name: String,
        component: Vec<u8>,
        params: Vec<u8>,
    },
}

/// Builds a [`TestKit`].
#[derive(Clone)]
pub struct TestKitBuilder {
    validator_count: u8,
    services: Vec<GenesisService>,
    fuel_per_transaction: u64,
    transactions_per_block_max: u32,
    guest_stack_bytes: Option<usize>,
    service_settings: wasmvisor_runtime::ServiceSettings,
}

impl TestKitBuilder {
    /// A chain of `validator_count` validators (1..=100).
    pub fn new(validator_count: u8) -> Self {
        assert!(
            (1..=100).contains(&validator_count),
            "a testkit has 1 to 100 validators"
        );
        Self {
            validator_count,
            services: Vec::new(),
            fuel_per_transaction: 0,
            transactions_per_block_max: 0,
            guest_stack_bytes: None,
            service_settings: wasmvisor_runtime::ServiceSettings::new(),
        }
    }

    /// Starts a native service at genesis.
    pub fn with_native_service(
        mut self,
        id: u32,
        name: &str,
        artifact: Arc<dyn NativeArtifact>,
        params: Vec<u8>,
    ) -> Self {
        self.services.push(GenesisService::Native {
            id,
            name: name.into(),
            artifact,
            params,
        });
        self
    }

    /// Deploys a wasm component (as artifact `artifact_name` 1.0.0) and
    /// starts it at genesis.
    pub fn with_wasm_service(
        mut self,
        id: u32,
        name: &str,
        artifact_name: &str,
        component: &[u8],
        params: Vec<u8>,
    ) -> Self {
        self.services.push(GenesisService::Wasm {
            id,
            name: name.into(),
            artifact_name: artifact_name.into(),
            component: component.to_vec(),
            params,
        });
        self
    }

    /// Starts the supervisor component (built from `guest-supervisor/`) as
    /// instance 0, in `mode` (feature `guests`).
    #[cfg(feature = "guests")]
    pub fn with_supervisor(self, mode: SupervisorMode) -> Self {
        let config = wasmvisor_proto::supervisor::SupervisorConfig { mode: mode as i32 }.encode_to_vec();
        self.with_wasm_service(
            0,
            "supervisor",
            SUPERVISOR_ARTIFACT_NAME,
            wasmvisor_artifacts::SUPERVISOR.bytes,
            config,
        )
    }

    /// This node's (validator 0's) setting `key` for the service called
    /// `instance`: node-local, read by the service in after-commit only.
    pub fn with_service_setting(mut self, instance: &str, key: &str, value: &str) -> Self {
        self.service_settings
            .entry(instance.to_owned())
            .or_default()
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the consensus configuration's maximum number of transactions per
    /// block (0: no limit beyond the dispatcher's own).
    pub fn with_transactions_per_block_max(mut self, count: u32) -> Self {
        self.transactions_per_block_max = count;
        self
    }

    /// Runs guest code on `bytes` of native stack instead of the default
    /// (see `wasmvisor_wasm::deterministic_engine_with_stack`).
    pub fn with_guest_stack_bytes(mut self, bytes: usize) -> Self {
        self.guest_stack_bytes = Some(bytes);
        self
    }

    /// Sets the consensus configuration's fuel per transaction (shared by every call it makes).
    pub fn with_fuel_per_transaction(mut self, fuel: u64) -> Self {
        self.fuel_per_transaction = fuel;
        self
    }

    fn validators(&self) -> Vec<Validator> {
        (0..self.validator_count).map(Validator::numbered).collect()
    }

    fn runtimes(&self) -> Vec<Arc<dyn Runtime>> {
        let native: Vec<Arc<dyn NativeArtifact>> = self
            .services
            .iter()
            .filter_map(|service| match service {
                GenesisService::Native { artifact, .. } => Some(Arc::clone(artifact)),
                GenesisService::Wasm { .. } => None,
            })
            .collect();
        let mut config = WasmRuntimeConfig::default();
        if let Some(bytes) = self.guest_stack_bytes {
            config.guest_stack_bytes = bytes;
        }
        let wasm = WasmRuntime::new(config).expect("the wasm engine configures");
        vec![Arc::new(NativeRuntime::new(native)), Arc::new(wasm)]
    }

    fn genesis(&self, validators: &[Validator]) -> GenesisConfig {
        let mut config = GenesisConfig {
            consensus: ConsensusConfig {
                validator_keys: validators
                    .iter()
                    .map(|validator| ValidatorKeys {
                        consensus_key: validator.consensus_key.verifying_key().to_bytes().to_vec(),
                        service_key: validator.service_key.verifying_key().to_bytes().to_vec(),
                    })
                    .collect(),
                fuel_per_transaction_max: self.fuel_per_transaction,
                transactions_per_block_max: self.transactions_per_block_max,
                ..Default::default()
            },
            ..Default::default()
        };
        for service in &self.services {
            let (artifact, spec, id, name, params) = match service {
                GenesisService::Native {
                    id,
                    name,
                    artifact,
                    params,
                } => (artifact.artifact_id(), Vec::new(), *id, name, params),
                GenesisService::Wasm {
                    id,
                    name,
                    artifact_name,
                    component,
                    params,
                } => {
                    let artifact = ArtifactId::new(runtime_id::WASM, artifact_name, "1.0.0").expect("a valid version");
                    let spec = wasmvisor_wasm::deploy_spec(component);
                    (artifact, spec.encode_to_vec(), *id, name, params)
                }
            };
            if !config.artifacts.iter().any(|(known, _)| *known == artifact) {
                config.artifacts.push((artifact.clone(), spec));
            }
            config.instances.push((
                InstanceSpec {
                    id,
                    name: name.clone(),
                    artifact,
                },
                params.clone(),
            ));
        }
        config
    }

    /// The genesis this builder starts its chains from (its validators
    /// are [`Validator::numbered`] `0..n`): for tests that run a
    /// [`Blockchain`] on a store of their own.
    pub fn genesis_config(&self) -> GenesisConfig {
        self.genesis(&self.validators())
    }

    /// Starts the chain (the genesis block is committed).
    pub fn build(self) -> TestKit {
        let validators = self.validators();
        let database = MemoryDatabase::new();
        let node_key = Some(validators[0].service_key.verifying_key().to_bytes());
        let chain = Blockchain::genesis(
            Arc::new(database.clone()),
            self.runtimes(),
            self.genesis(&validators),
            node_key,
        )
        .expect("the genesis block commits");
        chain.dispatcher().set_service_settings(self.service_settings.clone());
        let mut testkit = TestKit {
            builder: self,
            validators,
            database,
            chain: Some(chain),
            pool: Vec::new(),
            checkpoints: Vec::new(),
        };
        testkit.pool_broadcasts();
        testkit
    }
}

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// It does not verify.
    #[error(transparent)]
    Invalid(#[from] wasmvisor_blockchain::TransactionError),
    /// The same transaction is already waiting.
    #[error("the transaction is already in the pool")]
    AlreadyPooled,
    /// The same transaction is in a committed block.
    #[error("the transaction is already committed")]
    AlreadyCommitted,
}

/// What a created block left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The block's header.
    pub header: BlockHeader,
    /// Errors recorded in it, by location.
    pub errors: BTreeMap<CallLocation, ExecutionError>,
}

/// An in-process chain (see the crate docs).
pub struct TestKit {
    builder: TestKitBuilder,
    validators: Vec<Validator>,
    database: MemoryDatabase,
    /// `None` only while restarting.
    chain: Option<Blockchain>,
    pool: Vec<VerifiedTransaction>,
    checkpoints: Vec<(MemoryCheckpoint, Vec<VerifiedTransaction>)>,
}

impl TestKit {
    fn chain(&self) -> &Blockchain {
        self.chain.as_ref().expect("the chain is running")
    }

    fn chain_mut(&mut self) -> &mut Blockchain {
        self.chain.as_mut().expect("the chain is running")
    }

    /// The validators' keys.
    pub fn validators(&self) -> &[Validator] {
        &self.validators
    }

    /// The chain id transactions must be signed for.
    pub fn chain_id(&self) -> Hash {
        self.chain().chain_id()
    }

    /// Signs a transaction with any key.
    pub fn sign(&self, key: &SigningKey, call: CallInfo, arguments: Vec<u8>) -> Vec<u8> {
        sign(key, &self.chain_id(), call, arguments)
    }

    /// Signs a transaction with the service key of validator `index` of
    /// the consensus configuration in force.
    pub fn sign_as_validator(&self, index: usize, call: CallInfo, arguments: Vec<u8>) -> Vec<u8> {
        self.sign(&self.validators[index].service_key, call, arguments)
    }

    /// Adds a signed transaction to the pool. It must verify, and must be
    /// neither pooled nor committed already (a node's pool drops those).
    pub fn add_to_pool(&mut self, signed: Vec<u8>) -> Result<Hash, PoolError> {
        let transaction = self.chain().verify(&signed)?;
        let hash = transaction.hash;
        if self.pool.iter().any(|pooled| pooled.hash == hash) {
            return Err(PoolError::AlreadyPooled);
        }
        if self.chain().is_committed(&hash).unwrap_or(false) {
            return Err(PoolError::AlreadyCommitted);
        }
        self.pool.push(transaction);
        Ok(hash)
    }

    /// Creates a block from the pool: as many transactions as the consensus
    /// configuration allows per block, oldest first; the rest stay pooled.
    pub fn create_block(&mut self) -> BlockOutcome {
        let limit = self
            .chain()
            .consensus_config()
            .map(|config| config.transactions_per_block_max)
            .unwrap_or(0);
        let take = if limit == 0 {
            self.pool.len()
        } else {
            self.pool.len().min(limit as usize)
        };
        let transactions: Vec<_> = self.pool.drain(..take).collect();
        self.commit_block(&transactions, false)
    }

    /// Number of transactions waiting in the pool.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Creates a block from the given signed transactions (which must
    /// verify), leaving the pool alone.
    pub fn create_block_with(&mut self, signed: Vec<Vec<u8>>) -> BlockOutcome {
        let transactions = self.verify_all(signed);
        self.commit_block(&transactions, false)
    }

    /// Like [`TestKit::create_block_with`], but first executes and discards
    /// another proposal at the same height (an empty one): the Runtime
    /// contract's PROPOSAL+ COMMIT.
    pub fn create_block_after_discarded_proposal(&mut self, signed: Vec<Vec<u8>>) -> BlockOutcome {
        let transactions = self.verify_all(signed);
        self.commit_block(&transactions, true)
    }

    /// Executes a proposal of the given signed transactions (which must
    /// verify) and discards it: the errors the block would record, with
    /// nothing committed and the chain unchanged (a proposal that does not
    /// win its round, in the Runtime contract's terms).
    pub fn execute_and_discard(&mut self, signed: Vec<Vec<u8>>) -> BTreeMap<CallLocation, ExecutionError> {
        let transactions = self.verify_all(signed);
        let block = self.chain_mut().execute(&transactions).expect("the block executes");
        block.errors().clone()
    }

    /// Creates empty blocks until the chain is at `height`.
    pub fn create_blocks_until(&mut self, height: u64) {
        while self.height() < height {
            self.commit_block(&[], false);
        }
    }

    fn verify_all(&self, signed: Vec<Vec<u8>>) -> Vec<VerifiedTransaction> {
        signed
            .into_iter()
            .map(|bytes| {
                self.chain()
                    .verify(&bytes)
                    .expect("transactions given to the testkit verify")
            })
            .collect()
    }

    fn commit_block(&mut self, transactions: &[VerifiedTransaction], discard_first: bool) -> BlockOutcome {
        if discard_first {
            drop(self.chain_mut().execute(&[]).expect("a proposal executes"));
        }
        let block = self.chain_mut().execute(transactions).expect("the block executes");
        let errors = block.errors().clone();
        let chain_id = self.chain_id();
        let precommits = self
            .validators
            .iter()
            .enumerate()
            .map(|(index, validator)| {
                sign_precommit(
                    &validator.consensus_key,
                    index as u32,
                    &chain_id,
                    block.header.height,
                    0,
                    &block.hash,
                )
            })
            .collect();
        let header = self
            .chain_mut()
            .commit(block, precommits)
            .expect("every validator signed the block");
        self.follow_validator_set();
        self.pool_broadcasts();
        BlockOutcome { header, errors }
    }

    /// Keeps the signing validators in step with the consensus
    /// configuration in force (a proposal may change the set). Every key in
    /// it must be one of [`Validator::numbered`].
    fn follow_validator_set(&mut self) {
        let config = self
            .chain()
            .consensus_config()
            .expect("the consensus configuration reads");
        let current: Vec<ValidatorKeys> = self.validators.iter().map(Validator::keys).collect();
        if config.validator_keys == current {
            return;
        }
        self.validators = config
            .validator_keys
            .iter()
            .map(|keys| {
                (0..=u8::MAX)
                    .map(Validator::numbered)
                    .find(|validator| validator.keys() == *keys)
                    .expect("the testkit signs only for validators with Validator::numbered keys")
            })
            .collect();
    }

    /// Puts what services broadcast from after-commit into the pool, signed
    /// by this node (validator 0), as a node would.
    fn pool_broadcasts(&mut self) {
        let broadcasts = self.chain().sign_broadcasts(&Validator::numbered(0).service_key);
        for signed in broadcasts {
            match self.add_to_pool(signed) {
                // A repeated broadcast is the same transaction: dropped.
                Ok(_) | Err(PoolError::AlreadyPooled | PoolError::AlreadyCommitted) => {}
                Err(PoolError::Invalid(error)) => panic!("the node's own broadcast does not verify: {error}"),
            }
        }
    }

    /// Signs a call of `method` of the service called `instance`, with
    /// JSON `arguments` encoded through the interface its component
    /// declares, and puts it in the pool (what `wasmvisor call` sends).
    pub fn call_json(
        &mut self,
        key: &SigningKey,
        instance: &str,
        method: &str,
        arguments: &serde_json::Value,
    ) -> Result<Hash, String> {
        let (spec, interface) = self.interface(instance)?;
        let declared = interface
            .method(method)
            .ok_or_else(|| format!("{instance} declares no method {method:?}"))?;
        let arguments = interface.encode_json(&declared.arguments, arguments)?;
        let call = CallInfo {
            instance_id: spec.id,
            method_id: declared.id,
        };
        let signed = self.sign(key, call, arguments);
        self.add_to_pool(signed).map_err(|error| format!("{error:?}"))
    }

    /// Runs query `query` of the service called `instance` with JSON
    /// `arguments` and answers JSON, through its interface (what the
    /// node's API answers).
    pub fn query_json(
        &self,
        instance: &str,
        query: &str,
        arguments: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let (_, interface) = self.interface(instance)?;
        let declared = interface
            .query(query)
            .ok_or_else(|| format!("{instance} declares no query {query:?}"))?;
        let arguments = interface.encode_json(&declared.arguments, arguments)?;
        let answer = self
            .query(instance, query, &arguments)
            .map_err(|error| format!("{error:?}"))?;
        interface.decode_json(&declared.answer, &answer)
    }

    /// The name the service called `instance` gives `error`, if it is one
    /// of its own errors and its interface names it.
    pub fn error_name(&self, instance: &str, error: &ExecutionError) -> Option<String> {
        let wasmvisor_runtime::ErrorKind::Service(code) = error.kind else {
            return None;
        };
        let (_, interface) = self.interface(instance).ok()?;
        interface.error_name(code).map(str::to_owned)
    }

    fn interface(
        &self,
        instance: &str,
    ) -> Result<
        (
            wasmvisor_runtime::InstanceSpec,
            Arc<wasmvisor_runtime::interface::ServiceInterface>,
        ),
        String,
    > {
        let (spec, interface) = self
            .chain()
            .reader()
            .interface(wasmvisor_dispatcher::InstanceRef::Name(instance))
            .map_err(|error| format!("{error:?}"))?;
        let interface = interface.ok_or_else(|| format!("{instance} declares no interface"))?;
        Ok((spec, interface))
    }

    /// Height of the last committed block.
    pub fn height(&self) -> u64 {
        self.chain().last_header().expect("a genesis block exists").height
    }

    /// The last committed block's header.
    pub fn last_header(&self) -> BlockHeader {
        self.chain().last_header().expect("a genesis block exists")
    }

    /// Answers a service's read query.
    pub fn query(&self, service: &str, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        self.chain().dispatcher().query(service, method, arguments)
    }

    /// A fork over the committed state, for reads (block records, indexes).
    pub fn read_fork(&self) -> wasmvisor_storage::Fork {
        self.chain().read_fork()
    }

    /// The registry's status of an instance.
    pub fn instance_status(&self, instance_id: u32) -> Option<wasmvisor_runtime::InstanceStatus> {
        self.chain()
            .dispatcher()
            .instance(instance_id)
            .ok()
            .flatten()
            .and_then(|state| state.status)
    }

    /// A proof of `key` in service `instance_id`'s proof map `index`,
    /// against the last block header (whose `state_hash` it verifies with).
    pub fn map_proof(&self, instance_id: u32, index: &str, key: &[u8]) -> (BlockHeader, MapProof) {
        let address = IndexAddress::new(Namespace::Service(instance_id), index).expect("a valid index name");
        let proof = self
            .chain()
            .read_fork()
            .map_proof(&address, key)
            .expect("the proof builds");
        (self.last_header(), proof)
    }

    /// Remembers the chain's whole state (and pool) for [`TestKit::rollback`].
    pub fn checkpoint(&mut self) {
        self.checkpoints.push((self.database.checkpoint(), self.pool.clone()));
    }

    /// Returns the whole chain to the last checkpoint: storage, pool, and
    /// runtimes (the chain restarts on the restored storage).
    pub fn rollback(&mut self) {
        let (checkpoint, pool) = self.checkpoints.pop().expect("rollback needs a checkpoint");
        self.chain.take().expect("the chain is running").shutdown();
        self.database.restore(&checkpoint);
        self.pool = pool;
        self.resume();
    }

    /// Stops the chain and starts it again on the same storage (shutdown,
    /// then the Runtime contract's RESUME path with fresh runtimes).
    pub fn restart(&mut self) {
        self.chain.take().expect("the chain is running").shutdown();
        self.resume();
    }

    fn resume(&mut self) {
        let database: Arc<dyn Database> = Arc::new(self.database.clone());
        // The testkit is the node of the validator with keys number 0.
        let node_key = Some(Validator::numbered(0).service_key.verifying_key().to_bytes());
        let chain = Blockchain::resume(database, self.builder.runtimes(), node_key).expect("the chain resumes");
        chain
            .dispatcher()
            .set_service_settings(self.builder.service_settings.clone());
        self.chain = Some(chain);
        self.follow_validator_set();
    }

    /// The replay oracle: a fresh chain from the same genesis re-executes
    /// every stored block's transactions; the state root, transaction root
    /// and error root must match at every height
    /// ([`wasmvisor_blockchain::replay`]).
    pub fn replay(&self) -> Result<(), ReplayMismatch> {
        let mut fresh = self.builder.clone().build();
        wasmvisor_blockchain::replay(&mut self.chain().read_fork(), fresh.chain_mut()).map(|_| ())
    }
}
