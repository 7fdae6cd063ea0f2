//! A misbehaving validator, for the Byzantine suite only (the test build's
//! feature `byzantine`; never in a build that validators run).
//!
//! A validator started with [`ENV`] set to a JSON [`Behaviour`] lies as it
//! says, with its real keys:
//!
//! - `engine`: the engine's own Byzantine behaviours
//!   (`malachitebft_engine_byzantine::ByzantineConfig`, each with a
//!   trigger: `always`, `random` with a seed, or at chosen heights or
//!   rounds): equivocating or dropping its votes or proposals and dropping
//!   incoming proposals act on its messages between the engine and the
//!   network (the engine's proxy); ignoring its lock and forcing nil
//!   precommits act where its votes are made, through
//!   [`wasmvisor_consensus::install_vote_rewrite`].
//! - `lie`: lies of the application: a proposal whose header names a wrong
//!   state root, a proposal carrying a transaction whose signature does
//!   not verify (its header otherwise consistent), blocks served to a
//!   syncing peer with a transaction or header byte changed, or every
//!   received proposal judged invalid.
//!
//! Every lie is logged at WARN with `BYZANTINE` in the line, which the
//! suite reads as evidence that the behaviour ran.

use std::sync::{Arc, Mutex};

use malachitebft_app_channel::app::types::core::{NilOrVal, Round};
use malachitebft_app_channel::{ByzantineContext, NetworkIdentity};
use malachitebft_engine_byzantine::{Amnesia, ByzantineConfig, Trigger};
use serde::Deserialize;
use wasmvisor_consensus::{Address, Block, BlockId, ConsensusSigner, Height, VoteRewrite, WasmvisorContext};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::BlockHeader;

use super::codec::EngineCodec;

// Never in a build that validators run.
#[cfg(not(debug_assertions))]
compile_error!("the `byzantine` feature is for the Byzantine suite's debug test build only");

/// The environment variable holding the behaviour (JSON).
pub const ENV: &str = "WASMVISOR_BYZANTINE";

/// How this validator misbehaves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// The engine's behaviours.
    #[serde(default)]
    pub engine: Option<ByzantineConfig>,
    /// The application's lie.
    #[serde(default)]
    pub lie: Option<Lie>,
}

/// A lie of the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lie {
    /// Its proposals' headers name a state root one bit off.
    WrongStateRoot,
    /// Its proposals carry one more transaction, whose signature does not
    /// verify; the header's transaction count and root include it.
    InvalidTransaction,
    /// Blocks it serves to a syncing peer have their last transaction
    /// (or, without transactions, their header) changed by one bit.
    TamperedSync,
    /// It judges every proposal it receives invalid, so the rules make it
    /// prevote nil (with `ignore_locks`, it then prevotes for the block
    /// anyway: in a network of honest peers, whose rounds do not fail, a
    /// lock it could ignore never forms otherwise).
    RejectsProposals,
}

/// The behaviour [`ENV`] names, if any; an error for one that does not
/// parse, or names nothing (the engine's configuration ignores unknown
/// fields: a misspelled behaviour would otherwise run an honest node).
pub fn from_env() -> Result<Option<Behaviour>, String> {
    let Ok(text) = std::env::var(ENV) else {
        return Ok(None);
    };
    let behaviour: Behaviour = serde_json::from_str(&text).map_err(|error| format!("{ENV}: {error}"))?;
    if let Some(engine) = &behaviour.engine {
        engine.validate().map_err(|error| format!("{ENV}: {error}"))?;
        if !engine.is_active() {
            return Err(format!("{ENV}: the engine behaviour sets no trigger"));
        }
    }
    if behaviour.engine.is_none() && behaviour.lie.is_none() {
        return Err(format!("{ENV}: no behaviour"));
    }
    tracing::warn!(?behaviour, "BYZANTINE: this validator misbehaves");
    Ok(Some(behaviour))
}

/// The proxy between the engine and the network that carries out the
/// engine's message behaviours.
pub fn network(
    identity: NetworkIdentity,
    config: ByzantineConfig,
    signer: &ConsensusSigner,
    address: Address,
) -> ByzantineContext<WasmvisorContext, EngineCodec> {
    ByzantineContext {
        identity,
        codec: EngineCodec,
        config,
        signer: Box::new(signer.clone()),
        address,
        // Another block: the header one bit off (the id is its hash).
        conflicting_value_fn: Some(Box::new(|block: &Block| {
            let mut block = block.clone();
            flip_last(&mut block.header);
            block
        })),
        conflicting_vote_value_fn: Some(Box::new(|id: Option<&BlockId>| {
            let mut bytes = id.map_or([0; 32], |id| id.0);
            bytes[31] ^= 1;
            BlockId(bytes)
        })),
    }
}

/// Ignoring locks and forcing nil precommits, where this validator's votes
/// are made.
pub struct Votes {
    amnesia: Amnesia<WasmvisorContext>,
    force_precommit_nil: Trigger,
    rng: Mutex<rand08::rngs::StdRng>,
    /// Whether the precommit of a height and round is forced nil, drawn
    /// once: the engine also rebuilds this validator's own precommits to
    /// check certificates holding them, which must come out as sent.
    forced: Mutex<Option<(Height, Round, bool)>>,
}

impl Votes {
    /// The vote behaviours of `config`, if it sets any.
    pub fn of(config: &ByzantineConfig) -> Option<Self> {
        (config.ignore_locks.is_set() || config.force_precommit_nil.is_set()).then(|| Self {
            amnesia: Amnesia::new(config.ignore_locks.clone(), config.seed),
            force_precommit_nil: config.force_precommit_nil.clone(),
            rng: Mutex::new(malachitebft_engine_byzantine::config::make_rng(config.seed)),
            forced: Mutex::new(None),
        })
    }

    /// Remembers the latest proposed block of `height`/`round` (which an
    /// amnesiac prevote votes for).
    pub fn proposed(&self, height: Height, round: Round, id: BlockId) {
        self.amnesia.record_proposed_value(height, round, id);
    }
}

/// Makes `votes` rewrite this validator's (`own`) votes.
pub fn install(own: Address, votes: Arc<Votes>) -> Result<(), String> {
    wasmvisor_consensus::install_vote_rewrite(own, Box::new(Installed(votes))).map_err(str::to_owned)
}

struct Installed(Arc<Votes>);

impl VoteRewrite for Installed {
    fn prevote(&self, height: Height, round: Round, value: NilOrVal<BlockId>) -> NilOrVal<BlockId> {
        match value {
            NilOrVal::Nil => self
                .0
                .amnesia
                .try_override_nil_prevote(height, round)
                .map_or(NilOrVal::Nil, NilOrVal::Val),
            value => value,
        }
    }

    fn precommit(&self, height: Height, round: Round, value: NilOrVal<BlockId>) -> NilOrVal<BlockId> {
        let NilOrVal::Val(_) = value else {
            return value;
        };
        let votes = &self.0;
        let mut forced = votes.forced.lock().expect("a lock is poisoned only by a panic");
        let fires = match *forced {
            Some((at, of, fires)) if (at, of) == (height, round) => fires,
            _ => {
                let fires = votes.force_precommit_nil.fires(
                    height,
                    round,
                    &mut votes.rng.lock().expect("a lock is poisoned only by a panic"),
                );
                *forced = Some((height, round, fires));
                fires
            }
        };
        if fires {
            tracing::warn!(%height, %round, "BYZANTINE: precommitting nil instead of the block");
            return NilOrVal::Nil;
        }
        value
    }
}

/// This validator's proposal as `lie` makes it.
pub fn proposal(lie: Option<Lie>, mut block: Block) -> Block {
    let Some(lie @ (Lie::WrongStateRoot | Lie::InvalidTransaction)) = lie else {
        return block;
    };
    let Ok(mut header) = BlockHeader::decode(block.header.as_slice()) else {
        return block;
    };
    match lie {
        Lie::WrongStateRoot => flip_last(&mut header.state_hash),
        _ => {
            // A transaction of the right form whose signature fails: one of
            // the block's own with its last byte changed, else garbage.
            let forged = block.transactions.last().map_or_else(
                || vec![0xff; 96],
                |last| {
                    let mut forged = last.clone();
                    flip_last(&mut forged);
                    forged
                },
            );
            block.transactions.push(forged);
            header.tx_count = block.transactions.len() as u32;
            header.tx_hash = wasmvisor_blockchain::blocks::signed_transactions_root(&block.transactions).to_vec();
        }
    }
    tracing::warn!(height = header.height, ?lie, "BYZANTINE: proposing a lie");
    block.header = header.encode_to_vec();
    block
}

/// The verdict on a received proposal, as `lie` makes it.
pub fn verdict(
    lie: Option<Lie>,
    mut value: malachitebft_app_channel::app::types::ProposedValue<WasmvisorContext>,
) -> malachitebft_app_channel::app::types::ProposedValue<WasmvisorContext> {
    use malachitebft_app_channel::app::types::core::Validity;
    if lie == Some(Lie::RejectsProposals) && value.validity == Validity::Valid {
        tracing::warn!(height = %value.height, round = %value.round, "BYZANTINE: judging a valid proposal invalid");
        value.validity = Validity::Invalid;
    }
    value
}

/// A decided block served to a syncing peer, as `lie` makes it.
pub fn synced(lie: Option<Lie>, height: u64, mut block: Block) -> Block {
    if lie != Some(Lie::TamperedSync) {
        return block;
    }
    match block.transactions.last_mut() {
        Some(last) => flip_last(last),
        None => flip_last(&mut block.header),
    }
    tracing::warn!(height, "BYZANTINE: serving a tampered block to a syncing peer");
    block
}

fn flip_last(bytes: &mut Vec<u8>) {
    match bytes.last_mut() {
        Some(byte) => *byte ^= 1,
        None => bytes.push(1),
    }
}
