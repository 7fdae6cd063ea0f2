//! The supervisor's deploy flow, driven only by signed transactions.

use ed25519_dalek::SigningKey;
use wasmvisor_artifacts::TOKEN;
use wasmvisor_proto::Message;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    DeployRequest, DeployResult, DeployState, DeployStatus, Empty, SupervisorMode, WasmDeploySpec, deploy_result,
};
use wasmvisor_runtime::{CallInfo, CallLocation, ErrorKind};
use wasmvisor_testkit::{TestKit, TestKitBuilder};

const REQUEST: CallInfo = CallInfo {
    instance_id: 0,
    method_id: 0,
};
const REPORT: CallInfo = CallInfo {
    instance_id: 0,
    method_id: 1,
};

fn token_request(deadline_height: u64, seed: u64) -> DeployRequest {
    let spec = WasmDeploySpec {
        component_hash: blake3::hash(TOKEN.bytes).as_bytes().to_vec(),
        component: TOKEN.bytes.to_vec(),
    };
    DeployRequest {
        artifact: Some(ArtifactId {
            runtime_id: 1,
            name: "wasmvisor.token".into(),
            version: "1.0.0".into(),
        }),
        spec: spec.encode_to_vec(),
        deadline_height,
        seed,
    }
}

fn status(testkit: &TestKit, request: &DeployRequest) -> DeployState {
    let answer = testkit
        .query("supervisor", "deploy-status", &request.encode_to_vec())
        .unwrap();
    DeployState::decode(answer.as_slice()).unwrap()
}

fn result(request: &DeployRequest, error: Option<&str>) -> Vec<u8> {
    let outcome = match error {
        None => deploy_result::Result::Ok(Empty {}),
        Some(error) => deploy_result::Result::Error(error.into()),
    };
    DeployResult {
        request: Some(request.clone()),
        result: Some(outcome),
    }
    .encode_to_vec()
}

fn decentralized(validators: u8) -> TestKit {
    TestKitBuilder::new(validators)
        .with_supervisor(SupervisorMode::Decentralized)
        .build()
}

#[test]
fn a_deploy_needs_a_quorum_of_requests_and_every_validators_success() {
    let mut testkit = decentralized(4);
    let request = token_request(30, 1);
    let bytes = request.encode_to_vec();

    // Not a validator: refused. Two validators: not yet a quorum of 3.
    let outsider = testkit.sign(&SigningKey::from_bytes(&[9; 32]), REQUEST, bytes.clone());
    let first = testkit.sign_as_validator(0, REQUEST, bytes.clone());
    let second = testkit.sign_as_validator(1, REQUEST, bytes.clone());
    let block = testkit.create_block_with(vec![outsider, first, second]);
    assert_eq!(
        block.errors[&CallLocation::Transaction(0)].kind,
        ErrorKind::Common(2),
        "UnauthorizedCaller"
    );
    assert_eq!(block.errors.len(), 1);
    assert_eq!(status(&testkit, &request).approvals, vec![0, 1]);

    // The same validator again is refused; a third approves. (Re-sending the
    // identical transaction would be a replay, refused by the block layer;
    // an unknown protobuf field makes a distinct transaction carrying the
    // same request.)
    let same_request = [bytes.as_slice(), &[0x78, 0x01]].concat();
    let again = testkit.sign_as_validator(1, REQUEST, same_request);
    let third = testkit.sign_as_validator(2, REQUEST, bytes.clone());
    let block = testkit.create_block_with(vec![again, third]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(18));
    assert_eq!(block.errors.len(), 1);

    // This node (validator 0) deploys locally in after-commit (compiling
    // in the background) and reports. Blocks keep coming meanwhile; wait
    // for the report, bounded.
    for _ in 0..500 {
        testkit.create_block();
        if status(&testkit, &request).reported_ok.contains(&0) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let state = status(&testkit, &request);
    assert_eq!(
        state.reported_ok,
        vec![0],
        "validator 0's node reported its local deploy"
    );
    assert_eq!(
        state.status,
        DeployStatus::DeployPending as i32,
        "the others have not reported"
    );

    // The other validators' nodes report: then it is deployed.
    let reports = (1..4)
        .map(|validator| testkit.sign_as_validator(validator, REPORT, result(&request, None)))
        .collect();
    let block = testkit.create_block_with(reports);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    assert_eq!(status(&testkit, &request).status, DeployStatus::DeploySucceeded as i32);

    // The artifact is now known: asking again is AlreadyDeployed.
    let retry = testkit.sign_as_validator(3, REQUEST, token_request(40, 2).encode_to_vec());
    let block = testkit.create_block_with(vec![retry]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(16));
    testkit.replay().unwrap();
}

#[test]
fn one_failure_fails_a_deploy_and_a_passed_deadline_times_it_out() {
    let mut testkit = TestKitBuilder::new(4).with_supervisor(SupervisorMode::Simple).build();
    // Simple mode: one request approves.
    let failing = token_request(30, 1);
    testkit.create_block_with(vec![testkit.sign_as_validator(3, REQUEST, failing.encode_to_vec())]);
    let report = testkit.sign_as_validator(2, REPORT, result(&failing, Some("no disk space")));
    testkit.create_block_with(vec![report]);
    let state = status(&testkit, &failing);
    assert_eq!(
        (state.status, state.error.as_str()),
        (DeployStatus::DeployFailed as i32, "no disk space")
    );

    // A deadline in the past is refused; a near one times out.
    let late = testkit.sign_as_validator(3, REQUEST, token_request(1, 2).encode_to_vec());
    let block = testkit.create_block_with(vec![late]);
    assert_eq!(
        block.errors[&CallLocation::Transaction(0)].kind,
        ErrorKind::Service(0),
        "DeadlineExceeded"
    );
    let height = testkit.height();
    let soon = token_request(height + 2, 3);
    testkit.create_block_with(vec![testkit.sign_as_validator(3, REQUEST, soon.encode_to_vec())]);
    testkit.create_blocks_until(height + 4);
    assert_eq!(status(&testkit, &soon).status, DeployStatus::DeployTimeout as i32);
    // A result for a request that timed out is not registered.
    let report = testkit.sign_as_validator(1, REPORT, result(&soon, None));
    let block = testkit.create_block_with(vec![report]);
    assert_eq!(block.errors[&CallLocation::Transaction(0)].kind, ErrorKind::Service(19));
}
