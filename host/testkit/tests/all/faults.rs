//! Node-local failures are never block outcomes: each read of the store in
//! a run of three blocks — under the wasm supervisor's hooks, wasm and
//! native token transactions, the dispatcher's registries, the admission
//! check, the commit path, the after-commit that follows a block's write —
//! fails in turn and ends the block's execution (or the commit) with a
//! node error, and the chain, restarted on the same store, goes on from
//! its last stored block and makes exactly the reference run's blocks. The
//! blocks hold no lifecycle transition and no call between services.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::blocks::{block_hash, sign_precommit};
use wasmvisor_blockchain::{BlockError, BlockHeader, Blockchain, Rejection, TransactionError, sign};
use wasmvisor_native::{NativeRuntime, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer};
use wasmvisor_runtime::{CallInfo, Runtime};
use wasmvisor_storage::{Database, FaultMode, FaultyDatabase};
use wasmvisor_testkit::{SupervisorMode, TestKitBuilder, Validator};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

const BLOCKS: u64 = 3;
const WASM_TOKEN: u32 = 3;
const NATIVE_TOKEN: u32 = 4;

fn builder() -> TestKitBuilder {
    let params = TokenConfig { issue_max: 1_000 }.encode_to_vec();
    TestKitBuilder::new(1)
        .with_supervisor(SupervisorMode::Simple)
        .with_wasm_service(
            WASM_TOKEN,
            "token",
            "wasmvisor.token",
            wasmvisor_artifacts::TOKEN.bytes,
            params.clone(),
        )
        .with_native_service(NATIVE_TOKEN, "native-token", Arc::new(TokenService), params)
}

/// Fresh runtimes, compiling through `cache` (so that a run costs blocks,
/// not compilations).
fn runtimes(cache: &std::path::Path) -> Vec<Arc<dyn Runtime>> {
    let wasm = WasmRuntime::new(WasmRuntimeConfig {
        compiled_cache_dir: Some(cache.to_owned()),
        ..WasmRuntimeConfig::default()
    })
    .unwrap();
    vec![
        Arc::new(NativeRuntime::new(vec![Arc::new(TokenService)])),
        Arc::new(wasm),
    ]
}

/// Block `height`'s transactions, to both tokens: wallets, issues, a
/// transfer, and one that fails (a wallet created twice).
fn transactions(chain_id: &[u8; 32], height: u64) -> Vec<Vec<u8>> {
    let key = |seed: u64| SigningKey::from_bytes(&[seed as u8; 32]);
    let mut signed = Vec::new();
    for instance_id in [WASM_TOKEN, NATIVE_TOKEN] {
        let call = |method_id| CallInfo { instance_id, method_id };
        for wallet in 0..2 {
            let seed = height * 10 + wallet;
            let name = format!("w{seed}");
            signed.push(sign(
                &key(seed),
                chain_id,
                call(0),
                CreateWallet { name }.encode_to_vec(),
            ));
            signed.push(sign(
                &key(seed),
                chain_id,
                call(1),
                Issue { amount: 50, seed }.encode_to_vec(),
            ));
        }
        let to = key(height * 10 + 1).verifying_key().to_bytes().to_vec();
        let transfer = Transfer {
            to,
            amount: 20,
            seed: height,
        };
        signed.push(sign(&key(height * 10), chain_id, call(2), transfer.encode_to_vec()));
        let again = CreateWallet { name: "again".into() };
        signed.push(sign(&key(height * 10), chain_id, call(0), again.encode_to_vec()));
    }
    signed
}

/// Opens the chain on `database` (genesis or resume) and commits blocks up
/// to [`BLOCKS`], pushing each header; the first error.
fn run(database: Arc<dyn Database>, cache: &std::path::Path, headers: &mut Vec<BlockHeader>) -> Result<(), BlockError> {
    let builder = builder();
    let validator = Validator::numbered(0);
    let node_key = Some(validator.service_key.verifying_key().to_bytes());
    let (mut chain, _) = Blockchain::open(database, runtimes(cache), || builder.genesis_config(), node_key)?;
    let result = (|| {
        for height in chain.last_header()?.height + 1..=BLOCKS {
            let chain_id = chain.chain_id();
            let verified = transactions(&chain_id, height)
                .iter()
                .map(|signed| match chain.verify(signed) {
                    Ok(transaction) => Ok(transaction),
                    Err(TransactionError::Node(error)) => Err(BlockError::Node(error)),
                    Err(error) => panic!("the transactions verify: {error}"),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let block = chain.execute(&verified)?;
            let precommit = sign_precommit(&validator.consensus_key, 0, &chain_id, height, 0, &block.hash);
            headers.push(chain.commit(block, vec![precommit])?);
        }
        Ok(())
    })();
    chain.shutdown();
    result
}

#[test]
fn a_read_failing_anywhere_in_a_block_is_never_recorded_and_the_chain_resumes_identically() {
    let cache = tempfile::tempdir().unwrap();
    let reference_disk = Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Fail));
    let mut reference = Vec::new();
    run(
        Arc::clone(&reference_disk) as Arc<dyn Database>,
        cache.path(),
        &mut reference,
    )
    .unwrap();
    assert_eq!(reference.len() as u64, BLOCKS);
    assert!(reference.iter().all(|header| header.tx_count == 12), "{reference:?}");
    let total_reads = reference_disk.reads_made();
    assert!(total_reads > 300, "a long enough run: {total_reads} reads");

    let mut failed_runs = 0;
    let mut after_merge = 0;
    let mut ignored = Vec::new();
    for failing in 0..total_reads {
        let faulty = Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Fail).failing_read(failing));
        let mut headers = Vec::new();
        let outcome = run(Arc::clone(&faulty) as Arc<dyn Database>, cache.path(), &mut headers);
        let same_as_reference = |headers: &[BlockHeader], when: &str| {
            for header in headers {
                assert_eq!(
                    block_hash(header),
                    block_hash(&reference[header.height as usize - 1]),
                    "read {failing} failing: {when}, block {} differs from the reference",
                    header.height
                );
            }
        };
        same_as_reference(&headers, "before the failure");
        match outcome {
            Ok(()) => ignored.push(failing),
            Err(error) => {
                failed_runs += 1;
                let text = error.to_string();
                assert!(
                    text.contains(&format!("injected failure of read {failing}")),
                    "read {failing}: the error names the failed read: {text}"
                );
                // Restarted on the same store, it makes the reference's
                // blocks.
                let mut rest = Vec::new();
                run(Arc::new(faulty.reopen()), cache.path(), &mut rest)
                    .unwrap_or_else(|error| panic!("read {failing} failing: the restart fails: {error}"));
                same_as_reference(&rest, "after the restart");
                // It goes on from the block after its last stored one: the
                // block that failed, or — when the failure came after that
                // block was written (its after-commit) — the next one,
                // without running the stored one again.
                let reported = headers.last().map_or(0, |header| header.height);
                let resumed = rest.first().map_or(BLOCKS + 1, |header| header.height);
                assert!(
                    resumed == reported + 1 || resumed == reported + 2,
                    "read {failing} failing: reported {reported}, resumed at {resumed}"
                );
                if resumed == reported + 2 {
                    after_merge += 1;
                }
            }
        }
    }
    // No failed read went unnoticed (an admission check that took a failed
    // read for "no limit" did, before it reported it).
    assert!(ignored.is_empty(), "failed reads that were ignored: {ignored:?}");
    assert_eq!(failed_runs, total_reads);
    assert!(after_merge > 0, "some failures came after a block was written");
}

/// Opens the chain of [`builder`] on `database` (genesis or resume).
fn open(database: Arc<dyn Database>, cache: &std::path::Path) -> Blockchain {
    let builder = builder();
    let node_key = Some(Validator::numbered(0).service_key.verifying_key().to_bytes());
    Blockchain::open(database, runtimes(cache), || builder.genesis_config(), node_key)
        .unwrap()
        .0
}

#[test]
fn a_proposal_this_node_fails_to_check_is_never_judged_invalid() {
    let cache = tempfile::tempdir().unwrap();
    // Block 1 as a proposer makes it.
    let mut proposer = open(Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Fail)), cache.path());
    let chain_id = proposer.chain_id();
    let verified: Vec<_> = transactions(&chain_id, 1)
        .iter()
        .map(|signed| proposer.verify(signed).unwrap())
        .collect();
    let (_, value) = proposer.propose(&verified).unwrap();
    proposer.shutdown();

    // Another validator checks it: how many reads that takes.
    let disk = Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Fail));
    let mut validator = open(Arc::clone(&disk) as Arc<dyn Database>, cache.path());
    let opened = disk.reads_made();
    validator.validate(&value).expect("the proposal is valid");
    let checked = disk.reads_made();
    validator.shutdown();
    assert!(checked - opened > 50, "{} reads", checked - opened);

    // With any one of those reads failing, the verdict is this node's
    // failure — which stops it — and never "invalid" (a vote against a
    // valid block) or "valid".
    for failing in opened..checked {
        let disk = Arc::new(FaultyDatabase::new(u64::MAX, FaultMode::Fail).failing_read(failing));
        let mut validator = open(Arc::clone(&disk) as Arc<dyn Database>, cache.path());
        assert_eq!(disk.reads_made(), opened, "the same reads to open");
        match validator.validate(&value) {
            Err(Rejection::Node(error)) => assert!(
                error
                    .to_string()
                    .contains(&format!("injected failure of read {failing}")),
                "read {failing}: {error}"
            ),
            Err(Rejection::Invalid(invalid)) => panic!("read {failing} failing: judged invalid: {invalid}"),
            Ok(_) => panic!("read {failing} failing: judged valid"),
        }
        validator.shutdown();
    }
}
