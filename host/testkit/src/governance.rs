//! Helpers for driving the supervisor's governance from tests: signed
//! deploy requests and reports, proposals with votes, queries of the
//! supervisor's state. Every helper acts only through signed transactions
//! of the testkit's validators (and this node's own broadcasts), as a real
//! network would. They panic when a step the helper expects to succeed
//! fails, with the block's errors.

use crate::{BlockOutcome, TestKit, TestKitBuilder};
use wasmvisor_proto::Message;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    ConfigChange, ConfigProposalState, ConfigPropose, ConfigVote, DeployRequest, DeployResult, DeployState,
    DeployStatus, Empty, MigrationRequest, MigrationState, ServicesView, StartService, SupervisorMode, config_change,
    deploy_result,
};
use wasmvisor_runtime::CallInfo;

/// A call of supervisor method `method_id` (instance 0).
const fn supervisor(method_id: u32) -> CallInfo {
    CallInfo {
        instance_id: wasmvisor_runtime::SUPERVISOR_INSTANCE_ID,
        method_id,
    }
}

/// Supervisor method 0: request_artifact_deploy.
pub const REQUEST_DEPLOY: CallInfo = supervisor(0);
/// Supervisor method 1: report_deploy_result.
pub const REPORT_DEPLOY: CallInfo = supervisor(1);
/// Supervisor method 2: propose_config_change.
pub const PROPOSE: CallInfo = supervisor(2);
/// Supervisor method 3: confirm_config_change.
pub const VOTE: CallInfo = supervisor(3);
/// Supervisor method 4: request_migration.
pub const REQUEST_MIGRATION: CallInfo = supervisor(4);
/// Supervisor method 5: report_migration_result.
pub const REPORT_MIGRATION: CallInfo = supervisor(5);

/// Every validator count and mode the governance tests run with.
pub fn matrix() -> Vec<(usize, SupervisorMode)> {
    [1, 4, 7]
        .into_iter()
        .flat_map(|count| [(count, SupervisorMode::Simple), (count, SupervisorMode::Decentralized)])
        .collect()
}

/// Approvals a request or proposal needs.
pub fn quorum(count: usize, mode: SupervisorMode) -> usize {
    match mode {
        SupervisorMode::Simple => 1,
        SupervisorMode::Decentralized => count * 2 / 3 + 1,
    }
}

/// The service key of the validator whose node the testkit runs
/// ([`crate::Validator::numbered`] 0): what its after-commit reports carry.
pub fn node_key() -> Vec<u8> {
    crate::Validator::numbered(0).keys().service_key
}

/// The service key of the validator at `position` in the set in force.
pub fn validator_key(testkit: &TestKit, position: usize) -> Vec<u8> {
    testkit.validators()[position].keys().service_key
}

/// A chain of `count` validators with the supervisor in `mode`.
pub fn chain(count: usize, mode: SupervisorMode) -> TestKit {
    TestKitBuilder::new(count as u8).with_supervisor(mode).build()
}

/// A wasm artifact id.
pub fn artifact(name: &str, version: &str) -> ArtifactId {
    ArtifactId {
        runtime_id: 1,
        name: name.into(),
        version: version.into(),
    }
}

/// A deploy request for a wasm component.
pub fn deploy_request(artifact: &ArtifactId, component: &[u8], deadline_height: u64, seed: u64) -> DeployRequest {
    DeployRequest {
        artifact: Some(artifact.clone()),
        spec: wasmvisor_wasm::deploy_spec(component).encode_to_vec(),
        deadline_height,
        seed,
    }
}

/// The key the supervisor knows a deploy request by: blake3 of the request
/// with its spec replaced by the spec's blake3 hash.
pub fn deploy_request_key(request: &DeployRequest) -> [u8; 32] {
    let spec_hash = *blake3::hash(&request.spec).as_bytes();
    *blake3::hash(&request.key_preimage(&spec_hash)).as_bytes()
}

/// A validator's deploy report, naming the request by its key (as the
/// supervisor's own reports do).
pub fn deploy_report(request: &DeployRequest, error: Option<&str>) -> Vec<u8> {
    let outcome = match error {
        None => deploy_result::Result::Ok(Empty {}),
        Some(error) => deploy_result::Result::Error(error.into()),
    };
    DeployResult {
        request: None,
        result: Some(outcome),
        request_key: deploy_request_key(request).to_vec(),
    }
    .encode_to_vec()
}

/// The supervisor's record of a deploy request.
pub fn deploy_state(testkit: &TestKit, request: &DeployRequest) -> DeployState {
    let answer = testkit
        .query("supervisor", "deploy-status", &request.encode_to_vec())
        .expect("the request is known");
    DeployState::decode(answer.as_slice()).expect("a DeployState")
}

/// Creates blocks (with the pool: this node's reports) until `done`,
/// at most 500; background work on this node finishes meanwhile.
pub fn create_blocks_until(testkit: &mut TestKit, mut done: impl FnMut(&TestKit) -> bool) {
    for _ in 0..500 {
        if done(testkit) {
            return;
        }
        testkit.create_block();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the condition did not hold within 500 blocks");
}

/// A quorum of validators requests a deploy of `component` (deadline 100
/// blocks ahead), in a block that records no error; answers the request.
pub fn request_deploy(
    testkit: &mut TestKit,
    mode: SupervisorMode,
    artifact: &ArtifactId,
    component: &[u8],
) -> DeployRequest {
    let count = testkit.validators().len();
    let request = deploy_request(artifact, component, testkit.height() + 100, 0);
    let requests = (0..quorum(count, mode))
        .map(|validator| testkit.sign_as_validator(validator, REQUEST_DEPLOY, request.encode_to_vec()))
        .collect();
    let block = testkit.create_block_with(requests);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    request
}

/// Deploys a component through the whole flow: a quorum of requests, this
/// node's local deploy and report, the other validators' reports.
pub fn deploy(testkit: &mut TestKit, mode: SupervisorMode, artifact: &ArtifactId, component: &[u8]) {
    let count = testkit.validators().len();
    let request = request_deploy(testkit, mode, artifact, component);
    create_blocks_until(testkit, |testkit| {
        deploy_state(testkit, &request).reported_ok.contains(&node_key())
    });
    let reports: Vec<_> = (1..count)
        .map(|validator| testkit.sign_as_validator(validator, REPORT_DEPLOY, deploy_report(&request, None)))
        .collect();
    if !reports.is_empty() {
        let block = testkit.create_block_with(reports);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
    }
    assert_eq!(
        deploy_state(testkit, &request).status,
        DeployStatus::DeploySucceeded as i32
    );
}

/// The configuration number the next proposal must carry.
pub fn configuration_number(testkit: &TestKit) -> u64 {
    let answer = testkit
        .query("supervisor", "configuration-number", &[])
        .expect("the supervisor answers");
    u64::decode(answer.as_slice()).expect("a uint64")
}

/// A proposal with the current configuration number.
pub fn proposal(testkit: &TestKit, changes: Vec<config_change::Kind>, actual_from: u64) -> ConfigPropose {
    ConfigPropose {
        actual_from,
        changes: changes
            .into_iter()
            .map(|kind| ConfigChange { kind: Some(kind) })
            .collect(),
        configuration_number: configuration_number(testkit),
    }
}

/// A vote for a proposal.
pub fn vote_for(propose: &ConfigPropose) -> Vec<u8> {
    ConfigVote {
        propose_hash: blake3::hash(&propose.encode_to_vec()).as_bytes().to_vec(),
    }
    .encode_to_vec()
}

/// Proposes `changes` for the next height from validator 0 with the votes
/// of a quorum, in one block: they are enacted at its end.
pub fn enact(testkit: &mut TestKit, mode: SupervisorMode, changes: Vec<config_change::Kind>) -> BlockOutcome {
    let count = testkit.validators().len();
    let propose = proposal(testkit, changes, 0);
    let mut transactions = vec![testkit.sign_as_validator(0, PROPOSE, propose.encode_to_vec())];
    for validator in 1..quorum(count, mode) {
        transactions.push(testkit.sign_as_validator(validator, VOTE, vote_for(&propose)));
    }
    testkit.create_block_with(transactions)
}

/// The pending proposal, if any.
pub fn pending_proposal(testkit: &TestKit) -> Option<ConfigProposalState> {
    testkit
        .query("supervisor", "config-proposal", &[])
        .ok()
        .map(|answer| ConfigProposalState::decode(answer.as_slice()).expect("a ConfigProposalState"))
}

/// The supervisor's record of a migration request.
pub fn migration_state(testkit: &TestKit, request: &MigrationRequest) -> MigrationState {
    let answer = testkit
        .query("supervisor", "migration-status", &request.encode_to_vec())
        .expect("the request is known");
    MigrationState::decode(answer.as_slice()).expect("a MigrationState")
}

/// Asks for a migration from a quorum of validators in one block.
pub fn request_migration(testkit: &mut TestKit, mode: SupervisorMode, request: &MigrationRequest) -> BlockOutcome {
    let needed = quorum(testkit.validators().len(), mode);
    let requests = (0..needed)
        .map(|validator| testkit.sign_as_validator(validator, REQUEST_MIGRATION, request.encode_to_vec()))
        .collect();
    testkit.create_block_with(requests)
}

/// Every artifact and instance, as the `services` query answers.
pub fn services(testkit: &TestKit) -> ServicesView {
    let answer = testkit
        .query("supervisor", "services", &[])
        .expect("the supervisor answers");
    ServicesView::decode(answer.as_slice()).expect("a ServicesView")
}

/// The id of the instance called `name`.
pub fn instance_id(testkit: &TestKit, name: &str) -> Option<u32> {
    services(testkit)
        .instances
        .into_iter()
        .filter_map(|record| record.spec)
        .find(|spec| spec.name == name)
        .map(|spec| spec.id)
}

/// A StartService change.
pub fn start(artifact: &ArtifactId, name: &str, config: &[u8]) -> config_change::Kind {
    config_change::Kind::StartService(StartService {
        artifact: Some(artifact.clone()),
        name: name.into(),
        config: config.to_vec(),
    })
}

/// Deploys the notebook as `version` and starts it as `name` (titled
/// `title`); returns its id.
pub fn notebook(testkit: &mut TestKit, mode: SupervisorMode, version: &str, name: &str, title: &str) -> u32 {
    let artifact = artifact("notebook", version);
    deploy(testkit, mode, &artifact, wasmvisor_artifacts::NOTEBOOK.bytes);
    let block = enact(testkit, mode, vec![start(&artifact, name, title.as_bytes())]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
    instance_id(testkit, name).expect("the notebook started")
}

/// Signs a notebook note from a non-validator.
pub fn note(testkit: &TestKit, instance_id: u32, text: &str) -> Vec<u8> {
    let author = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let call = CallInfo {
        instance_id,
        method_id: 0,
    };
    testkit.sign(&author, call, text.as_bytes().to_vec())
}
