//! Proposals and votes: batches, the rules a proposal must meet, votes,
//! modes and the consensus configuration.

use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::ConsensusConfig;
use wasmvisor_proto::supervisor::{
    FreezeService, ResumeService, ServiceConfig, StopService, SupervisorConfig, SupervisorMode, UnloadArtifact,
    config_change::Kind,
};
use wasmvisor_runtime::{CallLocation, ErrorKind, InstanceStatus};
use wasmvisor_testkit::{TestKit, Validator};

use super::*;

/// The error of the block's transaction at `position`, as kind and code.
fn tx_error(block: &BlockOutcome, position: u32) -> Option<ErrorKind> {
    block
        .errors
        .get(&CallLocation::Transaction(position))
        .map(|error| error.kind)
}

fn title(testkit: &TestKit, service: &str) -> String {
    String::from_utf8(testkit.query(service, "title", &[]).expect("a title")).expect("UTF-8")
}

fn consensus(testkit: &TestKit) -> ConsensusConfig {
    let answer = testkit.query("supervisor", "consensus-config", &[]).unwrap();
    ConsensusConfig::decode(answer.as_slice()).unwrap()
}

fn service_config(instance_id: u32, params: &[u8]) -> Kind {
    Kind::Service(ServiceConfig {
        instance_id,
        params: params.to_vec(),
    })
}

/// Proposes from validator 0 and returns the block's first error.
fn propose_alone(testkit: &mut TestKit, changes: Vec<Kind>) -> Option<ErrorKind> {
    let propose = proposal(testkit, changes, 0);
    let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, PROPOSE, propose.encode_to_vec())]);
    tx_error(&block, 0)
}

#[test]
fn one_batch_starts_a_configured_service_reconfigures_another_and_changes_consensus() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let first = notebook(&mut testkit, mode, "1.0.0", "first", "First title");
        assert_eq!(testkit.instance_status(first), Some(InstanceStatus::Active));
        assert_eq!(title(&testkit, "first"), "First title");

        let mut config = consensus(&testkit);
        config.transactions_per_block_max = 321;
        let block = enact(
            &mut testkit,
            mode,
            vec![
                start(&artifact("notebook", "1.0.0"), "second", b"Second title"),
                service_config(first, b"Renamed"),
                Kind::Consensus(config.clone()),
            ],
        );
        assert!(block.errors.is_empty(), "{count} {mode:?}: {:?}", block.errors);
        let second = instance_id(&testkit, "second").expect("started");
        assert_eq!(second, first + 1, "the supervisor assigns the next id");
        assert_eq!(testkit.instance_status(second), Some(InstanceStatus::Active));
        assert_eq!(title(&testkit, "second"), "Second title");
        assert_eq!(title(&testkit, "first"), "Renamed");
        assert_eq!(consensus(&testkit), config);
        assert!(pending_proposal(&testkit).is_none(), "an enacted proposal is gone");

        // The service verifies its configuration when it is proposed.
        let error = propose_alone(&mut testkit, vec![service_config(first, b"")]);
        assert_eq!(error, Some(ErrorKind::Service(53)), "InvalidConfig");
        testkit.replay().unwrap();
    }
}

#[test]
fn an_unapproved_proposal_waits_for_votes_and_a_late_vote_finds_nothing() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let needed = quorum(count, mode);
        let height = testkit.height();
        let mut config = consensus(&testkit);
        config.transactions_per_block_max = 77;
        let propose = proposal(&testkit, vec![Kind::Consensus(config.clone())], height + 3);
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, PROPOSE, propose.encode_to_vec())]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(configuration_number(&testkit), 1, "the counter moved on");
        assert_eq!(
            pending_proposal(&testkit).unwrap().approvals,
            vec![validator_key(&testkit, 0)]
        );

        // The proposer voting again is a double vote.
        let again = testkit.sign_as_validator(0, VOTE, vote_for(&propose));
        let block = testkit.create_block_with(vec![again]);
        assert_eq!(tx_error(&block, 0), Some(ErrorKind::Service(51)), "AttemptToVoteTwice");

        // A vote for another hash finds nothing.
        let mut other = propose.clone();
        other.actual_from += 1;
        let stray = testkit.sign_as_validator(count - 1, VOTE, vote_for(&other));
        let block = testkit.create_block_with(vec![stray]);
        assert_eq!(
            tx_error(&block, 0),
            Some(ErrorKind::Service(50)),
            "ConfigProposeNotRegistered"
        );

        // Height + 3 has come: enacted if one approval was enough, else
        // dropped unapplied.
        assert_eq!(testkit.height(), height + 3);
        assert!(pending_proposal(&testkit).is_none());
        assert_eq!(consensus(&testkit) == config, needed == 1, "{count} {mode:?}");

        // A vote arriving now is too late: there is nothing to vote for.
        // (An unknown protobuf field keeps it distinct from the double
        // vote above when validator 0 is the only one.)
        let late_vote = [vote_for(&propose).as_slice(), &[0x78, 0x01]].concat();
        let late = testkit.sign_as_validator(count - 1, VOTE, late_vote);
        let block = testkit.create_block_with(vec![late]);
        assert_eq!(tx_error(&block, 0), Some(ErrorKind::Service(50)), "a late vote");
        testkit.replay().unwrap();
    }
}

#[test]
fn a_quorum_of_votes_enacts_at_actual_from_and_not_before() {
    for (count, mode) in [(4, SupervisorMode::Decentralized), (7, SupervisorMode::Decentralized)] {
        let mut testkit = chain(count, mode);
        let height = testkit.height();
        let mut config = consensus(&testkit);
        config.transactions_per_block_max = 55;
        let propose = proposal(&testkit, vec![Kind::Consensus(config.clone())], height + 4);
        let mut transactions = vec![testkit.sign_as_validator(0, PROPOSE, propose.encode_to_vec())];
        for validator in 1..quorum(count, mode) {
            transactions.push(testkit.sign_as_validator(validator, VOTE, vote_for(&propose)));
        }
        testkit.create_block_with(transactions);
        assert_ne!(consensus(&testkit), config, "approved, but not due yet");
        testkit.create_blocks_until(height + 2);
        assert_ne!(consensus(&testkit), config);
        testkit.create_blocks_until(height + 3);
        assert_eq!(consensus(&testkit), config, "in force from actual_from");
        testkit.replay().unwrap();
    }
}

#[test]
fn proposals_that_break_a_rule_are_refused_with_the_reference_codes() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let book = notebook(&mut testkit, mode, "1.0.0", "book", "Title");
        let notebook_v1 = artifact("notebook", "1.0.0");
        let config = consensus(&testkit);

        // Not a validator.
        let outsider = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let propose = proposal(&testkit, vec![service_config(book, b"x")], 0);
        let block = testkit.create_block_with(vec![testkit.sign(&outsider, PROPOSE, propose.encode_to_vec())]);
        assert_eq!(tx_error(&block, 0), Some(ErrorKind::Common(2)), "UnauthorizedCaller");

        // A wrong configuration number, an actual_from in the past.
        let mut wrong = proposal(&testkit, vec![service_config(book, b"x")], 0);
        wrong.configuration_number += 1;
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, PROPOSE, wrong.encode_to_vec())]);
        assert_eq!(
            tx_error(&block, 0),
            Some(ErrorKind::Service(52)),
            "IncorrectConfigurationNumber"
        );
        let past = proposal(&testkit, vec![service_config(book, b"x")], testkit.height());
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, PROPOSE, past.encode_to_vec())]);
        assert_eq!(tx_error(&block, 0), Some(ErrorKind::Service(1)), "ActualFromIsPast");

        let unknown = artifact("notebook", "9.9.9");
        let supervisor = artifact("wasmvisor.supervisor", "1.0.0");
        let mut empty_set = config.clone();
        empty_set.validator_keys.clear();
        let cases: Vec<(&str, Vec<Kind>, ErrorKind)> = vec![
            ("nothing to change", vec![], ErrorKind::Service(49)),
            (
                "an unknown artifact",
                vec![start(&unknown, "x", b"")],
                ErrorKind::Service(20),
            ),
            (
                "the supervisor's artifact",
                vec![start(&supervisor, "x", b"")],
                ErrorKind::Service(17),
            ),
            (
                "an invalid name",
                vec![start(&notebook_v1, "no spaces", b"")],
                ErrorKind::Service(33),
            ),
            (
                "a taken name",
                vec![start(&notebook_v1, "book", b"")],
                ErrorKind::Service(32),
            ),
            (
                "one name twice",
                vec![start(&notebook_v1, "twin", b""), start(&notebook_v1, "twin", b"")],
                ErrorKind::Service(32),
            ),
            (
                "two changes to one instance",
                vec![
                    service_config(book, b"x"),
                    Kind::FreezeService(FreezeService { instance_id: book }),
                ],
                ErrorKind::Service(49),
            ),
            (
                "two consensus changes",
                vec![Kind::Consensus(config.clone()), Kind::Consensus(config.clone())],
                ErrorKind::Service(49),
            ),
            (
                "an empty validator set",
                vec![Kind::Consensus(empty_set)],
                ErrorKind::Service(53),
            ),
            (
                "a bad supervisor config",
                vec![service_config(0, &[0xff, 0xff])],
                ErrorKind::Service(53),
            ),
            (
                "stopping the supervisor",
                vec![Kind::StopService(StopService { instance_id: 0 })],
                ErrorKind::Service(49),
            ),
            (
                "stopping an unknown instance",
                vec![Kind::StopService(StopService { instance_id: 99 })],
                ErrorKind::Service(49),
            ),
            (
                "resuming an active instance",
                vec![Kind::ResumeService(ResumeService {
                    instance_id: book,
                    params: Vec::new(),
                })],
                ErrorKind::Service(49),
            ),
            (
                "unloading an artifact in use",
                vec![Kind::UnloadArtifact(UnloadArtifact {
                    artifact_id: Some(notebook_v1.clone()),
                })],
                ErrorKind::Service(49),
            ),
            (
                "starting from and unloading one artifact",
                vec![
                    start(&artifact("notebook", "1.0.1"), "fresh", b""),
                    Kind::UnloadArtifact(UnloadArtifact {
                        artifact_id: Some(artifact("notebook", "1.0.1")),
                    }),
                ],
                ErrorKind::Service(49),
            ),
        ];
        deploy(
            &mut testkit,
            mode,
            &artifact("notebook", "1.0.1"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
        );
        for (case, changes, expected) in cases {
            let number = configuration_number(&testkit);
            assert_eq!(
                propose_alone(&mut testkit, changes),
                Some(expected),
                "{case} ({count} {mode:?})"
            );
            assert_eq!(
                configuration_number(&testkit),
                number,
                "{case}: a refused proposal takes no number"
            );
        }

        // Freezing needs an Active instance; at most one pending proposal.
        let block = enact(
            &mut testkit,
            mode,
            vec![Kind::FreezeService(FreezeService { instance_id: book })],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let error = propose_alone(
            &mut testkit,
            vec![Kind::FreezeService(FreezeService { instance_id: book })],
        );
        assert_eq!(error, Some(ErrorKind::Service(49)), "freezing a frozen instance");
        let height = testkit.height();
        let first = proposal(
            &testkit,
            vec![service_config(
                0,
                &SupervisorConfig { mode: mode as i32 }.encode_to_vec(),
            )],
            height + 5,
        );
        let mut second = first.clone();
        second.configuration_number += 1;
        let block = testkit.create_block_with(vec![
            testkit.sign_as_validator(0, PROPOSE, first.encode_to_vec()),
            testkit.sign_as_validator(count - 1, PROPOSE, second.encode_to_vec()),
        ]);
        assert_eq!(tx_error(&block, 0), None);
        assert_eq!(tx_error(&block, 1), Some(ErrorKind::Service(48)), "ConfigProposeExists");
        testkit.replay().unwrap();
    }
}

#[test]
fn switching_from_simple_to_decentralized_raises_the_quorum() {
    for count in [1, 4, 7] {
        let mut testkit = chain(count, SupervisorMode::Simple);
        let decentralized = SupervisorConfig {
            mode: SupervisorMode::Decentralized as i32,
        };
        let block = enact(
            &mut testkit,
            SupervisorMode::Simple,
            vec![service_config(0, &decentralized.encode_to_vec())],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let answer = testkit.query("supervisor", "supervisor-config", &[]).unwrap();
        assert_eq!(SupervisorConfig::decode(answer.as_slice()).unwrap(), decentralized);

        // One approval no longer enacts (unless one validator is a quorum).
        let mut config = consensus(&testkit);
        config.transactions_per_block_max = 99;
        let block = enact(
            &mut testkit,
            SupervisorMode::Simple,
            vec![Kind::Consensus(config.clone())],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(consensus(&testkit) == config, count == 1, "{count} validators");
        testkit.create_block();
        let block = enact(
            &mut testkit,
            SupervisorMode::Decentralized,
            vec![Kind::Consensus(config.clone())],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(consensus(&testkit), config);
        testkit.replay().unwrap();
    }
}

#[test]
fn a_consensus_change_replaces_the_validator_set_and_its_quorum() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        // 1 grows to 4; 4 and 7 lose their last validator and gain two
        // new ones (numbers 20 and 21).
        let kept = if count == 1 { 1 } else { count - 1 };
        let mut validators: Vec<Validator> = (0..kept as u8).map(Validator::numbered).collect();
        let added = if count == 1 { vec![20, 21, 22] } else { vec![20, 21] };
        validators.extend(added.iter().map(|index| Validator::numbered(*index)));
        let new_count = validators.len();
        let mut config = consensus(&testkit);
        config.validator_keys = validators.iter().map(Validator::keys).collect();
        let removed = (count > 1).then(|| testkit.validators()[count - 1].clone());

        let block = enact(&mut testkit, mode, vec![Kind::Consensus(config.clone())]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(consensus(&testkit), config);
        let answer = testkit.query("supervisor", "validator-count", &[]).unwrap();
        assert_eq!(u32::decode(answer.as_slice()).unwrap() as usize, new_count);
        // Blocks now need the new set's precommits (the testkit signs with
        // it; the chain checks them).
        assert_eq!(testkit.validators().len(), new_count);
        testkit.create_block();

        // A removed validator may no longer govern; an added one may.
        let request = deploy_request(
            &artifact("notebook", "1.0.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
            testkit.height() + 50,
            1,
        );
        if let Some(removed) = &removed {
            let block = testkit.create_block_with(vec![testkit.sign(
                &removed.service_key,
                REQUEST_DEPLOY,
                request.encode_to_vec(),
            )]);
            assert_eq!(tx_error(&block, 0), Some(ErrorKind::Common(2)), "a removed validator");
        }
        // The new quorum decides: one vote short does not enact.
        let new_quorum = quorum(new_count, mode);
        let mut next = consensus(&testkit);
        next.transactions_per_block_max = 42;
        let propose = proposal(&testkit, vec![Kind::Consensus(next.clone())], 0);
        let mut transactions = vec![testkit.sign_as_validator(new_count - 1, PROPOSE, propose.encode_to_vec())];
        for validator in 0..new_quorum.saturating_sub(2) {
            transactions.push(testkit.sign_as_validator(validator, VOTE, vote_for(&propose)));
        }
        let block = testkit.create_block_with(transactions);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(
            consensus(&testkit) == next,
            new_quorum == 1,
            "{count} {mode:?}: one short of {new_quorum}"
        );
        testkit.replay().unwrap();
    }
}

#[test]
fn only_validators_may_call_any_supervisor_method() {
    let mut testkit = chain(4, SupervisorMode::Simple);
    let outsider = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let calls = [
        REQUEST_DEPLOY,
        REPORT_DEPLOY,
        PROPOSE,
        VOTE,
        REQUEST_MIGRATION,
        REPORT_MIGRATION,
    ];
    let transactions = calls
        .iter()
        .map(|call| testkit.sign(&outsider, *call, Vec::new()))
        .collect();
    let block = testkit.create_block_with(transactions);
    for position in 0..calls.len() as u32 {
        assert_eq!(
            tx_error(&block, position),
            Some(ErrorKind::Common(2)),
            "method {position}"
        );
    }
}

#[test]
fn a_change_failing_when_enacted_rolls_back_the_whole_batch() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let book = notebook(&mut testkit, mode, "1.0.0", "book", "Title");
        // 32 bytes that are not an Ed25519 public key: the supervisor
        // checks the shape when proposed, the dispatcher the key when
        // applied.
        let not_a_key = (0..=u8::MAX)
            .map(|byte| [byte; 32])
            .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
            .expect("some byte pattern is not a curve point");
        let mut config = consensus(&testkit);
        config.validator_keys[0].consensus_key = not_a_key.to_vec();
        let root = testkit.last_header().state_hash;
        let block = enact(
            &mut testkit,
            mode,
            vec![
                start(&artifact("notebook", "1.0.0"), "second", b"Second"),
                service_config(book, b"Renamed"),
                Kind::Consensus(config),
            ],
        );
        assert!(
            block
                .errors
                .keys()
                .all(|location| *location == CallLocation::AfterTransactions(0))
        );
        assert_eq!(
            block.errors[&CallLocation::AfterTransactions(0)].kind,
            ErrorKind::Core(14),
            "IncorrectCall"
        );
        assert_eq!(instance_id(&testkit, "second"), None, "the start was rolled back");
        assert_eq!(title(&testkit, "book"), "Title", "the configuration was rolled back");
        assert_ne!(
            testkit.last_header().state_hash,
            root,
            "the proposal itself was recorded"
        );
        // The proposal is dropped when its height comes.
        testkit.create_block();
        assert!(pending_proposal(&testkit).is_none());

        // Stopping a stopped instance is refused.
        let block = enact(
            &mut testkit,
            mode,
            vec![Kind::StopService(StopService { instance_id: book })],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let error = propose_alone(&mut testkit, vec![Kind::StopService(StopService { instance_id: book })]);
        assert_eq!(error, Some(ErrorKind::Service(49)), "stopping a stopped instance");
        testkit.replay().unwrap();
    }
}

/// The approvals of a deploy request (none if nobody asked for it yet).
fn deploy_approvals(testkit: &TestKit, request: &wasmvisor_proto::supervisor::DeployRequest) -> Vec<Vec<u8>> {
    testkit
        .query("supervisor", "deploy-status", &request.encode_to_vec())
        .map(|answer| {
            wasmvisor_proto::supervisor::DeployState::decode(answer.as_slice())
                .unwrap()
                .approvals
        })
        .unwrap_or_default()
}

/// How many validators in force are among `approvers`.
fn in_force(testkit: &TestKit, approvers: &[Vec<u8>]) -> usize {
    testkit
        .validators()
        .iter()
        .filter(|validator| approvers.contains(&validator.keys().service_key))
        .count()
}

#[test]
fn approvals_are_counted_by_validator_key_across_a_set_change_that_reorders_and_shrinks_it() {
    let mode = SupervisorMode::Decentralized;
    for count in [1usize, 4, 7] {
        let mut testkit = chain(count, mode);
        let original: Vec<Validator> = testkit.validators().to_vec();
        let quorum_before = quorum(count, mode);
        // A deploy request one approval short of the quorum, among them
        // validator 1's, which the change removes.
        let request = deploy_request(
            &artifact("notebook", "1.0.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
            testkit.height() + 200,
            3,
        );
        let approvers: Vec<Validator> = original[1..quorum_before].to_vec();
        if !approvers.is_empty() {
            let requests = approvers
                .iter()
                .map(|validator| testkit.sign(&validator.service_key, REQUEST_DEPLOY, request.encode_to_vec()))
                .collect();
            let block = testkit.create_block_with(requests);
            assert!(block.errors.is_empty(), "{:?}", block.errors);
        }

        // The set loses validator 1 and is reversed (validator 0, whose
        // node the testkit runs, stays).
        let mut remaining: Vec<Validator> = original
            .iter()
            .enumerate()
            .filter(|(position, _)| *position != 1)
            .map(|(_, validator)| validator.clone())
            .collect();
        remaining.reverse();
        let mut config = consensus(&testkit);
        config.validator_keys = remaining.iter().map(Validator::keys).collect();
        config.block_interval_ms += 1;
        let block = enact(&mut testkit, mode, vec![Kind::Consensus(config.clone())]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(consensus(&testkit), config);
        let new_count = remaining.len();
        let quorum_after = quorum(new_count, mode);

        // Each remaining approver counts once, the removed one not at all.
        let approvals = deploy_approvals(&testkit, &request);
        let counted = in_force(&testkit, &approvals);
        assert_eq!(
            counted,
            approvers.len().saturating_sub(1),
            "{count}: approvals in force"
        );
        if count > 1 {
            // (An unknown field makes a distinct transaction of the same
            // request: the identical one would be a replay.)
            let again = [request.encode_to_vec().as_slice(), &[0x78, 0x01]].concat();
            let removed = &original[1];
            let block =
                testkit.create_block_with(vec![testkit.sign(&removed.service_key, REQUEST_DEPLOY, again.clone())]);
            assert_eq!(
                tx_error(&block, 0),
                Some(ErrorKind::Common(2)),
                "{count}: the removed validator"
            );
            // A remaining approver again, wherever it now stands: refused.
            let block = testkit.create_block_with(vec![testkit.sign(&original[2].service_key, REQUEST_DEPLOY, again)]);
            assert_eq!(
                tx_error(&block, 0),
                Some(ErrorKind::Service(18)),
                "{count}: approving twice"
            );
        }
        // The others approve one by one: one short of the new quorum, no
        // node deploys; at the quorum, this node deploys and reports.
        let mut missing: Vec<Validator> = remaining
            .iter()
            .filter(|validator| !approvals.contains(&validator.keys().service_key))
            .cloned()
            .collect();
        for _ in counted..quorum_after {
            let validator = missing.remove(0);
            if in_force(&testkit, &deploy_approvals(&testkit, &request)) + 1 == quorum_after {
                for _ in 0..3 {
                    testkit.create_block();
                }
                assert!(
                    deploy_approvals(&testkit, &request).is_empty()
                        || deploy_state(&testkit, &request).reported_ok.is_empty(),
                    "{count}: one short of {quorum_after}, nobody deploys"
                );
            }
            let block = testkit.create_block_with(vec![testkit.sign(
                &validator.service_key,
                REQUEST_DEPLOY,
                request.encode_to_vec(),
            )]);
            assert!(block.errors.is_empty(), "{:?}", block.errors);
        }
        create_blocks_until(&mut testkit, |testkit| {
            deploy_state(testkit, &request).reported_ok.contains(&node_key())
        });
        // Every remaining validator must report; the removed one's report
        // is refused and is not needed.
        let others: Vec<&Validator> = remaining
            .iter()
            .filter(|validator| validator.keys().service_key != node_key())
            .collect();
        for (position, validator) in others.iter().enumerate() {
            assert_eq!(
                deploy_state(&testkit, &request).status,
                wasmvisor_proto::supervisor::DeployStatus::DeployPending as i32,
                "{count}: {position} of {} others reported",
                others.len()
            );
            let block = testkit.create_block_with(vec![testkit.sign(
                &validator.service_key,
                REPORT_DEPLOY,
                deploy_report(&request, None),
            )]);
            assert!(block.errors.is_empty(), "{:?}", block.errors);
        }
        testkit.create_block();
        assert_eq!(
            deploy_state(&testkit, &request).status,
            wasmvisor_proto::supervisor::DeployStatus::DeploySucceeded as i32,
            "{count}: every remaining validator reported"
        );

        // A proposal under the new set: the removed validator's vote and a
        // second vote are refused; one short of the new quorum is not
        // enacted; the quorum is.
        for short in [true, false] {
            if short && quorum_after == 1 {
                continue;
            }
            let mut next = consensus(&testkit);
            next.block_interval_ms += 1;
            let propose = proposal(&testkit, vec![Kind::Consensus(next.clone())], 0);
            let mut transactions = vec![testkit.sign(&remaining[0].service_key, PROPOSE, propose.encode_to_vec())];
            let votes = quorum_after - 1 - usize::from(short);
            for validator in &remaining[1..=votes] {
                transactions.push(testkit.sign(&validator.service_key, VOTE, vote_for(&propose)));
            }
            transactions.push(testkit.sign(&remaining[0].service_key, VOTE, vote_for(&propose)));
            if count > 1 {
                transactions.push(testkit.sign(&original[1].service_key, VOTE, vote_for(&propose)));
            }
            let block = testkit.create_block_with(transactions);
            assert_eq!(
                tx_error(&block, votes as u32 + 1),
                Some(ErrorKind::Service(51)),
                "a second vote"
            );
            if count > 1 {
                assert_eq!(
                    tx_error(&block, votes as u32 + 2),
                    Some(ErrorKind::Common(2)),
                    "a removed voter"
                );
            }
            assert_eq!(consensus(&testkit) == next, !short, "{count}: short {short}");
            testkit.create_block();
        }
        testkit.replay().unwrap();
    }
}
