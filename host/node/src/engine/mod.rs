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

pub mod codec;
pub mod gossip;

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
/// Most proposal parts of future heights kept until their height starts.
pub const FUTURE_PARTS_MAX: usize = 64;
/// Largest gossip message (a proposal carries a whole block) and sync
/// response.
pub const NETWORK_MESSAGE_MAX: u64 = wasmvisor_consensus::codec::MESSAGE_SIZE_MAX as u64;
/// Most blocks answered to one sync request.
pub const SYNC_BATCH_MAX: u64 = 16;

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
        pubsub_max_size: bytesize::ByteSize::b(NETWORK_MESSAGE_MAX),
        rpc_max_size: bytesize::ByteSize::b(NETWORK_MESSAGE_MAX),
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
            max_response_size: bytesize::ByteSize::b(NETWORK_MESSAGE_MAX),
            ..ValueSyncConfig::default()
        },
    };
    let timeouts = timeouts(settings);
    let wal = node.config().data_dir.join(WAL_DIR);
    let verifier = signer.verifier().clone();
    let (channels, handle) = runtime.block_on(async {
        let proof = signer
            .sign_validator_proof(public_key.as_bytes().to_vec(), peer_id.to_bytes())
            .await
            .map_err(|error| format!("cannot sign the validator proof: {error}"))?;
        let proof = Codec::encode(&EngineCodec, &proof).map_err(|error| error.to_string())?;
        let identity = NetworkIdentity::new_validator(moniker, keypair, address.to_string(), proof);
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
    let mut app = App {
        node,
        signer,
        verifier,
        address,
        timeouts,
        height: Height(0),
        validator_set: None,
        executed: HashMap::new(),
        values: Vec::new(),
        future_parts: Vec::new(),
        committed: false,
        streams: 0,
    };
    let app = std::thread::Builder::new()
        .name("consensus".into())
        .spawn(move || app.run(channels))
        .map_err(|error| format!("cannot start the consensus thread: {error}"))?;
    tracing::info!(%address, listen = %settings.listen_address, peers = settings.peers.len(), "consensus engine started");
    Ok(Engine { handle, app })
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

/// The application side of the engine's channel (one thread).
struct App {
    node: Arc<Node>,
    signer: ConsensusSigner,
    verifier: ConsensusVerifier,
    address: Address,
    timeouts: LinearTimeouts,
    /// The height consensus runs.
    height: Height,
    validator_set: Option<ValidatorSet>,
    /// Valid blocks of this height executed on a fork, by id.
    executed: HashMap<BlockId, PendingBlock>,
    /// Every block of this height the engine heard of from this node —
    /// its own proposals, received ones (valid or not), synced ones — with
    /// round, proposer and verdict.
    values: Vec<ProposedValue<Ctx>>,
    /// Parts of later heights, handled when their height starts.
    future_parts: Vec<ProposalPart>,
    /// Whether the decided block of this height was committed.
    committed: bool,
    streams: u64,
}

impl App {
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
                Err(error) => tracing::error!("consensus cannot start: {error}"),
            },
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                tracing::debug!(%height, %round, "round started");
                let parts: Vec<ProposalPart> = std::mem::take(&mut self.future_parts);
                for part in parts {
                    if part.proposal.height == self.height {
                        let _ = self.received_part(part);
                    } else if part.proposal.height > self.height {
                        self.future_parts.push(part);
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
                height, round, reply, ..
            } => match self.own_proposal(height, round) {
                Ok(block) => {
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
                    Err(error) => tracing::error!("consensus cannot go on: {error}"),
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
    /// engine may ask again), else a new one from the pool.
    fn own_proposal(&mut self, height: Height, round: Round) -> Result<Block, String> {
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
        let (pending, block) = self.node.propose_block()?;
        tracing::debug!(%height, %round, transactions = block.transactions.len(), "proposing");
        self.executed.insert(block.id(), pending);
        self.values.push(ProposedValue {
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
            if self.future_parts.len() < FUTURE_PARTS_MAX {
                self.future_parts.push(part);
            }
            return None;
        }
        if proposal.height < self.height {
            return None;
        }
        let validator_set = self.validator_set.as_ref()?;
        let expected = WasmvisorContext.select_proposer(validator_set, proposal.height, proposal.round);
        if expected.address != proposal.validator {
            tracing::warn!(height = %proposal.height, round = %proposal.round, "a proposal from a validator not proposing this round was ignored");
            return None;
        }
        if !self.verifier.verify_proposal_part(&part, &expected.public_key) {
            tracing::warn!(height = %proposal.height, round = %proposal.round, "a proposal part with a bad signature was ignored");
            return None;
        }
        // The same proposal again (gossip may deliver it twice).
        if let Some(known) = self
            .values
            .iter()
            .find(|value| value.round == proposal.round && value.value == proposal.value)
        {
            return Some(known.clone());
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
        self.values.push(value.clone());
        Some(value)
    }

    /// Executes `block` on a fork (once per block id) and keeps it if valid.
    fn execute(&mut self, block: &Block) -> Validity {
        let id = block.id();
        // Executed before: the same block is valid; other transactions
        // under the same header (its signature covers only the header) are
        // not.
        if let Some(known) = self.value(&id) {
            return if known.value == *block {
                Validity::Valid
            } else {
                Validity::Invalid
            };
        }
        match self.node.validate_block(block) {
            Ok(pending) => {
                self.executed.insert(id, pending);
                Validity::Valid
            }
            Err(error) => {
                tracing::warn!(height = %self.height, "{error}");
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
        let header = self.node.commit_decided(pending, transactions, precommits)?;
        tracing::debug!(height = header.height, txs = header.tx_count, round, "block committed");
        Ok(())
    }

    /// Stored blocks `from..=to` (at most [`SYNC_BATCH_MAX`]) for a peer
    /// catching up, each with its commit certificate.
    fn decided_values(&self, from: u64, to: u64) -> Vec<RawDecidedValue<Ctx>> {
        let mut values = Vec::new();
        for height in from.max(1)..=to.min(from.saturating_add(SYNC_BATCH_MAX - 1)) {
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
            values.push(RawDecidedValue::new(Bytes::from(encode_block(&block)), certificate));
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
        let validity = self.execute(&block);
        let value = ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: block,
            validity,
        };
        self.values.push(value.clone());
        SyncedValueOutcome::Verdict(value)
    }
}
