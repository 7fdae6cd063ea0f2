//! Block headers and the records of committed blocks.
//!
//! Records live in non-proof indexes of the core namespace, written into
//! the block's own fork so they commit atomically with its state:
//!
//! | index | kind | key | value |
//! | --- | --- | --- | --- |
//! | `blocks` | list | height | `BlockHeader` |
//! | `transactions` | map | tx hash | signed transaction |
//! | `transaction_records` | map | tx hash | `TransactionRecord` |
//! | `block_transactions` | map | height (u64 BE) + index (u32 BE) | tx hash |
//! | `precommits` | map | height (u64 BE) | `Precommits` |

use std::collections::BTreeMap;

use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{BlockHeader, Precommit, Precommits, TransactionRecord};
use wasmvisor_runtime::{CallLocation, ErrorKind, ExecutionError};
use wasmvisor_storage::{Fork, Hash, IndexAddress, Namespace, StorageError, list_root_from_scratch};

fn index(name: &str) -> IndexAddress {
    IndexAddress::new(Namespace::Core, name).expect("block record index names are valid")
}

/// The hash of a block: blake3 of its encoded header.
pub fn block_hash(header: &BlockHeader) -> Hash {
    *blake3::hash(&header.encode_to_vec()).as_bytes()
}

/// Merkle root of a block's transaction hashes.
pub fn transactions_root(hashes: &[Hash]) -> Hash {
    let items: Vec<Vec<u8>> = hashes.iter().map(|hash| hash.to_vec()).collect();
    list_root_from_scratch(&items)
}

/// Whether `transactions` are the ones the encoded `header` commits to:
/// the header decodes canonically and names their count and Merkle root. A
/// block's hash covers only its header, so this is what ties a block's
/// transactions to the precommits of its hash.
pub fn header_commits_to(header: &[u8], transactions: &[Vec<u8>]) -> bool {
    let Ok(decoded) = BlockHeader::decode(header) else {
        return false;
    };
    decoded.encode_to_vec() == header
        && usize::try_from(decoded.tx_count).is_ok_and(|count| count == transactions.len())
        && decoded.tx_hash.as_slice() == signed_transactions_root(transactions).as_slice()
}

/// Merkle root of signed transactions (each one's hash is blake3 of its
/// signed bytes).
pub fn signed_transactions_root(transactions: &[Vec<u8>]) -> Hash {
    let hashes: Vec<Hash> = transactions
        .iter()
        .map(|signed| *blake3::hash(signed).as_bytes())
        .collect();
    transactions_root(&hashes)
}

/// Validator number `validator`'s precommit of block `block_hash` at
/// `height` and `round`, signed with its consensus `key`.
pub fn sign_precommit(
    key: &ed25519_dalek::SigningKey,
    validator: u32,
    chain_id: &Hash,
    height: u64,
    round: u32,
    block_hash: &Hash,
) -> Precommit {
    use ed25519_dalek::Signer;
    let message = precommit_message(chain_id, height, round, block_hash, key.verifying_key().as_bytes());
    Precommit {
        validator,
        signature: key.sign(&message).to_bytes().to_vec(),
        round,
        validator_key: key.verifying_key().to_bytes().to_vec(),
    }
}

/// What a validator signs to precommit a block: the consensus engine's
/// precommit preimage (domain tag, chain id, height, round, block hash,
/// the validator's consensus key), so the engine's commit certificate and
/// the stored precommits are the same signatures.
pub fn precommit_message(chain_id: &Hash, height: u64, round: u32, block_hash: &Hash, validator: &[u8; 32]) -> Vec<u8> {
    wasmvisor_consensus::signing::precommit_sign_bytes(chain_id, height, round, block_hash, validator)
}

fn to_proto_error(error: &ExecutionError) -> wasmvisor_proto::runtime::ExecutionError {
    let (kind, code) = error.kind.to_pair();
    wasmvisor_proto::runtime::ExecutionError {
        kind: i32::from(kind),
        code: u32::from(code),
        description: error.description.clone(),
    }
}

/// Converts a stored error back (kind and code as stored).
pub fn from_proto_error(error: &wasmvisor_proto::runtime::ExecutionError) -> ExecutionError {
    let code = u8::try_from(error.code).unwrap_or(u8::MAX);
    let kind = match error.kind {
        0 => ErrorKind::Unexpected,
        1 => ErrorKind::Common(code),
        2 => ErrorKind::Core(code),
        3 => ErrorKind::Runtime(code),
        _ => ErrorKind::Service(code),
    };
    ExecutionError::new(kind, error.description.clone())
}

/// Writes a block's records into its fork.
pub(crate) fn record_block(
    fork: &mut Fork,
    header: &BlockHeader,
    transactions: &[(Hash, Vec<u8>)],
    errors: &BTreeMap<CallLocation, ExecutionError>,
) -> Result<(), StorageError> {
    let position = fork.list(&index("blocks"))?.push(&header.encode_to_vec())?;
    assert_eq!(
        position, header.height,
        "the block list and the header disagree on the height"
    );
    // Each map opened once and filled in one `put_many_absent`: the same
    // entries, in the same order, as a put per transaction. Their keys are
    // new: `Blockchain::execute` refused any transaction committed before
    // or repeated in the block, and the positions are of a new height.
    let records: Vec<Vec<u8>> = transactions
        .iter()
        .enumerate()
        .map(|(position, _)| {
            let error = errors
                .get(&CallLocation::Transaction(position as u32))
                .map(to_proto_error);
            TransactionRecord {
                height: header.height,
                index: position as u32,
                error,
            }
            .encode_to_vec()
        })
        .collect();
    let positions: Vec<Vec<u8>> = (0..transactions.len())
        .map(|position| [&header.height.to_be_bytes()[..], &(position as u32).to_be_bytes()].concat())
        .collect();
    fork.map(&index("transactions"))?.put_many_absent(
        transactions
            .iter()
            .map(|(hash, signed)| (hash.as_slice(), signed.as_slice())),
    )?;
    fork.map(&index("transaction_records"))?.put_many_absent(
        transactions
            .iter()
            .zip(&records)
            .map(|((hash, _), record)| (hash.as_slice(), record.as_slice())),
    )?;
    fork.map(&index("block_transactions"))?.put_many_absent(
        positions
            .iter()
            .zip(transactions)
            .map(|(key, (hash, _))| (key.as_slice(), hash.as_slice())),
    )?;
    Ok(())
}

/// Stores the precommits of a committed block.
pub(crate) fn record_precommits(fork: &mut Fork, height: u64, precommits: &Precommits) -> Result<(), StorageError> {
    fork.map(&index("precommits"))?
        .put(&height.to_be_bytes(), &precommits.encode_to_vec())
}

/// The header of the block at `height`.
pub fn header(fork: &mut Fork, height: u64) -> Result<Option<BlockHeader>, StorageError> {
    let Some(bytes) = fork.list(&index("blocks"))?.get(height)? else {
        return Ok(None);
    };
    BlockHeader::decode(bytes.as_slice())
        .map(Some)
        .map_err(|error| StorageError::Corrupt(error.to_string()))
}

/// Number of committed blocks (the genesis block included).
pub fn block_count(fork: &mut Fork) -> Result<u64, StorageError> {
    fork.list(&index("blocks"))?.len()
}

/// Which of `hashes` name committed transactions, in order: one index
/// opened for them all. A committed transaction without its record is
/// this store's corruption (an error), as [`transaction`] answers it.
pub fn committed_each<'h>(
    fork: &mut Fork,
    hashes: impl IntoIterator<Item = &'h Hash>,
) -> Result<Vec<bool>, StorageError> {
    let hashes: Vec<&Hash> = hashes.into_iter().collect();
    let committed: Vec<bool> = {
        let transactions = fork.map(&index("transactions"))?;
        hashes
            .iter()
            .map(|hash| transactions.contains(*hash))
            .collect::<Result<_, _>>()?
    };
    // Rare (a repeat of a committed transaction): its record is checked.
    let records = fork.map(&index("transaction_records"))?;
    for (hash, committed) in hashes.iter().zip(&committed) {
        if *committed && !records.contains(*hash)? {
            return Err(StorageError::Corrupt("a transaction without its record".into()));
        }
    }
    Ok(committed)
}

/// A committed transaction and its record.
pub fn transaction(fork: &mut Fork, hash: &Hash) -> Result<Option<(Vec<u8>, TransactionRecord)>, StorageError> {
    let Some(signed) = fork.map(&index("transactions"))?.get(hash)? else {
        return Ok(None);
    };
    let record = fork
        .map(&index("transaction_records"))?
        .get(hash)?
        .ok_or_else(|| StorageError::Corrupt("a transaction without its record".into()))?;
    let record =
        TransactionRecord::decode(record.as_slice()).map_err(|error| StorageError::Corrupt(error.to_string()))?;
    Ok(Some((signed, record)))
}

/// The transaction hashes of the block at `height`, in order.
pub fn block_transactions(fork: &mut Fork, height: u64) -> Result<Vec<Hash>, StorageError> {
    let to = (height + 1).to_be_bytes();
    let mut cursor = height.to_be_bytes().to_vec();
    let mut hashes = Vec::new();
    loop {
        // Ranges come in pages of at most RANGE_ITEMS_MAX entries.
        let page = fork
            .map(&index("block_transactions"))?
            .range(Some(&cursor), Some(&to), usize::MAX)?;
        let Some((last, _)) = page.last() else {
            return Ok(hashes);
        };
        cursor = [last.as_slice(), &[0]].concat();
        for (_, hash) in page {
            hashes.push(
                hash.try_into()
                    .map_err(|_| StorageError::Corrupt("a transaction hash is not 32 bytes".into()))?,
            );
        }
    }
}

/// The block at `height`'s transactions as signed, in order, each with
/// its hash.
pub fn signed_transactions(fork: &mut Fork, height: u64) -> Result<Vec<(Hash, Vec<u8>)>, StorageError> {
    block_transactions(fork, height)?
        .into_iter()
        .map(|hash| {
            let (signed, _) = transaction(fork, &hash)?
                .ok_or_else(|| StorageError::Corrupt(format!("a transaction of block {height} is missing")))?;
            Ok((hash, signed))
        })
        .collect()
}

/// The precommits stored for the block at `height`.
pub fn precommits(fork: &mut Fork, height: u64) -> Result<Option<Precommits>, StorageError> {
    let Some(bytes) = fork.map(&index("precommits"))?.get(&height.to_be_bytes())? else {
        return Ok(None);
    };
    Precommits::decode(bytes.as_slice())
        .map(Some)
        .map_err(|error| StorageError::Corrupt(error.to_string()))
}
