//! The token guest, called through the WIT contract under wasmtime.

use std::cell::RefCell;
use wasmvisor_artifacts::TOKEN;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};

use wasmvisor_runtime::Meter;
use wasmvisor_storage::{Database, Fork, MemoryDatabase, Namespace};
use wasmvisor_wasm::{
    ArtifactId, CallEnv, CallOutcome, Caller, ErrorKind, ExecutionError, ForkStorage, InstanceSpec, NodeFailure,
    Privilege, QueryError, RuntimeErrorCode, ServiceComponent, StorageAccess, TransactionCaller, WasmService,
    deterministic_engine,
};

const FUEL: u64 = 10_000_000;
const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];

/// A token instance whose storage is a fork of an in-memory database that
/// lives between calls (a failed call's writes are rolled back): every call
/// gets a fresh guest instance, so whatever survives is in host storage.
struct Harness {
    service: WasmService,
    fork: RefCell<Option<Fork>>,
}

impl Harness {
    fn new() -> Self {
        let engine = deterministic_engine().unwrap();
        let component = ServiceComponent::compile(&engine, TOKEN.bytes, Privilege::Service).unwrap();
        let service = WasmService::new(&engine, &component).unwrap();
        let harness = Self {
            service,
            fork: RefCell::new(Some(Fork::new(MemoryDatabase::new().snapshot()))),
        };
        let params = TokenConfig { issue_max: 1_000 }.encode_to_vec();
        harness
            .run(Caller::Blockchain, StorageAccess::ReadWrite, |service, env| {
                service.initialize(env, &params)
            })
            .unwrap();
        harness
    }

    /// Runs one call on the harness's fork and takes the fork back.
    fn run<T>(
        &self,
        caller: Caller,
        access: StorageAccess,
        call: impl FnOnce(&WasmService, CallEnv) -> CallOutcome<T>,
    ) -> Result<T, ExecutionError> {
        self.run_with(FUEL, caller, access, call).0
    }

    /// Runs one call with `fuel`; answers its result and the fuel it burned.
    fn run_with<T>(
        &self,
        fuel: u64,
        caller: Caller,
        access: StorageAccess,
        call: impl FnOnce(&WasmService, CallEnv) -> CallOutcome<T>,
    ) -> (Result<T, ExecutionError>, u64) {
        let fork = self.fork.borrow_mut().take().expect("one call at a time");
        let outcome = call(&self.service, self.env(fork, caller, access, fuel));
        let mut fork = outcome.env.storage.into_fork_storage().unwrap().into_fork();
        match &outcome.result {
            Ok(_) => fork.flush(),
            Err(_) => fork.rollback(),
        }
        *self.fork.borrow_mut() = Some(fork);
        (outcome.result, outcome.fuel_consumed)
    }

    fn env(&self, fork: Fork, caller: Caller, access: StorageAccess, fuel: u64) -> CallEnv {
        CallEnv {
            instance: InstanceSpec {
                id: 3,
                name: "token".into(),
                artifact: ArtifactId {
                    runtime_id: 1,
                    name: "wasmvisor.token".into(),
                    version: "1.0.0".into(),
                },
            },
            caller,
            height: 7,
            access,
            storage: Box::new(ForkStorage::new(fork, Namespace::Service(3), NodeFailure::default())),
            calls: None,
            lifecycle: None,
            after_commit: None,
            meter: Meter::new(fuel),
            node_failure: NodeFailure::default(),
        }
    }

    fn transaction(&self, author: [u8; 32], method_id: u32, arguments: &[u8]) -> Result<(), ExecutionError> {
        let caller = Caller::Transaction(TransactionCaller {
            author: author.to_vec(),
            tx_hash: vec![0; 32],
        });
        self.run(caller, StorageAccess::ReadWrite, |service, env| {
            service.execute(env, "", method_id, arguments)
        })
    }

    fn wallet(&self, owner: [u8; 32]) -> Result<Wallet, QueryError> {
        let arguments = WalletQuery { owner: owner.to_vec() }.encode_to_vec();
        self.run(Caller::Blockchain, StorageAccess::ReadOnly, |service, env| {
            service.query(env, "wallet", &arguments)
        })
        .expect("the query does not trap")
        .map(|bytes| Wallet::decode(bytes.as_slice()).unwrap())
    }
}

fn create_wallet(harness: &Harness, owner: [u8; 32], name: &str) {
    harness
        .transaction(owner, 0, &CreateWallet { name: name.into() }.encode_to_vec())
        .unwrap();
}

fn transfer(to: [u8; 32], amount: u64, seed: u64) -> Vec<u8> {
    Transfer {
        to: to.to_vec(),
        amount,
        seed,
    }
    .encode_to_vec()
}

#[test]
fn transfers_move_balances_between_wallets() {
    let harness = Harness::new();
    create_wallet(&harness, ALICE, "alice");
    create_wallet(&harness, BOB, "bob");
    harness
        .transaction(ALICE, 1, &Issue { amount: 500, seed: 1 }.encode_to_vec())
        .unwrap();
    harness.transaction(ALICE, 2, &transfer(BOB, 200, 1)).unwrap();

    let alice = harness.wallet(ALICE).unwrap();
    let bob = harness.wallet(BOB).unwrap();
    assert_eq!((alice.name.as_str(), alice.balance), ("alice", 300));
    assert_eq!((bob.name.as_str(), bob.balance), ("bob", 200));
    assert_eq!(alice.owner, ALICE.to_vec());
}

#[test]
fn service_errors_carry_the_services_codes() {
    let harness = Harness::new();
    create_wallet(&harness, ALICE, "alice");
    create_wallet(&harness, BOB, "bob");
    harness
        .transaction(ALICE, 1, &Issue { amount: 100, seed: 1 }.encode_to_vec())
        .unwrap();

    let insufficient = harness.transaction(ALICE, 2, &transfer(BOB, 101, 2)).unwrap_err();
    assert_eq!((insufficient.kind, insufficient.code), (ErrorKind::Service, 3));

    let duplicate = harness
        .transaction(ALICE, 0, &CreateWallet { name: "again".into() }.encode_to_vec())
        .unwrap_err();
    assert_eq!((duplicate.kind, duplicate.code), (ErrorKind::Service, 0));

    let over_limit = harness
        .transaction(ALICE, 1, &Issue { amount: 1_001, seed: 2 }.encode_to_vec())
        .unwrap_err();
    assert_eq!((over_limit.kind, over_limit.code), (ErrorKind::Service, 4));

    // A failed transfer changed nothing.
    assert_eq!(harness.wallet(ALICE).unwrap().balance, 100);
    assert_eq!(harness.wallet(BOB).unwrap().balance, 0);
}

#[test]
fn contract_errors_use_common_codes() {
    let harness = Harness::new();
    let unknown_method = harness.transaction(ALICE, 99, &[]).unwrap_err();
    assert_eq!((unknown_method.kind, unknown_method.code), (ErrorKind::Common, 1));

    let malformed = harness.transaction(ALICE, 2, &[0xff, 0xff, 0xff]).unwrap_err();
    assert_eq!((malformed.kind, malformed.code), (ErrorKind::Common, 3));

    // Not a transaction: no author, so UnauthorizedCaller.
    let arguments = CreateWallet { name: "nobody".into() }.encode_to_vec();
    let unauthorized = harness
        .run(Caller::Blockchain, StorageAccess::ReadWrite, |service, env| {
            service.execute(env, "", 0, &arguments)
        })
        .unwrap_err();
    assert_eq!((unauthorized.kind, unauthorized.code), (ErrorKind::Common, 2));
}

#[test]
fn queries_report_missing_wallets_and_cannot_write() {
    let harness = Harness::new();
    assert!(matches!(harness.wallet(BOB), Err(QueryError::NotFound(_))));

    // A transaction run with read-only storage is refused by the host, and
    // the SDK reports it as the runtime's StorageFailure code.
    let caller = Caller::Transaction(TransactionCaller {
        author: ALICE.to_vec(),
        tx_hash: vec![0; 32],
    });
    let arguments = CreateWallet { name: "alice".into() }.encode_to_vec();
    let refused = harness
        .run(caller, StorageAccess::ReadOnly, |service, env| {
            service.execute(env, "", 0, &arguments)
        })
        .unwrap_err();
    assert_eq!(
        (refused.kind, refused.code),
        (ErrorKind::Runtime, RuntimeErrorCode::StorageFailure as u8)
    );
    assert!(matches!(harness.wallet(ALICE), Err(QueryError::NotFound(_))));
}

#[test]
fn a_call_without_enough_fuel_fails_with_fuel_exhausted() {
    let harness = Harness::new();
    let caller = Caller::Transaction(TransactionCaller {
        author: ALICE.to_vec(),
        tx_hash: vec![0; 32],
    });
    let arguments = CreateWallet { name: "alice".into() }.encode_to_vec();
    let (result, fuel_consumed) = harness.run_with(100, caller, StorageAccess::ReadWrite, |service, env| {
        service.execute(env, "", 0, &arguments)
    });
    let error = result.unwrap_err();
    assert_eq!(
        (error.kind, error.code),
        (ErrorKind::Runtime, RuntimeErrorCode::FuelExhausted as u8)
    );
    assert_eq!(fuel_consumed, 100);
    assert!(matches!(harness.wallet(ALICE), Err(QueryError::NotFound(_))));
}
