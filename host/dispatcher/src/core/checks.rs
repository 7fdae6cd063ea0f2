//! The rules every consensus configuration meets, and the fuel it gives a
//! transaction and a query.

use wasmvisor_proto::blockchain::ConsensusConfig;

use crate::limits::{
    BLOCK_TRANSACTIONS_ITEMS_MAX, FUEL_PER_QUERY_DEFAULT, FUEL_PER_QUERY_MAX, FUEL_PER_TRANSACTION_DEFAULT,
    FUEL_PER_TRANSACTION_MAX, TRANSACTION_BYTES_MAX, VALIDATORS_ITEMS_MAX,
};

/// Fuel of one transaction under `config`: its `fuel_per_transaction_max`,
/// or the default when that is 0 (unset).
pub fn fuel_per_transaction(config: &ConsensusConfig) -> u64 {
    match config.fuel_per_transaction_max {
        0 => FUEL_PER_TRANSACTION_DEFAULT,
        configured => configured,
    }
}

/// Fuel of one read query under `config`: its `fuel_per_query_max`, or the
/// default when that is 0 (unset).
pub fn fuel_per_query(config: &ConsensusConfig) -> u64 {
    match config.fuel_per_query_max {
        0 => FUEL_PER_QUERY_DEFAULT,
        configured => configured,
    }
}

/// The rules every consensus configuration meets — a proposed change's and
/// the genesis one's: 1 to [`VALIDATORS_ITEMS_MAX`] validators, each key a
/// 32-byte Ed25519 public key used once, and no setting past its limit.
/// The reason otherwise.
pub fn validate_consensus_config(config: &ConsensusConfig) -> Result<(), String> {
    let validators = &config.validator_keys;
    if validators.is_empty() || validators.len() > VALIDATORS_ITEMS_MAX {
        return Err(format!(
            "a validator set has 1 to {VALIDATORS_ITEMS_MAX} validators, not {}",
            validators.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, keys) in validators.iter().enumerate() {
        for (what, key) in [("consensus", &keys.consensus_key), ("service", &keys.service_key)] {
            let bytes: [u8; 32] = key
                .as_slice()
                .try_into()
                .map_err(|_| format!("validator {index}'s {what} key is not 32 bytes"))?;
            ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map_err(|_| format!("validator {index}'s {what} key is not an Ed25519 public key"))?;
            if !seen.insert(bytes) {
                return Err(format!("validator {index}'s {what} key is used twice"));
            }
        }
    }
    if config.transactions_per_block_max as usize > BLOCK_TRANSACTIONS_ITEMS_MAX {
        return Err(format!(
            "transactions_per_block_max {} exceeds the maximum of {BLOCK_TRANSACTIONS_ITEMS_MAX}",
            config.transactions_per_block_max
        ));
    }
    if config.transaction_size_max as usize > TRANSACTION_BYTES_MAX {
        return Err(format!(
            "transaction_size_max {} exceeds the maximum of {TRANSACTION_BYTES_MAX} bytes",
            config.transaction_size_max
        ));
    }
    if config.fuel_per_transaction_max > FUEL_PER_TRANSACTION_MAX {
        return Err(format!(
            "fuel_per_transaction_max {} exceeds the maximum of {FUEL_PER_TRANSACTION_MAX}",
            config.fuel_per_transaction_max
        ));
    }
    if config.fuel_per_query_max > FUEL_PER_QUERY_MAX {
        return Err(format!(
            "fuel_per_query_max {} exceeds the maximum of {FUEL_PER_QUERY_MAX}",
            config.fuel_per_query_max
        ));
    }
    Ok(())
}
