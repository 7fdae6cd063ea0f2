//! The token workload shared by the end-to-end and execution scenarios:
//! wallets with deterministic keys, their setup transactions, and signed
//! transfers between them.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use ed25519_dalek::SigningKey;
use wasmvisor_blockchain::blocks::sign_precommit;
use wasmvisor_blockchain::{BlockHeader, Blockchain, VerifiedTransaction};
use wasmvisor_dispatcher::GenesisConfig;
use wasmvisor_native::{NativeArtifact, NativeRuntime, TokenService};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{ConsensusConfig, ValidatorKeys};
use wasmvisor_proto::token::{CreateWallet, Issue, TokenConfig, Transfer};
use wasmvisor_runtime::{ArtifactId, CallInfo, InstanceSpec, Runtime, runtime_id};
use wasmvisor_storage::{Database, Hash};
use wasmvisor_wasm::{WasmRuntime, WasmRuntimeConfig};

/// Wallets in every token workload.
pub const WALLETS: usize = 10_000;
/// Balance each wallet is issued before the transfers (every transfer
/// moves 1, so no transfer can fail for want of funds).
pub const INITIAL_BALANCE: u64 = 1_000_000;

const CREATE_WALLET: u32 = 0;
const ISSUE: u32 = 1;
const TRANSFER: u32 = 2;

/// Which token service a workload targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenRuntime {
    /// The native token (`runtimes/native`).
    Native,
    /// The wasm token guest (`artifacts/guests/token`).
    Wasm,
}

impl TokenRuntime {
    /// Both, native first.
    pub const BOTH: [TokenRuntime; 2] = [TokenRuntime::Native, TokenRuntime::Wasm];

    /// The `runtime` parameter printed with figures.
    pub fn name(self) -> &'static str {
        match self {
            TokenRuntime::Native => "native",
            TokenRuntime::Wasm => "wasm",
        }
    }

    /// The token artifact in this runtime.
    pub fn token_artifact(self) -> ArtifactId {
        match self {
            TokenRuntime::Native => TokenService.artifact_id(),
            TokenRuntime::Wasm => ArtifactId::new(runtime_id::WASM, wasmvisor_native::TOKEN_ARTIFACT_NAME, "1.0.0")
                .expect("a valid version"),
        }
    }
}

/// The key of wallet `index` (deterministic, so every run signs the same
/// transactions).
pub fn wallet_key(index: usize) -> SigningKey {
    SigningKey::from_bytes(blake3::hash(format!("wasmvisor bench wallet {index}").as_bytes()).as_bytes())
}

/// The wallets' keys.
pub fn wallet_keys() -> Vec<SigningKey> {
    (0..WALLETS).map(wallet_key).collect()
}

fn call(instance_id: u32, method_id: u32) -> CallInfo {
    CallInfo { instance_id, method_id }
}

/// For every wallet: `create_wallet`, then `issue` of
/// [`INITIAL_BALANCE`]; signed for `chain_id` and the token `instance_id`.
pub fn setup_transactions(chain_id: &Hash, instance_id: u32, keys: &[SigningKey]) -> Vec<Vec<u8>> {
    let create = keys.iter().enumerate().map(|(index, key)| {
        let arguments = CreateWallet {
            name: format!("wallet {index}"),
        };
        wasmvisor_blockchain::sign(
            key,
            chain_id,
            call(instance_id, CREATE_WALLET),
            arguments.encode_to_vec(),
        )
    });
    let issue = keys.iter().map(|key| {
        let arguments = Issue {
            amount: INITIAL_BALANCE,
            seed: 0,
        };
        wasmvisor_blockchain::sign(key, chain_id, call(instance_id, ISSUE), arguments.encode_to_vec())
    });
    create.chain(issue).collect()
}

/// `count` signed transfers of 1 between the wallets: transfer `i` goes
/// from wallet `i mod W` to a different wallet that cycles through all
/// others, with seed `seed_base + i` (so every transaction is distinct).
/// Signed on every core: signing is the clients' work, not the node's.
pub fn transfers(chain_id: &Hash, instance_id: u32, keys: &[SigningKey], count: usize, seed_base: u64) -> Vec<Vec<u8>> {
    let wallets = keys.len();
    let sign = |index: usize| {
        let sender = index % wallets;
        let receiver = (sender + 1 + (index / wallets) % (wallets - 1)) % wallets;
        let arguments = Transfer {
            to: keys[receiver].verifying_key().to_bytes().to_vec(),
            amount: 1,
            seed: seed_base + index as u64,
        };
        wasmvisor_blockchain::sign(
            &keys[sender],
            chain_id,
            call(instance_id, TRANSFER),
            arguments.encode_to_vec(),
        )
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let range = thread * chunk..((thread + 1) * chunk).min(count);
                scope.spawn(move || range.map(sign).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().expect("signing does not panic"))
            .collect()
    })
}

/// Verifies signed transactions for `chain` (the work the mempool does
/// before a transaction may enter a block).
pub fn verify_all(chain: &Blockchain, signed: &[Vec<u8>]) -> anyhow::Result<Vec<VerifiedTransaction>> {
    signed
        .iter()
        .map(|bytes| {
            chain
                .verify(bytes)
                .map_err(|error| anyhow!("a workload transaction: {error}"))
        })
        .collect()
}

/// Instance id of the token in [`token_chain`], by runtime.
pub fn token_instance(runtime: TokenRuntime) -> u32 {
    match runtime {
        TokenRuntime::Native => 1,
        TokenRuntime::Wasm => 2,
    }
}

/// The bench chain's one validator: every block is committed with its
/// precommit ([`commit_block`]).
pub fn validator() -> SigningKey {
    SigningKey::from_bytes(&[0x5a; 32])
}

/// Executes `transactions` as the chain's next block and commits it with
/// [`validator`]'s precommit.
pub fn commit_block(chain: &mut Blockchain, transactions: &[VerifiedTransaction]) -> anyhow::Result<BlockHeader> {
    let block = chain
        .execute(transactions)
        .map_err(|error| anyhow!("a block: {error}"))?;
    let precommit = sign_precommit(&validator(), 0, &chain.chain_id(), block.header.height, 0, &block.hash);
    chain
        .commit(block, vec![precommit])
        .map_err(|error| anyhow!("committing a block: {error}"))
}

/// A chain of one validator ([`validator`]) and no supervisor, with the
/// native token as instance 1 and the wasm token as instance 2, on
/// `database`.
pub fn token_chain(database: Arc<dyn Database>) -> anyhow::Result<Blockchain> {
    let wasm = WasmRuntime::new(WasmRuntimeConfig::default()).context("the wasm runtime")?;
    let runtimes: Vec<Arc<dyn Runtime>> = vec![
        Arc::new(NativeRuntime::new(vec![Arc::new(TokenService)])),
        Arc::new(wasm),
    ];
    let spec = wasmvisor_wasm::deploy_spec(wasmvisor_artifacts::TOKEN.bytes).encode_to_vec();
    let params = TokenConfig { issue_max: 0 }.encode_to_vec();
    let genesis = GenesisConfig {
        artifacts: vec![
            (TokenRuntime::Native.token_artifact(), Vec::new()),
            (TokenRuntime::Wasm.token_artifact(), spec),
        ],
        instances: TokenRuntime::BOTH
            .iter()
            .map(|&runtime| {
                let spec = InstanceSpec {
                    id: token_instance(runtime),
                    name: format!("token-{}", runtime.name()),
                    artifact: runtime.token_artifact(),
                };
                (spec, params.clone())
            })
            .collect(),
        consensus: ConsensusConfig {
            validator_keys: vec![ValidatorKeys {
                consensus_key: validator().verifying_key().to_bytes().to_vec(),
                service_key: validator().verifying_key().to_bytes().to_vec(),
            }],
            ..GenesisConfig::default().consensus
        },
    };
    Blockchain::genesis(database, runtimes, genesis, None).map_err(|error| anyhow!("genesis: {error}"))
}
