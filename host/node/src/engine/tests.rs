//! What a peer can make the engine's application keep: floods of proposal
//! parts for later heights and of bogus synced blocks, driven through the
//! same handlers the engine calls for messages from the network (on a node
//! in memory, one of four validators whose keys the test holds).

use std::sync::Arc;

use malachitebft_app_channel::app::engine::host::SyncedValueOutcome;
use malachitebft_app_channel::app::types::core::{Context as _, Round};
use wasmvisor_consensus::{Address, Block, ConsensusSigner, Height, Proposal, ProposalPart, WasmvisorContext};
use wasmvisor_limits::{FUTURE_PARTS_BYTES_MAX, FUTURE_PARTS_ITEMS_MAX, MIB, PROPOSAL_ROUNDS_AHEAD_MAX};
use wasmvisor_proto::Message as _;
use wasmvisor_storage::MemoryDatabase;

use super::{App, block_bytes, timeouts};
use crate::config::{ConsensusSettings, NodeConfig};
use crate::node::{Node, NodeKeys};
use crate::requests::ValidatorSpec;

/// The four validators' keys; the node runs as the first.
fn keys() -> Vec<NodeKeys> {
    (1u8..=4)
        .map(|seed| NodeKeys {
            consensus: ed25519_dalek::SigningKey::from_bytes(&[seed; 32]),
            service: ed25519_dalek::SigningKey::from_bytes(&[seed + 100; 32]),
        })
        .collect()
}

fn app() -> (App, Vec<ConsensusSigner>) {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::development(dir.path().to_owned());
    config.genesis_validators = keys
        .iter()
        .map(|keys| ValidatorSpec {
            consensus_key: hex::encode(keys.consensus.verifying_key().to_bytes()),
            service_key: hex::encode(keys.service.verifying_key().to_bytes()),
        })
        .collect();
    let node = Node::open_with(config, keys[0].clone(), Arc::new(MemoryDatabase::new())).unwrap();
    let chain_id = node.with_chain(|chain| chain.chain_id());
    let signers: Vec<ConsensusSigner> = keys
        .iter()
        .map(|keys| ConsensusSigner::new(keys.consensus.to_bytes(), chain_id))
        .collect();
    let settings = ConsensusSettings {
        listen_address: "127.0.0.1:1".parse().unwrap(),
        peers: Vec::new(),
        propose_timeout_ms: 1_000,
        vote_timeout_ms: 1_000,
    };
    let mut app = App::new(node, signers[0].clone(), timeouts(&settings));
    app.height_params(Height(1)).unwrap();
    (app, signers)
}

/// The signer of the proposer of (`height`, `round`) under the app's set.
fn proposer<'a>(app: &App, signers: &'a [ConsensusSigner], height: Height, round: Round) -> &'a ConsensusSigner {
    let set = app.validator_set.as_ref().unwrap();
    let expected = WasmvisorContext.select_proposer(set, height, round);
    signers
        .iter()
        .find(|signer| Address(signer.public_key().as_bytes().to_owned()) == expected.address)
        .unwrap()
}

fn part(signer: &ConsensusSigner, height: Height, round: Round, transaction_bytes: usize) -> ProposalPart {
    signer.sign_proposal_part(Proposal {
        height,
        round,
        value: Block {
            header: vec![round.as_i64() as u8; 8],
            transactions: vec![vec![0x5a; transaction_bytes]],
        },
        pol_round: Round::Nil,
        validator: Address(signer.public_key().as_bytes().to_owned()),
    })
}

#[test]
fn parts_of_later_heights_are_kept_only_when_signed_by_their_proposer_and_within_bounds() {
    let (mut app, signers) = app();
    let next = Height(2);
    // Unsigned, forged or from a validator not proposing that round: none kept.
    let round = Round::new(0);
    let right = proposer(&app, &signers, next, round);
    let wrong = signers
        .iter()
        .find(|signer| signer.public_key() != right.public_key())
        .unwrap();
    assert!(app.received_part(part(wrong, next, round, 10)).is_none());
    let mut forged = part(right, next, round, 10);
    forged.proposal.value.header[0] ^= 1;
    assert!(app.received_part(forged).is_none());
    // Heights past the next are not kept either, even when well signed.
    let far = Height(1_000);
    let far_part = part(proposer(&app, &signers, far, round), far, round, 10);
    assert!(app.received_part(far_part).is_none());
    assert!(app.future_parts.is_empty(), "nothing unverified or far is kept");

    // A flood of well-signed parts of the next height for every round:
    // only rounds within reach are kept.
    for round in 0..200u32 {
        let round = Round::new(round);
        let signer = proposer(&app, &signers, next, round);
        assert!(app.received_part(part(signer, next, round, 10)).is_none());
    }
    assert!(
        app.future_parts
            .iter()
            .all(|part| part.proposal.round.as_i64() <= i64::from(PROPOSAL_ROUNDS_AHEAD_MAX)),
        "rounds out of reach are not kept"
    );
    // The proposer of a round within reach signing block after block: at
    // most the count and the bytes are kept, the newest.
    let size = 5 * MIB;
    let signer = proposer(&app, &signers, next, round);
    for extra in 0..100usize {
        assert!(app.received_part(part(signer, next, round, size + extra)).is_none());
        let bytes: usize = app
            .future_parts
            .iter()
            .map(|part| block_bytes(&part.proposal.value))
            .sum();
        assert!(app.future_parts.len() <= FUTURE_PARTS_ITEMS_MAX);
        assert!(bytes <= FUTURE_PARTS_BYTES_MAX, "{bytes} bytes kept");
    }
    assert_eq!(
        app.future_parts.len(),
        FUTURE_PARTS_ITEMS_MAX.min(FUTURE_PARTS_BYTES_MAX / (size + 200))
    );
    let newest = app.future_parts.back().unwrap();
    assert_eq!(newest.proposal.value.transactions[0].len(), size + 99);
}

#[test]
fn proposals_for_rounds_not_reached_are_ignored() {
    let (mut app, signers) = app();
    let height = Height(1);
    for round in [PROPOSAL_ROUNDS_AHEAD_MAX + 1, 1_000, 1_001, 1_002] {
        let round = Round::new(round);
        let signer = proposer(&app, &signers, height, round);
        assert!(app.received_part(part(signer, height, round, 10)).is_none());
    }
    assert!(app.values.is_empty(), "nothing kept or executed");
    assert!(app.executed.is_empty());
    let round = Round::new(PROPOSAL_ROUNDS_AHEAD_MAX);
    let signer = proposer(&app, &signers, height, round);
    assert!(
        app.received_part(part(signer, height, round, 10)).is_some(),
        "a round within reach is taken"
    );
}

#[test]
fn a_proposer_equivocating_in_a_round_gets_one_block_executed() {
    let (mut app, signers) = app();
    let height = Height(1);
    let round = Round::new(0);
    let signer = proposer(&app, &signers, height, round);
    let first = app.received_part(part(signer, height, round, 10));
    assert!(first.is_some());
    for other in 0..50usize {
        let part = part(signer, height, round, 20 + other);
        assert!(
            app.received_part(part).is_none(),
            "a second block of the round is ignored"
        );
    }
    assert_eq!(app.values.len(), 1);
    assert!(app.executed.len() <= 1);
}

#[test]
fn bogus_synced_blocks_are_refused() {
    let (mut app, signers) = app();
    let height = Height(1);
    let proposer = Address(signers[1].public_key().as_bytes().to_owned());
    // Bytes that are not a block: the peer is at fault.
    let truncated = vec![0x0a, 0xff, 0xff, 0x0f];
    let oversized = vec![0u8; wasmvisor_limits::CONSENSUS_MESSAGE_BYTES_MAX + 1];
    for garbage in [vec![0xff; 64], truncated, oversized] {
        assert!(matches!(
            app.synced(height, Round::new(0), proposer, &garbage),
            SyncedValueOutcome::PeerFault
        ));
    }
    // Blocks whose transactions are not the ones their header commits to
    // (empty, made up, or a transaction changed under a real header): the
    // peer changed them — a verdict of invalid on a block the certificate
    // names would leave the engine's sync waiting past its height — and
    // nothing executed or heard of is kept.
    let made_up = Block {
        header: vec![1; 40],
        transactions: vec![vec![2; 100]],
    };
    let header = |transactions: &[Vec<u8>]| {
        wasmvisor_proto::blockchain::BlockHeader {
            height: 1,
            tx_count: transactions.len() as u32,
            tx_hash: wasmvisor_blockchain::blocks::signed_transactions_root(transactions).to_vec(),
            ..Default::default()
        }
        .encode_to_vec()
    };
    let changed = Block {
        header: header(&[vec![3; 100]]),
        transactions: vec![vec![4; 100]],
    };
    for block in [&made_up, &changed] {
        assert!(matches!(
            app.synced(
                height,
                Round::new(0),
                proposer,
                &wasmvisor_consensus::codec::encode_block(block)
            ),
            SyncedValueOutcome::PeerFault
        ));
    }
    assert!(matches!(
        app.synced(height, Round::new(0), proposer, &[]),
        SyncedValueOutcome::PeerFault
    ));
    assert!(app.executed.is_empty());
    assert!(app.values.is_empty());
    // A block that is what its header says but does not execute here (its
    // roots are not this chain's): a verdict of invalid, which the engine
    // checks against the certificate.
    let consistent = Block {
        header: header(&[vec![5; 100]]),
        transactions: vec![vec![5; 100]],
    };
    match app.synced(
        height,
        Round::new(0),
        proposer,
        &wasmvisor_consensus::codec::encode_block(&consistent),
    ) {
        SyncedValueOutcome::Verdict(value) => assert_eq!(
            value.validity,
            malachitebft_app_channel::app::types::core::Validity::Invalid
        ),
        _ => panic!("a verdict on a block that is what its header says"),
    }
    assert!(app.executed.is_empty());
    assert_eq!(app.node.height().unwrap(), 0);
}

#[test]
fn a_proposal_takes_what_the_proposer_executes_in_its_share_of_the_timeout() {
    use super::{PROPOSAL_EXECUTION_SHARE, proposal_transactions_max};
    use std::time::Duration;
    let timeout = Duration::from_millis(900);
    let share = timeout / PROPOSAL_EXECUTION_SHARE;
    // Before this node has executed a block, only the configuration bounds it.
    assert_eq!(proposal_transactions_max(timeout, None), usize::MAX);
    assert_eq!(proposal_transactions_max(timeout, Some(Duration::ZERO)), usize::MAX);
    // Exactly the share, a nanosecond less, a nanosecond more.
    let per_transaction = share / 100;
    assert_eq!(proposal_transactions_max(timeout, Some(per_transaction)), 100);
    assert_eq!(
        proposal_transactions_max(timeout, Some(per_transaction + Duration::from_nanos(1))),
        99
    );
    assert_eq!(
        proposal_transactions_max(timeout, Some(per_transaction - Duration::from_nanos(1))),
        100
    );
    // A transaction slower than the whole share: one still goes, so a
    // loaded network keeps moving.
    assert_eq!(proposal_transactions_max(timeout, Some(timeout)), 1);
    assert_eq!(proposal_transactions_max(Duration::ZERO, Some(per_transaction)), 1);
}

#[test]
fn one_slow_block_counts_as_at_most_four_times_the_average() {
    use std::time::Duration;
    let (mut app, _) = app();
    app.executed_in(Duration::from_millis(10), 10);
    assert_eq!(app.execution_per_transaction, Some(Duration::from_millis(1)));
    // Empty blocks say nothing.
    app.executed_in(Duration::from_secs(5), 0);
    assert_eq!(app.execution_per_transaction, Some(Duration::from_millis(1)));
    // A block a thousand times slower moves the average as one four times
    // slower does: (3 + 4) / 4 ms.
    app.executed_in(Duration::from_secs(1), 1);
    assert_eq!(app.execution_per_transaction, Some(Duration::from_micros(1_750)));
}

#[test]
fn a_proposer_that_executes_slowly_proposes_smaller_blocks() {
    let (mut app, _) = app();
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let chain_id = app.node.with_chain(|chain| chain.chain_id());
    // The supervisor is active from genesis; what the calls do does not
    // matter here.
    let call = wasmvisor_runtime::CallInfo {
        instance_id: 0,
        method_id: u32::MAX,
    };
    for nonce in 0u32..20 {
        let signed = wasmvisor_blockchain::sign(&key, &chain_id, call, nonce.to_le_bytes().to_vec());
        app.node.submit(&signed).unwrap();
    }
    let timeout = std::time::Duration::from_millis(300);
    // The first proposal knows no cost yet: the whole pool.
    let first = app.own_proposal(Height(1), Round::new(0), timeout).unwrap();
    assert_eq!(first.transactions.len(), 20);
    assert!(app.execution_per_transaction.is_some());
    // A node that took a third of the timeout per transaction proposes one.
    app.execution_per_transaction = Some(timeout / super::PROPOSAL_EXECUTION_SHARE);
    let second = app.own_proposal(Height(1), Round::new(1), timeout).unwrap();
    assert_eq!(second.transactions, first.transactions[..1]);
    // A tenth of that: ten.
    app.execution_per_transaction = Some(timeout / super::PROPOSAL_EXECUTION_SHARE / 10);
    let third = app.own_proposal(Height(1), Round::new(2), timeout).unwrap();
    assert_eq!(third.transactions, first.transactions[..10]);
}
