//! The RocksDB backend: durability across reopening, snapshot isolation.

use wasmvisor_storage::{Database, Fork, IndexAddress, Namespace, RocksDatabase};

#[test]
fn committed_state_survives_reopening_with_the_same_root() {
    let directory = tempfile::tempdir().unwrap();
    let wallets = IndexAddress::new(Namespace::Service(1), "wallets").unwrap();
    let root = {
        let database = RocksDatabase::open(directory.path()).unwrap();
        let mut fork = Fork::new(database.snapshot());
        let mut map = fork.proof_map(&wallets).unwrap();
        for i in 0u32..500 {
            map.put(&i.to_le_bytes(), &(i * 2).to_le_bytes()).unwrap();
        }
        let root = fork.state_root().unwrap();
        database.merge(fork.into_patch().unwrap()).unwrap();
        // A fork that is never merged leaves nothing behind.
        let mut discarded = Fork::new(database.snapshot());
        discarded.proof_map(&wallets).unwrap().put(b"ghost", b"x").unwrap();
        root
    };
    let database = RocksDatabase::open(directory.path()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    assert_eq!(fork.state_root().unwrap(), root);
    let map = fork.proof_map(&wallets).unwrap();
    assert_eq!(map.len().unwrap(), 500);
    assert_eq!(
        map.get(&7u32.to_le_bytes()).unwrap(),
        Some(14u32.to_le_bytes().to_vec())
    );
    assert_eq!(map.get(b"ghost").unwrap(), None);
    let proof = fork.map_proof(&wallets, &7u32.to_le_bytes()).unwrap();
    assert_eq!(proof.verify(&root).unwrap().value, Some(&14u32.to_le_bytes()[..]));
}

#[test]
fn a_snapshot_does_not_see_later_merges() {
    let directory = tempfile::tempdir().unwrap();
    let database = RocksDatabase::open(directory.path()).unwrap();
    let entry = IndexAddress::new(Namespace::Core, "e").unwrap();
    let mut fork = Fork::new(database.snapshot());
    fork.entry(&entry).unwrap().set(b"one").unwrap();
    database.merge(fork.into_patch().unwrap()).unwrap();
    let old = database.snapshot();
    let mut fork = Fork::new(database.snapshot());
    fork.entry(&entry).unwrap().set(b"two").unwrap();
    database.merge(fork.into_patch().unwrap()).unwrap();
    assert_eq!(
        Fork::new(old).entry(&entry).unwrap().get().unwrap(),
        Some(b"one".to_vec())
    );
    assert_eq!(
        Fork::new(database.snapshot()).entry(&entry).unwrap().get().unwrap(),
        Some(b"two".to_vec())
    );
}
