//! Proofs: honest ones verify against the state root; tampered values,
//! keys, roots and truncated proofs are rejected.

use proptest::prelude::*;
use wasmvisor_storage::proof::{ListProofNode, ProofError, SmtTerminal};
use wasmvisor_storage::{Database, Fork, Hash, IndexAddress, MemoryDatabase, Namespace};

fn address(namespace: Namespace, name: &str) -> IndexAddress {
    IndexAddress::new(namespace, name).unwrap()
}

/// A committed state with a proof map, a proof list, a proof entry and
/// indexes in other namespaces; returns a fork over it and its state root.
fn committed_state() -> (Fork, Hash) {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut wallets = fork.proof_map(&address(Namespace::Service(1), "wallets")).unwrap();
    for i in 0u32..100 {
        wallets.put(&i.to_le_bytes(), format!("wallet {i}").as_bytes()).unwrap();
    }
    let mut history = fork.proof_list(&address(Namespace::Service(1), "history")).unwrap();
    for i in 0u32..37 {
        history.push(format!("event {i}").as_bytes()).unwrap();
    }
    fork.proof_entry(&address(Namespace::Service(1), "config"))
        .unwrap()
        .set(b"config v1")
        .unwrap();
    fork.proof_map(&address(Namespace::Service(2), "other"))
        .unwrap()
        .put(b"k", b"v")
        .unwrap();
    fork.proof_entry(&address(Namespace::Dispatcher, "instances"))
        .unwrap()
        .set(b"registry")
        .unwrap();
    fork.map(&address(Namespace::Core, "not-committed"))
        .unwrap()
        .put(b"k", b"v")
        .unwrap();
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    let root = fork.state_root().unwrap();
    (fork, root)
}

#[test]
fn map_inclusion_and_absence_proofs_verify() {
    let (mut fork, root) = committed_state();
    let wallets = address(Namespace::Service(1), "wallets");
    let proof = fork.map_proof(&wallets, &5u32.to_le_bytes()).unwrap();
    let proven = proof.verify(&root).unwrap();
    assert_eq!(proven.address, wallets);
    assert_eq!(proven.key, 5u32.to_le_bytes());
    assert_eq!(proven.value, Some(&b"wallet 5"[..]));

    let absent = fork.map_proof(&wallets, &1_000u32.to_le_bytes()).unwrap();
    assert_eq!(absent.verify(&root).unwrap().value, None);
}

#[test]
fn tampered_map_proofs_are_rejected() {
    let (mut fork, root) = committed_state();
    let wallets = address(Namespace::Service(1), "wallets");
    let honest = fork.map_proof(&wallets, &5u32.to_le_bytes()).unwrap();

    let mut value = honest.clone();
    value.value = Some(b"wallet 5 with a million".to_vec());
    assert!(value.verify(&root).is_err(), "tampered value");

    let mut key = honest.clone();
    key.key = 6u32.to_le_bytes().to_vec();
    assert!(key.verify(&root).is_err(), "tampered key");

    let mut claimed_absent = honest.clone();
    claimed_absent.value = None;
    assert!(claimed_absent.verify(&root).is_err(), "present key claimed absent");

    let mut other_root = root;
    other_root[0] ^= 1;
    assert_eq!(honest.verify(&other_root).unwrap_err(), ProofError::RootMismatch);

    let mut truncated = honest.clone();
    truncated.entry.siblings.pop();
    assert!(truncated.verify(&root).is_err(), "truncated path");

    let mut sibling = honest.clone();
    sibling.entry.siblings[0][3] ^= 0x40;
    assert!(sibling.verify(&root).is_err(), "tampered sibling");

    let mut index_root = honest.clone();
    index_root.index.index_root[0] ^= 1;
    assert!(index_root.verify(&root).is_err(), "tampered index root");

    let mut aggregator = honest.clone();
    aggregator.index.aggregator.siblings.clear();
    assert!(aggregator.verify(&root).is_err(), "truncated aggregator path");

    let mut moved = honest.clone();
    moved.index.address = address(Namespace::Service(2), "wallets").to_bytes();
    assert!(moved.verify(&root).is_err(), "proof moved to another namespace");

    // An absence proof cannot be forged from a presence proof's leaf.
    let mut forged_absence = honest;
    forged_absence.key = 1_000u32.to_le_bytes().to_vec();
    forged_absence.value = None;
    assert!(
        forged_absence.verify(&root).is_err(),
        "absence forged from another path"
    );
}

#[test]
fn an_absence_proof_is_rejected_if_the_other_leaf_is_off_the_path() {
    let (mut fork, root) = committed_state();
    let wallets = address(Namespace::Service(1), "wallets");
    // Find a key whose absence is proven by another key's leaf.
    let proof = (1_000u32..1_200)
        .map(|key| fork.map_proof(&wallets, &key.to_le_bytes()).unwrap())
        .find(|proof| matches!(proof.entry.terminal, SmtTerminal::Leaf { .. }))
        .expect("some absent key ends at another leaf");
    proof.verify(&root).unwrap();
    let mut tampered = proof;
    if let SmtTerminal::Leaf { key_hash, .. } = &mut tampered.entry.terminal {
        key_hash[0] ^= 0x80;
    }
    assert!(tampered.verify(&root).is_err());
}

#[test]
fn list_range_proofs_verify_for_every_range_shape() {
    let (mut fork, root) = committed_state();
    let history = address(Namespace::Service(1), "history");
    for (from, to) in [(0, 37), (5, 9), (36, 37), (0, 1), (10, 10), (30, 100)] {
        let proof = fork.list_proof(&history, from, to).unwrap();
        let items = proof.verify(&root).unwrap().items;
        let expected: Vec<u64> = (from..to.min(37)).collect();
        assert_eq!(
            items.iter().map(|(position, _)| *position).collect::<Vec<_>>(),
            expected
        );
        for (position, value) in items {
            assert_eq!(value, format!("event {position}").as_bytes());
        }
    }
}

fn first_leaf(node: &mut ListProofNode) -> Option<&mut ListProofNode> {
    match node {
        ListProofNode::Leaf(_) => Some(node),
        ListProofNode::Hash(_) => None,
        ListProofNode::Branch(left, right) => {
            first_leaf(left).or_else(move || right.as_deref_mut().and_then(first_leaf))
        }
    }
}

#[test]
fn tampered_list_proofs_are_rejected() {
    let (mut fork, root) = committed_state();
    let history = address(Namespace::Service(1), "history");
    let honest = fork.list_proof(&history, 5, 9).unwrap();

    let mut value = honest.clone();
    if let Some(ListProofNode::Leaf(item)) = first_leaf(value.tree.as_mut().unwrap()) {
        item.push(b'!');
    }
    assert!(value.verify(&root).is_err(), "tampered item");

    let mut hidden = honest.clone();
    let leaf = first_leaf(hidden.tree.as_mut().unwrap()).unwrap();
    *leaf = ListProofNode::Hash(wasmvisor_storage::hash::list_leaf_hash(b"event 5"));
    assert!(
        matches!(hidden.verify(&root), Err(ProofError::WrongSubject(_))),
        "an item hidden in a hash"
    );

    let mut len = honest.clone();
    len.len = 38;
    assert!(len.verify(&root).is_err(), "tampered length");

    let mut range = honest.clone();
    range.to = 10;
    assert!(range.verify(&root).is_err(), "claimed a wider range");

    let mut truncated = honest.clone();
    truncated.tree = None;
    assert!(truncated.verify(&root).is_err(), "tree removed");

    // A range and length of the largest values claimed by a hostile server:
    // refused at once, with nothing allocated from them.
    let mut huge = honest.clone();
    huge.len = u64::MAX;
    huge.from = 0;
    huge.to = u64::MAX;
    assert!(huge.verify(&root).is_err(), "a range of 2^64 positions");

    let mut other_root = root;
    other_root[31] ^= 1;
    assert_eq!(honest.verify(&other_root).unwrap_err(), ProofError::RootMismatch);
}

#[test]
fn entry_proofs_and_absent_indexes() {
    let (mut fork, root) = committed_state();
    let config = address(Namespace::Service(1), "config");
    let proof = fork.entry_proof(&config).unwrap();
    assert_eq!(proof.verify(&root).unwrap().1, Some(&b"config v1"[..]));
    let mut tampered = proof;
    tampered.value = Some(b"config v2".to_vec());
    assert!(tampered.verify(&root).is_err());

    // An index that was never written is provably absent, and so is every
    // key in it.
    let missing = address(Namespace::Service(9), "nothing");
    let proof = fork.map_proof(&missing, b"any").unwrap();
    assert_eq!(proof.index.kind, None);
    assert_eq!(proof.verify(&root).unwrap().value, None);
}

#[test]
fn non_proof_indexes_do_not_change_the_state_root() {
    let (mut fork, root) = committed_state();
    fork.map(&address(Namespace::Core, "blocks"))
        .unwrap()
        .put(b"1", b"block")
        .unwrap();
    fork.list(&address(Namespace::Service(1), "log"))
        .unwrap()
        .push(b"x")
        .unwrap();
    assert_eq!(fork.state_root().unwrap(), root);
    fork.proof_map(&address(Namespace::Service(1), "wallets"))
        .unwrap()
        .put(b"new", b"x")
        .unwrap();
    assert_ne!(fork.state_root().unwrap(), root);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_key_of_a_random_map_is_provable(
        entries in proptest::collection::btree_map(proptest::collection::vec(any::<u8>(), 0..6), proptest::collection::vec(any::<u8>(), 0..6), 0..40),
        probe in proptest::collection::vec(any::<u8>(), 0..6),
    ) {
        let database = MemoryDatabase::new();
        let mut fork = Fork::new(database.snapshot());
        let map = address(Namespace::Service(3), "random");
        let mut index = fork.proof_map(&map).unwrap();
        for (key, value) in &entries {
            index.put(key, value).unwrap();
        }
        let root = fork.state_root().unwrap();
        for (key, value) in &entries {
            let proof = fork.map_proof(&map, key).unwrap();
            prop_assert_eq!(proof.verify(&root).unwrap().value, Some(value.as_slice()));
        }
        let proof = fork.map_proof(&map, &probe).unwrap();
        prop_assert_eq!(proof.verify(&root).unwrap().value, entries.get(&probe).map(Vec::as_slice));
    }
}
