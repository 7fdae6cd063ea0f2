//! Validator sets from the consensus configuration, proposer rotation, and
//! block ids equal to the chain's block hashes.

use malachitebft_core_types::{Context, Round, Validator as _, ValidatorSet as _, Value};
use wasmvisor_consensus::{Block, Height, ValidatorSet, ValidatorSetError, WasmvisorContext};
use wasmvisor_proto::Message;
use wasmvisor_proto::blockchain::{BlockHeader, ConsensusConfig, ValidatorKeys};

pub fn consensus_key(seed: u8) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .to_bytes()
}

pub fn config(seeds: &[u8]) -> ConsensusConfig {
    ConsensusConfig {
        validator_keys: seeds
            .iter()
            .map(|seed| ValidatorKeys {
                consensus_key: consensus_key(*seed).to_vec(),
                service_key: vec![0; 32],
            })
            .collect(),
        ..ConsensusConfig::default()
    }
}

#[test]
fn the_validator_set_is_the_configuration_s_with_one_vote_each() {
    let set = ValidatorSet::from_config(&config(&[1, 2, 3, 4])).unwrap();
    assert_eq!(set.count(), 4);
    assert_eq!(set.total_voting_power(), 4);
    for (index, seed) in [1u8, 2, 3, 4].iter().enumerate() {
        let validator = set.get_by_index(index).unwrap();
        assert_eq!(validator.address().0, consensus_key(*seed));
        assert_eq!(set.get_by_address(validator.address()), Some(validator));
    }

    assert_eq!(ValidatorSet::from_config(&config(&[])), Err(ValidatorSetError::Empty));
    let mut short = config(&[1, 2]);
    short.validator_keys[1].consensus_key.truncate(31);
    assert_eq!(ValidatorSet::from_config(&short), Err(ValidatorSetError::BadKey(1)));
    assert_eq!(
        ValidatorSet::from_config(&config(&[1, 2, 1])),
        Err(ValidatorSetError::Duplicate(2))
    );
}

#[test]
fn proposers_take_turns_by_height_and_round() {
    let set = ValidatorSet::from_config(&config(&[1, 2, 3, 4])).unwrap();
    let context = WasmvisorContext;
    let proposer = |height: u64, round: u32| {
        *context
            .select_proposer(&set, Height(height), Round::new(round))
            .address()
    };
    let mut counts = std::collections::BTreeMap::new();
    for height in 1..=8 {
        *counts.entry(proposer(height, 0)).or_insert(0) += 1;
        // A failed round passes the turn to the next validator.
        assert_ne!(proposer(height, 0), proposer(height, 1));
        assert_eq!(proposer(height, 1), proposer(height + 1, 0));
    }
    assert_eq!(counts.len(), 4, "every validator proposes");
    assert!(counts.values().all(|count| *count == 2));
    assert_eq!(
        proposer(5, 0),
        *context.select_proposer(&set, Height(5), Round::Nil).address(),
        "a nil round counts as round 0"
    );
}

#[test]
fn a_block_s_id_is_the_chain_s_block_hash() {
    let header = BlockHeader {
        height: 3,
        tx_count: 1,
        prev_hash: vec![1; 32],
        tx_hash: vec![2; 32],
        state_hash: vec![3; 32],
        error_hash: vec![4; 32],
    };
    let block = Block {
        header: header.encode_to_vec(),
        transactions: vec![b"signed".to_vec()],
    };
    assert_eq!(block.id().0, wasmvisor_blockchain::blocks::block_hash(&header));
}
