//! The scenario suite: one artifact's whole life on a 4-validator network
//! in decentralized mode, driven only by signed transactions (the
//! validators' requests, proposals, votes and reports, and this node's own
//! broadcasts from its pool), between blocks of token transfers in both
//! runtimes, then replayed on a fresh node. `block_log.rs` keeps a
//! recording of this chain as a fixture.

use std::sync::Arc;

use wasmvisor_native::{TOKEN_ARTIFACT_NAME, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::supervisor::{
    FreezeService, MigrationRequest, MigrationResult, MigrationStatus, ResumeService, ServiceConfig, StopService,
    SupervisorMode, UnloadArtifact, config_change::Kind, migration_result,
};
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer};
use wasmvisor_runtime::{CallInfo, InstanceStatus};
use wasmvisor_testkit::governance::*;
use wasmvisor_testkit::{SigningKey, TestKit, TestKitBuilder};

const MODE: SupervisorMode = SupervisorMode::Decentralized;
const VALIDATORS: usize = 4;

fn enacted(testkit: &mut TestKit, change: Kind) {
    let block = enact(testkit, MODE, vec![change]);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
}

/// A quorum of validators asks for the migration.
fn migrate(testkit: &mut TestKit, request: &MigrationRequest) {
    let block = request_migration(testkit, MODE, request);
    assert!(block.errors.is_empty(), "{:?}", block.errors);
}

fn text(testkit: &TestKit, service: &str, query: &str) -> Vec<u8> {
    testkit.query(service, query, &[]).expect("the service answers")
}

#[test]
fn one_artifact_lives_its_whole_life_through_governance_and_replays() {
    let testkit = whole_life();
    // A fresh node replaying the block log reproduces every state root.
    testkit.replay().expect("the replay matches at every height");
}

/// The scenario's chain: four validators, the supervisor in decentralized
/// mode, and the token in both runtimes, whose wallets trade between the
/// governance steps (the block-log fixture records this chain).
pub fn genesis() -> TestKitBuilder {
    let params = TokenConfig { issue_max: 1_000_000 }.encode_to_vec();
    TestKitBuilder::new(VALIDATORS as u8)
        .with_supervisor(MODE)
        .with_native_service(NATIVE_TOKEN, "native-coins", Arc::new(TokenService), params.clone())
        .with_wasm_service(
            WASM_TOKEN,
            "coins",
            TOKEN_ARTIFACT_NAME,
            wasmvisor_artifacts::TOKEN.bytes,
            params,
        )
}

/// Instance ids of the tokens.
pub const NATIVE_TOKEN: u32 = 2;
/// See [`NATIVE_TOKEN`].
pub const WASM_TOKEN: u32 = 3;
/// Wallets trading in each token.
const WALLETS: u8 = 12;

/// A wallet owner's key.
pub fn wallet(index: u8) -> SigningKey {
    let mut seed = [0xb1; 32];
    seed[0] = index;
    SigningKey::from_bytes(&seed)
}

/// The same call to both tokens.
fn to_both_tokens(testkit: &TestKit, owner: &SigningKey, method_id: u32, arguments: &[u8]) -> [Vec<u8>; 2] {
    [NATIVE_TOKEN, WASM_TOKEN]
        .map(|instance_id| testkit.sign(owner, CallInfo { instance_id, method_id }, arguments.to_vec()))
}

/// Two blocks: every wallet created in both tokens, then funded.
fn open_wallets(testkit: &mut TestKit) {
    for (method_id, arguments) in [
        (
            0,
            (0..WALLETS)
                .map(|index| {
                    CreateWallet {
                        name: format!("wallet {index}"),
                    }
                    .encode_to_vec()
                })
                .collect::<Vec<_>>(),
        ),
        (
            1,
            (0..WALLETS)
                .map(|index| {
                    Issue {
                        amount: 50_000,
                        seed: u64::from(index),
                    }
                    .encode_to_vec()
                })
                .collect(),
        ),
    ] {
        let transactions = (0..WALLETS)
            .zip(&arguments)
            .flat_map(|(index, arguments)| to_both_tokens(testkit, &wallet(index), method_id, arguments))
            .collect();
        let block = testkit.create_block_with(transactions);
        assert!(block.errors.is_empty(), "{:?}", block.errors);
    }
}

/// `blocks` blocks of transfers in both tokens, a third of the wallets
/// sending in each; one transfer in eleven is for more than any wallet
/// holds, and fails in both runtimes alike.
fn trade(testkit: &mut TestKit, blocks: u64) {
    for _ in 0..blocks {
        let height = testkit.height();
        let mut transactions = Vec::new();
        let mut failing = 0;
        for index in (0..WALLETS).filter(|index| (u64::from(*index) + height).is_multiple_of(3)) {
            let to = wallet((index + 1 + (height % 7) as u8) % WALLETS);
            let too_much = (u64::from(index) * 7 + height).is_multiple_of(11);
            failing += usize::from(too_much);
            let transfer = Transfer {
                to: to.verifying_key().to_bytes().to_vec(),
                amount: if too_much { 10_000_000 } else { 1 + height % 97 },
                seed: height,
            };
            transactions.extend(to_both_tokens(testkit, &wallet(index), 2, &transfer.encode_to_vec()));
        }
        let block = testkit.create_block_with(transactions);
        assert_eq!(
            block.errors.len(),
            2 * failing,
            "at height {height}: {:?}",
            block.errors
        );
    }
}

/// The scenario, ending on a chain whose block log holds token traffic,
/// deploys, configuration, freezing, data migrations, unloading and the
/// supervisor's own upgrade.
pub fn whole_life() -> TestKit {
    let mut testkit = genesis().build();
    open_wallets(&mut testkit);
    trade(&mut testkit, 50);
    let v1 = artifact("notebook", "1.0.0");
    let v2 = artifact("notebook", "2.0.0");

    // Deployed and started (with its first configuration).
    deploy(&mut testkit, MODE, &v1, wasmvisor_artifacts::NOTEBOOK.bytes);
    enacted(&mut testkit, start(&v1, "journal", b"Journal"));
    let journal = instance_id(&testkit, "journal").expect("started");
    assert_eq!(testkit.instance_status(journal), Some(InstanceStatus::Active));
    let notes = ["first", "second"].map(|text| note(&testkit, journal, text)).to_vec();
    assert!(testkit.create_block_with(notes).errors.is_empty());
    trade(&mut testkit, 25);

    // Configured.
    enacted(
        &mut testkit,
        Kind::Service(ServiceConfig {
            instance_id: journal,
            params: b"Journal, volume 2".to_vec(),
        }),
    );
    assert_eq!(text(&testkit, "journal", "title"), b"Journal, volume 2");

    // Frozen, then resumed.
    enacted(
        &mut testkit,
        Kind::FreezeService(FreezeService { instance_id: journal }),
    );
    assert_eq!(testkit.instance_status(journal), Some(InstanceStatus::Frozen));
    let resume = Kind::ResumeService(ResumeService {
        instance_id: journal,
        params: Vec::new(),
    });
    enacted(&mut testkit, resume.clone());
    assert_eq!(testkit.instance_status(journal), Some(InstanceStatus::Active));
    assert!(
        testkit
            .create_block_with(vec![note(&testkit, journal, "third")])
            .errors
            .is_empty()
    );

    trade(&mut testkit, 25);

    // Migrated to 2.0.0 with a data migration: stopped, the new version
    // deployed, the migration run on every node and agreed on, flushed,
    // the new artifact associated (a fast-forward), resumed.
    enacted(&mut testkit, Kind::StopService(StopService { instance_id: journal }));
    deploy(&mut testkit, MODE, &v2, wasmvisor_artifacts::NOTEBOOK.bytes);
    let request = MigrationRequest {
        new_artifact: Some(v2.clone()),
        service: "journal".into(),
        deadline_height: testkit.height() + 100,
        seed: 0,
    };
    migrate(&mut testkit, &request);
    create_blocks_until(&mut testkit, |testkit| {
        !migration_state(testkit, &request).reports.is_empty()
    });
    let root = migration_state(&testkit, &request).reports[0].state_hash.clone();
    let reports = (1..VALIDATORS)
        .map(|validator| {
            let result = MigrationResult {
                request: Some(request.clone()),
                status: Some(migration_result::Status::StateHash(root.clone())),
            };
            testkit.sign_as_validator(validator, REPORT_MIGRATION, result.encode_to_vec())
        })
        .collect();
    assert!(testkit.create_block_with(reports).errors.is_empty());
    testkit.create_block();
    assert_eq!(
        migration_state(&testkit, &request).status,
        MigrationStatus::MigrationSucceeded as i32
    );
    migrate(
        &mut testkit,
        &MigrationRequest {
            seed: 1,
            ..request.clone()
        },
    );
    enacted(&mut testkit, resume);
    assert_eq!(testkit.instance_status(journal), Some(InstanceStatus::Active));
    assert_eq!(
        text(&testkit, "journal", "note-count"),
        3u64.to_le_bytes(),
        "migrated data"
    );
    assert_eq!(text(&testkit, "journal", "title"), b"Journal, volume 2", "kept data");

    trade(&mut testkit, 25);

    // Stopped for good; the version it no longer uses is unloaded.
    enacted(&mut testkit, Kind::StopService(StopService { instance_id: journal }));
    enacted(
        &mut testkit,
        Kind::UnloadArtifact(UnloadArtifact {
            artifact_id: Some(v1.clone()),
        }),
    );
    let artifacts: Vec<_> = services(&testkit)
        .artifacts
        .into_iter()
        .filter_map(|record| record.artifact)
        .collect();
    assert!(!artifacts.contains(&v1) && artifacts.contains(&v2), "{artifacts:?}");
    let refused = testkit.create_block_with(vec![note(&testkit, journal, "too late")]);
    assert_eq!(refused.errors.len(), 1, "a stopped service takes no transactions");

    // The supervisor itself upgraded, keeping its state.
    let number = configuration_number(&testkit);
    let next = artifact("wasmvisor.supervisor", "1.1.0");
    deploy(&mut testkit, MODE, &next, wasmvisor_artifacts::SUPERVISOR.bytes);
    let upgrade = MigrationRequest {
        new_artifact: Some(next.clone()),
        service: "supervisor".into(),
        deadline_height: testkit.height() + 10,
        seed: 0,
    };
    migrate(&mut testkit, &upgrade);
    let answer = testkit.query("supervisor", "supervisor-artifact", &[]).unwrap();
    assert_eq!(
        wasmvisor_proto::runtime::ArtifactId::decode(answer.as_slice()).unwrap(),
        next
    );
    assert_eq!(configuration_number(&testkit), number);
    enacted(
        &mut testkit,
        Kind::ResumeService(ResumeService {
            instance_id: journal,
            params: Vec::new(),
        }),
    );
    let call = CallInfo {
        instance_id: journal,
        method_id: 0,
    };
    let author = wasmvisor_testkit::Validator::numbered(200).service_key;
    assert!(
        testkit
            .create_block_with(vec![testkit.sign(&author, call, b"after".to_vec())])
            .errors
            .is_empty()
    );
    trade(&mut testkit, 50);
    testkit
}
