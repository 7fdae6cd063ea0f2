//! The sample token service as a native service: the same transactions,
//! indexes, encodings and error codes as the wasm token guest
//! (`artifacts/guests/token`), so both runtimes can be compared on
//! identical work and must produce identical state roots.

use std::sync::Arc;

use wasmvisor_proto::Message;
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer, Wallet, WalletQuery};
use wasmvisor_runtime::{
    ArtifactId, CallError, Caller, CommonError, ExecutionContext, ExecutionError, QueryContext, QueryError, runtime_id,
};
use wasmvisor_storage::StorageError;

use crate::{NativeArtifact, NativeService};

/// Name of the token artifact (in both runtimes).
pub const TOKEN_ARTIFACT_NAME: &str = "wasmvisor.token";

/// The token's errors (kind `service`); codes equal the wasm guest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum TokenError {
    /// The author already has a wallet.
    WalletExists = 0,
    /// The author has no wallet.
    WalletNotFound = 1,
    /// The receiver has no wallet.
    ReceiverNotFound = 2,
    /// The sender's balance is too low.
    InsufficientFunds = 3,
    /// `issue` above the configured maximum.
    IssueLimitExceeded = 4,
    /// A balance would overflow.
    BalanceOverflow = 5,
    /// Sender and receiver are the same.
    SelfTransfer = 6,
}

impl From<TokenError> for ExecutionError {
    fn from(error: TokenError) -> Self {
        ExecutionError::service(error as u8, format!("{error:?}"))
    }
}

impl From<TokenError> for CallError {
    fn from(error: TokenError) -> Self {
        CallError::Execution(error.into())
    }
}

/// The native token artifact and service.
#[derive(Debug, Clone, Default)]
pub struct TokenService;

impl NativeArtifact for TokenService {
    fn artifact_id(&self) -> ArtifactId {
        ArtifactId::new(runtime_id::NATIVE, TOKEN_ARTIFACT_NAME, "1.0.0").expect("a valid version")
    }

    fn create(&self) -> Arc<dyn NativeService> {
        Arc::new(TokenService)
    }
}

/// A storage failure inside the service: the node's own (the database) is
/// a node error, never recorded; a spent write budget is recorded as such;
/// anything else is a refused argument a well-formed token never produces,
/// recorded as unexpected.
fn storage(error: StorageError) -> CallError {
    CallError::from(error)
}

fn decode<M: Message + Default>(arguments: &[u8]) -> Result<M, CallError> {
    M::decode(arguments).map_err(|error| {
        CommonError::MalformedArguments
            .with_description(error.to_string())
            .into()
    })
}

fn author(context: &ExecutionContext<'_>) -> Result<[u8; 32], ExecutionError> {
    match context.caller {
        Caller::Transaction { author, .. } => Ok(author),
        _ => {
            Err(CommonError::UnauthorizedCaller.with_description("this method must be called by a signed transaction"))
        }
    }
}

fn wallet(context: &mut ExecutionContext<'_>, owner: &[u8; 32]) -> Result<Option<Wallet>, CallError> {
    let address = context.service_index("wallets").map_err(storage)?;
    let bytes = context
        .fork
        .proof_map(&address)
        .map_err(storage)?
        .get(owner)
        .map_err(storage)?;
    bytes
        .map(|bytes| {
            Wallet::decode(bytes.as_slice()).map_err(|error| storage(StorageError::Corrupt(error.to_string())))
        })
        .transpose()
}

fn put_wallet(context: &mut ExecutionContext<'_>, owner: &[u8; 32], wallet: &Wallet) -> Result<(), CallError> {
    let address = context.service_index("wallets").map_err(storage)?;
    context
        .fork
        .proof_map(&address)
        .map_err(storage)?
        .put(owner, &wallet.encode_to_vec())
        .map_err(storage)
}

impl NativeService for TokenService {
    /// Query `wallet`: argument `WalletQuery`, answer `Wallet`.
    fn query(&self, context: QueryContext<'_>, method: &str, arguments: &[u8]) -> Result<Vec<u8>, QueryError> {
        if method != "wallet" {
            return Err(QueryError::NotFound(format!("no query named {method:?}")));
        }
        let query = WalletQuery::decode(arguments)
            .map_err(|error| QueryError::BadRequest(format!("WalletQuery does not decode: {error}")))?;
        if query.owner.len() != 32 {
            return Err(QueryError::BadRequest("owner must be 32 bytes".into()));
        }
        let address = context
            .service_index("wallets")
            .map_err(|error| QueryError::Internal(error.to_string()))?;
        let internal = |error: StorageError| QueryError::Internal(error.to_string());
        context
            .fork
            .proof_map(&address)
            .map_err(internal)?
            .get(&query.owner)
            .map_err(internal)?
            .ok_or_else(|| QueryError::NotFound("no wallet for this owner".into()))
    }

    fn initialize(&self, context: ExecutionContext<'_>, params: &[u8]) -> Result<(), CallError> {
        let config: TokenConfig = decode(params)?;
        let address = context.service_index("config").map_err(storage)?;
        context
            .fork
            .entry(&address)
            .map_err(storage)?
            .set(&config.encode_to_vec())
            .map_err(storage)
    }

    fn execute(&self, mut context: ExecutionContext<'_>, method_id: u32, arguments: &[u8]) -> Result<(), CallError> {
        if !context.interface.is_empty() {
            return Err(CommonError::NoSuchInterface
                .with_description(format!("no interface {:?}", context.interface))
                .into());
        }
        match method_id {
            0 => {
                let arguments: CreateWallet = decode(arguments)?;
                let owner = author(&context)?;
                if wallet(&mut context, &owner)?.is_some() {
                    return Err(TokenError::WalletExists.into());
                }
                put_wallet(
                    &mut context,
                    &owner,
                    &Wallet {
                        owner: owner.to_vec(),
                        name: arguments.name,
                        balance: 0,
                    },
                )
            }
            1 => {
                let arguments: Issue = decode(arguments)?;
                let owner = author(&context)?;
                let config_address = context.service_index("config").map_err(storage)?;
                let config = context
                    .fork
                    .entry(&config_address)
                    .map_err(storage)?
                    .get()
                    .map_err(storage)?;
                let issue_max = config
                    .map(|bytes| decode::<TokenConfig>(&bytes).map(|config| config.issue_max))
                    .transpose()?
                    .unwrap_or(0);
                if issue_max != 0 && arguments.amount > issue_max {
                    return Err(TokenError::IssueLimitExceeded.into());
                }
                let mut account = wallet(&mut context, &owner)?.ok_or(TokenError::WalletNotFound)?;
                account.balance = account
                    .balance
                    .checked_add(arguments.amount)
                    .ok_or(TokenError::BalanceOverflow)?;
                put_wallet(&mut context, &owner, &account)
            }
            2 => {
                let arguments: Transfer = decode(arguments)?;
                let sender_key = author(&context)?;
                let receiver_key: [u8; 32] = arguments.to.as_slice().try_into().map_err(|_| {
                    CommonError::MalformedArguments.with_description("the receiver must be a 32-byte public key")
                })?;
                if receiver_key == sender_key {
                    return Err(TokenError::SelfTransfer.into());
                }
                let mut sender = wallet(&mut context, &sender_key)?.ok_or(TokenError::WalletNotFound)?;
                let mut receiver = wallet(&mut context, &receiver_key)?.ok_or(TokenError::ReceiverNotFound)?;
                sender.balance = sender
                    .balance
                    .checked_sub(arguments.amount)
                    .ok_or(TokenError::InsufficientFunds)?;
                receiver.balance = receiver
                    .balance
                    .checked_add(arguments.amount)
                    .ok_or(TokenError::BalanceOverflow)?;
                put_wallet(&mut context, &sender_key, &sender)?;
                put_wallet(&mut context, &receiver_key, &receiver)
            }
            _ => Err(CommonError::NoSuchMethod
                .with_description(format!("no method {method_id}"))
                .into()),
        }
    }
}
