//! The single validator's block producer: a block from the mempool,
//! committed with this validator's own precommit.

use wasmvisor_blockchain::blocks::sign_precommit;
use wasmvisor_blockchain::{BlockFill, VerifiedTransaction};
use wasmvisor_proto::blockchain::BlockHeader;

use super::Node;
use crate::mempool::{Mempool, pooled_bytes};

impl Node {
    /// Builds, executes and commits one block from the mempool (oldest
    /// first, up to the consensus configuration's maximum), with this
    /// validator's precommit; then pools what services broadcast and takes
    /// the system services' next steps.
    pub fn produce_block(&self) -> Result<BlockHeader, String> {
        let mut guard = self
            .chain
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        let chain = guard.as_mut().ok_or("the node is shut down")?;
        let config = chain.consensus_config().map_err(|error| error.to_string())?;
        let validators = config.validator_keys.len();
        if validators > 1 {
            return Err(format!(
                "the chain has {validators} validators: a block needs {} precommits, and this node agrees on \
                 blocks alone (multi-validator agreement needs the consensus engine)",
                wasmvisor_blockchain::byzantine_quorum(validators)
            ));
        }
        let me = config
            .validator_keys
            .iter()
            .position(|keys| keys.consensus_key == self.keys.consensus.verifying_key().as_bytes())
            .ok_or("this node is not a validator of the chain; it cannot produce blocks")?;
        let drained: Vec<VerifiedTransaction> = {
            let mut pool = self.mempool();
            let mut fill = BlockFill::new(&config);
            let count = pool
                .queue
                .iter()
                .take_while(|transaction| fill.admit(transaction.signed.len()))
                .count();
            let drained: Vec<VerifiedTransaction> = pool.queue.drain(..count).collect();
            pool.bytes -= drained
                .iter()
                .map(|transaction| pooled_bytes(transaction.signed.len()))
                .sum::<usize>();
            drained
        };
        // The drained transactions leave the pool's index with this block,
        // whether they are in it, were committed meanwhile (or repeated:
        // left out), or the block fails (then they may be sent again).
        let drained_hashes: Vec<_> = drained.iter().map(|transaction| transaction.hash).collect();
        let forget = |pool: &mut Mempool| {
            for hash in &drained_hashes {
                pool.hashes.remove(hash);
            }
        };
        let started = std::time::Instant::now();
        let block = match chain.execute_leaving_out_committed(drained) {
            Ok(new) => new.block,
            Err(error) => {
                forget(&mut self.mempool());
                return Err(if error.is_node_local() {
                    format!("this node cannot execute its block: {error}")
                } else {
                    error.to_string()
                });
            }
        };
        let precommits = vec![sign_precommit(
            &self.keys.consensus,
            me as u32,
            &chain.chain_id(),
            block.header.height,
            0,
            &block.hash,
        )];
        self.metrics.block_execution.observe(started.elapsed().as_secs_f64());
        let outcomes = block.service_outcomes();
        let started = std::time::Instant::now();
        let committed = chain.commit(block, precommits).map_err(|error| error.to_string());
        self.metrics.block_commit.observe(started.elapsed().as_secs_f64());
        forget(&mut self.mempool());
        let header = committed?;
        let broadcasts = chain.sign_broadcasts(&self.keys.service);
        drop(guard);
        self.after_block(&header, outcomes, broadcasts);
        Ok(header)
    }
}
