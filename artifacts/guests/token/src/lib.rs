//! The sample token service as a wasm guest (messages in `wit/proto/schemas/token.proto`). Wallets live
//! in the proof map `wallets`, keyed by the owner's public key, so every balance is provable.

use TokenError::*;
use wasmvisor_proto::token::{self, CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};
use wasmvisor_sdk::{CommonError, Entry, ExecutionError, ProofMap, QueryError, ServiceError, common_error, context};

/// The token service's own errors (kind `service`).
#[derive(Debug, Clone, Copy, ServiceError)]
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

struct Token;

#[wasmvisor_sdk::service(errors = TokenError, descriptors = token::FILE_DESCRIPTOR_SET)]
impl Token {
    #[constructor]
    fn initialize(config: TokenConfig) -> Result<(), ExecutionError> {
        Entry::new("config").set(&config)
    }

    #[method(id = 0)]
    fn create_wallet(CreateWallet { name }: CreateWallet) -> Result<(), ExecutionError> {
        let owner = context::require_transaction_author()?;
        if wallets().contains(&owner)? {
            return Err(WalletExists.into());
        }
        wallets().put(
            &owner,
            &Wallet {
                owner: owner.to_vec(),
                name,
                balance: 0,
            },
        )
    }

    #[method(id = 1)]
    fn issue(Issue { amount, .. }: Issue) -> Result<(), ExecutionError> {
        let owner = context::require_transaction_author()?;
        let issue_max = Entry::<TokenConfig>::new("config")
            .get()?
            .map_or(0, |config| config.issue_max);
        if issue_max != 0 && amount > issue_max {
            return Err(IssueLimitExceeded.into());
        }
        let mut wallet = wallets().get(&owner)?.ok_or(WalletNotFound)?;
        wallet.balance = wallet.balance.checked_add(amount).ok_or(BalanceOverflow)?;
        wallets().put(&owner, &wallet)
    }

    #[method(id = 2)]
    fn transfer(Transfer { to, amount, .. }: Transfer) -> Result<(), ExecutionError> {
        let sender_key = context::require_transaction_author()?;
        let malformed = |_| {
            common_error(
                CommonError::MalformedArguments,
                "the receiver must be a 32-byte public key",
            )
        };
        let receiver_key: [u8; 32] = to.try_into().map_err(malformed)?;
        if receiver_key == sender_key {
            return Err(SelfTransfer.into());
        }
        let mut sender = wallets().get(&sender_key)?.ok_or(WalletNotFound)?;
        let mut receiver = wallets().get(&receiver_key)?.ok_or(ReceiverNotFound)?;
        sender.balance = sender.balance.checked_sub(amount).ok_or(InsufficientFunds)?;
        receiver.balance = receiver.balance.checked_add(amount).ok_or(BalanceOverflow)?;
        wallets().put(&sender_key, &sender)?;
        wallets().put(&receiver_key, &receiver)
    }

    #[query]
    fn wallet(WalletQuery { owner }: WalletQuery) -> Result<Wallet, QueryError> {
        let owner: [u8; 32] = owner
            .try_into()
            .map_err(|_| QueryError::BadRequest("owner must be 32 bytes".into()))?;
        wallets()
            .get(&owner)?
            .ok_or(QueryError::NotFound("no wallet for this owner".into()))
    }
}
