//! Fork semantics: checkpoints, rollback, merged iteration, limits.

use wasmvisor_storage::limits::{KEY_SIZE_MAX, VALUE_SIZE_MAX};
use wasmvisor_storage::{Database, Fork, IndexAddress, IndexKind, MemoryDatabase, Namespace, StorageError};

fn address(name: &str) -> IndexAddress {
    IndexAddress::new(Namespace::Service(4), name).unwrap()
}

#[test]
fn rollback_discards_only_changes_since_the_last_checkpoint() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    fork.map(&address("m")).unwrap().put(b"a", b"1").unwrap();
    fork.flush();
    fork.map(&address("m")).unwrap().put(b"a", b"2").unwrap();
    fork.map(&address("m")).unwrap().put(b"b", b"3").unwrap();
    fork.rollback();
    let map = fork.map(&address("m")).unwrap();
    assert_eq!(map.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(map.get(b"b").unwrap(), None);
    assert_eq!(map.len().unwrap(), 1);
}

#[test]
fn reads_remembered_from_the_snapshot_never_hide_the_forks_own_changes() {
    let database = MemoryDatabase::new();
    let mut setup = Fork::new(database.snapshot());
    setup.map(&address("m")).unwrap().put(b"a", b"committed").unwrap();
    database.merge(setup.into_patch().unwrap()).unwrap();

    let mut fork = Fork::new(database.snapshot());
    for _ in 0..3 {
        // Repeated reads (answered from the fork's read cache after the
        // first) agree with the snapshot, present and absent keys alike.
        let map = fork.map(&address("m")).unwrap();
        assert_eq!(map.get(b"a").unwrap(), Some(b"committed".to_vec()));
        assert_eq!(map.get(b"z").unwrap(), None);
    }
    fork.flush();
    fork.map(&address("m")).unwrap().put(b"a", b"changed").unwrap();
    fork.map(&address("m")).unwrap().put(b"z", b"new").unwrap();
    assert_eq!(
        fork.map(&address("m")).unwrap().get(b"a").unwrap(),
        Some(b"changed".to_vec())
    );
    assert_eq!(
        fork.map(&address("m")).unwrap().get(b"z").unwrap(),
        Some(b"new".to_vec())
    );
    fork.rollback();
    assert_eq!(
        fork.map(&address("m")).unwrap().get(b"a").unwrap(),
        Some(b"committed".to_vec())
    );
    assert_eq!(fork.map(&address("m")).unwrap().get(b"z").unwrap(), None);
    fork.map(&address("m")).unwrap().remove(b"a").unwrap();
    assert_eq!(fork.map(&address("m")).unwrap().get(b"a").unwrap(), None);

    // A later commit does not reach a fork made before it, remembered
    // reads included.
    let mut other = Fork::new(database.snapshot());
    other.map(&address("m")).unwrap().put(b"b", b"later").unwrap();
    database.merge(other.into_patch().unwrap()).unwrap();
    let mut before = Fork::new(database.snapshot());
    assert_eq!(
        before.map(&address("m")).unwrap().get(b"b").unwrap(),
        Some(b"later".to_vec())
    );
    assert_eq!(fork.map(&address("m")).unwrap().get(b"b").unwrap(), None);
}

#[test]
fn a_dropped_fork_leaves_no_trace_and_snapshots_are_isolated() {
    let database = MemoryDatabase::new();
    let mut first = Fork::new(database.snapshot());
    first.proof_map(&address("m")).unwrap().put(b"a", b"1").unwrap();
    database.merge(first.into_patch().unwrap()).unwrap();

    let before = database.snapshot();
    let mut discarded = Fork::new(database.snapshot());
    discarded.proof_map(&address("m")).unwrap().put(b"a", b"999").unwrap();
    drop(discarded);

    let mut second = Fork::new(database.snapshot());
    second.proof_map(&address("m")).unwrap().put(b"b", b"2").unwrap();
    database.merge(second.into_patch().unwrap()).unwrap();

    let mut old_view = Fork::new(before);
    assert_eq!(
        old_view.proof_map(&address("m")).unwrap().get(b"b").unwrap(),
        None,
        "snapshot isolation"
    );
    let mut new_view = Fork::new(database.snapshot());
    let map = new_view.proof_map(&address("m")).unwrap();
    assert_eq!(map.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(map.get(b"b").unwrap(), Some(b"2".to_vec()));
}

#[test]
fn iteration_merges_fork_changes_over_many_snapshot_pages() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("paged")).unwrap();
    for i in 0u32..1_000 {
        map.put(&i.to_be_bytes(), b"old").unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();

    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("paged")).unwrap();
    for i in (0u32..1_000).step_by(10) {
        map.remove(&i.to_be_bytes()).unwrap();
    }
    for i in (5u32..1_000).step_by(10) {
        map.put(&i.to_be_bytes(), b"new").unwrap();
    }
    map.put(&5_001u32.to_be_bytes(), b"extra").unwrap();
    let all = map.range(None, None, usize::MAX).unwrap();
    // range is capped at RANGE_ITEMS_MAX per call.
    assert_eq!(all.len(), wasmvisor_storage::limits::RANGE_ITEMS_MAX.min(901));
    let mut cursor: Option<Vec<u8>> = None;
    let mut seen = Vec::new();
    loop {
        let page = map.range(cursor.as_deref(), None, 100).unwrap();
        if page.is_empty() {
            break;
        }
        let mut next = page.last().unwrap().0.clone();
        next.push(0);
        cursor = Some(next);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 901);
    assert!(seen.windows(2).all(|pair| pair[0].0 < pair[1].0), "in key order");
    for (key, value) in &seen {
        let i = u32::from_be_bytes(key.as_slice().try_into().unwrap());
        let expected: &[u8] = if i == 5_001 {
            b"extra"
        } else if i % 10 == 5 {
            b"new"
        } else {
            b"old"
        };
        assert_ne!(i % 10, 0, "removed keys do not appear");
        assert_eq!(value, expected);
    }
    assert_eq!(map.len().unwrap(), 901);
}

#[test]
fn limits_and_kinds_are_enforced_with_typed_errors() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("m")).unwrap();
    assert_eq!(
        map.put(&vec![0; KEY_SIZE_MAX + 1], b"v").unwrap_err(),
        StorageError::KeyTooLarge {
            size: KEY_SIZE_MAX + 1,
            max: KEY_SIZE_MAX
        }
    );
    assert_eq!(
        map.put(b"k", &vec![0; VALUE_SIZE_MAX + 1]).unwrap_err(),
        StorageError::ValueTooLarge {
            size: VALUE_SIZE_MAX + 1,
            max: VALUE_SIZE_MAX
        }
    );
    map.put(b"k", b"v").unwrap();
    let mismatch = fork.proof_map(&address("m")).unwrap_err();
    assert_eq!(
        mismatch,
        StorageError::KindMismatch {
            name: "m".into(),
            existing: IndexKind::Map,
            requested: IndexKind::ProofMap
        }
    );
    for name in ["", "Upper", "with space", &"x".repeat(65)] {
        assert!(matches!(
            IndexAddress::new(Namespace::Core, name),
            Err(StorageError::InvalidIndexName(_))
        ));
    }
    let mut list = fork.list(&address("l")).unwrap();
    assert_eq!(
        list.set(0, b"x").unwrap_err(),
        StorageError::OutOfRange { position: 0, len: 0 }
    );
    let mut set = fork.key_set(&address("s")).unwrap();
    assert!(matches!(set.put(b"k", b"not empty"), Err(StorageError::Unsupported(_))));
}

#[test]
fn namespaces_are_separate_and_listable() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mine = IndexAddress::new(Namespace::Service(1), "data").unwrap();
    let theirs = IndexAddress::new(Namespace::Service(2), "data").unwrap();
    fork.map(&mine).unwrap().put(b"k", b"mine").unwrap();
    fork.proof_list(&theirs).unwrap().push(b"theirs").unwrap();
    assert_eq!(fork.map(&mine).unwrap().get(b"k").unwrap(), Some(b"mine".to_vec()));
    assert_eq!(
        fork.indexes_in(Namespace::Service(1)).unwrap(),
        vec![(mine, IndexKind::Map)]
    );
    assert_eq!(
        fork.indexes_in(Namespace::Service(2)).unwrap(),
        vec![(theirs, IndexKind::ProofList)]
    );
    assert!(fork.indexes_in(Namespace::Service(3)).unwrap().is_empty());
}

#[test]
fn a_namespace_moves_with_its_proofs() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let shadow = IndexAddress::new(Namespace::Migration(4), "wallets").unwrap();
    let live = address("wallets");
    fork.proof_map(&live).unwrap().put(b"old", b"1").unwrap();
    let mut map = fork.proof_map(&shadow).unwrap();
    map.put(b"a", b"1").unwrap();
    map.put(b"b", b"2").unwrap();
    let shadow_root = map.root().unwrap();
    let migration_hash = fork.namespace_root(Namespace::Migration(4)).unwrap();

    let data = fork.export_namespace(Namespace::Migration(4)).unwrap();
    fork.import_namespace(Namespace::Service(4), &data).unwrap();
    fork.clear_namespace(Namespace::Migration(4)).unwrap();
    let map = fork.proof_map(&live).unwrap();
    assert_eq!(map.root().unwrap(), shadow_root, "the tree moved intact");
    assert_eq!(map.get(b"old").unwrap(), None, "the target's old contents are replaced");
    assert_eq!(map.len().unwrap(), 2);
    assert_eq!(fork.index_kind(&shadow).unwrap(), None);
    assert_eq!(
        fork.namespace_root(Namespace::Service(4)).unwrap(),
        migration_hash,
        "same data, same namespace root"
    );
    let root = fork.state_root().unwrap();
    let proof = fork.map_proof(&live, b"a").unwrap();
    assert_eq!(proof.verify(&root).unwrap().value, Some(&b"1"[..]));

    fork.clear_namespace(Namespace::Service(4)).unwrap();
    assert!(fork.indexes_in(Namespace::Service(4)).unwrap().is_empty());
    assert_eq!(
        fork.state_root().unwrap(),
        Fork::new(MemoryDatabase::new().snapshot()).state_root().unwrap()
    );
}

#[test]
fn a_savepoint_undoes_only_what_came_after_it() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    fork.map(&address("m")).unwrap().put(b"outer", b"1").unwrap();
    let savepoint = fork.savepoint();
    fork.map(&address("m")).unwrap().put(b"inner", b"2").unwrap();
    fork.map(&address("m")).unwrap().put(b"outer", b"changed").unwrap();
    fork.rollback_to(savepoint);
    let map = fork.map(&address("m")).unwrap();
    assert_eq!(map.get(b"outer").unwrap(), Some(b"1".to_vec()));
    assert_eq!(map.get(b"inner").unwrap(), None);
    fork.rollback();
    assert_eq!(
        fork.map(&address("m")).unwrap().get(b"outer").unwrap(),
        None,
        "the checkpoint still rolls back the rest"
    );
}
