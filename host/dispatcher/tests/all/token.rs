//! The native token service end to end in blocks.

use wasmvisor_native::TokenError;
use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, Transfer, Wallet, WalletQuery};
use wasmvisor_runtime::{CallLocation, ErrorKind, QueryError};
use wasmvisor_storage::{IndexAddress, Namespace};

use crate::support::{Chain, TOKEN_ID};

const ALICE: [u8; 32] = [0xa1; 32];
const BOB: [u8; 32] = [0xb0; 32];

fn balance(chain: &Chain, owner: [u8; 32]) -> Option<u64> {
    let mut fork = chain.dispatcher.read_fork();
    let wallets = IndexAddress::new(Namespace::Service(TOKEN_ID), "wallets").unwrap();
    let bytes = fork.proof_map(&wallets).unwrap().get(&owner).unwrap()?;
    Some(Wallet::decode(bytes.as_slice()).unwrap().balance)
}

fn transfer(
    chain: &mut Chain,
    from: [u8; 32],
    to: [u8; 32],
    amount: u64,
    seed: u64,
) -> wasmvisor_dispatcher::Transaction {
    let arguments = Transfer {
        to: to.to_vec(),
        amount,
        seed,
    }
    .encode_to_vec();
    chain.transaction(from, TOKEN_ID, 2, &arguments)
}

#[test]
fn wallets_issue_and_transfer_across_blocks() {
    let mut chain = Chain::in_memory();
    let create_alice = chain.transaction(
        ALICE,
        TOKEN_ID,
        0,
        &CreateWallet { name: "alice".into() }.encode_to_vec(),
    );
    let create_bob = chain.transaction(BOB, TOKEN_ID, 0, &CreateWallet { name: "bob".into() }.encode_to_vec());
    let issue = chain.transaction(ALICE, TOKEN_ID, 1, &Issue { amount: 900, seed: 1 }.encode_to_vec());
    assert!(chain.block(&[create_alice, create_bob, issue]).errors.is_empty());
    let pay = transfer(&mut chain, ALICE, BOB, 250, 1);
    assert!(chain.block(&[pay]).errors.is_empty());
    assert_eq!(balance(&chain, ALICE), Some(650));
    assert_eq!(balance(&chain, BOB), Some(250));

    // The read query answers the same, and refuses bad requests.
    let query = |owner: &[u8]| {
        chain.dispatcher.query(
            "token",
            "wallet",
            &WalletQuery { owner: owner.to_vec() }.encode_to_vec(),
        )
    };
    let wallet = Wallet::decode(query(&BOB).unwrap().as_slice()).unwrap();
    assert_eq!((wallet.name.as_str(), wallet.balance), ("bob", 250));
    assert!(matches!(query(&[7; 32]), Err(QueryError::NotFound(_))));
    assert!(matches!(query(&[7; 3]), Err(QueryError::BadRequest(_))));
    assert!(matches!(
        chain.dispatcher.query("token", "nothing", &[]),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        chain.dispatcher.query("no-such-service", "wallet", &[]),
        Err(QueryError::NotFound(_))
    ));
}

#[test]
fn a_failing_transaction_leaves_no_trace_and_the_root_moves_only_with_state() {
    let mut chain = Chain::in_memory();
    let create_alice = chain.transaction(
        ALICE,
        TOKEN_ID,
        0,
        &CreateWallet { name: "alice".into() }.encode_to_vec(),
    );
    let create_bob = chain.transaction(BOB, TOKEN_ID, 0, &CreateWallet { name: "bob".into() }.encode_to_vec());
    chain.block(&[create_alice, create_bob]);
    let root = chain.dispatcher.state_root().unwrap();

    // Only failing transactions: insufficient funds, unknown receiver,
    // self-transfer, malformed arguments, over the issue limit.
    let too_much = transfer(&mut chain, ALICE, BOB, 1, 1);
    let nobody = transfer(&mut chain, ALICE, [9; 32], 0, 2);
    let to_self = transfer(&mut chain, ALICE, ALICE, 0, 3);
    let garbage = chain.transaction(ALICE, TOKEN_ID, 2, &[0xff, 0xff]);
    let over_limit = chain.transaction(ALICE, TOKEN_ID, 1, &Issue { amount: 1_001, seed: 9 }.encode_to_vec());
    let block = chain.block(&[too_much, nobody, to_self, garbage, over_limit]);
    let codes: Vec<ErrorKind> = (0..5)
        .map(|position| block.errors[&CallLocation::Transaction(position)].kind)
        .collect();
    assert_eq!(
        codes,
        vec![
            ErrorKind::Service(TokenError::InsufficientFunds as u8),
            ErrorKind::Service(TokenError::ReceiverNotFound as u8),
            ErrorKind::Service(TokenError::SelfTransfer as u8),
            ErrorKind::Common(3),
            ErrorKind::Service(TokenError::IssueLimitExceeded as u8),
        ]
    );
    assert_eq!(block.state_root, root, "failed transactions do not move the state root");
    assert_eq!(chain.dispatcher.state_root().unwrap(), root);

    // An empty block does not move it either; a real change does.
    assert_eq!(chain.block(&[]).state_root, root);
    let issue = chain.transaction(ALICE, TOKEN_ID, 1, &Issue { amount: 5, seed: 1 }.encode_to_vec());
    let block = chain.block(&[issue]);
    assert!(block.errors.is_empty());
    assert_ne!(block.state_root, root);
    assert_eq!(balance(&chain, ALICE), Some(5));
}
