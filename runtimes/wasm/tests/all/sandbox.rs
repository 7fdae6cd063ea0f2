//! Hostile guests are contained: each attack fails its own call with the
//! expected error kind, the other transactions of the block commit, and
//! blocks keep coming. Fuel exhaustion cuts a workload at the same point on
//! every run.

use std::sync::Arc;

use crate::support::{block, spec};
use wasmvisor_artifacts::{HOSTILE, TOKEN};
use wasmvisor_dispatcher::{CommittedBlock, Dispatcher, GenesisConfig, Transaction};
use wasmvisor_limits::GUEST_SDK_HEAP_BYTES;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, TokenConfig};
use wasmvisor_runtime::Meter;
use wasmvisor_runtime::{ArtifactId, CallInfo, CallLocation, ErrorKind, InstanceSpec, QueryError, Runtime, runtime_id};
use wasmvisor_storage::{Database, Fork, MemoryDatabase, Namespace};
use wasmvisor_wasm::{
    ArtifactId as GuestArtifactId, CallEnv, CallOutcome, Caller, ForkStorage, InstanceSpec as GuestInstanceSpec,
    NodeFailure, Privilege, RuntimeErrorCode, ServiceComponent, StorageAccess, WasmRuntime, WasmRuntimeConfig,
    WasmService, deterministic_engine,
};

const TOKEN_ID: u32 = 2;
const HOSTILE_ID: u32 = 3;

fn chain() -> Dispatcher {
    chain_with_fuel(0)
}

/// A chain whose consensus configuration sets `fuel` per transaction (0:
/// the default), with the token and the hostile guest.
fn chain_with_fuel(fuel: u64) -> Dispatcher {
    chain_of(fuel, true).0
}

/// A chain with `fuel` per transaction, and its wasm runtime (for the fuel
/// it reports having burned), with the hostile guest only.
fn chain_and_runtime(fuel: u64) -> (Dispatcher, Arc<WasmRuntime>) {
    chain_of(fuel, false)
}

fn chain_of(fuel: u64, with_token: bool) -> (Dispatcher, Arc<WasmRuntime>) {
    let runtime = Arc::new(WasmRuntime::new(WasmRuntimeConfig::default()).unwrap());
    let mut dispatcher = Dispatcher::new(
        Arc::new(wasmvisor_storage::MemoryDatabase::new()),
        vec![Arc::clone(&runtime) as Arc<dyn Runtime>],
    );
    let token = ArtifactId::new(runtime_id::WASM, "wasmvisor.token", "1.0.0").unwrap();
    let hostile = ArtifactId::new(runtime_id::WASM, "test.hostile", "1.0.0").unwrap();
    let mut artifacts = vec![(hostile.clone(), spec(HOSTILE.bytes))];
    let mut instances = vec![(
        InstanceSpec {
            id: HOSTILE_ID,
            name: "hostile".into(),
            artifact: hostile,
        },
        vec![],
    )];
    if with_token {
        artifacts.push((token.clone(), spec(TOKEN.bytes)));
        instances.push((
            InstanceSpec {
                id: TOKEN_ID,
                name: "token".into(),
                artifact: token,
            },
            TokenConfig { issue_max: 0 }.encode_to_vec(),
        ));
    }
    dispatcher
        .genesis(GenesisConfig {
            consensus: wasmvisor_proto::blockchain::ConsensusConfig {
                fuel_per_transaction_max: fuel,
                ..Default::default()
            },
            artifacts,
            instances,
        })
        .unwrap();
    (dispatcher, runtime)
}

/// The fuel one block of `transactions` burned in `runtime`'s guests.
fn fuel_of(chain: &mut Dispatcher, runtime: &WasmRuntime, transactions: &[Transaction]) -> (u64, CommittedBlock) {
    let before = runtime.metrics().fuel_consumed;
    let committed = block(chain, transactions);
    (runtime.metrics().fuel_consumed - before, committed)
}

fn transaction(instance_id: u32, method_id: u32, arguments: Vec<u8>, seed: u8) -> Transaction {
    Transaction {
        author: [seed; 32],
        hash: [seed; 32],
        call: CallInfo { instance_id, method_id },
        arguments,
    }
}

fn runtime_code(code: RuntimeErrorCode) -> ErrorKind {
    ErrorKind::Runtime(code as u8)
}

#[test]
fn every_attack_fails_alone_and_the_block_commits() {
    let mut chain = chain();
    let wallet = |seed| {
        transaction(
            TOKEN_ID,
            0,
            CreateWallet {
                name: format!("w{seed}"),
            }
            .encode_to_vec(),
            seed,
        )
    };
    let attacks = [
        (0, runtime_code(RuntimeErrorCode::FuelExhausted), "infinite loop"),
        (1, runtime_code(RuntimeErrorCode::ResourceLimit), "memory bomb"),
        (2, runtime_code(RuntimeErrorCode::StackExhausted), "deep recursion"),
        (3, ErrorKind::Unexpected, "panic"),
        (4, runtime_code(RuntimeErrorCode::StorageFailure), "oversized value"),
        (5, runtime_code(RuntimeErrorCode::StorageFailure), "oversized key"),
        (8, ErrorKind::Unexpected, "write then trap"),
    ];
    let mut transactions = vec![wallet(1)];
    transactions.extend(
        attacks
            .iter()
            .map(|(method, _, _)| transaction(HOSTILE_ID, *method, vec![], 10 + *method as u8)),
    );
    transactions.push(wallet(2));
    let committed = block(&mut chain, &transactions);

    assert!(
        !committed.errors.contains_key(&CallLocation::Transaction(0)),
        "the first honest transaction committed"
    );
    for (position, (_, expected, what)) in attacks.iter().enumerate() {
        let error = &committed.errors[&CallLocation::Transaction(position as u32 + 1)];
        assert_eq!(error.kind, *expected, "{what}: {}", error.description);
    }
    let last = attacks.len() as u32 + 1;
    assert!(
        !committed.errors.contains_key(&CallLocation::Transaction(last)),
        "the last honest transaction committed"
    );
    assert_eq!(committed.errors.len(), attacks.len());

    // The write before the trap was rolled back; the wallets exist.
    let marker = chain.query("hostile", "counter", &[]).unwrap();
    assert_eq!(marker, 0u64.to_le_bytes());
    let mut fork = chain.read_fork();
    let address =
        wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Service(HOSTILE_ID), "marker").unwrap();
    assert_eq!(fork.entry(&address).unwrap().get().unwrap(), None);
    assert_eq!(
        fork.proof_map(
            &wasmvisor_storage::IndexAddress::new(wasmvisor_storage::Namespace::Service(TOKEN_ID), "wallets").unwrap()
        )
        .unwrap()
        .len()
        .unwrap(),
        2
    );

    // And the chain keeps producing blocks.
    let next = block(&mut chain, &[wallet(3)]);
    assert!(next.errors.is_empty());
    assert_eq!(chain.height(), Some(2));
}

#[test]
fn traps_in_hooks_and_queries_are_contained() {
    let mut chain = chain();
    block(&mut chain, &[transaction(HOSTILE_ID, 7, vec![], 1)]);
    let committed = block(
        &mut chain,
        &[transaction(
            TOKEN_ID,
            0,
            CreateWallet { name: "w".into() }.encode_to_vec(),
            2,
        )],
    );
    assert_eq!(
        committed.errors[&CallLocation::BeforeTransactions(HOSTILE_ID)].kind,
        ErrorKind::Unexpected
    );
    assert_eq!(
        committed.errors[&CallLocation::AfterTransactions(HOSTILE_ID)].kind,
        ErrorKind::Unexpected
    );
    assert!(
        !committed.errors.contains_key(&CallLocation::Transaction(0)),
        "the transaction still committed"
    );
    assert!(matches!(
        chain.query("hostile", "trap", &[]),
        Err(QueryError::Internal(_))
    ));
    // A query that takes memory and spins ends when its fuel does.
    match chain.query("hostile", "hog", &[]) {
        Err(QueryError::Internal(message)) => assert!(message.contains("fuel"), "{message}"),
        other => panic!("the hog query answered {other:?}"),
    }
    assert!(matches!(
        chain.query("token", "wallet", &[0xff]),
        Err(QueryError::BadRequest(_))
    ));
}

/// The hostile guest's memory, in pages, when its query's instance was
/// created and after the query allocated and wrote `bytes`.
fn memory_pages_after_allocating(chain: &Dispatcher, bytes: usize) -> (u32, u32) {
    let answer = chain
        .query("hostile", "heap", &u32::try_from(bytes).unwrap().to_le_bytes())
        .unwrap();
    let pages = |at: usize| u32::from_le_bytes(answer[at..at + 4].try_into().unwrap());
    (pages(0), pages(4))
}

#[test]
fn a_call_that_allocates_within_the_sdk_heap_never_grows_its_memory() {
    let chain = chain();
    // Well inside the heap the SDK's allocator starts with: the instance's
    // memory stays as it was created, arguments and answer included (a
    // memory that grows must be shrunk back, at a cost to the whole node,
    // before its slot serves the next call).
    for bytes in [
        0,
        1,
        4 << 10,
        64 << 10,
        GUEST_SDK_HEAP_BYTES / 2,
        GUEST_SDK_HEAP_BYTES * 3 / 4,
    ] {
        let (created, now) = memory_pages_after_allocating(&chain, bytes);
        assert!(created > 0);
        assert_eq!(now, created, "{bytes} bytes allocated grew the memory");
    }
    // More than the heap holds: the memory grows, as it always could.
    let (created, now) = memory_pages_after_allocating(&chain, GUEST_SDK_HEAP_BYTES + 1);
    assert!(now > created, "{created} pages then {now}");
}

fn hostile_service() -> WasmService {
    let engine = deterministic_engine().unwrap();
    let component = ServiceComponent::compile(&engine, HOSTILE.bytes, Privilege::Service).unwrap();
    WasmService::new(&engine, &component).unwrap()
}

/// The hostile service's call environment on `fork` with `fuel`.
fn env(fork: Fork, fuel: u64) -> CallEnv {
    CallEnv {
        instance: GuestInstanceSpec {
            id: HOSTILE_ID,
            name: "hostile".into(),
            artifact: GuestArtifactId {
                runtime_id: 1,
                name: "test.hostile".into(),
                version: "1.0.0".into(),
            },
        },
        caller: Caller::Blockchain,
        height: 1,
        access: StorageAccess::ReadWrite,
        storage: Box::new(ForkStorage::new(
            fork,
            Namespace::Service(HOSTILE_ID),
            NodeFailure::default(),
        )),
        calls: None,
        lifecycle: None,
        after_commit: None,
        meter: Meter::new(fuel),
        node_failure: NodeFailure::default(),
    }
}

/// The fork a call ran on, with whatever it wrote (nothing rolled back).
fn fork_of<T>(outcome: &mut Option<CallOutcome<T>>) -> Fork {
    let outcome = outcome.take().expect("an outcome");
    outcome.env.storage.into_fork_storage().unwrap().into_fork()
}

fn empty_fork() -> Fork {
    Fork::new(MemoryDatabase::new().snapshot())
}

#[test]
fn constructor_and_resume_traps_are_errors() {
    let service = hostile_service();
    let error = service
        .initialize(env(empty_fork(), 1_000_000), b"trap")
        .result
        .unwrap_err();
    assert_eq!(error.kind, wasmvisor_wasm::ErrorKind::Unexpected);
    let error = service
        .resume(env(empty_fork(), 1_000_000), b"trap")
        .result
        .unwrap_err();
    assert_eq!(error.kind, wasmvisor_wasm::ErrorKind::Unexpected);
    service
        .initialize(env(empty_fork(), 1_000_000), b"fine")
        .result
        .unwrap();
}

#[test]
fn fuel_cuts_a_workload_at_the_same_point_on_every_run() {
    // The failed call's writes are not rolled back here, so the counter
    // shows exactly how far the call got before its fuel ran out.
    let run = || {
        let service = hostile_service();
        let mut outcome = Some(service.execute(env(empty_fork(), 3_000_000), "", 6, &1_000_000u64.to_le_bytes()));
        let (error, fuel_consumed) = {
            let outcome = outcome.as_ref().unwrap();
            (outcome.result.clone().unwrap_err(), outcome.fuel_consumed)
        };
        assert_eq!(
            (error.kind, error.code),
            (
                wasmvisor_wasm::ErrorKind::Runtime,
                RuntimeErrorCode::FuelExhausted as u8
            )
        );
        let reached = service
            .query(env(fork_of(&mut outcome), 1_000_000), "counter", &[])
            .result
            .unwrap()
            .unwrap();
        (u64::from_le_bytes(reached.try_into().unwrap()), fuel_consumed)
    };
    let (first_count, first_fuel) = run();
    let (second_count, second_fuel) = run();
    assert!(
        first_count > 0 && first_count < 1_000_000,
        "cut off mid-way: {first_count}"
    );
    assert_eq!(first_count, second_count, "the same iteration on every run");
    assert_eq!(first_fuel, second_fuel);
}

#[test]
fn the_fuel_allowance_comes_from_the_consensus_configuration() {
    // The node-local default (50M) is the same in both chains; only the
    // consensus configuration differs.
    let workload = || transaction(HOSTILE_ID, 6, 200u64.to_le_bytes().to_vec(), 1);
    let mut generous = chain_with_fuel(20_000_000);
    assert_eq!(
        generous.consensus_config().unwrap().fuel_per_transaction_max,
        20_000_000
    );
    assert!(block(&mut generous, &[workload()]).errors.is_empty());
    assert_eq!(generous.query("hostile", "counter", &[]).unwrap(), 200u64.to_le_bytes());

    let mut frugal = chain_with_fuel(200_000);
    let committed = block(&mut frugal, &[workload()]);
    assert_eq!(
        committed.errors[&CallLocation::Transaction(0)].kind,
        runtime_code(RuntimeErrorCode::FuelExhausted)
    );
    assert_eq!(
        frugal.query("hostile", "counter", &[]).unwrap(),
        0u64.to_le_bytes(),
        "rolled back"
    );
}

/// Arguments of hostile method 20: `k` sequential nested calls of the
/// counter workload with `n` increments each.
fn nested_workload(k: u32, n: u64) -> Vec<u8> {
    [&k.to_le_bytes()[..], &n.to_le_bytes()].concat()
}

#[test]
fn nested_calls_run_on_what_their_transaction_has_left() {
    // What one nested workload burns, with fuel to spare.
    let (mut roomy, runtime) = chain_and_runtime(1_000_000_000);
    let (one, committed) = fuel_of(
        &mut roomy,
        &runtime,
        &[transaction(HOSTILE_ID, 20, nested_workload(1, 200), 1)],
    );
    assert!(committed.errors.is_empty(), "{:?}", committed.errors);
    let (two, committed) = fuel_of(
        &mut roomy,
        &runtime,
        &[transaction(HOSTILE_ID, 20, nested_workload(2, 200), 2)],
    );
    assert!(committed.errors.is_empty(), "{:?}", committed.errors);
    assert!(two > one, "two callees burn more than one: {two} vs {one}");

    // A transaction with fuel for one workload and a half: one nested
    // workload fits; two do not, although each alone would — the callees
    // share what the transaction has, they do not each get a fresh allowance.
    let (mut tight, _) = chain_and_runtime(one * 3 / 2);
    let committed = block(&mut tight, &[transaction(HOSTILE_ID, 20, nested_workload(1, 200), 1)]);
    assert!(committed.errors.is_empty(), "{:?}", committed.errors);
    let committed = block(&mut tight, &[transaction(HOSTILE_ID, 20, nested_workload(2, 200), 2)]);
    assert_eq!(
        committed.errors[&CallLocation::Transaction(0)].kind,
        runtime_code(RuntimeErrorCode::FuelExhausted)
    );
    assert_eq!(
        tight.query("hostile", "counter", &[]).unwrap(),
        200u64.to_le_bytes(),
        "the failed transaction's writes were rolled back, nested ones included"
    );
}

#[test]
fn host_calls_cost_fuel_by_the_bytes_they_write() {
    let (mut chain, runtime) = chain_and_runtime(0);
    let fill = |count: u32, seed| transaction(HOSTILE_ID, 16, count.to_le_bytes().to_vec(), seed);
    let (one, _) = fuel_of(&mut chain, &runtime, &[fill(1, 1)]);
    let (three, _) = fuel_of(&mut chain, &runtime, &[fill(3, 2)]);
    // Each entry is a key of 8 bytes and a value of 64 KiB.
    let per_entry = (three - one) / 2;
    let written = wasmvisor_limits::WRITE_BYTE_FUEL * (8 + (64 << 10)) + wasmvisor_limits::HOST_CALL_FUEL;
    assert!(
        per_entry >= written,
        "an entry of 64 KiB cost {per_entry} fuel; its write alone costs {written}"
    );
}

#[test]
fn budget_attacks_end_with_their_codes_and_the_chain_goes_on() {
    let (mut chain, _) = chain_and_runtime(0);
    let attack = |chain: &mut Dispatcher, method: u32, arguments: Vec<u8>, seed: u8| {
        let committed = block(chain, &[transaction(HOSTILE_ID, method, arguments, seed)]);
        committed
            .errors
            .get(&CallLocation::Transaction(0))
            .map(|error| error.kind)
    };
    let fuel = Some(runtime_code(RuntimeErrorCode::FuelExhausted));
    let write_budget = Some(ErrorKind::Core(wasmvisor_runtime::CoreError::WriteBudgetExceeded as u8));
    assert_eq!(
        attack(&mut chain, 13, 8u32.to_le_bytes().to_vec(), 1),
        fuel,
        "nested-call bomb"
    );
    assert_eq!(attack(&mut chain, 14, Vec::new(), 2), fuel, "host-call loop");
    assert_eq!(attack(&mut chain, 15, Vec::new(), 3), write_budget, "write bomb");
    assert_eq!(
        attack(&mut chain, 16, 200u32.to_le_bytes().to_vec(), 4),
        None,
        "filling `wide`"
    );
    assert_eq!(attack(&mut chain, 17, Vec::new(), 5), fuel, "range bomb");
    assert_eq!(
        attack(&mut chain, 22, Vec::new(), 12),
        fuel,
        "ranges passing over removed entries"
    );
    // A range over an entry moves its value like a `get`, and pays for it:
    // a hundred ranges of 1 MiB are more than a transaction's fuel (one
    // would be 1,000 fuel for the call alone if the value were free).
    assert_eq!(
        attack(&mut chain, 23, 100u32.to_le_bytes().to_vec(), 13),
        fuel,
        "ranges over a large entry"
    );
    assert_eq!(
        attack(&mut chain, 23, 2u32.to_le_bytes().to_vec(), 14),
        None,
        "two ranges over it are affordable"
    );
    for seed in 6..10 {
        assert_eq!(
            attack(&mut chain, 18, 15_000u32.to_le_bytes().to_vec(), seed),
            None,
            "filling `many`"
        );
    }
    assert_eq!(
        attack(&mut chain, 19, Vec::new(), 10),
        write_budget,
        "clear of a large index"
    );
    // Every attack was rolled back, and the chain goes on.
    assert_eq!(attack(&mut chain, 6, 3u64.to_le_bytes().to_vec(), 11), None);
    assert_eq!(chain.query("hostile", "counter", &[]).unwrap(), 3u64.to_le_bytes());
}

#[test]
fn error_descriptions_are_cut_to_their_limit_before_they_are_recorded() {
    let (mut chain, _) = chain_and_runtime(0);
    let max = wasmvisor_limits::ERROR_DESCRIPTION_BYTES_MAX;
    for (seed, length) in [(1u8, max - 1), (2, max), (3, max + 1), (4, 16 << 20)] {
        let argument = u32::try_from(length).unwrap().to_le_bytes().to_vec();
        let committed = block(&mut chain, &[transaction(HOSTILE_ID, 21, argument, seed)]);
        let error = &committed.errors[&CallLocation::Transaction(0)];
        assert_eq!(error.kind, ErrorKind::Service(7));
        assert_eq!(
            error.description.len(),
            length.min(max),
            "a description of {length} bytes"
        );
    }
}
