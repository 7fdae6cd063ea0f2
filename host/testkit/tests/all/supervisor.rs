//! The supervisor's deploy flow, driven only by signed transactions.

use ed25519_dalek::SigningKey;
use wasmvisor_artifacts::TOKEN;
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{DeployRequest, DeployStatus, SupervisorMode};
use wasmvisor_runtime::{CallLocation, ErrorKind};
use wasmvisor_testkit::TestKit;
use wasmvisor_testkit::governance::{
    REPORT_DEPLOY, REQUEST_DEPLOY, artifact, chain, deploy_report, deploy_request, deploy_state, node_key,
    validator_key,
};

fn token_request(deadline_height: u64, seed: u64) -> DeployRequest {
    deploy_request(
        &artifact("wasmvisor.token", "1.0.0"),
        TOKEN.bytes,
        deadline_height,
        seed,
    )
}

fn decentralized(validators: u8) -> TestKit {
    chain(usize::from(validators), SupervisorMode::Decentralized)
}

#[test]
fn a_deploy_needs_a_quorum_of_requests_and_every_validators_success() {
    let mut testkit = decentralized(4);
    let request = token_request(30, 1);
    let bytes = request.encode_to_vec();

    // Not a validator: refused. Two validators: not yet a quorum of 3.
    let outsider = testkit.sign(&SigningKey::from_bytes(&[9; 32]), REQUEST_DEPLOY, bytes.clone());
    let first = testkit.sign_as_validator(0, REQUEST_DEPLOY, bytes.clone());
    let second = testkit.sign_as_validator(1, REQUEST_DEPLOY, bytes.clone());
    let block = testkit.create_block_with(vec![outsider, first, second]);
    assert_eq!(
        block.errors[&CallLocation::Transaction(0)].kind,
        ErrorKind::Common(2),
        "UnauthorizedCaller"
    );
    assert_eq!(block.errors.len(), 1);
    assert_eq!(
        deploy_state(&testkit, &request).approvals,
        vec![validator_key(&testkit, 0), validator_key(&testkit, 1)],
        "the approvals are the validators' service keys"
    );

    // The same validator again is refused; a third approves. (Re-sending the
    // identical transaction would be a replay, refused by the block layer;
    // an unknown protobuf field makes a distinct transaction carrying the
    // same request.)
    let same_request = [bytes.as_slice(), &[0x78, 0x01]].concat();
    let again = testkit.sign_as_validator(1, REQUEST_DEPLOY, same_request);
    let third = testkit.sign_as_validator(2, REQUEST_DEPLOY, bytes.clone());
    let block = testkit.create_block_with(vec![again, third]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(18));
    assert_eq!(block.errors.len(), 1);

    // This node (validator 0) deploys locally in after-commit (compiling
    // in the background) and reports. Blocks keep coming meanwhile; wait
    // for the report, bounded.
    for _ in 0..500 {
        testkit.create_block();
        if deploy_state(&testkit, &request).reported_ok.contains(&node_key()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let state = deploy_state(&testkit, &request);
    assert_eq!(
        state.reported_ok,
        vec![node_key()],
        "validator 0's node reported its local deploy"
    );
    assert_eq!(
        state.status,
        DeployStatus::DeployPending as i32,
        "the others have not reported"
    );

    // The other validators' nodes report: then it is deployed.
    let reports = (1..4)
        .map(|validator| testkit.sign_as_validator(validator, REPORT_DEPLOY, deploy_report(&request, None)))
        .collect();
    let block = testkit.create_block_with(reports);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(
        deploy_state(&testkit, &request).status,
        DeployStatus::DeploySucceeded as i32
    );

    // The artifact is now known: asking again is AlreadyDeployed.
    let retry = testkit.sign_as_validator(3, REQUEST_DEPLOY, token_request(40, 2).encode_to_vec());
    let block = testkit.create_block_with(vec![retry]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(16));
    testkit.replay().unwrap();
}

#[test]
fn one_failure_fails_a_deploy_and_a_passed_deadline_times_it_out() {
    let mut testkit = chain(4, SupervisorMode::Simple);
    // Simple mode: one request approves.
    let failing = token_request(30, 1);
    testkit.create_block_with(vec![testkit.sign_as_validator(
        3,
        REQUEST_DEPLOY,
        failing.encode_to_vec(),
    )]);
    let report = testkit.sign_as_validator(2, REPORT_DEPLOY, deploy_report(&failing, Some("no disk space")));
    testkit.create_block_with(vec![report]);
    let state = deploy_state(&testkit, &failing);
    assert_eq!(
        (state.status, state.error.as_str()),
        (DeployStatus::DeployFailed as i32, "no disk space")
    );

    // A deadline in the past is refused; a near one times out.
    let late = testkit.sign_as_validator(3, REQUEST_DEPLOY, token_request(1, 2).encode_to_vec());
    let block = testkit.create_block_with(vec![late]);
    assert_eq!(
        block.errors[&CallLocation::Transaction(0)].kind,
        ErrorKind::Service(0),
        "DeadlineExceeded"
    );
    let height = testkit.height();
    let soon = token_request(height + 2, 3);
    testkit.create_block_with(vec![testkit.sign_as_validator(3, REQUEST_DEPLOY, soon.encode_to_vec())]);
    testkit.create_blocks_until(height + 4);
    assert_eq!(deploy_state(&testkit, &soon).status, DeployStatus::DeployTimeout as i32);
    // A result for a request that timed out is not registered.
    let report = testkit.sign_as_validator(1, REPORT_DEPLOY, deploy_report(&soon, None));
    let block = testkit.create_block_with(vec![report]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(19));
}

#[test]
fn pending_requests_past_their_deadline_time_out_a_bounded_number_per_block() {
    let mut testkit = decentralized(4);
    let total = wasmvisor_limits::SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX + 36;
    let deadline = testkit.height() + 8;
    // One approval each (of the three a quorum needs): they stay pending.
    let requests: Vec<DeployRequest> = (0..total as u64)
        .map(|seed| token_request(deadline, 100 + seed))
        .collect();
    for batch in requests.chunks(25) {
        let transactions = batch
            .iter()
            .map(|request| testkit.sign_as_validator(0, REQUEST_DEPLOY, request.encode_to_vec()))
            .collect();
        let block = testkit.create_block_with(transactions);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
    }
    let timed_out = |testkit: &TestKit| {
        requests
            .iter()
            .filter(|request| deploy_state(testkit, request).status == DeployStatus::DeployTimeout as i32)
            .count()
    };
    assert_eq!(timed_out(&testkit), 0);
    let mut expiring = None;
    for _ in 0..20 {
        let block = testkit.create_block();
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        if timed_out(&testkit) > 0 {
            expiring = Some(testkit.height());
            break;
        }
    }
    assert!(expiring.is_some(), "no request timed out");
    // The first block past the deadline ends as many as the hook may; the
    // next one ends the rest.
    assert_eq!(
        timed_out(&testkit),
        wasmvisor_limits::SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX
    );
    testkit.create_block();
    assert_eq!(timed_out(&testkit), total);
    testkit.replay().unwrap();
}

#[test]
fn unapproved_requests_cannot_keep_an_approved_one_from_deploying() {
    let mut testkit = decentralized(4);
    // One validator files more unapproved requests than a block looks at,
    // all due before the one the others want.
    let window = wasmvisor_limits::SUPERVISOR_PENDING_PER_BLOCK_ITEMS_MAX as u64;
    let junk: Vec<_> = (0..window + 6)
        .map(|seed| {
            let request = deploy_request(&artifact("junk", "1.0.0"), b"junk", 10_000, seed);
            testkit.sign_as_validator(1, REQUEST_DEPLOY, request.encode_to_vec())
        })
        .collect();
    let block = testkit.create_block_with(junk);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    let request = token_request(10_001, 7);
    let asks = (0..3)
        .map(|validator| testkit.sign_as_validator(validator, REQUEST_DEPLOY, request.encode_to_vec()))
        .collect();
    let block = testkit.create_block_with(asks);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    // This node gets to it within a few windows, deploys and reports.
    wasmvisor_testkit::governance::create_blocks_until(&mut testkit, |testkit| {
        deploy_state(testkit, &request).reported_ok.contains(&node_key())
    });
    let reports = (1..4)
        .map(|validator| testkit.sign_as_validator(validator, REPORT_DEPLOY, deploy_report(&request, None)))
        .collect();
    let block = testkit.create_block_with(reports);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(
        deploy_state(&testkit, &request).status,
        DeployStatus::DeploySucceeded as i32
    );
    testkit.replay().unwrap();
}
