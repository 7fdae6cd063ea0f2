//! The token guest, called through the WIT contract under wasmtime.

use wasmvisor_artifacts::TOKEN;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};
use wasmvisor_wasm::{
    ArtifactId, CallEnv, Caller, ErrorKind, ExecutionError, InstanceSpec, MemoryStorage, Privilege, QueryError,
    RuntimeErrorCode, ServiceComponent, StorageAccess, TransactionCaller, WasmService, deterministic_engine,
};

const FUEL: u64 = 10_000_000;
const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];

/// A token instance whose storage lives in memory between calls: every call
/// gets a fresh guest instance, so whatever survives is in host storage.
struct Harness {
    service: WasmService,
    storage: MemoryStorage,
}

impl Harness {
    fn new() -> Self {
        let engine = deterministic_engine().unwrap();
        let component = ServiceComponent::compile(&engine, TOKEN.bytes, Privilege::Service).unwrap();
        let service = WasmService::new(&engine, &component).unwrap();
        let harness = Self {
            service,
            storage: MemoryStorage::new(),
        };
        let params = TokenConfig { issue_max: 1_000 }.encode_to_vec();
        let env = harness.env(Caller::Blockchain, StorageAccess::ReadWrite);
        harness.service.initialize(env, FUEL, &params).result.unwrap();
        harness
    }

    fn env(&self, caller: Caller, access: StorageAccess) -> CallEnv {
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
            storage: Box::new(self.storage.clone()),
            calls: None,
            lifecycle: None,
            after_commit: None,
        }
    }

    fn transaction(&self, author: [u8; 32], method_id: u32, arguments: &[u8]) -> Result<(), ExecutionError> {
        let caller = Caller::Transaction(TransactionCaller {
            author: author.to_vec(),
            tx_hash: vec![0; 32],
        });
        let env = self.env(caller, StorageAccess::ReadWrite);
        self.service.execute(env, FUEL, "", method_id, arguments).result
    }

    fn wallet(&self, owner: [u8; 32]) -> Result<Wallet, QueryError> {
        let env = self.env(Caller::Blockchain, StorageAccess::ReadOnly);
        let arguments = WalletQuery { owner: owner.to_vec() }.encode_to_vec();
        let outcome = self.service.query(env, FUEL, "wallet", &arguments);
        outcome
            .result
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
    let env = harness.env(Caller::Blockchain, StorageAccess::ReadWrite);
    let arguments = CreateWallet { name: "nobody".into() }.encode_to_vec();
    let unauthorized = harness
        .service
        .execute(env, FUEL, "", 0, &arguments)
        .result
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
    let env = harness.env(caller, StorageAccess::ReadOnly);
    let arguments = CreateWallet { name: "alice".into() }.encode_to_vec();
    let refused = harness
        .service
        .execute(env, FUEL, "", 0, &arguments)
        .result
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
    let env = harness.env(caller, StorageAccess::ReadWrite);
    let arguments = CreateWallet { name: "alice".into() }.encode_to_vec();
    let outcome = harness.service.execute(env, 100, "", 0, &arguments);
    let error = outcome.result.unwrap_err();
    assert_eq!(
        (error.kind, error.code),
        (ErrorKind::Runtime, RuntimeErrorCode::FuelExhausted as u8)
    );
    assert_eq!(outcome.fuel_consumed, 100);
    assert!(matches!(harness.wallet(ALICE), Err(QueryError::NotFound(_))));
}
