//! The sample token service as a wasm guest.
//!
//! Transactions (default interface): 0 `create_wallet`, 1 `issue`,
//! 2 `transfer` (messages in `wit/proto/schemas/token.proto`). Query:
//! `wallet` (argument `WalletQuery`, answer `Wallet`). Wallets live in the
//! proof map `wallets`, keyed by the owner's Ed25519 public key, so every
//! balance is provable against a block header. The constructor takes a
//! `TokenConfig`.

use prost::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};
use wasmvisor_sdk::{Call, Entry, ExecutionError, ProofMap, QueryError, Service, ServiceError, context};

/// Method ids.
const CREATE_WALLET: u32 = 0;
const ISSUE: u32 = 1;
const TRANSFER: u32 = 2;

/// The token service's own errors (kind `service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ServiceError)]
enum TokenError {
    WalletExists = 0,
    WalletNotFound = 1,
    ReceiverNotFound = 2,
    InsufficientFunds = 3,
    IssueLimitExceeded = 4,
    BalanceOverflow = 5,
    SelfTransfer = 6,
}

fn wallets() -> ProofMap<[u8; 32], Wallet> {
    ProofMap::new("wallets")
}

fn config() -> Entry<TokenConfig> {
    Entry::new("config")
}

fn existing_wallet(owner: &[u8; 32], missing: TokenError) -> Result<Wallet, ExecutionError> {
    wallets().get(owner)?.ok_or_else(|| missing.into())
}

struct Token;

impl Service for Token {
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        let token_config = TokenConfig::decode(params.as_slice()).map_err(|error| {
            wasmvisor_sdk::common_error(
                wasmvisor_sdk::CommonError::MalformedArguments,
                format!("TokenConfig does not decode: {error}"),
            )
        })?;
        config().set(&token_config)
    }

    fn execute(call: Call) -> Result<(), ExecutionError> {
        call.require_default_interface()?;
        match call.method_id {
            CREATE_WALLET => create_wallet(call.decode()?),
            ISSUE => issue(call.decode()?),
            TRANSFER => transfer(call.decode()?),
            _ => Err(call.no_such_method()),
        }
    }

    fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "wallet" => {
                let query = WalletQuery::decode(arguments.as_slice())
                    .map_err(|error| QueryError::BadRequest(format!("WalletQuery does not decode: {error}")))?;
                let owner: [u8; 32] = query
                    .owner
                    .as_slice()
                    .try_into()
                    .map_err(|_| QueryError::BadRequest("owner must be 32 bytes".into()))?;
                match wallets().get(&owner) {
                    Ok(Some(wallet)) => Ok(wallet.encode_to_vec()),
                    Ok(None) => Err(QueryError::NotFound("no wallet for this owner".into())),
                    Err(error) => Err(QueryError::Internal(error.description)),
                }
            }
            _ => Err(QueryError::NotFound(format!("no query named {method:?}"))),
        }
    }
}

fn create_wallet(arguments: CreateWallet) -> Result<(), ExecutionError> {
    let owner = context::require_transaction_author()?;
    if wallets().contains(&owner)? {
        return Err(TokenError::WalletExists.into());
    }
    let wallet = Wallet {
        owner: owner.to_vec(),
        name: arguments.name,
        balance: 0,
    };
    wallets().put(&owner, &wallet)
}

fn issue(arguments: Issue) -> Result<(), ExecutionError> {
    let owner = context::require_transaction_author()?;
    let issue_max = config().get()?.map_or(0, |token_config| token_config.issue_max);
    if issue_max != 0 && arguments.amount > issue_max {
        return Err(TokenError::IssueLimitExceeded.into());
    }
    let mut wallet = existing_wallet(&owner, TokenError::WalletNotFound)?;
    wallet.balance = wallet
        .balance
        .checked_add(arguments.amount)
        .ok_or(TokenError::BalanceOverflow)?;
    wallets().put(&owner, &wallet)
}

fn transfer(arguments: Transfer) -> Result<(), ExecutionError> {
    let sender_key = context::require_transaction_author()?;
    let receiver_key: [u8; 32] = arguments.to.as_slice().try_into().map_err(|_| {
        wasmvisor_sdk::common_error(
            wasmvisor_sdk::CommonError::MalformedArguments,
            "the receiver must be a 32-byte public key",
        )
    })?;
    if receiver_key == sender_key {
        return Err(TokenError::SelfTransfer.into());
    }
    let mut sender = existing_wallet(&sender_key, TokenError::WalletNotFound)?;
    let mut receiver = existing_wallet(&receiver_key, TokenError::ReceiverNotFound)?;
    sender.balance = sender
        .balance
        .checked_sub(arguments.amount)
        .ok_or(TokenError::InsufficientFunds)?;
    receiver.balance = receiver
        .balance
        .checked_add(arguments.amount)
        .ok_or(TokenError::BalanceOverflow)?;
    wallets().put(&sender_key, &sender)?;
    wallets().put(&receiver_key, &receiver)
}

wasmvisor_sdk::export_service!(Token);
