//! Block agreement among several validators with the Malachite BFT
//! consensus engine (`arc-malachitebft-app-channel`): the engine runs the
//! Tendermint rounds, its network (libp2p) and its write-ahead log; this
//! module is the application side of its channel.
//!
//! | The engine asks / tells | The node |
//! |---|---|
//! | `ConsensusReady` | start at the height after the last committed block, with the validator set of the committed consensus configuration |
//! | `GetValue` (this validator proposes) | [`Node::propose_block`]: pooled transactions executed on a fork; the block is streamed to the others as one signed [`ProposalPart`] |
//! | `ReceivedProposalPart` | check the proposer is the round's and signed it, then [`Node::validate_block`] on a fork: valid or invalid |
//! | `Decided` | commit that pending block with the commit certificate's signatures as the block's precommits ([`Node::commit_decided`]) |
//! | `Finalized` | start the next height with the (possibly changed) validator set |
//! | `GetDecidedValues` | stored blocks and their precommits, for peers catching up |
//! | `ProcessSyncedValue` | a block from a peer's store: validated like a proposal, then decided with its certificate |
//!
//! Several proposals may be executed at one height (one per round at
//! most, plus re-proposals): only the decided one commits; the others are
//! dropped when the height ends.

#[cfg(feature = "byzantine")]
mod byzantine;
pub mod codec;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use malachitebft_app_channel::app::config::{
    ConsensusConfig as EngineConsensusConfig, NodeConfig as EngineNodeConfig, P2pConfig, ValuePayload, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::host::{Next, SyncedValueOutcome};
use malachitebft_app_channel::app::net::Multiaddr;
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::core::{
    CommitCertificate, Context as _, ExtendedCommitCertificate, ExtendedCommitSignature, HeightParams, LinearTimeouts,
    Round, Validity, Value as _,
};
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{Keypair, LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{
    AppMsg, Channels, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, NetworkMsg, RequestContext,
    Signer as _, SyncContext, WalContext,
};
use wasmvisor_blockchain::PendingBlock;
use wasmvisor_consensus::codec::{decode_block, encode_block};
use wasmvisor_consensus::{
    Address, Block, BlockId, ConsensusSigner, ConsensusVerifier, Height, Proposal, ProposalPart, ValidatorSet,
    WasmvisorContext,
};
use wasmvisor_proto::blockchain::Precommit;

use crate::config::ConsensusSettings;
use crate::node::Node;
use codec::EngineCodec;

type Ctx = WasmvisorContext;

/// Directory of the engine's write-ahead log in the data directory.
pub const WAL_DIR: &str = "consensus-wal";
pub use wasmvisor_limits::{
    CONSENSUS_MESSAGE_BYTES_MAX, EXECUTED_BLOCKS_ITEMS_MAX, FUTURE_PARTS_BYTES_MAX, FUTURE_PARTS_ITEMS_MAX,
    HEIGHT_VALUES_BYTES_MAX, HEIGHT_VALUES_ITEMS_MAX, PROPOSAL_ROUNDS_AHEAD_MAX, SYNC_BLOCKS_ITEMS_MAX,
};

/// Whether `round` is within [`PROPOSAL_ROUNDS_AHEAD_MAX`] of `current`.
fn round_in_reach(round: Round, current: Round) -> bool {
    round.as_i64() <= current.as_i64().max(0) + i64::from(PROPOSAL_ROUNDS_AHEAD_MAX)
}

/// Bytes a block holds in memory (its header and transactions), as the
/// engine's buffers count them.
fn block_bytes(block: &Block) -> usize {
    block.header.len() + block.transactions.iter().map(Vec::len).sum::<usize>()
}

/// The engine's settings, in the form its builder reads.
struct EngineSettings {
    moniker: String,
    consensus: EngineConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl EngineNodeConfig for EngineSettings {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &EngineConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut EngineConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// `ip:port` as the engine's TCP multiaddress.
pub fn multiaddr(address: SocketAddr) -> Multiaddr {
    let ip = match address.ip() {
        std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
        std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
    };
    format!("{ip}/tcp/{}", address.port())
        .parse()
        .expect("an IP address and a port make a multiaddress")
}

/// The running engine: stop it with [`Engine::stop`].
pub struct Engine {
    handle: EngineHandle,
    app: std::thread::JoinHandle<()>,
}

impl Engine {
    /// Stops the engine's actors, then waits for the application loop.
    pub fn stop(self, runtime: &tokio::runtime::Runtime) {
        self.handle.actor.stop(Some("the node stops".into()));
        let _ = runtime.block_on(self.handle.handle);
        let _ = self.app.join();
    }
}

/// Starts the engine for `node` on `runtime` and the application loop on
/// its own thread.
pub fn start(
    node: Arc<Node>,
    settings: &ConsensusSettings,
    runtime: &tokio::runtime::Runtime,
    fatal: OnFatal,
) -> Result<Engine, String> {
    let chain_id = node.with_chain(|chain| chain.chain_id());
    let seed = node.keys().consensus.to_bytes();
    let signer = ConsensusSigner::new(seed, chain_id);
    let public_key = signer.public_key();
    let address = Address(public_key.as_bytes().to_owned());
    let keypair = Keypair::ed25519_from_bytes(seed).map_err(|error| format!("the network key: {error}"))?;
    let peer_id = keypair.public().to_peer_id();
    let moniker = format!("wasmvisor-{address}");
    let p2p = P2pConfig {
        listen_addr: multiaddr(settings.listen_address),
        persistent_peers: settings.peers.iter().map(|peer| multiaddr(peer.peer_address)).collect(),
        pubsub_max_size: bytesize::ByteSize::b(CONSENSUS_MESSAGE_BYTES_MAX as u64),
        rpc_max_size: bytesize::ByteSize::b(CONSENSUS_MESSAGE_BYTES_MAX as u64),
        ..P2pConfig::default()
    };
    let engine_settings = EngineSettings {
        moniker: moniker.clone(),
        consensus: EngineConsensusConfig {
            p2p,
            value_payload: ValuePayload::ProposalAndParts,
            ..EngineConsensusConfig::default()
        },
        value_sync: ValueSyncConfig {
            enabled: true,
            status_update_interval: Duration::from_secs(1),
            max_response_size: bytesize::ByteSize::b(CONSENSUS_MESSAGE_BYTES_MAX as u64),
            ..ValueSyncConfig::default()
        },
    };
    let timeouts = timeouts(settings);
    let wal = node.config().data_dir.join(WAL_DIR);
    let verifier = signer.verifier().clone();
    #[cfg(feature = "byzantine")]
    let byzantine = byzantine::from_env()?;
    #[cfg(feature = "byzantine")]
    let votes = byzantine
        .as_ref()
        .and_then(|behaviour| behaviour.engine.as_ref())
        .and_then(byzantine::Votes::of)
        .map(Arc::new);
    #[cfg(feature = "byzantine")]
    if let Some(votes) = &votes {
        byzantine::install(address, Arc::clone(votes))?;
    }
    let (channels, handle) = runtime.block_on(async {
        let proof = signer
            .sign_validator_proof(public_key.as_bytes().to_vec(), peer_id.to_bytes())
            .await
            .map_err(|error| format!("cannot sign the validator proof: {error}"))?;
        let proof = Codec::encode(&EngineCodec, &proof).map_err(|error| error.to_string())?;
        let identity = NetworkIdentity::new_validator(moniker, keypair, address.to_string(), proof);
        #[cfg(feature = "byzantine")]
        if let Some(config) = byzantine.as_ref().and_then(|behaviour| behaviour.engine.clone()) {
            return malachitebft_app_channel::EngineBuilder::new(WasmvisorContext, engine_settings)
                .with_default_wal(WalContext::new(wal, EngineCodec))
                .with_byzantine_network(byzantine::network(identity, config, &signer, address))
                .await
                .map_err(|error| format!("cannot start the Byzantine network: {error:#}"))?
                .with_default_sync(SyncContext::new(EngineCodec))
                .with_default_consensus(ConsensusContext::new_validator(
                    address,
                    Box::new(verifier.clone()),
                    Box::new(signer.clone()),
                ))
                .with_default_request(RequestContext::new(100))
                .build()
                .await
                .map_err(|error| format!("cannot start the consensus engine: {error:#}"));
        }
        malachitebft_app_channel::start_engine(
            WasmvisorContext,
            engine_settings,
            WalContext::new(wal, EngineCodec),
            NetworkContext::new(identity, EngineCodec),
            ConsensusContext::new_validator(address, Box::new(verifier.clone()), Box::new(signer.clone())),
            SyncContext::new(EngineCodec),
            RequestContext::new(100),
        )
        .await
        .map_err(|error| format!("cannot start the consensus engine: {error:#}"))
    })?;
    let mut app = App::new(node, signer, timeouts);
    app.fatal = fatal;
    #[cfg(feature = "byzantine")]
    {
        app.lie = byzantine.and_then(|behaviour| behaviour.lie);
        app.votes = votes;
    }
    let app = std::thread::Builder::new()
        .name("consensus".into())
        // Blocks execute here: room for the deepest call chain of guests.
        .stack_size(wasmvisor_limits::BLOCK_THREAD_STACK_BYTES)
        .spawn(move || app.run(channels))
        .map_err(|error| format!("cannot start the consensus thread: {error}"))?;
    tracing::info!(%address, listen = %settings.listen_address, peers = settings.peers.len(), "consensus engine started");
    Ok(Engine { handle, app })
}

/// The part of `GetValue`'s timeout a proposer may spend executing its
/// block, as a divisor: the block must then reach the other validators and
/// be executed by them before their own propose timeouts end, or they
/// prevote nil and the round is lost.
const PROPOSAL_EXECUTION_SHARE: u32 = 3;

/// How many transactions a proposal may take so that this node executes
/// it within its share ([`PROPOSAL_EXECUTION_SHARE`]) of the engine's
/// `timeout`, at `per_transaction` each: at least one, so a loaded network
/// still moves, and no bound before this node has executed a block (the
/// consensus configuration's limits still hold).
fn proposal_transactions_max(timeout: Duration, per_transaction: Option<Duration>) -> usize {
    let Some(per_transaction) = per_transaction.filter(|cost| !cost.is_zero()) else {
        return usize::MAX;
    };
    let budget = timeout / PROPOSAL_EXECUTION_SHARE;
    usize::try_from(budget.as_nanos() / per_transaction.as_nanos())
        .unwrap_or(usize::MAX)
        .max(1)
}

fn timeouts(settings: &ConsensusSettings) -> LinearTimeouts {
    let propose = Duration::from_millis(settings.propose_timeout_ms);
    let vote = Duration::from_millis(settings.vote_timeout_ms);
    LinearTimeouts {
        propose,
        propose_delta: propose / 2,
        prevote: vote,
        prevote_delta: vote / 2,
        precommit: vote,
        precommit_delta: vote / 2,
        rebroadcast: propose + vote + vote,
        max_timeout: Duration::from_secs(60),
    }
}

/// What the engine calls with the cause of a node-local failure that must
/// stop the node (the runner stops it and exits non-zero).
pub type OnFatal = Arc<dyn Fn(String) + Send + Sync>;

/// The application side of the engine's channel (one thread).
struct App {
    node: Arc<Node>,
    /// Stops the node ([`OnFatal`]).
    fatal: OnFatal,
    signer: ConsensusSigner,
    verifier: ConsensusVerifier,
    address: Address,
    timeouts: LinearTimeouts,
    /// The height consensus runs.
    height: Height,
    /// The round it runs (the last one started).
    round: Round,
    validator_set: Option<ValidatorSet>,
    /// Valid blocks of this height executed on a fork, by id: at most
    /// [`EXECUTED_BLOCKS_ITEMS_MAX`] (the lowest round's goes first).
    executed: HashMap<BlockId, PendingBlock>,
    /// Every block of this height the engine heard of from this node —
    /// its own proposals, received ones (valid or not), synced ones — with
    /// round, proposer and verdict: at most [`HEIGHT_VALUES_ITEMS_MAX`] of
    /// them and [`HEIGHT_VALUES_BYTES_MAX`] bytes (the lowest round's go
    /// first).
    values: Vec<ProposedValue<Ctx>>,
    /// Parts of the next height whose proposer and signature were checked
    /// (against this height's validator set), handled when it starts; at
    /// most [`FUTURE_PARTS_ITEMS_MAX`] and [`FUTURE_PARTS_BYTES_MAX`] bytes,
    /// the oldest dropped first.
    future_parts: std::collections::VecDeque<ProposalPart>,
    /// Whether the decided block of this height was committed.
    committed: bool,
    streams: u64,
    /// What executing a block cost this node per transaction, averaged
    /// over the last blocks it proposed or checked (`None` before the
    /// first): sizes its proposals to the engine's timeout.
    execution_per_transaction: Option<Duration>,
    /// The application's lie (the Byzantine suite's build).
    #[cfg(feature = "byzantine")]
    lie: Option<byzantine::Lie>,
    /// The vote behaviours, told of every proposed block (the Byzantine
    /// suite's build).
    #[cfg(feature = "byzantine")]
    votes: Option<Arc<byzantine::Votes>>,
}

impl App {
    fn new(node: Arc<Node>, signer: ConsensusSigner, timeouts: LinearTimeouts) -> Self {
        let verifier = signer.verifier().clone();
        let address = Address(signer.public_key().as_bytes().to_owned());
        Self {
            node,
            fatal: Arc::new(|cause| tracing::error!("fatal: {cause}")),
            signer,
            verifier,
            address,
            timeouts,
            height: Height(0),
            round: Round::Nil,
            validator_set: None,
            executed: HashMap::new(),
            values: Vec::new(),
            future_parts: std::collections::VecDeque::new(),
            committed: false,
            streams: 0,
            execution_per_transaction: None,
            #[cfg(feature = "byzantine")]
            lie: None,
            #[cfg(feature = "byzantine")]
            votes: None,
        }
    }

    fn run(&mut self, mut channels: Channels<Ctx>) {
        // Ends when the engine stops (its side of the channel closes).
        while let Some(message) = channels.consensus.blocking_recv() {
            self.handle(message, &channels.network);
        }
        tracing::info!("consensus stopped");
    }

    /// The parameters of `height`: the committed configuration's validator
    /// set (a change enacted in the last block applies from this height),
    /// the timeouts and the block interval as the height's target time.
    fn height_params(&mut self, height: Height) -> Result<HeightParams<Ctx>, String> {
        let config = self.node.consensus_config()?;
        let validator_set = ValidatorSet::from_config(&config).map_err(|error| error.to_string())?;
        self.validator_set = Some(validator_set.clone());
        self.height = height;
        self.round = Round::Nil;
        self.executed.clear();
        self.values.clear();
        self.committed = false;
        let interval = Duration::from_millis(config.block_interval_ms.max(1));
        Ok(HeightParams::new(validator_set, self.timeouts, Some(interval)))
    }

    fn next_height(&self) -> Result<Height, String> {
        Ok(Height(self.node.height()? + 1))
    }

    fn handle(&mut self, message: AppMsg<Ctx>, network: &tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>) {
        match message {
            AppMsg::ConsensusReady { reply } => match self.next_height().and_then(|height| {
                let params = self.height_params(height)?;
                Ok((height, params))
            }) {
                Ok((height, params)) => {
                    tracing::info!(%height, "consensus ready");
                    let _ = reply.send((height, params));
                }
                Err(error) => (self.fatal)(format!("consensus cannot start: {error}")),
            },
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                tracing::debug!(%height, %round, "round started");
                self.round = round;
                self.node.metrics().consensus_round.set(round.as_i64().max(0));
                let parts = std::mem::take(&mut self.future_parts);
                for part in parts {
                    if part.proposal.height == self.height {
                        let _ = self.received_part(part);
                    } else {
                        // The next height's again (checked anew), or stale.
                        self.keep_future_part(part);
                    }
                }
                let known = self
                    .values
                    .iter()
                    .filter(|value| value.height == height && value.round == round)
                    .cloned()
                    .collect();
                let _ = reply_value.send(known);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => match self.own_proposal(height, round, timeout) {
                Ok(block) => {
                    #[cfg(feature = "byzantine")]
                    if let Some(votes) = &self.votes {
                        votes.proposed(height, round, block.id());
                    }
                    let _ = reply.send(LocallyProposedValue::new(height, round, block.clone()));
                    self.publish(network, height, round, Round::Nil, block);
                }
                Err(error) => tracing::error!(%height, %round, "cannot propose: {error}"),
            },
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                // Validators never extend their votes; an extension is
                // accepted and ignored.
                let _ = reply.send(extensions.into_iter().map(|(address, _)| (address, Ok(()))).collect());
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                let block = self.value(&value_id).map(|value| value.value.clone());
                match block {
                    Some(block) if address == self.address && height == self.height => {
                        self.publish(network, height, round, valid_round, block);
                    }
                    _ => tracing::debug!(%height, %round, "cannot restream a proposal this node did not keep"),
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart { part, reply, .. } => {
                let value = match part.content {
                    StreamContent::Data(part) => self.received_part(part),
                    StreamContent::Fin => None,
                };
                #[cfg(feature = "byzantine")]
                if let (Some(votes), Some(value)) = (&self.votes, &value) {
                    votes.proposed(value.height, value.round, value.value.id());
                }
                #[cfg(feature = "byzantine")]
                let value = value.map(|value| byzantine::verdict(self.lie, value));
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, reply, .. } => {
                let committed = self.commit(&certificate);
                if let Err(error) = &committed {
                    tracing::error!(height = %certificate.height, "the decided block cannot be committed: {error}");
                }
                self.committed = committed.is_ok();
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, reply, .. } => {
                let next = if self.committed {
                    self.next_height()
                        .and_then(|height| Ok(Next::Start(height, self.height_params(height)?)))
                } else {
                    // Not committed: run the height again (a peer's sync
                    // brings the decided block).
                    let height = certificate.height;
                    self.height_params(height).map(|params| Next::Restart(height, params))
                };
                match next {
                    Ok(next) => {
                        let _ = reply.send(next);
                    }
                    Err(error) => (self.fatal)(format!("consensus cannot go on: {error}")),
                }
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(range.start().0, range.end().0));
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced(height, round, proposer, &value_bytes));
            }
        }
    }

    /// This validator's block for `round`: the one built for it before (the
    /// engine may ask again), else a new one from the pool, of no more
    /// transactions than this node executes in its share of `timeout`
    /// ([`proposal_transactions_max`]).
    fn own_proposal(&mut self, height: Height, round: Round, timeout: Duration) -> Result<Block, String> {
        if height != self.height {
            return Err(format!("asked for height {height} while at {}", self.height));
        }
        if let Some(built) = self
            .values
            .iter()
            .find(|value| value.round == round && value.proposer == self.address)
        {
            return Ok(built.value.clone());
        }
        let transactions_max = proposal_transactions_max(timeout, self.execution_per_transaction);
        let started = std::time::Instant::now();
        let (pending, block) = match self.node.propose_block(transactions_max) {
            Ok(proposal) => {
                self.executed_in(started.elapsed(), proposal.1.transactions.len());
                proposal
            }
            Err(crate::node::ProposeError::Node(error)) => {
                (self.fatal)(format!("this node cannot propose: {error}"));
                return Err(error);
            }
            Err(error) => return Err(error.to_string()),
        };
        #[cfg(feature = "byzantine")]
        let block = byzantine::proposal(self.lie, block);
        tracing::debug!(%height, %round, transactions = block.transactions.len(), "proposing");
        self.keep_executed(block.id(), pending);
        self.keep_value(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.address,
            value: block.clone(),
            validity: Validity::Valid,
        });
        Ok(block)
    }

    /// The valid block of this height with id `id` (executed here: its
    /// pending block is in `executed`).
    fn value(&self, id: &BlockId) -> Option<&ProposedValue<Ctx>> {
        self.values
            .iter()
            .find(|value| value.validity == Validity::Valid && value.value.id() == *id)
    }

    /// Streams a proposal to the others: one signed part, then the end.
    fn publish(
        &mut self,
        network: &tokio::sync::mpsc::Sender<NetworkMsg<Ctx>>,
        height: Height,
        round: Round,
        pol_round: Round,
        block: Block,
    ) {
        let part = self.signer.sign_proposal_part(Proposal {
            height,
            round,
            value: block,
            pol_round,
            validator: self.address,
        });
        self.streams += 1;
        let mut id = Vec::with_capacity(20);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.extend_from_slice(&self.streams.to_be_bytes()[4..]);
        let stream = StreamId::new(Bytes::from(id));
        for message in [
            StreamMessage::new(stream.clone(), 0, StreamContent::Data(part)),
            StreamMessage::new(stream, 1, StreamContent::Fin),
        ] {
            if network.blocking_send(NetworkMsg::PublishProposalPart(message)).is_err() {
                tracing::warn!("the consensus network stopped");
                return;
            }
        }
    }

    /// A proposal from the network: answered with the engine's verdict once
    /// its proposer is checked and its block executed.
    fn received_part(&mut self, part: ProposalPart) -> Option<ProposedValue<Ctx>> {
        let proposal = &part.proposal;
        if proposal.height > self.height {
            self.keep_future_part(part);
            return None;
        }
        if proposal.height < self.height || !self.signed_by_round_proposer(&part) {
            return None;
        }
        // Rounds far ahead are not taken (a proposer could otherwise fill
        // the height's memory with its blocks of every round it proposes).
        if !round_in_reach(proposal.round, self.round) {
            tracing::debug!(height = %proposal.height, round = %proposal.round, "a proposal for a round not reached yet was ignored");
            return None;
        }
        // The same proposal again (gossip may deliver it twice).
        if let Some(known) = self
            .values
            .iter()
            .find(|value| value.round == proposal.round && value.value.identical(&proposal.value))
        {
            return Some(known.clone());
        }
        // Another block signed by the same proposer for the same round is
        // equivocation: not executed (it would let one validator make this
        // node execute and keep any number of blocks per height).
        if self
            .values
            .iter()
            .any(|value| value.round == proposal.round && value.proposer == proposal.validator)
        {
            tracing::warn!(height = %proposal.height, round = %proposal.round, "a second, different proposal of the round's proposer was ignored");
            return None;
        }
        let validity = self.execute(&proposal.value);
        let value = ProposedValue {
            height: proposal.height,
            round: proposal.round,
            valid_round: proposal.pol_round,
            proposer: proposal.validator,
            value: proposal.value.clone(),
            validity,
        };
        self.keep_value(value.clone());
        Some(value)
    }

    /// Whether `part` comes from its round's proposer (under this height's
    /// validator set) and carries its valid signature.
    fn signed_by_round_proposer(&self, part: &ProposalPart) -> bool {
        let proposal = &part.proposal;
        let Some(validator_set) = self.validator_set.as_ref() else {
            return false;
        };
        let expected = WasmvisorContext.select_proposer(validator_set, proposal.height, proposal.round);
        if expected.address != proposal.validator {
            tracing::warn!(height = %proposal.height, round = %proposal.round, "a proposal from a validator not proposing this round was ignored");
            return false;
        }
        if !self.verifier.verify_proposal_part(part, &expected.public_key) {
            tracing::warn!(height = %proposal.height, round = %proposal.round, "a proposal part with a bad signature was ignored");
            return false;
        }
        true
    }

    /// Keeps a part of the next height for when it starts, if its proposer
    /// and signature check out under this height's validator set (a set
    /// that changes at the next height makes it be dropped here; the
    /// engine's rounds and sync recover). Bounded in count and bytes, the
    /// oldest dropped first.
    fn keep_future_part(&mut self, part: ProposalPart) {
        if part.proposal.height.0 != self.height.0.saturating_add(1)
            || !round_in_reach(part.proposal.round, Round::Nil)
            || block_bytes(&part.proposal.value) > FUTURE_PARTS_BYTES_MAX
            || self
                .future_parts
                .iter()
                .any(|kept| *kept == part && kept.proposal.value.identical(&part.proposal.value))
            || !self.signed_by_round_proposer(&part)
        {
            return;
        }
        self.future_parts.push_back(part);
        let mut bytes: usize = self
            .future_parts
            .iter()
            .map(|part| block_bytes(&part.proposal.value))
            .sum();
        while self.future_parts.len() > FUTURE_PARTS_ITEMS_MAX || bytes > FUTURE_PARTS_BYTES_MAX {
            let Some(oldest) = self.future_parts.pop_front() else {
                break;
            };
            bytes -= block_bytes(&oldest.proposal.value);
        }
    }

    /// Records a block of this height, dropping the lowest rounds' blocks
    /// (and their forks) beyond [`HEIGHT_VALUES_ITEMS_MAX`] and
    /// [`HEIGHT_VALUES_BYTES_MAX`].
    fn keep_value(&mut self, value: ProposedValue<Ctx>) {
        self.values.push(value);
        let mut bytes: usize = self.values.iter().map(|value| block_bytes(&value.value)).sum();
        while self.values.len() > HEIGHT_VALUES_ITEMS_MAX || bytes > HEIGHT_VALUES_BYTES_MAX {
            let Some(lowest) = (0..self.values.len()).min_by_key(|&index| self.values[index].round) else {
                break;
            };
            let dropped = self.values.remove(lowest);
            bytes -= block_bytes(&dropped.value);
            if !self.values.iter().any(|value| value.value.id() == dropped.value.id()) {
                self.executed.remove(&dropped.value.id());
            }
        }
    }

    /// Keeps an executed block's fork, dropping the lowest round's beyond
    /// [`EXECUTED_BLOCKS_ITEMS_MAX`] (a decided block not kept is taken
    /// from the peers' sync).
    fn keep_executed(&mut self, id: BlockId, pending: PendingBlock) {
        self.executed.insert(id, pending);
        while self.executed.len() > EXECUTED_BLOCKS_ITEMS_MAX {
            let round_of = |id: &BlockId| {
                self.values
                    .iter()
                    .filter(|value| value.value.id() == *id)
                    .map(|value| value.round)
                    .max()
                    .unwrap_or(Round::Nil)
            };
            let Some(lowest) = self
                .executed
                .keys()
                .filter(|known| **known != id)
                .min_by_key(|known| round_of(known))
                .copied()
            else {
                break;
            };
            self.executed.remove(&lowest);
        }
    }

    /// Takes into [`App::execution_per_transaction`] a block of
    /// `transactions` executed in `elapsed` (an empty block says nothing of
    /// a transaction's cost). The new block weighs a quarter, and counts as
    /// at most four times the average: one slow block (a peer's heavy
    /// proposal) does not shrink this node's proposals for long.
    fn executed_in(&mut self, elapsed: Duration, transactions: usize) {
        self.node.metrics().block_execution.observe(elapsed.as_secs_f64());
        let Ok(count) = u32::try_from(transactions) else {
            return;
        };
        if count == 0 {
            return;
        }
        let sample = elapsed / count;
        self.execution_per_transaction = Some(match self.execution_per_transaction {
            None => sample,
            Some(average) => (average * 3 + sample.min(average * 4)) / 4,
        });
    }

    /// Executes `block` on a fork (once per block id) and keeps it if valid.
    fn execute(&mut self, block: &Block) -> Validity {
        let id = block.id();
        // Executed before: the same block is valid; other transactions
        // under the same header (its signature covers only the header) are
        // not.
        if let Some(known) = self.value(&id) {
            return if known.value.same_transactions(block) {
                Validity::Valid
            } else {
                Validity::Invalid
            };
        }
        let started = std::time::Instant::now();
        match self.node.validate_block(block) {
            Ok(pending) => {
                self.executed_in(started.elapsed(), block.transactions.len());
                self.keep_executed(id, pending);
                Validity::Valid
            }
            Err(wasmvisor_blockchain::Rejection::Invalid(error)) => {
                tracing::warn!(height = %self.height, "{error}");
                Validity::Invalid
            }
            // Not a verdict on the block: this node cannot go on.
            Err(wasmvisor_blockchain::Rejection::Node(error)) => {
                (self.fatal)(format!("a proposal cannot be checked: {error}"));
                Validity::Invalid
            }
        }
    }

    /// Commits the decided block with the certificate's signatures.
    fn commit(&mut self, certificate: &CommitCertificate<Ctx>) -> Result<(), String> {
        let pending = self
            .executed
            .remove(&certificate.value_id)
            .ok_or_else(|| format!("block {} was decided but not executed here", certificate.value_id))?;
        let transactions = &self
            .value(&certificate.value_id)
            .ok_or("an executed block is always among the valid values")?
            .value
            .transactions;
        let validator_set = self.validator_set.as_ref().ok_or("no validator set")?;
        let round = certificate
            .round
            .as_u32()
            .ok_or("a commit certificate without a round")?;
        let precommits = certificate
            .commit_signatures
            .iter()
            .map(|signed| {
                let index = validator_set
                    .validators()
                    .iter()
                    .position(|validator| validator.address == signed.address)
                    .ok_or_else(|| format!("{} signed the commit but is not a validator", signed.address))?;
                Ok(Precommit {
                    validator: index as u32,
                    signature: signed.signature.to_bytes().to_vec(),
                    round,
                    validator_key: signed.address.0.to_vec(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        // Past this point the block was decided and executed here: a
        // failure to commit it is this node's (its store, or a certificate
        // its chain refuses), and the node stops rather than run the height
        // again on a chain that may already hold it.
        // The block logs itself (`Node::after_block`); the round is the
        // engine's detail.
        let header = self
            .node
            .commit_decided(pending, transactions, precommits)
            .inspect_err(|error| (self.fatal)(format!("the decided block cannot be committed: {error}")))?;
        tracing::debug!(height = header.height, round, "decided in round");
        Ok(())
    }

    /// Stored blocks `from..=to` for a peer catching up, each with its
    /// commit certificate: at most [`SYNC_BLOCKS_ITEMS_MAX`] of them, and
    /// no more than fit one consensus message (a block of the largest size
    /// always does, alone).
    fn decided_values(&self, from: u64, to: u64) -> Vec<RawDecidedValue<Ctx>> {
        let mut values = Vec::new();
        let mut bytes = 0usize;
        let last = to.min(from.saturating_add(SYNC_BLOCKS_ITEMS_MAX as u64 - 1));
        for height in from.max(1)..=last {
            let (block, precommits) = match self.node.decided_block(height) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(height, "cannot read a decided block: {error}");
                    break;
                }
            };
            let Some(round) = precommits.first().map(|precommit| precommit.round) else {
                break;
            };
            let signatures = precommits
                .iter()
                .filter_map(|precommit| {
                    let key: [u8; 32] = precommit.validator_key.as_slice().try_into().ok()?;
                    let signature: [u8; 64] = precommit.signature.as_slice().try_into().ok()?;
                    Some(ExtendedCommitSignature::new(
                        Address(key),
                        malachitebft_signing_ed25519::Signature::from_bytes(signature),
                        None,
                    ))
                })
                .collect();
            let certificate = ExtendedCommitCertificate {
                height: Height(height),
                round: Round::new(round),
                value_id: block.id(),
                commit_signatures: signatures,
            };
            #[cfg(feature = "byzantine")]
            let block = byzantine::synced(self.lie, height, block);
            let encoded = encode_block(&block);
            let size = encoded.len() + wasmvisor_limits::CERTIFICATE_BYTES_MAX;
            if !values.is_empty() && bytes + size > CONSENSUS_MESSAGE_BYTES_MAX {
                break;
            }
            bytes += size;
            values.push(RawDecidedValue::new(Bytes::from(encoded), certificate));
        }
        values
    }

    /// A decided block a peer sent while this node catches up: executed and
    /// checked like a proposal; the engine then decides it with its
    /// certificate.
    fn synced(&mut self, height: Height, round: Round, proposer: Address, bytes: &[u8]) -> SyncedValueOutcome<Ctx> {
        let block = match decode_block(bytes) {
            Ok(block) => block,
            Err(error) => {
                tracing::warn!(%height, "a peer sent a block that does not decode: {error}");
                return SyncedValueOutcome::PeerFault;
            }
        };
        if height != self.height {
            return SyncedValueOutcome::LocalTransientError;
        }
        // The engine checked the certificate's signatures, and checks the
        // block's id (its header's hash) against it after this answer. The
        // transactions are tied to the header by its transaction root: a
        // block whose transactions are not the ones its header commits to
        // was changed by the peer that sent it, and is asked of another (a
        // verdict of invalid on it would leave the engine's sync waiting
        // past this height for good).
        if !wasmvisor_blockchain::blocks::header_commits_to(&block.header, &block.transactions) {
            tracing::warn!(%height, "a peer sent a decided block with other transactions than its header's; asking another");
            return SyncedValueOutcome::PeerFault;
        }
        // A block that is what its header says and still does not execute
        // here: its header was changed (the engine then finds its id is
        // not the certificate's and asks another peer), or this node has
        // diverged from the validators (the engine reports a certificate
        // for an invalid value and this node stays at this height).
        let validity = self.execute(&block);
        if validity == Validity::Invalid {
            tracing::warn!(%height, "a decided block a peer sent does not execute here");
        }
        let value = ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: block,
            validity,
        };
        self.keep_value(value.clone());
        SyncedValueOutcome::Verdict(value)
    }
}
