//! Deploys, service states and artifacts through governance.

use wasmvisor_proto::Message;
use wasmvisor_proto::runtime::ArtifactId;
use wasmvisor_proto::supervisor::{
    DeployState, DeployStatus, FreezeService, ResumeService, StopService, UnloadArtifact, config_change::Kind,
};
use wasmvisor_runtime::{CallLocation, ErrorKind, InstanceStatus};

use super::*;

#[test]
fn deploys_succeed_fail_on_one_validator_and_time_out() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let needed = quorum(count, mode);

        // Success (the helper asserts every step).
        deploy(
            &mut testkit,
            mode,
            &artifact("notebook", "1.0.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
        );
        assert!(
            services(&testkit)
                .artifacts
                .iter()
                .any(|record| record.artifact == Some(artifact("notebook", "1.0.0"))),
            "the artifact is registered"
        );

        // One validator's failure fails it, whatever the others report.
        let failing = deploy_request(
            &artifact("notebook", "1.1.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
            testkit.height() + 50,
            1,
        );
        let requests = (0..needed)
            .map(|validator| testkit.sign_as_validator(validator, REQUEST_DEPLOY, failing.encode_to_vec()))
            .collect();
        testkit.create_block_with(requests);
        let report = testkit.sign_as_validator(count - 1, REPORT_DEPLOY, deploy_report(&failing, Some("out of disk")));
        let block = testkit.create_block_with(vec![report]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
        let state = deploy_state(&testkit, &failing);
        assert_eq!(
            (state.status, state.error.as_str()),
            (DeployStatus::DeployFailed as i32, "out of disk")
        );

        // A retry with a new seed is a new request; left without reports
        // past its deadline, it times out.
        let height = testkit.height();
        let retry = deploy_request(
            &artifact("notebook", "1.1.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
            height + 3,
            2,
        );
        let requests = (0..needed)
            .map(|validator| testkit.sign_as_validator(validator, REQUEST_DEPLOY, retry.encode_to_vec()))
            .collect();
        testkit.create_block_with(requests);
        // Blocks without the pool: this node's own report never lands.
        testkit.create_blocks_until(height + 5);
        assert_eq!(
            deploy_state(&testkit, &retry).status,
            DeployStatus::DeployTimeout as i32
        );
        let late = testkit.sign_as_validator(0, REPORT_DEPLOY, deploy_report(&retry, None));
        let block = testkit.create_block_with(vec![late]);
        assert_eq!(
            block.errors[&CallLocation::Transaction(0)].kind,
            ErrorKind::Service(19),
            "DeployRequestNotRegistered"
        );
        assert!(
            !services(&testkit)
                .artifacts
                .iter()
                .any(|record| record.artifact == Some(artifact("notebook", "1.1.0"))),
            "neither attempt registered the artifact"
        );
        testkit.replay().unwrap();
    }
}

#[test]
fn services_stop_freeze_resume_and_unused_artifacts_unload() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let book = notebook(&mut testkit, mode, "1.0.0", "book", "Title");
        let block = testkit.create_block_with(vec![note(&testkit, book, "first")]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);

        let enacted = |testkit: &mut TestKit, change: Kind| {
            let block = enact(testkit, mode, vec![change]);
            assert!(block.errors.is_empty(), "{count} {mode:?}: {:?}", block.errors);
        };
        enacted(&mut testkit, Kind::FreezeService(FreezeService { instance_id: book }));
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Frozen));
        // Frozen: still answers queries, takes no transactions.
        assert_eq!(testkit.query("book", "count", &[]).unwrap(), 1u64.to_le_bytes());
        let block = testkit.create_block_with(vec![note(&testkit, book, "refused")]);
        assert_eq!(
            block.errors[&CallLocation::Transaction(0)].kind,
            ErrorKind::Core(6),
            "ServiceNotActive"
        );

        enacted(
            &mut testkit,
            Kind::ResumeService(ResumeService {
                instance_id: book,
                params: Vec::new(),
            }),
        );
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Active));
        let block = testkit.create_block_with(vec![note(&testkit, book, "second")]);
        assert!(block.errors.is_empty(), "{:?}", block.errors);

        enacted(&mut testkit, Kind::StopService(StopService { instance_id: book }));
        assert_eq!(testkit.instance_status(book), Some(InstanceStatus::Stopped));
        enacted(
            &mut testkit,
            Kind::ResumeService(ResumeService {
                instance_id: book,
                params: Vec::new(),
            }),
        );
        assert_eq!(
            testkit.query("book", "count", &[]).unwrap(),
            2u64.to_le_bytes(),
            "data survives"
        );

        // An artifact nobody uses unloads; the one in use does not.
        let spare = artifact("notebook", "1.0.1");
        deploy(&mut testkit, mode, &spare, wasmvisor_artifacts::NOTEBOOK.bytes);
        enacted(
            &mut testkit,
            Kind::UnloadArtifact(UnloadArtifact {
                artifact_id: Some(spare.clone()),
            }),
        );
        let artifacts: Vec<_> = services(&testkit)
            .artifacts
            .into_iter()
            .filter_map(|record| record.artifact)
            .collect();
        assert!(!artifacts.contains(&spare), "unloaded");
        assert!(artifacts.contains(&artifact("notebook", "1.0.0")), "in use: kept");
        // Once unloaded, the artifact can be deployed again.
        deploy(&mut testkit, mode, &spare, wasmvisor_artifacts::NOTEBOOK.bytes);
        testkit.replay().unwrap();
    }
}

/// Requests a deploy of `component` (approved by a quorum), waits for this
/// node's outcome, checks that it failed, and answers the request's state.
fn refused_deploy(
    testkit: &mut TestKit,
    count: usize,
    mode: SupervisorMode,
    artifact: &ArtifactId,
    component: &[u8],
) -> DeployState {
    let request = request_deploy(testkit, mode, artifact, component);
    create_blocks_until(testkit, |testkit| {
        deploy_state(testkit, &request).status != DeployStatus::DeployPending as i32
    });
    let state = deploy_state(testkit, &request);
    assert_eq!(
        state.status,
        DeployStatus::DeployFailed as i32,
        "{artifact:?} {count} {mode:?}"
    );
    state
}

/// `component` with a custom section appended (custom sections may come
/// anywhere in a component).
fn with_custom_section(component: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    fn leb128(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb128(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut out = component.to_vec();
    out.push(0);
    leb128(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    out
}

#[test]
fn a_component_with_a_malformed_interface_is_refused_at_deploy_with_the_reason() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let cases = [
            (
                "garbled",
                with_custom_section(wasmvisor_artifacts::PROBE.bytes, "wasmvisor:interface", b"{\"format\":1"),
                "the JSON does not parse",
            ),
            (
                "doubled",
                with_custom_section(wasmvisor_artifacts::TOKEN.bytes, "wasmvisor:interface", b"{}"),
                "more than one \"wasmvisor:interface\" section",
            ),
            (
                "undescribed",
                with_custom_section(
                    wasmvisor_artifacts::PROBE.bytes,
                    "wasmvisor:interface",
                    br#"{"format":1,"constructor":null,"configuration":null,"methods":[{"id":0,"name":"go","arguments":{"message":"x.Missing"}}],"queries":[],"errors":[]}"#,
                ),
                "message \"x.Missing\" is not in the service's descriptors",
            ),
        ];
        for (name, component, why) in cases {
            let state = refused_deploy(&mut testkit, count, mode, &artifact(name, "1.0.0"), &component);
            assert!(
                state.error.contains("interface is malformed"),
                "{name}: {}",
                state.error
            );
            assert!(state.error.contains(why), "{name}: {why:?} in {}", state.error);
        }
        // The same components without the extra section deploy.
        deploy(
            &mut testkit,
            mode,
            &artifact("probe", "1.0.0"),
            wasmvisor_artifacts::PROBE.bytes,
        );
        deploy(
            &mut testkit,
            mode,
            &artifact("token", "1.0.0"),
            wasmvisor_artifacts::TOKEN.bytes,
        );
        testkit.replay().unwrap();
    }
}

#[test]
fn a_component_importing_the_dispatcher_is_refused_at_deploy_and_the_chain_goes_on() {
    for (count, mode) in matrix() {
        let mut testkit = chain(count, mode);
        let sneaky = artifact("sneaky", "1.0.0");
        // This node's own deploy refuses the component and reports so.
        let intruder = wasmvisor_artifacts::DISPATCHER_INTRUDER.bytes;
        let state = refused_deploy(&mut testkit, count, mode, &sneaky, intruder);
        assert!(
            state.error.contains(wasmvisor_wasm::DISPATCHER_IMPORT),
            "{count} {mode:?}: the refusal names the forbidden import: {}",
            state.error
        );
        assert!(
            !services(&testkit)
                .artifacts
                .iter()
                .any(|record| record.artifact == Some(sneaky.clone())),
            "the artifact is not registered"
        );
        // The chain goes on: an ordinary component deploys afterwards.
        deploy(
            &mut testkit,
            mode,
            &artifact("notebook", "1.0.0"),
            wasmvisor_artifacts::NOTEBOOK.bytes,
        );
        testkit.replay().unwrap();
    }
}
