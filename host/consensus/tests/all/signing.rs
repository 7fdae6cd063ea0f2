//! Votes, proposals, extensions and validator proofs verify only as
//! signed: another chain, key, height, round, type, value or block does
//! not.

use malachitebft_core_types::{NilOrVal, Round, VoteExtensionScope, VoteType};
use malachitebft_signing::{Signer, Verifier};
use wasmvisor_consensus::{Address, Block, BlockId, ConsensusSigner, ConsensusVerifier, Height, Proposal, Vote};

const CHAIN: [u8; 32] = [7; 32];

fn signer(seed: u8) -> ConsensusSigner {
    ConsensusSigner::new([seed; 32], CHAIN)
}

fn address(seed: u8) -> Address {
    Address(*signer(seed).public_key().as_bytes())
}

fn vote() -> Vote {
    Vote {
        height: Height(5),
        round: Round::new(1),
        value: NilOrVal::Val(BlockId([9; 32])),
        vote_type: VoteType::Precommit,
        validator: address(1),
        extension: None,
    }
}

#[tokio::test]
async fn a_vote_verifies_only_as_signed() {
    let signed = signer(1).sign_vote(vote()).await.unwrap();
    let key = signer(1).public_key();
    let verifier = ConsensusVerifier::new(CHAIN);
    let check = |vote: Vote, verifier: ConsensusVerifier, key| {
        let signature = signed.signature;
        async move {
            verifier
                .verify_signed_vote(&vote, &signature, &key)
                .await
                .unwrap()
                .is_valid()
        }
    };
    assert!(check(vote(), verifier.clone(), key).await);
    let changes: Vec<(&str, Vote)> = vec![
        (
            "height",
            Vote {
                height: Height(6),
                ..vote()
            },
        ),
        (
            "round",
            Vote {
                round: Round::new(2),
                ..vote()
            },
        ),
        (
            "type",
            Vote {
                vote_type: VoteType::Prevote,
                ..vote()
            },
        ),
        (
            "value",
            Vote {
                value: NilOrVal::Nil,
                ..vote()
            },
        ),
        (
            "another value",
            Vote {
                value: NilOrVal::Val(BlockId([8; 32])),
                ..vote()
            },
        ),
        (
            "voter",
            Vote {
                validator: address(2),
                ..vote()
            },
        ),
    ];
    for (what, changed) in changes {
        assert!(
            !check(changed, verifier.clone(), key).await,
            "a vote with another {what}"
        );
    }
    assert!(
        !check(vote(), ConsensusVerifier::new([8; 32]), key).await,
        "another chain"
    );
    assert!(!check(vote(), verifier, signer(2).public_key()).await, "another key");
}

#[tokio::test]
async fn a_proposal_signs_its_block_header() {
    let block = Block {
        header: b"header".to_vec(),
        transactions: vec![b"tx".to_vec()],
    };
    let proposal = Proposal {
        height: Height(2),
        round: Round::new(0),
        value: block.clone(),
        pol_round: Round::Nil,
        validator: address(3),
    };
    let signed = signer(3).sign_proposal(proposal.clone()).await.unwrap();
    let verifier = ConsensusVerifier::new(CHAIN);
    let key = signer(3).public_key();
    let check = |proposal: Proposal| {
        let (verifier, signature) = (verifier.clone(), signed.signature);
        async move {
            verifier
                .verify_signed_proposal(&proposal, &signature, &key)
                .await
                .unwrap()
                .is_valid()
        }
    };
    assert!(check(proposal.clone()).await);
    let other_header = Proposal {
        value: Block {
            header: b"another header".to_vec(),
            ..block
        },
        ..proposal.clone()
    };
    assert!(!check(other_header).await);
    let relocked = Proposal {
        pol_round: Round::new(0),
        ..proposal.clone()
    };
    assert!(!check(relocked).await);
}

#[tokio::test]
async fn extensions_are_bound_to_their_scope_and_proofs_verify() {
    let scope = |round| VoteExtensionScope::new(Height(4), Round::new(round), BlockId([1; 32]), address(1));
    let signed = signer(1).sign_vote_extension(scope(0), b"data".to_vec()).await.unwrap();
    let verifier = ConsensusVerifier::new(CHAIN);
    let key = signer(1).public_key();
    let valid = verifier
        .verify_signed_vote_extension(&scope(0), &b"data".to_vec(), &signed.signature, &key)
        .await
        .unwrap()
        .is_valid();
    assert!(valid);
    let moved = verifier
        .verify_signed_vote_extension(&scope(1), &b"data".to_vec(), &signed.signature, &key)
        .await
        .unwrap()
        .is_valid();
    assert!(!moved, "the same extension in another round");

    let proof = signer(1)
        .sign_validator_proof(key.as_bytes().to_vec(), b"peer".to_vec())
        .await
        .unwrap();
    assert!(verifier.verify_validator_proof(&proof).await.unwrap().is_valid());
    let mut forged = proof.clone();
    forged.peer_id = b"other peer".to_vec();
    assert!(!verifier.verify_validator_proof(&forged).await.unwrap().is_valid());
}

#[test]
fn a_proposal_part_verifies_only_from_its_proposer_as_signed() {
    let proposal = Proposal {
        height: Height(3),
        round: Round::new(0),
        value: Block {
            header: vec![1, 2, 3],
            transactions: vec![vec![4, 5]],
        },
        pol_round: Round::Nil,
        validator: address(1),
    };
    let part = signer(1).sign_proposal_part(proposal.clone());
    let verifier = ConsensusVerifier::new(CHAIN);
    assert!(verifier.verify_proposal_part(&part, &signer(1).public_key()));
    assert!(
        !verifier.verify_proposal_part(&part, &signer(2).public_key()),
        "another validator's key"
    );
    assert!(
        !ConsensusVerifier::new([8; 32]).verify_proposal_part(&part, &signer(1).public_key()),
        "another chain"
    );
    // The signature covers the block id (the header's hash); the
    // transactions are bound through the header's transaction root, which
    // validation checks (`Blockchain::validate`), not here.
    let mut other_block = part.clone();
    other_block.proposal.value.transactions.push(vec![6]);
    assert!(verifier.verify_proposal_part(&other_block, &signer(1).public_key()));
    let mut other_header = part.clone();
    other_header.proposal.value.header.push(0);
    assert!(!verifier.verify_proposal_part(&other_header, &signer(1).public_key()));
    let mut other_round = part;
    other_round.proposal.round = Round::new(1);
    assert!(!verifier.verify_proposal_part(&other_round, &signer(1).public_key()));
}

#[tokio::test]
async fn votes_verify_under_the_chains_strict_rule_only() {
    // The identity point as a key and as R, with s = 0: the cofactored
    // equation of ZIP-215 holds for every message, so the engine's own
    // verification accepts this "signature" of anything. The chain's
    // strict rule refuses small-order keys, and so must the engine.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = malachitebft_signing_ed25519::PublicKey::from_bytes(identity).expect("ZIP-215 takes the key");
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(&identity);
    let signature = malachitebft_signing_ed25519::Signature::from_bytes(bytes);
    assert!(key.verify(b"anything", &signature).is_ok(), "ZIP-215 accepts it");
    let verifier = ConsensusVerifier::new(CHAIN);
    let vote = Vote {
        validator: Address(identity),
        ..vote()
    };
    assert!(
        !verifier
            .verify_signed_vote(&vote, &signature, &key)
            .await
            .unwrap()
            .is_valid(),
        "a signature the chain would refuse is refused by the engine"
    );
}
