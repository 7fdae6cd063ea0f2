//! The node: its chain on RocksDB (genesis on an empty data directory,
//! resume otherwise), admission to its mempool, and the two ways its
//! blocks are agreed — alone, by the single-validator producer
//! (`produce_block`), or with its peers, through the consensus engine
//! (`propose_block`, `validate_block`, `commit_decided`,
//! `decided_block`, which the engine module calls).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmvisor_blockchain::{Blockchain, TransactionError, VerifiedTransaction};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_runtime::{CallInfo, InstanceStatus, Runtime, runtime_id};
use wasmvisor_storage::Hash;
#[cfg(feature = "rocksdb")]
use wasmvisor_storage::RocksDatabase;
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

use crate::config::NodeConfig;
use crate::genesis::Genesis;
pub use crate::keys::{KEYS_FILE, NodeKeys};
use crate::mempool::{Mempool, pooled_bytes};
use crate::system::{Reconciler, SystemService};

mod consensus;
mod producer;

/// Directory in the data directory holding the database.
pub use crate::datadir::DATABASE_DIR;

/// Bytes of a block's hash its log line shows (as hex).
const BLOCK_LOG_HASH_BYTES: usize = 8;

pub use wasmvisor_limits::COMMIT_TIMES_ITEMS_MAX;

/// Rounds of consensus that may fail in a row, each ending in its
/// timeouts, before a node that commits no block is not ready
/// ([`Node::readiness`]).
pub const READY_ROUNDS_MISSED_MAX: u32 = 3;

/// The least time without a block after which a node is not ready: a block
/// that compiles a deployed component may take seconds.
pub const READY_BLOCK_AGE_FLOOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a node makes or follows blocks ([`Node::readiness`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Readiness {
    /// The last block was committed by this process less than
    /// `block_age_max` ago.
    pub ready: bool,
    /// Height of the last committed block.
    pub height: u64,
    /// Time since this process committed its last block (`None`: none
    /// since it started).
    pub block_age: Option<std::time::Duration>,
    /// The age past which it is not ready.
    pub block_age_max: std::time::Duration,
}

/// How long a node may go without committing a block and still be ready:
/// the block interval and [`READY_ROUNDS_MISSED_MAX`] failed rounds (the
/// propose and both vote timeouts each, as the engine grows them by half
/// per round; a node without the consensus engine makes a block each
/// interval), at least [`READY_BLOCK_AGE_FLOOR`].
pub fn ready_block_age_max(
    block_interval: std::time::Duration,
    consensus: Option<&crate::config::ConsensusSettings>,
) -> std::time::Duration {
    let rounds = match consensus {
        None => block_interval.saturating_mul(READY_ROUNDS_MISSED_MAX),
        Some(settings) => {
            let (propose, vote) = (settings.propose_timeout_ms, settings.vote_timeout_ms);
            // Round r waits propose + r * propose / 2, and twice vote + r * vote / 2.
            let round_ms = |round: u64| {
                propose
                    .saturating_add(round.saturating_mul(propose / 2))
                    .saturating_add(vote.saturating_add(round.saturating_mul(vote / 2)).saturating_mul(2))
            };
            let total =
                (0..u64::from(READY_ROUNDS_MISSED_MAX)).fold(0u64, |sum, round| sum.saturating_add(round_ms(round)));
            std::time::Duration::from_millis(total)
        }
    };
    block_interval.saturating_add(rounds).max(READY_BLOCK_AGE_FLOOR)
}

#[cfg(test)]
mod readiness_tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn readiness_allows_three_rounds_of_growing_timeouts_and_at_least_the_floor() {
        let settings = |propose_timeout_ms, vote_timeout_ms| crate::config::ConsensusSettings {
            listen_address: "127.0.0.1:1".parse().unwrap(),
            peers: Vec::new(),
            propose_timeout_ms,
            vote_timeout_ms,
        };
        // Rounds 0, 1, 2 of 4 s / 2 s timeouts: (4 + 4) + (6 + 6) + (8 + 8)
        // seconds, and the interval.
        let slow = settings(4_000, 2_000);
        assert_eq!(
            ready_block_age_max(Duration::from_millis(500), Some(&slow)),
            Duration::from_millis(36_500)
        );
        // The defaults (1 s / 0.5 s) come to 9.1 s: the floor holds.
        assert_eq!(
            ready_block_age_max(Duration::from_millis(100), Some(&settings(1_000, 500))),
            READY_BLOCK_AGE_FLOOR
        );
        // Without the engine: the interval and three more.
        assert_eq!(
            ready_block_age_max(Duration::from_secs(5), None),
            Duration::from_secs(20)
        );
        // No overflow at the extremes.
        let huge = settings(u64::MAX, u64::MAX);
        assert!(ready_block_age_max(Duration::MAX, Some(&huge)) >= READY_BLOCK_AGE_FLOOR);
    }
}

/// Why the node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory or key file.
    #[error("{0}")]
    Io(String),
    /// The node's keys cannot be read or created.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
    /// The data directory is in a format this binary cannot read.
    #[error(transparent)]
    Format(#[from] crate::datadir::FormatError),
    /// A file holding secrets cannot be used (created or read).
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretFileError),
    /// The chain cannot start.
    #[error("the chain cannot start: {0}")]
    Chain(String),
    /// A system service cannot be read or deployed.
    #[error("the node cannot start: {0}")]
    SystemService(String),
}

/// Why this node made no proposal.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The node is shutting down.
    #[error("the node is shut down")]
    ShutDown,
    /// This node failed (its store, its runtimes): it must stop.
    #[error("this node cannot propose: {0}")]
    Node(String),
    /// The block cannot be made (the same on every node).
    #[error("no block can be proposed: {0}")]
    Block(String),
}

/// Why a transaction was not admitted to the mempool.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// It does not verify (size, encoding, signature, chain).
    #[error(transparent)]
    Invalid(#[from] wasmvisor_blockchain::TransactionError),
    /// It is already waiting.
    #[error("the transaction is already in the mempool")]
    AlreadyPooled,
    /// It is already in a block.
    #[error("the transaction is already committed")]
    AlreadyCommitted,
    /// Its target is not an Active instance.
    #[error("instance {0} does not exist or is not active")]
    InactiveTarget(u32),
    /// The node will not sign this request (it could not follow it).
    #[error("{0}")]
    Refused(String),
    /// This node could not read what admission checks (its store failed).
    #[error("this node cannot admit transactions now: {0}")]
    Unavailable(String),
    /// The mempool is full (in transactions or in bytes).
    #[error("the mempool is full ({count} transactions, {bytes} bytes); retry later")]
    Full {
        /// Transactions waiting.
        count: usize,
        /// Their bytes.
        bytes: usize,
    },
}

/// A running node's chain, mempool and keys.
pub struct Node {
    config: NodeConfig,
    keys: NodeKeys,
    chain: Mutex<Option<Blockchain>>,
    /// Reads of the committed chain for admission, which must not wait
    /// while a block is produced.
    reader: wasmvisor_blockchain::ChainReader,
    mempool: Mutex<Mempool>,
    committed_transactions: std::sync::atomic::AtomicU64,
    /// When this process last committed a block (`None` before its
    /// first): the block log line's interval and readiness
    /// ([`Node::readiness`]).
    last_block_at: Mutex<Option<std::time::Instant>>,
    /// When this process committed each of its latest blocks (height, Unix
    /// milliseconds by its own clock), at most [`COMMIT_TIMES_ITEMS_MAX`].
    commit_times: Mutex<std::collections::VecDeque<(u64, u64)>>,
    /// What the node observes for its metrics.
    metrics: crate::metrics::NodeMetrics,
    reconciler: Mutex<Reconciler>,
    runtimes: Vec<Arc<dyn Runtime>>,
    /// Relays admitted transactions to the other validators (set when the
    /// node runs with the consensus engine).
    gossip: std::sync::OnceLock<crate::gossip::Gossip>,
    /// Permits of the read queries running at once
    /// ([`wasmvisor_limits::QUERIES_CONCURRENT_ITEMS_MAX`]).
    query_permits: Arc<tokio::sync::Semaphore>,
}

fn runtimes(config: &NodeConfig) -> Result<Vec<Arc<dyn Runtime>>, StartError> {
    let mut runtimes: Vec<Arc<dyn Runtime>> = Vec::new();
    for name in &config.runtimes.enabled {
        match name.as_str() {
            "native" => runtimes.push(Arc::new(wasmvisor_native::NativeRuntime::new(vec![Arc::new(
                wasmvisor_native::TokenService,
            )]))),
            "wasm" => {
                let wasm = WasmRuntime::new(WasmRuntimeConfig {
                    compiled_cache_dir: config.runtimes.wasm.compiled_cache_dir.clone(),
                    ..WasmRuntimeConfig::default()
                })
                .map_err(|error| StartError::Chain(format!("the wasm runtime: {error}")))?;
                runtimes.push(Arc::new(wasm));
            }
            other => return Err(StartError::Chain(format!("unknown runtime {other:?}"))),
        }
    }
    Ok(runtimes)
}

/// The id of the chain a node configured by `config` holds: its genesis
/// block's hash, from its database when it is stopped, else from its public
/// API (RocksDB admits one process).
#[cfg(feature = "rocksdb")]
fn held_chain_id(config: &NodeConfig) -> Result<Hash, String> {
    let database_path = config.data_dir.join(DATABASE_DIR);
    if !database_path.exists() {
        return Err(format!(
            "no chain in {}: a node's genesis is exported once it has started",
            config.data_dir.display()
        ));
    }
    crate::datadir::check_format(&config.data_dir).map_err(|error| error.to_string())?;
    match RocksDatabase::open(&database_path) {
        Ok(database) => {
            let mut fork = wasmvisor_storage::Fork::new(wasmvisor_storage::Database::snapshot(&database));
            let header = wasmvisor_blockchain::blocks::header(&mut fork, 0)
                .map_err(|error| format!("the database: {error}"))?
                .ok_or_else(|| format!("no genesis block in {}", database_path.display()))?;
            Ok(wasmvisor_blockchain::blocks::block_hash(&header))
        }
        Err(open_error) => {
            let mut address = config.public_api;
            if address.ip().is_unspecified() {
                address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let info = crate::operator::Client::new(&format!("http://{address}"), None)
                .get("/api/system/v1/info")
                .map_err(|error| {
                    format!("the node's database cannot be opened ({open_error}) nor its public API asked ({error})")
                })?;
            info["chain_id"]
                .as_str()
                .ok_or_else(|| format!("the public API at {address} reports no chain_id"))
                .and_then(crate::config::parse_chain_id)
        }
    }
}

impl Node {
    /// Opens the node's chain: genesis on an empty data directory, else a
    /// restart from the stored state.
    #[cfg(feature = "rocksdb")]
    pub fn open(mut config: NodeConfig) -> Result<Arc<Self>, StartError> {
        // Before anything is created: a node that cannot have its system
        // services leaves no trace.
        let system_services = config.system_services.load().map_err(StartError::SystemService)?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|error| StartError::Io(format!("{}: {error}", config.data_dir.display())))?;
        // Before anything in it is read or written.
        crate::datadir::check_format(&config.data_dir)?;
        let keys = NodeKeys::for_config(&config)?;
        // The private API always wants a token: the configured one, else
        // the one kept in the data directory (which the CLI reads).
        if config.private_api_token.is_none() {
            config.private_api_token = Some(crate::secrets::load_or_create_token(&config.data_dir)?);
        }
        let database = RocksDatabase::open(config.data_dir.join(DATABASE_DIR))
            .map_err(|error| StartError::Chain(format!("the database: {error}")))?;
        Self::start(config, keys, Arc::new(database), system_services)
    }

    /// Opens the node's chain on `database` with `keys` (genesis if the
    /// database is empty): what [`Node::open`] does after opening RocksDB,
    /// and what in-process tests use with a memory database.
    pub fn open_with(
        config: NodeConfig,
        keys: NodeKeys,
        database: Arc<dyn wasmvisor_storage::Database>,
    ) -> Result<Arc<Self>, StartError> {
        let system_services = config.system_services.load().map_err(StartError::SystemService)?;
        Self::start(config, keys, database, system_services)
    }

    fn start(
        mut config: NodeConfig,
        keys: NodeKeys,
        database: Arc<dyn wasmvisor_storage::Database>,
        system_services: Vec<SystemService>,
    ) -> Result<Arc<Self>, StartError> {
        // A node opened without a data directory's token (in-process
        // tests) gets one kept nowhere; see [`Node::private_api_token`].
        if config.private_api_token.is_none() {
            config.private_api_token = Some(crate::secrets::random_token()?);
        }
        let runtimes = runtimes(&config)?;
        let (genesis, chain_id) = match (&config.genesis, &config.chain_id) {
            (Some(path), Some(given)) => {
                let given = crate::config::parse_chain_id(given).map_err(StartError::Io)?;
                let (genesis, named) = Genesis::read(path).map_err(StartError::Io)?;
                if named != given {
                    return Err(StartError::Io(format!(
                        "the genesis file {} names the chain {}, not this configuration's chain_id {}",
                        path.display(),
                        hex::encode(named),
                        hex::encode(given)
                    )));
                }
                // Before a genesis block is written from the file, the file
                // must make that chain (built in memory first).
                let fresh =
                    wasmvisor_blockchain::blocks::header(&mut wasmvisor_storage::Fork::new(database.snapshot()), 0)
                        .map_err(|error| StartError::Chain(error.to_string()))?
                        .is_none();
                if fresh {
                    let made = Self::genesis_chain_id(&config, &genesis).map_err(StartError::Chain)?;
                    if made != given {
                        return Err(StartError::Io(format!(
                            "the genesis file {} makes the chain {}, not the {} it names: it was changed after it \
                             was imported (nothing was written)",
                            path.display(),
                            hex::encode(made),
                            hex::encode(given)
                        )));
                    }
                }
                (genesis, Some(given))
            }
            _ => (
                Genesis::of_config(&config, keys.validator_keys(), system_services.clone()).map_err(StartError::Io)?,
                None,
            ),
        };
        let validator_keys = genesis.validators.clone();
        match (validator_keys.contains(&keys.validator_keys()), config.auditor) {
            (true, false) => {}
            (true, true) => {
                return Err(StartError::Io(
                    "this node is configured as an auditor, but its keys are among genesis_validators".into(),
                ));
            }
            // Without the consensus engine a node makes its own blocks, and
            // only a validator may.
            (false, true) if config.consensus.is_none() => {
                return Err(StartError::Io(
                    "an auditor follows a network through the consensus engine: its configuration needs a \
                     [consensus] section"
                        .into(),
                ));
            }
            (false, true) => tracing::info!("this node is an auditor: it follows the chain and never votes"),
            (false, false) => {
                return Err(StartError::Io(format!(
                    "this node's keys ({}) are not among genesis_validators (an auditor, which follows the \
                     network from outside the set, is made with generate-config --auditor and has \
                     `auditor = true` and a [consensus] section)",
                    config.data_dir.join(KEYS_FILE).display()
                )));
            }
        }
        // The genesis set is held to the rules of every later one (each key
        // a valid Ed25519 key, used once; 1 to 256 validators).
        wasmvisor_dispatcher::validate_consensus_config(&genesis.consensus())
            .map_err(|error| StartError::Io(format!("the genesis consensus configuration: {error}")))?;
        let node_key = Some(keys.service.verifying_key().to_bytes());
        let (chain, created) =
            Blockchain::open(database, runtimes.clone(), || genesis.config(), node_key).map_err(|error| {
                let error = error.to_string();
                // A genesis deploy failure names the artifact: say which
                // system service it is.
                match genesis
                    .system_services
                    .iter()
                    .find(|service| error.contains(&service.artifact.to_string()))
                {
                    Some(service) => StartError::SystemService(format!(
                        "system service {:?} ({}) cannot be deployed: {error}",
                        service.name, service.artifact
                    )),
                    None => StartError::Chain(error),
                }
            })?;
        // Node-local: services read them in after-commit only (from the
        // first block after the start).
        chain.dispatcher().set_service_settings(config.service_settings.clone());
        if let Some(expected) = chain_id
            && chain.chain_id() != expected
        {
            let held = chain.chain_id();
            chain.shutdown();
            return Err(StartError::Chain(format!(
                "the chain in {} has the id {}, not this configuration's chain_id {}: the data directory holds \
                 another network's chain",
                config.data_dir.display(),
                hex::encode(held),
                hex::encode(expected),
            )));
        }
        if created {
            tracing::info!("created the genesis block in {}", config.data_dir.display());
        } else {
            tracing::info!("resumed the chain in {}", config.data_dir.display());
        }
        Ok(Arc::new(Self {
            config,
            keys,
            reader: chain.reader(),
            chain: Mutex::new(Some(chain)),
            mempool: Mutex::default(),
            committed_transactions: std::sync::atomic::AtomicU64::new(0),
            last_block_at: Mutex::new(None),
            commit_times: Mutex::default(),
            metrics: crate::metrics::NodeMetrics::default(),
            reconciler: Mutex::new(Reconciler::new(system_services)),
            runtimes,
            gossip: std::sync::OnceLock::new(),
            query_permits: Arc::new(tokio::sync::Semaphore::new(
                wasmvisor_limits::QUERIES_CONCURRENT_ITEMS_MAX,
            )),
        }))
    }

    /// The id of the chain `genesis` makes for a node configured by
    /// `config` (its runtimes): the genesis block is built on a memory
    /// database and thrown away.
    pub fn genesis_chain_id(config: &NodeConfig, genesis: &Genesis) -> Result<Hash, String> {
        let database: Arc<dyn wasmvisor_storage::Database> = Arc::new(wasmvisor_storage::MemoryDatabase::new());
        wasmvisor_dispatcher::validate_consensus_config(&genesis.consensus())
            .map_err(|error| format!("the genesis consensus configuration: {error}"))?;
        let runtimes = runtimes(config).map_err(|error| error.to_string())?;
        let chain = Blockchain::genesis(database, runtimes, genesis.config(), None)
            .map_err(|error| format!("the genesis block cannot be built: {error}"))?;
        let chain_id = chain.chain_id();
        chain.shutdown();
        Ok(chain_id)
    }

    /// The genesis of the chain a node configured by `config` runs, with
    /// the chain id it makes (`wasmvisor genesis export`): built from the
    /// configuration's files (keys, system services' components, an
    /// imported genesis), and refused unless the node's own chain has that
    /// id — a configuration edited since genesis (a system service
    /// upgraded, a setting changed) no longer describes it. The node's
    /// chain id is read from its stopped database, or asked of its public
    /// API while it runs.
    #[cfg(feature = "rocksdb")]
    pub fn export_genesis(config: &NodeConfig) -> Result<crate::genesis::GenesisFile, String> {
        let genesis = match &config.genesis {
            Some(path) => Genesis::read(path)?.0,
            None => {
                let own = if config.genesis_validators.is_empty() {
                    let keys_path = config.data_dir.join(KEYS_FILE);
                    if !keys_path.exists() {
                        return Err(format!("{} is missing: no node's keys", keys_path.display()));
                    }
                    NodeKeys::public_keys(&config.data_dir).map_err(|error| error.to_string())?
                } else {
                    wasmvisor_proto::blockchain::ValidatorKeys::default()
                };
                Genesis::of_config(config, own, config.system_services.load()?)?
            }
        };
        let chain_id = Self::genesis_chain_id(config, &genesis)?;
        let held = held_chain_id(config)?;
        if held != chain_id {
            return Err(format!(
                "this configuration makes the chain {}, but the node holds the chain {}: it was changed since \
                 genesis (system services, genesis settings or validators), so it no longer describes the genesis; \
                 export from a node whose configuration is the one its chain started with",
                hex::encode(chain_id),
                hex::encode(held)
            ));
        }
        Ok(genesis.to_file(&chain_id))
    }

    /// The bearer token the private API requires: the configured one, or
    /// the one kept in the data directory
    /// ([`crate::secrets::PRIVATE_API_TOKEN_FILE`]).
    pub fn private_api_token(&self) -> &str {
        self.config
            .private_api_token
            .as_deref()
            .expect("Node::start sets a token")
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// This validator's keys.
    pub fn keys(&self) -> &NodeKeys {
        &self.keys
    }

    fn mempool(&self) -> MutexGuard<'_, Mempool> {
        self.mempool
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
    }

    /// The permits a read query takes while it runs (the API holds one per
    /// query, so at most `QUERIES_CONCURRENT_ITEMS_MAX` run at once).
    pub fn query_permits(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.query_permits
    }

    /// Reads of the latest committed chain that never wait for a block.
    pub fn reader(&self) -> &wasmvisor_blockchain::ChainReader {
        &self.reader
    }

    /// Runs `read` on the chain (blocked while a block is produced).
    pub fn with_chain<T>(&self, read: impl FnOnce(&Blockchain) -> T) -> T {
        let chain = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        read(chain.as_ref().expect("the chain runs until shutdown"))
    }

    /// Number of transactions waiting.
    pub fn mempool_len(&self) -> usize {
        self.mempool().queue.len()
    }

    /// Bytes the waiting transactions hold.
    pub fn mempool_bytes(&self) -> usize {
        self.mempool().bytes
    }

    /// Whether `hash` waits in the mempool.
    pub fn is_pooled(&self, hash: &Hash) -> bool {
        self.mempool().hashes.contains(hash)
    }

    /// Each enabled runtime's name and monitoring counters.
    pub fn runtime_metrics(&self) -> Vec<(&'static str, wasmvisor_runtime::RuntimeMetrics)> {
        self.runtimes
            .iter()
            .map(|runtime| {
                let name = if runtime.id() == runtime_id::NATIVE {
                    "native"
                } else {
                    "wasm"
                };
                (name, runtime.metrics())
            })
            .collect()
    }

    /// Transactions committed since this process started.
    pub fn committed_transactions(&self) -> u64 {
        self.committed_transactions.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Verifies a signed transaction and admits it to the mempool. Nothing
    /// here holds the chain: admission and block production run side by
    /// side, admission reading the last committed state. A transaction over
    /// the size limit is refused as such first; then a full mempool refuses
    /// before anything else is checked: it spends no signature check on a
    /// transaction it has no room for.
    pub fn submit(&self, signed: &[u8]) -> Result<Hash, SubmitError> {
        self.submit_many(std::slice::from_ref(&signed))
            .pop()
            .expect("one verdict for one transaction")
    }

    /// [`Node::submit`]'s verdict on each of `transactions`, in order, as
    /// if each were submitted alone after those before it: the signatures
    /// are checked in batches over every core, at most a largest
    /// transaction's bytes (or one transaction) parsed at once, so a batch
    /// holds no more memory than a single submission does. Only what the
    /// mempool has room for is checked; a transaction refused for another
    /// reason takes no room. A transaction given twice is admitted once
    /// (the second is [`SubmitError::AlreadyPooled`]).
    pub fn submit_many<T: AsRef<[u8]>>(&self, transactions: &[T]) -> Vec<Result<Hash, SubmitError>> {
        let size_max = match self.reader.transaction_size_max() {
            Ok(size_max) => size_max,
            Err(error) => {
                return transactions
                    .iter()
                    .map(|_| Err(SubmitError::Invalid(TransactionError::Node(error.clone()))))
                    .collect();
            }
        };
        let mut verdicts: Vec<Option<Result<Hash, SubmitError>>> = transactions.iter().map(|_| None).collect();
        let mut waiting = std::collections::VecDeque::with_capacity(transactions.len());
        for (index, transaction) in transactions.iter().enumerate() {
            let size = transaction.as_ref().len();
            if size > size_max {
                verdicts[index] = Some(Err(SubmitError::Invalid(TransactionError::TooLarge {
                    size,
                    max: size_max,
                })));
            } else {
                waiting.push_back(index);
            }
        }
        let length = |index: &usize| transactions[*index].as_ref().len();
        while !waiting.is_empty() {
            let room = self.room(waiting.iter().map(length));
            if room == 0 {
                let (count, bytes) = self.mempool_usage();
                for index in waiting.drain(..) {
                    verdicts[index] = Some(Err(SubmitError::Full { count, bytes }));
                }
                break;
            }
            let mut take = 0;
            let mut bytes = 0;
            for size in waiting.iter().take(room).map(length) {
                if take > 0 && bytes + size > wasmvisor_limits::TRANSACTION_BYTES_MAX {
                    break;
                }
                take += 1;
                bytes += size;
            }
            let chunk: Vec<usize> = waiting.drain(..take).collect();
            let items: Vec<&[u8]> = chunk.iter().map(|index| transactions[*index].as_ref()).collect();
            // One alone is checked on this thread; more, over every core.
            let verified = match items.as_slice() {
                [one] => vec![self.reader.verify(one)],
                many => self.reader.verify_each(many),
            };
            for (index, verdict) in chunk.into_iter().zip(self.admit(verified)) {
                verdicts[index] = Some(verdict);
            }
        }
        verdicts
            .into_iter()
            .map(|verdict| verdict.expect("a verdict for each transaction"))
            .collect()
    }

    /// How many transactions of these sizes, from the first, the mempool
    /// has room for now (in count and in bytes).
    fn room(&self, sizes: impl Iterator<Item = usize>) -> usize {
        let pool = self.mempool();
        let mut count = pool.queue.len();
        let mut bytes = pool.bytes;
        sizes
            .take_while(|size| {
                let size = pooled_bytes(*size);
                let fits = count < self.config.mempool_size_max
                    && bytes
                        .checked_add(size)
                        .is_some_and(|total| total <= self.config.mempool_bytes_max);
                if fits {
                    count += 1;
                    bytes += size;
                }
                fits
            })
            .count()
    }

    /// Transactions waiting and the bytes they hold.
    fn mempool_usage(&self) -> (usize, usize) {
        let pool = self.mempool();
        (pool.queue.len(), pool.bytes)
    }

    /// Admits verified transactions: not committed, to an Active instance,
    /// not pooled already, within the mempool's limits.
    fn admit(&self, verified: Vec<Result<VerifiedTransaction, TransactionError>>) -> Vec<Result<Hash, SubmitError>> {
        let unavailable = |error: String| SubmitError::Unavailable(error);
        // Which are committed, read from one snapshot for the call (a
        // failed read refuses each of them as this node's failure).
        let mut committed = self
            .reader
            .committed_each(
                verified
                    .iter()
                    .filter_map(|transaction| transaction.as_ref().ok())
                    .map(|transaction| &transaction.hash),
            )
            .map(Vec::into_iter)
            .map_err(|error| error.to_string());
        // Each target's status is read once per call.
        let mut active: HashMap<u32, bool> = HashMap::new();
        let checked: Vec<Result<VerifiedTransaction, SubmitError>> = verified
            .into_iter()
            .map(|transaction| {
                let transaction = transaction?;
                let is_committed = match &mut committed {
                    Ok(each) => each.next().expect("a verdict for each verified transaction"),
                    Err(error) => return Err(unavailable(error.clone())),
                };
                if is_committed {
                    return Err(SubmitError::AlreadyCommitted);
                }
                let instance_id = transaction.call.instance_id;
                let is_active = match active.get(&instance_id) {
                    Some(is_active) => *is_active,
                    None => {
                        let is_active = self
                            .reader
                            .instance(instance_id)
                            .map_err(|error| unavailable(error.to_string()))?
                            .is_some_and(|state| state.status == Some(InstanceStatus::Active));
                        active.insert(instance_id, is_active);
                        is_active
                    }
                };
                if !is_active {
                    return Err(SubmitError::InactiveTarget(instance_id));
                }
                Ok(transaction)
            })
            .collect();
        let mut pool = self.mempool();
        checked
            .into_iter()
            .map(|transaction| {
                let transaction = transaction?;
                if pool.hashes.contains(&transaction.hash) {
                    return Err(SubmitError::AlreadyPooled);
                }
                let size = pooled_bytes(transaction.signed.len());
                if pool.queue.len() >= self.config.mempool_size_max || pool.bytes + size > self.config.mempool_bytes_max
                {
                    return Err(SubmitError::Full {
                        count: pool.queue.len(),
                        bytes: pool.bytes,
                    });
                }
                let hash = transaction.hash;
                pool.hashes.insert(hash);
                pool.bytes += size;
                pool.queue.push_back(transaction);
                Ok(hash)
            })
            .collect()
    }

    /// Admits a transaction like [`Node::submit`] and, once admitted,
    /// relays it to the other validators (if the node runs with peers), so
    /// whichever validator proposes next can include it.
    pub fn submit_and_relay(&self, signed: &[u8]) -> Result<Hash, SubmitError> {
        let hash = self.submit(signed)?;
        if let Some(gossip) = self.gossip.get() {
            gossip.relay(signed);
        }
        Ok(hash)
    }

    /// Admits transactions like [`Node::submit_many`] and relays the
    /// admitted ones like [`Node::submit_and_relay`].
    pub fn submit_many_and_relay<T: AsRef<[u8]>>(&self, transactions: &[T]) -> Vec<Result<Hash, SubmitError>> {
        let verdicts = self.submit_many(transactions);
        if let Some(gossip) = self.gossip.get() {
            for (signed, verdict) in transactions.iter().zip(&verdicts) {
                if verdict.is_ok() {
                    gossip.relay(signed.as_ref());
                }
            }
        }
        verdicts
    }

    /// Sets the relay of admitted transactions (once, before serving).
    pub fn set_gossip(&self, gossip: crate::gossip::Gossip) {
        let _ = self.gossip.set(gossip);
    }

    /// Signs a transaction to the supervisor with this node's service key
    /// and submits it.
    pub fn submit_to_supervisor(&self, method_id: u32, arguments: Vec<u8>) -> Result<Hash, SubmitError> {
        if method_id == crate::requests::SupervisorAction::Propose.method_id() && self.config.consensus.is_none() {
            let propose = wasmvisor_proto::supervisor::ConfigPropose::decode(arguments.as_slice()).unwrap_or_default();
            let validators = propose.changes.iter().find_map(|change| match &change.kind {
                Some(wasmvisor_proto::supervisor::config_change::Kind::Consensus(config)) => {
                    Some(config.validator_keys.len())
                }
                _ => None,
            });
            if let Some(count) = validators.filter(|count| *count > 1) {
                return Err(SubmitError::Refused(format!(
                    "this node makes its blocks alone (its configuration has no [consensus] section): a set of \
                     {count} validators could never make another block with it; give every validator a \
                     [consensus] section first"
                )));
            }
        }
        let call = CallInfo {
            instance_id: wasmvisor_runtime::SUPERVISOR_INSTANCE_ID,
            method_id,
        };
        let signed = wasmvisor_blockchain::sign(&self.keys.service, &self.reader.chain_id(), call, arguments);
        self.submit_and_relay(&signed)
    }

    /// The time between blocks the consensus configuration asks for.
    pub fn block_interval(&self) -> std::time::Duration {
        let interval_ms = self.with_chain(|chain| chain.consensus_config().map(|config| config.block_interval_ms));
        std::time::Duration::from_millis(interval_ms.unwrap_or(self.config.block_interval_ms).max(1))
    }

    /// The committed chain's consensus configuration (the validator set of
    /// the next height).
    pub fn consensus_config(&self) -> Result<ConsensusConfig, String> {
        self.with_chain(|chain| chain.consensus_config().map_err(|error| error.to_string()))
    }

    /// When this process committed block `height`, in Unix milliseconds by
    /// its own clock: not agreed by the validators, and known only for
    /// the latest [`COMMIT_TIMES_ITEMS_MAX`] blocks it committed since it
    /// started (`None` otherwise).
    pub fn committed_here_at(&self, height: u64) -> Option<u64> {
        let times = self
            .commit_times
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        // Heights increase along the queue.
        let position = times.binary_search_by_key(&height, |(at_height, _)| *at_height).ok()?;
        times.get(position).map(|(_, unix_ms)| *unix_ms)
    }

    /// Whether this node makes or follows blocks: ready when this process
    /// committed a block less than [`ready_block_age_max`] ago. Reads
    /// neither waits for a block being made nor takes the chain's lock.
    /// A node catching up counts as ready once it commits blocks, however
    /// far behind it still is (a block carries no time to compare).
    pub fn readiness(&self) -> Result<Readiness, String> {
        let height = self.reader.last_header().map_err(|error| error.to_string())?.height;
        let interval_ms = self
            .reader
            .consensus_config()
            .map_err(|error| error.to_string())?
            .block_interval_ms;
        let block_age_max = ready_block_age_max(
            std::time::Duration::from_millis(interval_ms.max(1)),
            self.config.consensus.as_ref(),
        );
        let block_age = self
            .last_block_at
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .map(|at| at.elapsed());
        Ok(Readiness {
            ready: block_age.is_some_and(|age| age < block_age_max),
            height,
            block_age,
            block_age_max,
        })
    }

    /// Counts a committed block's outcomes per service instance in the
    /// metrics, only for instances the chain has (a transaction may name
    /// any id, and the metrics keep a bounded number of them). An instance
    /// counted before is never removed from the chain, so only ids new to
    /// the metrics are looked up.
    fn count_services(&self, mut outcomes: std::collections::BTreeMap<u32, wasmvisor_blockchain::ServiceOutcome>) {
        outcomes.retain(|id, _| self.metrics.counts_service(*id) || self.reader.instance(*id).ok().flatten().is_some());
        self.metrics.count_services(&outcomes);
    }

    /// What the node observes for its metrics.
    pub fn metrics(&self) -> &crate::metrics::NodeMetrics {
        &self.metrics
    }

    /// The metrics read now, for a scrape.
    pub fn metrics_snapshot(&self) -> Result<crate::metrics::Snapshot, String> {
        let readiness = self.readiness()?;
        let (relay_queue_bytes, relay_peers) = self
            .gossip
            .get()
            .map_or((0, 0), |gossip| (gossip.queued_bytes(), gossip.peer_count()));
        let (mempool_transactions, mempool_bytes) = {
            let pool = self.mempool();
            (pool.queue.len(), pool.bytes)
        };
        Ok(crate::metrics::Snapshot {
            height: readiness.height,
            ready: readiness.ready,
            last_block_age_seconds: readiness.block_age.map(|age| age.as_secs_f64()),
            ready_block_age_max_seconds: readiness.block_age_max.as_secs_f64(),
            transactions_committed: self.committed_transactions(),
            mempool_transactions: mempool_transactions as u64,
            mempool_bytes: mempool_bytes as u64,
            mempool_transactions_max: self.config.mempool_size_max as u64,
            mempool_bytes_max: self.config.mempool_bytes_max as u64,
            relay_queue_bytes: relay_queue_bytes as u64,
            relay_peers: relay_peers as u64,
            runtimes: self.runtime_metrics(),
            service_names: self
                .metrics
                .counted_services()
                .into_iter()
                .filter_map(|id| {
                    let state = self.reader.instance(id).ok().flatten()?;
                    Some((id, state.spec.name))
                })
                .collect(),
        })
    }

    /// Height of the last committed block.
    pub fn height(&self) -> Result<u64, String> {
        self.with_chain(|chain| {
            chain
                .last_header()
                .map(|header| header.height)
                .map_err(|error| error.to_string())
        })
    }

    /// What follows a committed block, with the chain released: one INFO
    /// line (height, transactions, the time since the block before it,
    /// the hash's first bytes), count its transactions and its `outcomes`
    /// per service, pool (and relay) what services asked to broadcast, and
    /// take the system services' next steps.
    fn after_block(
        &self,
        header: &wasmvisor_proto::blockchain::BlockHeader,
        outcomes: std::collections::BTreeMap<u32, wasmvisor_blockchain::ServiceOutcome>,
        broadcasts: Vec<Vec<u8>>,
    ) {
        self.count_services(outcomes);
        let now = std::time::Instant::now();
        let before = self
            .last_block_at
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .replace(now);
        if let Some(before) = before {
            self.metrics
                .block_interval
                .observe(now.duration_since(before).as_secs_f64());
        }
        {
            let unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX));
            let mut times = self
                .commit_times
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node");
            if times.len() == COMMIT_TIMES_ITEMS_MAX {
                times.pop_front();
            }
            times.push_back((header.height, unix_ms));
        }
        let hash = wasmvisor_blockchain::blocks::block_hash(header);
        tracing::info!(
            height = header.height,
            transactions = header.tx_count,
            interval_ms = before.map(|before| now.duration_since(before).as_millis() as u64),
            hash = %hex::encode(&hash[..BLOCK_LOG_HASH_BYTES]),
            "block committed"
        );
        self.committed_transactions
            .fetch_add(u64::from(header.tx_count), std::sync::atomic::Ordering::Relaxed);
        for signed in broadcasts {
            if let Err(error) = self.submit_and_relay(&signed) {
                tracing::debug!("a broadcast was not pooled: {error}");
            }
        }
        self.reconcile_system_services();
    }

    /// One reconciliation round of the system services (after a block):
    /// sends the supervisor transactions that bring them to their
    /// configured versions.
    fn reconcile_system_services(&self) {
        let mut reconciler = self
            .reconciler
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        if reconciler.is_settled() {
            return;
        }
        let service_key = self.keys.service.verifying_key().to_bytes();
        let (steps, height) = self.with_chain(|chain| {
            let validator = chain
                .consensus_config()
                .ok()
                .is_some_and(|config| config.validator_keys.iter().any(|keys| keys.service_key == service_key));
            let my_key = validator.then_some(&service_key[..]);
            let height = chain.last_header().map(|header| header.height).unwrap_or(0);
            // Only a validator's requests count: an auditor sends none.
            let steps = if validator {
                reconciler.steps(chain, height, my_key)
            } else {
                Vec::new()
            };
            (steps, height)
        });
        for (service, step) in steps {
            match self.submit_to_supervisor(step.method_id, step.payload) {
                Ok(hash) => {
                    tracing::info!(service, "system service: {}", step.what);
                    reconciler.sent(&service, Some(hash), height);
                }
                Err(error) => {
                    tracing::warn!(service, "system service: cannot {}: {error}", step.what);
                    reconciler.sent(&service, None, height);
                }
            }
        }
    }

    /// The replay oracle over a stopped node's data directory: re-executes
    /// every stored block on a fresh in-memory chain from the same genesis
    /// (the same configuration and keys) and checks that each block comes
    /// out the same ([`wasmvisor_blockchain::replay`]). The node must not be
    /// running: RocksDB admits one process.
    #[cfg(feature = "rocksdb")]
    pub fn replay_stored_chain(config: NodeConfig) -> Result<wasmvisor_blockchain::ReplayReport, String> {
        let keys_path = config.data_dir.join(KEYS_FILE);
        let database_path = config.data_dir.join(DATABASE_DIR);
        if !keys_path.exists() || !database_path.exists() {
            return Err(format!("no node's chain in {}", config.data_dir.display()));
        }
        crate::datadir::check_format(&config.data_dir).map_err(|error| error.to_string())?;
        let keys = NodeKeys::for_config(&config).map_err(|error| error.to_string())?;
        let stored = RocksDatabase::open(&database_path).map_err(|error| format!("the database: {error}"))?;
        let mut original = wasmvisor_storage::Fork::new(wasmvisor_storage::Database::snapshot(&stored));
        let fresh = Self::open_with(config, keys, Arc::new(wasmvisor_storage::MemoryDatabase::new()))
            .map_err(|error| format!("the fresh chain: {error}"))?;
        let report = {
            let mut guard = fresh
                .chain
                .lock()
                .expect("a lock is poisoned only by a panic, and a panic stops the node");
            let chain = guard.as_mut().ok_or("the fresh chain stopped")?;
            wasmvisor_blockchain::replay(&mut original, chain).map_err(|error| error.to_string())?
        };
        fresh.shutdown();
        Ok(report)
    }

    /// Stops the chain (runtimes' shutdown).
    pub fn shutdown(&self) {
        let chain = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node")
            .take();
        if let Some(chain) = chain {
            chain.shutdown();
        }
    }
}
