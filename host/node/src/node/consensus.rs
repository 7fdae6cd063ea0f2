//! The node's side of the consensus engine: proposing a block, checking a
//! peer's, committing the decided one with its certificate, and answering
//! a peer that syncs.

use std::collections::HashSet;

use wasmvisor_blockchain::{BlockFill, InvalidBlock, PendingBlock, Rejection, VerifiedTransaction};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;
use wasmvisor_storage::Hash;

use super::{Node, ProposeError};

impl Node {
    /// The next block this validator proposes to the consensus engine:
    /// the oldest pooled transactions (up to the consensus configuration's
    /// maximum, and at most `transactions_max` of them) executed on a fork.
    /// Unlike [`Node::produce_block`] they stay in the pool (the engine may
    /// decide another validator's block); only transactions found already
    /// committed leave it.
    pub fn propose_block(
        &self,
        transactions_max: usize,
    ) -> Result<(PendingBlock, wasmvisor_consensus::Block), ProposeError> {
        let mut guard = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        let chain = guard.as_mut().ok_or(ProposeError::ShutDown)?;
        let node_failed = |error: &dyn std::fmt::Display| ProposeError::Node(error.to_string());
        let mut fill = BlockFill::new(&chain.consensus_config().map_err(|error| node_failed(&error))?);
        let candidates: Vec<VerifiedTransaction> = self
            .mempool()
            .queue
            .iter()
            .take_while(|transaction| fill.admit(transaction.signed.len()))
            .take(transactions_max)
            .cloned()
            .collect();
        let (new, value) = chain.propose_leaving_out_committed(candidates).map_err(|error| {
            if error.is_node_local() {
                node_failed(&error)
            } else {
                ProposeError::Block(error.to_string())
            }
        })?;
        // A transaction admitted while its block was being committed is
        // committed but still pooled: the block left it out, and no later
        // commit would take it out of the pool — drop it here (only those:
        // a repeat's first copy is in the block and stays pooled). Each
        // such transaction takes a place in one proposal, once.
        if !new.left_out.is_empty() {
            let proposed: HashSet<Hash> = new.transactions.iter().map(|transaction| transaction.hash).collect();
            let stale: HashSet<Hash> = new
                .left_out
                .iter()
                .map(|transaction| transaction.hash)
                .filter(|hash| !proposed.contains(hash))
                .collect();
            self.mempool().remove_where(|hash| stale.contains(hash));
        }
        Ok((new.block, value))
    }

    /// Executes another validator's proposed block on a fork of this
    /// node's chain ([`Blockchain::validate`]).
    /// The signatures of transactions this node admitted and still pools
    /// are not checked again ([`Blockchain::validate_unless_signed_checked`]):
    /// on a validator that was relayed the block's transactions, that
    /// halves the signature checks per transaction.
    pub fn validate_block(&self, block: &wasmvisor_consensus::Block) -> Result<PendingBlock, Rejection> {
        // Hashed before the pool is taken, and the pool let go before the
        // chain is: admission waits for neither.
        let hashes: Vec<Hash> = block
            .transactions
            .iter()
            .map(|signed| *blake3::hash(signed).as_bytes())
            .collect();
        let pooled: HashSet<Hash> = {
            let pool = self.mempool();
            hashes.into_iter().filter(|hash| pool.hashes.contains(hash)).collect()
        };
        let mut guard = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        let chain = guard
            .as_mut()
            .ok_or_else(|| InvalidBlock("the node is shut down".into()))?;
        chain.validate_unless_signed_checked(block, |hash| pooled.contains(hash))
    }

    /// Commits the block the consensus engine decided, with its commit
    /// certificate as precommits; then drops its transactions from the pool,
    /// pools (and relays) what services broadcast and takes the system
    /// services' next steps.
    pub fn commit_decided(
        &self,
        block: PendingBlock,
        transactions: &[Vec<u8>],
        precommits: Vec<wasmvisor_proto::blockchain::Precommit>,
    ) -> Result<BlockHeader, String> {
        let mut guard = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        let chain = guard.as_mut().ok_or("the node is shut down")?;
        // A validator of this height whose precommit the certificate lacks
        // missed the vote (or was late to it).
        // (For the metrics only: a failed read counts nothing and never
        // stops the commit.)
        let own_key = self.keys.consensus.verifying_key().to_bytes();
        let validator = chain
            .consensus_config()
            .is_ok_and(|config| config.validator_keys.iter().any(|keys| keys.consensus_key == own_key));
        if validator && !precommits.iter().any(|precommit| precommit.validator_key == own_key) {
            self.metrics.blocks_without_own_precommit.inc();
        }
        let outcomes = block.service_outcomes();
        let started = std::time::Instant::now();
        let header = chain.commit(block, precommits).map_err(|error| error.to_string())?;
        self.metrics.block_commit.observe(started.elapsed().as_secs_f64());
        let committed: HashSet<Hash> = transactions
            .iter()
            .map(|signed| *blake3::hash(signed).as_bytes())
            .collect();
        self.mempool().remove_where(|hash| committed.contains(hash));
        let broadcasts = chain.sign_broadcasts(&self.keys.service);
        drop(guard);
        self.after_block(&header, outcomes, broadcasts);
        Ok(header)
    }

    /// A committed block in the consensus engine's form, with its stored
    /// precommits (none if there is no block at `height`).
    pub fn decided_block(
        &self,
        height: u64,
    ) -> Result<Option<(wasmvisor_consensus::Block, Vec<wasmvisor_proto::blockchain::Precommit>)>, String> {
        use wasmvisor_blockchain::blocks;
        let mut fork = self.reader.read_fork();
        let storage = |error: wasmvisor_storage::StorageError| error.to_string();
        let Some(header) = blocks::header(&mut fork, height).map_err(storage)? else {
            return Ok(None);
        };
        let transactions = blocks::signed_transactions(&mut fork, height)
            .map_err(storage)?
            .into_iter()
            .map(|(_, signed)| signed)
            .collect();
        let precommits = blocks::precommits(&mut fork, height)
            .map_err(storage)?
            .map(|stored| stored.precommits)
            .unwrap_or_default();
        let block = wasmvisor_consensus::Block {
            header: header.encode_to_vec(),
            transactions,
        };
        Ok(Some((block, precommits)))
    }
}
