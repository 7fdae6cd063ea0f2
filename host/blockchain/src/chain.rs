//! The chain: executes blocks of signed transactions through the
//! dispatcher and commits each with its header, transactions, results and
//! precommits in one atomic write.

use std::sync::Arc;

use wasmvisor_dispatcher::{Dispatcher, GenesisConfig, Proposal};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{BlockHeader, ConsensusConfig, Precommit, Precommits};
use wasmvisor_runtime::{NodeError, Runtime};
use wasmvisor_storage::{Database, Fork, Hash};

use crate::blocks::{self, block_hash, precommit_message, transactions_root};
use wasmvisor_limits::{BLOCK_TRANSACTIONS_BYTES_MAX, BLOCK_TRANSACTIONS_ITEMS_MAX, TRANSACTION_BYTES_MAX};

use crate::transactions::{
    TransactionError, VerifiedTransaction, verify, verify_each, verify_each_unless_signed_checked,
};

/// Why a block could not be committed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    /// A node-local failure.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] wasmvisor_storage::StorageError),
    /// A precommit is invalid or there are not enough of them.
    #[error("precommits: {0}")]
    Precommits(String),
    /// The block repeats a transaction, or holds one already committed
    /// (replay protection).
    #[error("transaction {} is already committed or repeated in the block", hex(.0))]
    DuplicateTransaction(Hash),
    /// The block holds more transactions, or more bytes of them, than a
    /// block may.
    #[error("{0}")]
    TooLarge(String),
}

fn hex(hash: &Hash) -> String {
    hash.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Why a proposed block is not valid on this node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid proposal: {0}")]
pub struct InvalidBlock(pub String);

/// Why a proposal was not accepted: it is invalid (the same verdict on
/// every honest node), or this node failed while checking it (its own
/// failure, which must stop it rather than count as a verdict).
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// The proposal is invalid.
    #[error(transparent)]
    Invalid(#[from] InvalidBlock),
    /// This node could not check it.
    #[error("this node failed while checking a proposal: {0}")]
    Node(#[from] BlockError),
}

impl BlockError {
    /// Whether the error is this node's own (its store, its runtimes), not
    /// a property of the block.
    pub fn is_node_local(&self) -> bool {
        match self {
            BlockError::Node(error) => error.is_node_local(),
            BlockError::Storage(error) => error.is_node_local(),
            _ => false,
        }
    }
}

/// The largest signed transaction `config` accepts: its
/// `transaction_size_max`, never more than [`TRANSACTION_BYTES_MAX`] (the
/// default when unset), which every block can record.
pub fn transaction_size_max(config: &ConsensusConfig) -> usize {
    match config.transaction_size_max as usize {
        0 => TRANSACTION_BYTES_MAX,
        configured => configured.min(TRANSACTION_BYTES_MAX),
    }
}

/// Most transactions a block may hold under `config`: its
/// `transactions_per_block_max`, or the maximum when that is 0 (unset). The
/// dispatcher refuses a configuration above the maximum.
pub fn block_transactions_max(config: &ConsensusConfig) -> usize {
    match config.transactions_per_block_max as usize {
        0 => BLOCK_TRANSACTIONS_ITEMS_MAX,
        configured => configured.min(BLOCK_TRANSACTIONS_ITEMS_MAX),
    }
}

/// Why `transactions` cannot form one block under `config`: more of them,
/// or more bytes of them, than a block may hold.
pub fn check_block_size<'a>(
    config: &ConsensusConfig,
    transactions: impl IntoIterator<Item = &'a [u8]>,
) -> Result<(), String> {
    let items_max = block_transactions_max(config);
    let (mut count, mut bytes) = (0usize, 0usize);
    for signed in transactions {
        count += 1;
        bytes = bytes.saturating_add(signed.len());
    }
    if count > items_max {
        return Err(format!("{count} transactions; a block holds at most {items_max}"));
    }
    if bytes > BLOCK_TRANSACTIONS_BYTES_MAX {
        return Err(format!(
            "{bytes} bytes of transactions; a block holds at most {BLOCK_TRANSACTIONS_BYTES_MAX}"
        ));
    }
    Ok(())
}

/// Fills a block from waiting transactions in order: each is admitted while
/// the block stays within the configuration's count and
/// [`BLOCK_TRANSACTIONS_BYTES_MAX`]; the first that does not fit ends the
/// block (it goes first in the next one, so order is kept). A transaction
/// of the largest size always fits an empty block.
#[derive(Debug, Clone)]
pub struct BlockFill {
    items_max: usize,
    items: usize,
    bytes: usize,
}

impl BlockFill {
    /// An empty block under `config`.
    pub fn new(config: &ConsensusConfig) -> Self {
        Self {
            items_max: block_transactions_max(config),
            items: 0,
            bytes: 0,
        }
    }

    /// Takes a transaction of `size` bytes if it fits; answers whether it
    /// did.
    pub fn admit(&mut self, size: usize) -> bool {
        let bytes = self.bytes.saturating_add(size);
        if self.items == self.items_max || bytes > BLOCK_TRANSACTIONS_BYTES_MAX {
            return false;
        }
        self.items += 1;
        self.bytes = bytes;
        true
    }
}

/// `n * 2 / 3 + 1`: votes needed out of `n` validators.
pub fn byzantine_quorum(validator_count: usize) -> usize {
    validator_count * 2 / 3 + 1
}

/// A block of the transactions a node picked that were neither committed
/// nor repeated ([`Blockchain::execute_leaving_out_committed`]).
#[derive(Debug)]
pub struct NewBlock {
    /// The executed block.
    pub block: PendingBlock,
    /// Its transactions, in its order.
    pub transactions: Vec<VerifiedTransaction>,
    /// The candidates left out: committed already, or repeated.
    pub left_out: Vec<VerifiedTransaction>,
}

/// The value the consensus engine sends for `block` of `transactions`: the
/// encoded header and the signed transactions.
fn consensus_value(block: &PendingBlock, transactions: &[VerifiedTransaction]) -> wasmvisor_consensus::Block {
    wasmvisor_consensus::Block {
        header: block.header.encode_to_vec(),
        transactions: transactions
            .iter()
            .map(|transaction| transaction.signed.clone())
            .collect(),
    }
}

/// An executed block waiting to be committed (or dropped).
#[derive(Debug)]
pub struct PendingBlock {
    /// Its header.
    pub header: BlockHeader,
    /// Its hash.
    pub hash: Hash,
    proposal: Proposal,
    /// The instance each transaction calls, in the block's order.
    targets: Vec<wasmvisor_runtime::InstanceId>,
}

/// What a block did to one service instance ([`PendingBlock::service_outcomes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceOutcome {
    /// Transactions calling it.
    pub transactions: u64,
    /// Its transactions and block hooks that failed.
    pub errors: u64,
}

impl PendingBlock {
    /// Per service instance: the block's transactions calling it, and
    /// those of its calls that failed (transactions and hooks).
    pub fn service_outcomes(&self) -> std::collections::BTreeMap<wasmvisor_runtime::InstanceId, ServiceOutcome> {
        use wasmvisor_runtime::CallLocation;
        let mut outcomes: std::collections::BTreeMap<_, ServiceOutcome> = std::collections::BTreeMap::new();
        for target in &self.targets {
            outcomes.entry(*target).or_default().transactions += 1;
        }
        for location in self.proposal.errors.keys() {
            let instance = match *location {
                CallLocation::Transaction(index) => self.targets.get(index as usize).copied(),
                CallLocation::BeforeTransactions(instance) | CallLocation::AfterTransactions(instance) => {
                    Some(instance)
                }
            };
            if let Some(instance) = instance {
                outcomes.entry(instance).or_default().errors += 1;
            }
        }
        outcomes
    }

    /// Errors recorded in the block, by location.
    pub fn errors(
        &self,
    ) -> &std::collections::BTreeMap<wasmvisor_runtime::CallLocation, wasmvisor_runtime::ExecutionError> {
        &self.proposal.errors
    }
}

/// Reads of the committed chain, independent of the [`Blockchain`]: cheap
/// to clone, usable from any thread; each read sees the latest committed
/// block.
#[derive(Debug, Clone)]
pub struct ChainReader {
    state: wasmvisor_dispatcher::StateReader,
    chain_id: Hash,
}

impl ChainReader {
    /// The chain's id (the genesis block's hash), which every transaction
    /// signs.
    pub fn chain_id(&self) -> Hash {
        self.chain_id
    }

    /// The largest signed transaction the consensus configuration in force
    /// accepts: its `transaction_size_max`, never more than
    /// [`TRANSACTION_BYTES_MAX`] (the default), which every block can
    /// record.
    pub fn transaction_size_max(&self) -> Result<usize, NodeError> {
        Ok(transaction_size_max(&self.state.consensus_config()?))
    }

    /// Verifies a signed transaction against this chain and its size limit
    /// (a failure to read the limit is [`TransactionError::Node`]).
    pub fn verify(&self, bytes: &[u8]) -> Result<VerifiedTransaction, TransactionError> {
        let size_max = self.transaction_size_max().map_err(TransactionError::Node)?;
        verify(bytes, &self.chain_id, size_max)
    }

    /// [`ChainReader::verify`]'s verdict on each of `transactions`, in
    /// order, the signatures checked in batches over every core
    /// (`wasmvisor_signature::verify_each`, which gives the same verdicts).
    pub fn verify_each<T: AsRef<[u8]>>(
        &self,
        transactions: &[T],
    ) -> Vec<Result<VerifiedTransaction, TransactionError>> {
        match self.transaction_size_max() {
            Ok(size_max) => verify_each(transactions, &self.chain_id, size_max),
            Err(error) => transactions
                .iter()
                .map(|_| Err(TransactionError::Node(error.clone())))
                .collect(),
        }
    }

    /// Whether a transaction with this hash is in a committed block.
    pub fn is_committed(&self, hash: &Hash) -> Result<bool, BlockError> {
        Ok(blocks::transaction(&mut self.state.read_fork(), hash)?.is_some())
    }

    /// Which of `hashes` are in committed blocks, in order, read from one
    /// snapshot (one read fork for them all, not one each).
    pub fn committed_each<'h>(&self, hashes: impl IntoIterator<Item = &'h Hash>) -> Result<Vec<bool>, BlockError> {
        Ok(blocks::committed_each(&mut self.state.read_fork(), hashes)?)
    }

    /// The registry's view of an instance.
    pub fn instance(&self, instance_id: u32) -> Result<Option<wasmvisor_dispatcher::InstanceState>, NodeError> {
        self.state.instance(instance_id)
    }

    /// A fork over the latest committed state, for reads.
    pub fn read_fork(&self) -> Fork {
        self.state.read_fork()
    }

    /// The latest committed block's header.
    pub fn last_header(&self) -> Result<BlockHeader, BlockError> {
        last_header(&mut self.read_fork())
    }

    /// The consensus configuration of the latest committed state.
    pub fn consensus_config(&self) -> Result<ConsensusConfig, NodeError> {
        self.state.consensus_config()
    }

    /// Answers a read query of a service on the latest committed state
    /// ([`wasmvisor_dispatcher::StateReader::query`]).
    pub fn query(
        &self,
        instance_name: &str,
        method: &str,
        arguments: &[u8],
    ) -> Result<Vec<u8>, wasmvisor_runtime::QueryError> {
        self.state.query(instance_name, method, arguments)
    }

    /// An instance and the interface it declares on this node
    /// ([`wasmvisor_dispatcher::StateReader::interface`]).
    pub fn interface(
        &self,
        instance: wasmvisor_dispatcher::InstanceRef<'_>,
    ) -> Result<
        (
            wasmvisor_runtime::InstanceSpec,
            Option<std::sync::Arc<wasmvisor_runtime::interface::ServiceInterface>>,
        ),
        wasmvisor_runtime::QueryError,
    > {
        self.state.interface(instance)
    }
}

fn last_header(fork: &mut Fork) -> Result<BlockHeader, BlockError> {
    let count = blocks::block_count(fork)?;
    let last = count
        .checked_sub(1)
        .ok_or_else(|| NodeError::Lifecycle("no genesis block".into()))?;
    blocks::header(fork, last)?.ok_or_else(|| NodeError::Corrupt(format!("block {last} is missing")).into())
}

/// A chain on one database.
pub struct Blockchain {
    dispatcher: Dispatcher,
    /// The committed-state reads (and the chain id), made once.
    reader: ChainReader,
}

impl std::fmt::Debug for Blockchain {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Blockchain")
            .field("dispatcher", &self.dispatcher)
            .finish_non_exhaustive()
    }
}

fn genesis_header(state_root: Hash) -> BlockHeader {
    BlockHeader {
        height: 0,
        tx_count: 0,
        prev_hash: vec![0; 32],
        tx_hash: transactions_root(&[]).to_vec(),
        state_hash: state_root.to_vec(),
        error_hash: wasmvisor_dispatcher::error_root(&Default::default()).to_vec(),
    }
}

impl Blockchain {
    /// Starts a chain: the genesis block, then its header.
    /// `node_service_key` is this node's validator service key, if any (its
    /// services may broadcast transactions signed with it).
    pub fn genesis(
        database: Arc<dyn Database>,
        runtimes: Vec<Arc<dyn Runtime>>,
        config: GenesisConfig,
        node_service_key: Option<[u8; 32]>,
    ) -> Result<Self, BlockError> {
        let dispatcher = Self::dispatcher_for(&database, runtimes, node_service_key);
        Self::genesis_with(database, dispatcher, config)
    }

    /// Resumes a chain after a restart.
    pub fn resume(
        database: Arc<dyn Database>,
        runtimes: Vec<Arc<dyn Runtime>>,
        node_service_key: Option<[u8; 32]>,
    ) -> Result<Self, BlockError> {
        let dispatcher = Self::dispatcher_for(&database, runtimes, node_service_key);
        Self::resume_with(database, dispatcher)
    }

    /// Resumes the chain in `database` if it has a genesis block (even one
    /// whose header a crash left unwritten), else starts it from
    /// `genesis()`. Answers the chain and whether it was created now.
    pub fn open(
        database: Arc<dyn Database>,
        runtimes: Vec<Arc<dyn Runtime>>,
        genesis: impl FnOnce() -> GenesisConfig,
        node_service_key: Option<[u8; 32]>,
    ) -> Result<(Self, bool), BlockError> {
        let dispatcher = Self::dispatcher_for(&database, runtimes, node_service_key);
        if dispatcher.has_genesis()? {
            Ok((Self::resume_with(database, dispatcher)?, false))
        } else {
            Ok((Self::genesis_with(database, dispatcher, genesis())?, true))
        }
    }

    fn dispatcher_for(
        database: &Arc<dyn Database>,
        runtimes: Vec<Arc<dyn Runtime>>,
        node_service_key: Option<[u8; 32]>,
    ) -> Dispatcher {
        let dispatcher = Dispatcher::new(Arc::clone(database), runtimes);
        dispatcher.set_node_service_key(node_service_key);
        dispatcher
    }

    fn genesis_with(
        database: Arc<dyn Database>,
        mut dispatcher: Dispatcher,
        config: GenesisConfig,
    ) -> Result<Self, BlockError> {
        let state_root = dispatcher.genesis(config)?;
        Self::with_genesis_header(database, dispatcher, state_root)
    }

    fn resume_with(database: Arc<dyn Database>, mut dispatcher: Dispatcher) -> Result<Self, BlockError> {
        dispatcher.resume()?;
        let mut fork = dispatcher.read_fork();
        match blocks::header(&mut fork, 0)? {
            Some(header) => Ok(Self::new(dispatcher, block_hash(&header))),
            // The node stopped between the genesis state and its header:
            // the header is derived from the genesis state, so write it now.
            None => {
                let root = genesis_root(&mut fork)?;
                Self::with_genesis_header(database, dispatcher, root)
            }
        }
    }

    fn with_genesis_header(
        database: Arc<dyn Database>,
        dispatcher: Dispatcher,
        state_root: Hash,
    ) -> Result<Self, BlockError> {
        let header = genesis_header(state_root);
        let mut fork = dispatcher.read_fork();
        if blocks::block_count(&mut fork)? == 0 {
            blocks::record_block(&mut fork, &header, &[], &Default::default())?;
            database.merge(fork.into_patch()?)?;
        }
        Ok(Self::new(dispatcher, block_hash(&header)))
    }

    fn new(dispatcher: Dispatcher, chain_id: Hash) -> Self {
        let reader = ChainReader {
            state: dispatcher.reader(),
            chain_id,
        };
        Self { dispatcher, reader }
    }

    /// The chain id: the hash of the genesis block header. Transactions
    /// signed for another chain are refused.
    pub fn chain_id(&self) -> Hash {
        self.reader.chain_id
    }

    /// The dispatcher (queries, registries, local statuses).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The consensus configuration in force.
    pub fn consensus_config(&self) -> Result<ConsensusConfig, NodeError> {
        self.dispatcher.consensus_config()
    }

    /// Verifies a signed transaction against this chain and its size limit.
    pub fn verify(&self, bytes: &[u8]) -> Result<VerifiedTransaction, TransactionError> {
        self.reader.verify(bytes)
    }

    /// [`Blockchain::verify`]'s verdict on each of `transactions`, the
    /// signatures checked in batches over every core.
    pub fn verify_each<T: AsRef<[u8]>>(
        &self,
        transactions: &[T],
    ) -> Vec<Result<VerifiedTransaction, TransactionError>> {
        self.reader.verify_each(transactions)
    }

    /// The largest signed transaction the consensus configuration in force
    /// accepts.
    pub fn transaction_size_max(&self) -> Result<usize, NodeError> {
        self.reader.transaction_size_max()
    }

    /// Whether a transaction with this hash is in a committed block.
    pub fn is_committed(&self, hash: &Hash) -> Result<bool, BlockError> {
        self.reader.is_committed(hash)
    }

    /// Which of `hashes` are in committed blocks, read from one snapshot
    /// ([`ChainReader::committed_each`]).
    pub fn committed_each<'h>(&self, hashes: impl IntoIterator<Item = &'h Hash>) -> Result<Vec<bool>, BlockError> {
        self.reader.committed_each(hashes)
    }

    /// A reader of the committed chain that needs no access to the chain
    /// itself, for checks made while a block is being executed (a node's
    /// admission of transactions).
    pub fn reader(&self) -> ChainReader {
        self.reader.clone()
    }

    /// A fork over the committed state, for reads.
    pub fn read_fork(&self) -> Fork {
        self.dispatcher.read_fork()
    }

    /// The last committed block's header.
    pub fn last_header(&self) -> Result<BlockHeader, BlockError> {
        last_header(&mut self.read_fork())
    }

    /// Executes a block of transactions on a fork; nothing is committed
    /// until [`Blockchain::commit`]. Several may be executed per height.
    pub fn execute(&mut self, transactions: &[VerifiedTransaction]) -> Result<PendingBlock, BlockError> {
        self.check_size(transactions)?;
        let new = self.new_each(transactions)?;
        if let Some((transaction, _)) = transactions.iter().zip(new).find(|(_, new)| !new) {
            return Err(BlockError::DuplicateTransaction(transaction.hash));
        }
        self.execute_checked(transactions)
    }

    /// For each of `transactions`, whether it is new: neither committed
    /// (read from one snapshot for them all) nor a repeat of one before it.
    fn new_each(&self, transactions: &[VerifiedTransaction]) -> Result<Vec<bool>, BlockError> {
        let committed = self
            .reader
            .committed_each(transactions.iter().map(|transaction| &transaction.hash))?;
        let mut seen = std::collections::BTreeSet::new();
        Ok(transactions
            .iter()
            .zip(committed)
            .map(|(transaction, committed)| !committed && seen.insert(transaction.hash))
            .collect())
    }

    /// Executes those of `candidates` that are neither committed nor a
    /// repeat of one before them, as [`Blockchain::execute`] would execute
    /// them, reading which are committed once: for a node taking a block's
    /// transactions from its pool, where one committed meanwhile (admitted
    /// while its block was committing) is left out rather than failing the
    /// block. Answers the block, the transactions it holds and those left
    /// out.
    pub fn execute_leaving_out_committed(
        &mut self,
        candidates: Vec<VerifiedTransaction>,
    ) -> Result<NewBlock, BlockError> {
        let new = self.new_each(&candidates)?;
        let (mut transactions, mut left_out) = (Vec::new(), Vec::new());
        for (transaction, new) in candidates.into_iter().zip(new) {
            if new {
                transactions.push(transaction);
            } else {
                left_out.push(transaction);
            }
        }
        self.check_size(&transactions)?;
        let block = self.execute_checked(&transactions)?;
        Ok(NewBlock {
            block,
            transactions,
            left_out,
        })
    }

    /// A block of `transactions` is within the consensus configuration's
    /// limits.
    fn check_size(&self, transactions: &[VerifiedTransaction]) -> Result<(), BlockError> {
        check_block_size(
            &self.consensus_config()?,
            transactions.iter().map(|transaction| transaction.signed.as_slice()),
        )
        .map_err(BlockError::TooLarge)
    }

    /// Executes `transactions`, which the caller has checked are within the
    /// size limits, neither committed nor repeated.
    fn execute_checked(&mut self, transactions: &[VerifiedTransaction]) -> Result<PendingBlock, BlockError> {
        let previous = self.last_header()?;
        let executable: Vec<_> = transactions.iter().map(VerifiedTransaction::to_dispatcher).collect();
        let mut proposal = self.dispatcher.execute_proposal(&executable)?;
        let hashes: Vec<Hash> = transactions.iter().map(|transaction| transaction.hash).collect();
        let header = BlockHeader {
            height: proposal.height,
            tx_count: transactions.len() as u32,
            prev_hash: block_hash(&previous).to_vec(),
            tx_hash: transactions_root(&hashes).to_vec(),
            state_hash: proposal.state_root.to_vec(),
            error_hash: proposal.error_root.to_vec(),
        };
        let records: Vec<(Hash, Vec<u8>)> = transactions
            .iter()
            .map(|transaction| (transaction.hash, transaction.signed.clone()))
            .collect();
        let errors = proposal.errors.clone();
        let header_for_records = header.clone();
        proposal.record(|fork| blocks::record_block(fork, &header_for_records, &records, &errors))?;
        Ok(PendingBlock {
            hash: block_hash(&header),
            header,
            proposal,
            targets: transactions
                .iter()
                .map(|transaction| transaction.call.instance_id)
                .collect(),
        })
    }

    /// Executes `transactions` as this validator's proposal: the pending
    /// block, and the value the consensus engine sends to the other
    /// validators (the encoded header and the signed transactions).
    pub fn propose(
        &mut self,
        transactions: &[VerifiedTransaction],
    ) -> Result<(PendingBlock, wasmvisor_consensus::Block), BlockError> {
        let block = self.execute(transactions)?;
        let value = consensus_value(&block, transactions);
        Ok((block, value))
    }

    /// [`Blockchain::propose`] of those of `candidates` that are neither
    /// committed nor repeated ([`Blockchain::execute_leaving_out_committed`]):
    /// answers the value too, and the transactions left out.
    pub fn propose_leaving_out_committed(
        &mut self,
        candidates: Vec<VerifiedTransaction>,
    ) -> Result<(NewBlock, wasmvisor_consensus::Block), BlockError> {
        let new = self.execute_leaving_out_committed(candidates)?;
        let value = consensus_value(&new.block, &new.transactions);
        Ok((new, value))
    }

    /// Validates another validator's proposal on this node's own fork: at
    /// most the consensus configuration's transactions per block; the
    /// header must decode canonically and be for the next height; every
    /// transaction must verify (and be neither repeated nor committed), and
    /// executing them must give exactly the proposed header. Answers the
    /// pending block, to commit if the engine decides it; several proposals
    /// may be validated per height and only the decided one commits.
    pub fn validate(&mut self, value: &wasmvisor_consensus::Block) -> Result<PendingBlock, Rejection> {
        self.validate_unless_signed_checked(value, |_| false)
    }

    /// [`Blockchain::validate`], without checking again the signatures of
    /// the transactions `signature_checked` names by hash: those this node
    /// admitted (checked under the same rule) and still holds. The verdict
    /// is [`Blockchain::validate`]'s
    /// ([`crate::verify_each_unless_signed_checked`]).
    pub fn validate_unless_signed_checked(
        &mut self,
        value: &wasmvisor_consensus::Block,
        signature_checked: impl Fn(&Hash) -> bool,
    ) -> Result<PendingBlock, Rejection> {
        let config = self.consensus_config().map_err(BlockError::Node)?;
        check_block_size(&config, value.transactions.iter().map(Vec::as_slice)).map_err(InvalidBlock)?;
        // The limit read once for the block's transactions.
        let (chain_id, size_max) = (self.chain_id(), transaction_size_max(&config));
        let proposed = BlockHeader::decode(value.header.as_slice())
            .map_err(|error| InvalidBlock(format!("the header does not decode: {error}")))?;
        if proposed.encode_to_vec() != value.header {
            return Err(InvalidBlock("the header is not canonically encoded".into()).into());
        }
        let next = self.last_header()?.height + 1;
        if proposed.height != next {
            return Err(InvalidBlock(format!(
                "the block is for height {}; the next is {next}",
                proposed.height
            ))
            .into());
        }
        // The signatures in batches over every core: the same verdicts as
        // one at a time (`wasmvisor_signature`), the first refusal named.
        let transactions =
            verify_each_unless_signed_checked(&value.transactions, &chain_id, size_max, signature_checked)
                .into_iter()
                .enumerate()
                .map(|(position, verified)| {
                    verified.map_err(|error| InvalidBlock(format!("transaction {position}: {error}")))
                })
                .collect::<Result<Vec<_>, InvalidBlock>>()?;
        let block = self.execute(&transactions).map_err(|error| {
            if error.is_node_local() {
                Rejection::Node(error)
            } else {
                InvalidBlock(format!("the block does not execute: {error}")).into()
            }
        })?;
        for (what, proposed, executed) in [
            ("transaction root", &proposed.tx_hash, &block.header.tx_hash),
            ("state root", &proposed.state_hash, &block.header.state_hash),
            ("error root", &proposed.error_hash, &block.header.error_hash),
            ("previous block hash", &proposed.prev_hash, &block.header.prev_hash),
        ] {
            if proposed != executed {
                return Err(InvalidBlock(format!("the proposed {what} differs from this node's")).into());
            }
        }
        if block.header != proposed {
            return Err(InvalidBlock("the proposed header differs from this node's".into()).into());
        }
        Ok(block)
    }

    /// Commits an executed block with its precommits: valid signatures of
    /// at least a Byzantine quorum of the consensus configuration's
    /// validators.
    pub fn commit(&mut self, mut block: PendingBlock, precommits: Vec<Precommit>) -> Result<BlockHeader, BlockError> {
        self.check_precommits(&block, &precommits)?;
        let height = block.header.height;
        block
            .proposal
            .record(|fork| blocks::record_precommits(fork, height, &Precommits { precommits }))?;
        self.dispatcher.commit(block.proposal)?;
        Ok(block.header)
    }

    fn check_precommits(&self, block: &PendingBlock, precommits: &[Precommit]) -> Result<(), BlockError> {
        let validators = self.consensus_config()?.validator_keys;
        // Never "no validators, so anything goes": genesis and every
        // consensus change are checked to name at least one.
        if validators.is_empty() {
            return Err(BlockError::Precommits(
                "the consensus configuration names no validators".into(),
            ));
        }
        let chain_id = self.chain_id();
        let mut signers = std::collections::BTreeSet::new();
        for precommit in precommits {
            let key = validators
                .get(precommit.validator as usize)
                .ok_or_else(|| BlockError::Precommits(format!("no validator {}", precommit.validator)))?;
            if precommit.validator_key != key.consensus_key {
                return Err(BlockError::Precommits(format!(
                    "validator {}'s precommit names another key",
                    precommit.validator
                )));
            }
            let key: [u8; 32] = key
                .consensus_key
                .as_slice()
                .try_into()
                .map_err(|_| BlockError::Precommits("bad key".into()))?;
            let signature: [u8; 64] = precommit
                .signature
                .as_slice()
                .try_into()
                .map_err(|_| BlockError::Precommits("bad signature".into()))?;
            let message = precommit_message(&chain_id, block.header.height, precommit.round, &block.hash, &key);
            wasmvisor_signature::verify(&key, &message, &signature).map_err(|_| {
                BlockError::Precommits(format!("validator {}'s signature does not verify", precommit.validator))
            })?;
            signers.insert(precommit.validator);
        }
        let needed = byzantine_quorum(validators.len());
        if signers.len() < needed {
            return Err(BlockError::Precommits(format!(
                "{} of {needed} needed precommits",
                signers.len()
            )));
        }
        Ok(())
    }

    /// Signs, with this node's `service_key`, the transactions services
    /// asked the node to broadcast since the last call (each to the
    /// service that asked), ready for the pool.
    pub fn sign_broadcasts(&self, service_key: &ed25519_dalek::SigningKey) -> Vec<Vec<u8>> {
        self.dispatcher
            .take_broadcasts()
            .into_iter()
            .map(|broadcast| {
                let call = wasmvisor_runtime::CallInfo {
                    instance_id: broadcast.instance_id,
                    method_id: broadcast.method_id,
                };
                crate::transactions::sign(service_key, &self.reader.chain_id, call, broadcast.arguments)
            })
            .collect()
    }

    /// Ends the chain's life (shutdown of every runtime).
    pub fn shutdown(self) {
        self.dispatcher.shutdown();
    }
}

fn genesis_root(fork: &mut Fork) -> Result<Hash, BlockError> {
    Ok(fork.state_root()?)
}
