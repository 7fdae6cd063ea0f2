//! Migrations and the supervisor's own upgrade.

use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{
    MigrationRequest, MigrationResult, MigrationStatus, ResumeService, StopService, config_change::Kind,
    migration_result,
};
use wasmvisor_runtime::{CallLocation, ErrorKind, InstanceStatus};

use super::*;

fn migration_request(testkit: &TestKit, service: &str, version: &str, deadline: u64) -> MigrationRequest {
    MigrationRequest {
        new_artifact: Some(artifact(
            if service == "supervisor" {
                "wasmvisor.supervisor"
            } else {
                "notebook"
            },
            version,
        )),
        service: service.into(),
        deadline_height: testkit.height() + deadline,
        seed: 0,
    }
}

fn report(request: &MigrationRequest, status: migration_result::Status) -> Vec<u8> {
    MigrationResult {
        request: Some(request.clone()),
        status: Some(status),
    }
    .encode_to_vec()
}

/// A stopped notebook "book" 1.0.0 with three notes, and the artifact
/// `target` deployed.
fn stopped_book(testkit: &mut TestKit, mode: SupervisorMode, target: &str, notes: &[&str]) -> u32 {
    let book = notebook(testkit, mode, "1.0.0", "book", "Title");
    let writes = notes.iter().map(|text| note(testkit, book, text)).collect();
    let block = testkit.create_block_with(writes);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    deploy(
        testkit,
        mode,
        &artifact("notebook", target),
        wasmvisor_artifacts::NOTEBOOK.bytes,
    );
    let block = enact(
        testkit,
        mode,
        vec![Kind::StopService(StopService { instance_id: book })],
    );
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    book
}

fn artifact_of(testkit: &TestKit, id: u32) -> String {
    services(testkit)
        .instances
        .into_iter()
        .filter_map(|record| record.spec)
        .find(|spec| spec.id == id)
        .and_then(|spec| spec.artifact)
        .map(|artifact| artifact.version)
        .unwrap()
}

fn resume(testkit: &mut TestKit, mode: SupervisorMode, instance_id: u32) -> BlockOutcome {
    enact(
        testkit,
        mode,
        vec![Kind::ResumeService(ResumeService {
            instance_id,
            params: Vec::new(),
        })],
    )
}

#[test]
fn a_fast_forward_swaps_the_artifact_at_once() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let book = stopped_book(&mut testkit, mode, "1.0.1", &["a", "b"]);
        let request = migration_request(&testkit, "book", "1.0.1", 20);
        let block = request_migration(&mut testkit, mode, &request);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let state = migration_state(&testkit, &request);
        assert_eq!(
            (state.status, state.data),
            (MigrationStatus::MigrationSucceeded as i32, false)
        );
        assert_eq!(artifact_of(&testkit, book), "1.0.1");
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Stopped));

        // Decided requests are not taken again (the guard the reference
        // lacked), by anyone.
        // (An unknown protobuf field keeps the same request a distinct
        // transaction when validator 0 is the only one.)
        let same_request = [request.encode_to_vec().as_slice(), &[0x78, 0x01]].concat();
        let again = testkit.sign_as_validator(count - 1, REQUEST_MIGRATION, same_request);
        let block = testkit.create_block_with(vec![again]);
        assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(67));

        let block = resume(&mut testkit, mode, book);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(testkit.query("book", "count", &[]).unwrap(), 2u64.to_le_bytes());
        testkit.replay().unwrap();
    }
}

#[test]
fn a_data_migration_commits_when_every_validator_agrees_and_flushes_later() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let book = stopped_book(&mut testkit, mode, "2.0.0", &["a", "b", "c"]);
        let request = migration_request(&testkit, "book", "2.0.0", 100);
        let block = request_migration(&mut testkit, mode, &request);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let state = migration_state(&testkit, &request);
        assert_eq!(
            (state.status, state.data),
            (MigrationStatus::MigrationPending as i32, true)
        );
        assert!(matches!(
            testkit.instance_status(book),
            Some(InstanceStatus::Migrating(_))
        ));

        // Another request for the same service while it migrates: refused.
        let mut other = request.clone();
        other.seed = 1;
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(
            0,
            REQUEST_MIGRATION,
            other.encode_to_vec(),
        )]);
        assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(67));

        // This node migrates in the background and reports its root.
        create_blocks_until(&mut testkit, |testkit| {
            let state = migration_state(testkit, &request);
            state.reports.iter().any(|report| report.validator_key == node_key()) || !state.committed_hash.is_empty()
        });
        let root = migration_state(&testkit, &request)
            .reports
            .first()
            .map(|report| report.state_hash.clone());
        if count > 1 {
            // Every validator must report: all but one is not enough.
            let root = root.expect("validator 0 reported");
            let mut reports: Vec<_> = (1..count)
                .map(|validator| {
                    let status = migration_result::Status::StateHash(root.clone());
                    testkit.sign_as_validator(validator, REPORT_MIGRATION, report(&request, status))
                })
                .collect();
            let last = reports.pop().expect("count > 1");
            let block = testkit.create_block_with(reports);
            assert!(block.errors.is_empty(), "{:?}", block.errors);
            assert!(migration_state(&testkit, &request).committed_hash.is_empty());
            let block = testkit.create_block_with(vec![last]);
            assert!(block.errors.is_empty(), "{:?}", block.errors);
        }
        let state = migration_state(&testkit, &request);
        assert_eq!(state.committed_hash.len(), 32, "every validator agreed");
        assert_eq!(
            state.status,
            MigrationStatus::MigrationPending as i32,
            "flushed in a later block"
        );

        testkit.create_block_with(Vec::new());
        assert_eq!(
            migration_state(&testkit, &request).status,
            MigrationStatus::MigrationSucceeded as i32
        );
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Stopped));
        // As in the reference, the data is now of version 2.0.0 while the
        // instance still names 1.0.0: it cannot resume until a
        // fast-forward associates the new artifact.
        let resume_now = Kind::ResumeService(ResumeService {
            instance_id: book,
            params: Vec::new(),
        });
        let refused = proposal(&testkit, vec![resume_now], testkit.height() + 2);
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, PROPOSE, refused.encode_to_vec())]);
        assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(49));
        let associate = MigrationRequest {
            seed: 2,
            ..request.clone()
        };
        let block = request_migration(&mut testkit, mode, &associate);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert!(!migration_state(&testkit, &associate).data, "a fast-forward");
        assert_eq!(artifact_of(&testkit, book), "2.0.0");
        let block = resume(&mut testkit, mode, book);
        assert!(
            block.errors.is_empty(),
            "resumable with the new data version: {:?}",
            block.errors
        );
        assert_eq!(testkit.query("book", "note-count", &[]).unwrap(), 3u64.to_le_bytes());
        let block = testkit.create_block_with(vec![note(&testkit, book, "d")]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert_eq!(
            testkit.query("book", "note-count", &[]).unwrap(),
            4u64.to_le_bytes(),
            "layout 2 in use"
        );
        testkit.replay().unwrap();
        // A restarted node keeps it all.
        let root = testkit.last_header().state_hash;
        testkit.restart();
        assert_eq!(testkit.last_header().state_hash, root);
        assert_eq!(testkit.query("book", "note-count", &[]).unwrap(), 4u64.to_le_bytes());
    }
}

#[test]
fn a_data_migration_rolls_back_on_divergence_failure_and_timeout() {
    for (count, mode) in matrix() {
        // A failing script (every node alike): MigrationFailed, rolled back.
        let mut testkit = chain(count, mode);
        let book = stopped_book(&mut testkit, mode, "2.0.0", &["a", "poison"]);
        let request = migration_request(&testkit, "book", "2.0.0", 100);
        request_migration(&mut testkit, mode, &request);
        create_blocks_until(&mut testkit, |testkit| {
            migration_state(testkit, &request).status != MigrationStatus::MigrationPending as i32
        });
        let state = migration_state(&testkit, &request);
        assert_eq!(
            (state.status, state.error_code),
            (MigrationStatus::MigrationFailed as i32, 65)
        );
        testkit.create_block_with(Vec::new());
        assert_eq!(
            testkit.instance_status(book),
            Some(InstanceStatus::Stopped),
            "rolled back"
        );
        assert_eq!(artifact_of(&testkit, book), "1.0.0");

        // A deadline passing before every validator reported: Timeout,
        // rolled back. (Blocks without the pool: this node's report never
        // lands.)
        let mut testkit = chain(count, mode);
        let book = stopped_book(&mut testkit, mode, "2.0.0", &["a"]);
        let root_before = testkit.last_header().state_hash;
        let request = migration_request(&testkit, "book", "2.0.0", 3);
        request_migration(&mut testkit, mode, &request);
        let height = testkit.height();
        testkit.create_blocks_until(height + 4);
        assert_eq!(
            migration_state(&testkit, &request).status,
            MigrationStatus::MigrationTimeout as i32
        );
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Stopped));
        assert_eq!(artifact_of(&testkit, book), "1.0.0");
        assert_ne!(
            testkit.last_header().state_hash,
            root_before,
            "the supervisor recorded it"
        );
        let block = resume(&mut testkit, mode, book);
        assert!(block.errors.is_empty(), "the old data resumes: {:?}", block.errors);
        testkit.replay().unwrap();

        // Differing roots: StateHashDivergence, rolled back. (With one
        // validator there is nobody to differ from.)
        if count == 1 {
            continue;
        }
        let mut testkit = chain(count, mode);
        let book = stopped_book(&mut testkit, mode, "2.0.0", &["a"]);
        let request = migration_request(&testkit, "book", "2.0.0", 100);
        request_migration(&mut testkit, mode, &request);
        let forged = testkit.sign_as_validator(
            count - 1,
            REPORT_MIGRATION,
            report(&request, migration_result::Status::StateHash(vec![7; 32])),
        );
        testkit.create_block_with(vec![forged]);
        create_blocks_until(&mut testkit, |testkit| {
            migration_state(testkit, &request).status != MigrationStatus::MigrationPending as i32
        });
        let state = migration_state(&testkit, &request);
        assert_eq!(
            (state.status, state.error_code),
            (MigrationStatus::MigrationFailed as i32, 66)
        );
        testkit.create_block_with(Vec::new());
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Stopped));
        assert_eq!(artifact_of(&testkit, book), "1.0.0");
        testkit.replay().unwrap();
    }
}

#[test]
fn a_new_supervisor_artifact_takes_over_instance_zero_with_its_state() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        deploy(
            &mut testkit,
            mode,
            &artifact("notebook", "1.0.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
        );
        let number = configuration_number(&testkit);
        let next = artifact("wasmvisor.supervisor", "1.1.0");
        deploy(&mut testkit, mode, &next, wasmvisor_artifacts::SUPERVISOR.bytes);
        let request = migration_request(&testkit, "supervisor", "1.1.0", 20);
        let block = request_migration(&mut testkit, mode, &request);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let answer = testkit.query("supervisor", "supervisor-artifact", &[]).unwrap();
        assert_eq!(
            wasmvisor_proto::runtime::ArtifactId::decode(answer.as_slice()).unwrap(),
            next
        );
        assert_eq!(
            testkit.instance_status(0),
            Some(InstanceStatus::Active),
            "it never stopped"
        );
        assert_eq!(
            migration_state(&testkit, &request).status,
            MigrationStatus::MigrationSucceeded as i32
        );
        // Its state (deploys, the configuration number) is kept, and it
        // governs: the deployed notebook starts.
        assert_eq!(configuration_number(&testkit), number);
        let block = enact(
            &mut testkit,
            mode,
            vec![start(&artifact("notebook", "1.0.0"), "book", b"Title")],
        );
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        assert!(instance_id(&testkit, "book").is_some());
        testkit.replay().unwrap();
    }
}

#[test]
fn migration_requests_and_results_are_checked() {
    for (count, mode) in [(1, SupervisorMode::Simple), (4, SupervisorMode::Decentralized)] {
        let mut testkit = chain(count, mode);
        stopped_book(&mut testkit, mode, "2.0.0", &["a"]);
        let error_of = |block: &BlockOutcome| block.errors.get(&CallLocation::Transaction(0)).map(|error| error.kind);

        let unknown = MigrationRequest {
            new_artifact: Some(artifact("notebook", "3.0.0")),
            ..migration_request(&testkit, "book", "2.0.0", 20)
        };
        let block = request_migration(&mut testkit, mode, &unknown);
        assert_eq!(error_of(&block), Some(ErrorKind::Service(20)), "UnknownArtifact");
        let past = migration_request(&testkit, "book", "2.0.0", 0);
        let block = request_migration(&mut testkit, mode, &past);
        assert_eq!(error_of(&block), Some(ErrorKind::Service(0)), "DeadlineExceeded");
        let nobody = migration_request(&testkit, "nobody", "2.0.0", 20);
        let block = request_migration(&mut testkit, mode, &nobody);
        assert_eq!(error_of(&block), Some(ErrorKind::Common(3)), "no such service");

        // The same validator asking twice does not approve twice (with
        // more than one validator needed, the request stays unapproved).
        if quorum(count, mode) > 1 {
            let request = migration_request(&testkit, "book", "2.0.0", 20);
            let first = testkit.sign_as_validator(0, REQUEST_MIGRATION, request.encode_to_vec());
            let again = [request.encode_to_vec().as_slice(), &[0x78, 0x01]].concat();
            let again = testkit.sign_as_validator(0, REQUEST_MIGRATION, again);
            let block = testkit.create_block_with(vec![first, again]);
            assert_eq!(
                block.errors.get(&CallLocation::Transaction(1)).map(|error| error.kind),
                Some(ErrorKind::Service(67))
            );
            assert_eq!(
                migration_state(&testkit, &request).approvals,
                vec![validator_key(&testkit, 0)]
            );
            assert!(!migration_state(&testkit, &request).started);
        }

        // A result for a request that is not in progress.
        let stray = migration_request(&testkit, "book", "2.0.0", 20);
        let result = report(&stray, migration_result::Status::StateHash(vec![1; 32]));
        let block = testkit.create_block_with(vec![testkit.sign_as_validator(0, REPORT_MIGRATION, result)]);
        assert_eq!(
            error_of(&block),
            Some(ErrorKind::Service(64)),
            "MigrationRequestNotRegistered"
        );
        testkit.replay().unwrap();
    }
}

/// Enacts a consensus change to the validators `keep` (by their positions
/// now), in that order.
fn keep_validators(testkit: &mut TestKit, mode: SupervisorMode, keep: &[usize]) {
    let answer = testkit.query("supervisor", "consensus-config", &[]).unwrap();
    let mut config = wasmvisor_proto::blockchain::ConsensusConfig::decode(answer.as_slice()).unwrap();
    config.validator_keys = keep
        .iter()
        .map(|position| testkit.validators()[*position].keys())
        .collect();
    let block = enact(testkit, mode, vec![Kind::Consensus(config)]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(testkit.validators().len(), keep.len());
}

#[test]
fn a_removed_validators_report_neither_counts_nor_fails_a_migration() {
    let mode = SupervisorMode::Decentralized;
    let mut testkit = chain(4, mode);
    stopped_book(&mut testkit, mode, "2.0.0", &["a", "b", "c"]);
    let request = migration_request(&testkit, "book", "2.0.0", 200);
    // A quorum starts it, and validator 3 at once reports a root no other
    // node will compute.
    let mut transactions: Vec<_> = (0..3)
        .map(|validator| testkit.sign_as_validator(validator, REQUEST_MIGRATION, request.encode_to_vec()))
        .collect();
    let bogus = migration_result::Status::StateHash(vec![9; 32]);
    transactions.push(testkit.sign_as_validator(3, REPORT_MIGRATION, report(&request, bogus)));
    let block = testkit.create_block_with(transactions);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(migration_state(&testkit, &request).reports.len(), 1);
    // Validator 3 leaves (the others reversed).
    keep_validators(&mut testkit, mode, &[2, 1, 0]);
    // This node's honest report neither diverges from the stale one nor
    // waits for it.
    create_blocks_until(&mut testkit, |testkit| {
        let state = migration_state(testkit, &request);
        state.status != MigrationStatus::MigrationPending as i32
            || state.reports.iter().any(|report| report.validator_key == node_key())
    });
    let state = migration_state(&testkit, &request);
    assert_eq!(
        state.status,
        MigrationStatus::MigrationPending as i32,
        "{}",
        state.error
    );
    let root = state
        .reports
        .iter()
        .find(|report| report.validator_key == node_key())
        .map(|report| report.state_hash.clone())
        .unwrap();
    let reports = (0..2)
        .map(|position| {
            let status = migration_result::Status::StateHash(root.clone());
            testkit.sign_as_validator(position, REPORT_MIGRATION, report(&request, status))
        })
        .collect();
    let block = testkit.create_block_with(reports);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(
        migration_state(&testkit, &request).committed_hash,
        root,
        "the three in force agreed"
    );
    testkit.create_block_with(Vec::new());
    assert_eq!(
        migration_state(&testkit, &request).status,
        MigrationStatus::MigrationSucceeded as i32
    );
    testkit.replay().unwrap();
}

#[test]
fn approvals_that_suffice_after_a_set_change_start_the_migration_when_asked_again() {
    let mode = SupervisorMode::Decentralized;
    let mut testkit = chain(4, mode);
    stopped_book(&mut testkit, mode, "2.0.0", &["a", "b"]);
    let request = migration_request(&testkit, "book", "2.0.0", 200);
    // Two of four ask: the quorum is three.
    let asks = (1..3)
        .map(|validator| testkit.sign_as_validator(validator, REQUEST_MIGRATION, request.encode_to_vec()))
        .collect();
    let block = testkit.create_block_with(asks);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert!(!migration_state(&testkit, &request).started);
    // The set shrinks to those two: their approvals are now a quorum of two.
    let approvers: Vec<_> = (1..3).map(|position| testkit.validators()[position].clone()).collect();
    keep_validators(&mut testkit, mode, &[1, 2]);
    assert!(
        !migration_state(&testkit, &request).started,
        "nothing re-counts by itself"
    );
    // One of them asking again starts it (a distinct transaction of the
    // same request); a third time is refused.
    let again = [request.encode_to_vec().as_slice(), &[0x78, 0x01]].concat();
    let block = testkit.create_block_with(vec![testkit.sign(&approvers[0].service_key, REQUEST_MIGRATION, again)]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    let state = migration_state(&testkit, &request);
    assert!(state.started && state.data, "{state:?}");
    let third = [request.encode_to_vec().as_slice(), &[0x78, 0x02]].concat();
    let block = testkit.create_block_with(vec![testkit.sign(&approvers[1].service_key, REQUEST_MIGRATION, third)]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(67));
    testkit.replay().unwrap();
}
