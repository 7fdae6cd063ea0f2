//! Fork semantics: checkpoints, rollback, merged iteration, limits.

use wasmvisor_storage::limits::{
    KEY_BYTES_MAX, RANGE_BYTES_MAX, RANGE_ITEMS_MAX, RECORD_VALUE_BYTES_MAX, SERVICE_VALUE_BYTES_MAX,
};
use wasmvisor_storage::{Database, Fork, IndexAddress, IndexKind, MemoryDatabase, Namespace, StorageError};
use wasmvisor_storage::{Scan, ScanLimit, WriteLimits, WriteUsage};

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
    map.put(&vec![0; KEY_BYTES_MAX - 1], b"v").unwrap();
    map.put(&vec![1; KEY_BYTES_MAX], b"v").unwrap();
    assert_eq!(
        map.put(&vec![0; KEY_BYTES_MAX + 1], b"v").unwrap_err(),
        StorageError::KeyTooLarge {
            size: KEY_BYTES_MAX + 1,
            max: KEY_BYTES_MAX
        }
    );
    map.put(b"a", &vec![0; SERVICE_VALUE_BYTES_MAX - 1]).unwrap();
    map.put(b"b", &vec![0; SERVICE_VALUE_BYTES_MAX]).unwrap();
    assert_eq!(
        map.put(b"k", &vec![0; SERVICE_VALUE_BYTES_MAX + 1]).unwrap_err(),
        StorageError::ValueTooLarge {
            size: SERVICE_VALUE_BYTES_MAX + 1,
            max: SERVICE_VALUE_BYTES_MAX
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
    let mut map = fork.proof_map(&live).unwrap();
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

#[test]
fn the_host_records_values_up_to_the_record_limit_and_services_up_to_theirs() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let record = IndexAddress::new(Namespace::Core, "records").unwrap();
    let mut records = fork.map(&record).unwrap();
    records.put(b"below", &vec![1; RECORD_VALUE_BYTES_MAX - 1]).unwrap();
    records.put(b"at", &vec![2; RECORD_VALUE_BYTES_MAX]).unwrap();
    assert_eq!(
        records.put(b"over", &vec![3; RECORD_VALUE_BYTES_MAX + 1]).unwrap_err(),
        StorageError::ValueTooLarge {
            size: RECORD_VALUE_BYTES_MAX + 1,
            max: RECORD_VALUE_BYTES_MAX
        }
    );
    // A migration's shadow namespace is a service's data: service values.
    let shadow = IndexAddress::new(Namespace::Migration(1), "data").unwrap();
    assert!(matches!(
        fork.map(&shadow)
            .unwrap()
            .put(b"k", &vec![0; SERVICE_VALUE_BYTES_MAX + 1]),
        Err(StorageError::ValueTooLarge { .. })
    ));
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    assert_eq!(
        fork.map(&record).unwrap().get(b"at").unwrap().map(|value| value.len()),
        Some(RECORD_VALUE_BYTES_MAX)
    );
}

#[test]
fn a_range_stops_at_its_byte_limit_but_always_answers_one_entry() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("wide")).unwrap();
    // Eight values of one service value each, half in the snapshot, half
    // in the fork.
    for i in 0u8..4 {
        map.put(&[i], &vec![i; SERVICE_VALUE_BYTES_MAX]).unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("wide")).unwrap();
    for i in 4u8..8 {
        map.put(&[i], &vec![i; SERVICE_VALUE_BYTES_MAX]).unwrap();
    }
    let entry = 1 + SERVICE_VALUE_BYTES_MAX;
    // The default bound: as many whole entries as fit RANGE_BYTES_MAX.
    let page = map.range(None, None, RANGE_ITEMS_MAX).unwrap();
    assert_eq!(page.len(), RANGE_BYTES_MAX / entry);
    // Tighter bounds: limit - 1, the limit, limit + 1 bytes of two entries.
    assert_eq!(
        map.range_scanned(None, None, 8, 2 * entry - 1, &mut Scan::unlimited())
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        map.range_scanned(None, None, 8, 2 * entry, &mut Scan::unlimited())
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        map.range_scanned(None, None, 8, 2 * entry + 1, &mut Scan::unlimited())
            .unwrap()
            .len(),
        2
    );
    // One entry is answered even when it alone is over the bound, so a
    // range always makes progress.
    let first = map
        .range_scanned(Some(&[3]), None, 8, 1, &mut Scan::unlimited())
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, vec![3]);
    // Going on after the last key until an empty answer reads everything.
    let mut cursor: Option<Vec<u8>> = None;
    let mut keys = Vec::new();
    loop {
        let page = map.range(cursor.as_deref(), None, RANGE_ITEMS_MAX).unwrap();
        let Some((last, _)) = page.last() else { break };
        cursor = Some([last.as_slice(), &[0]].concat());
        keys.extend(page.into_iter().map(|(key, _)| key));
    }
    assert_eq!(keys, (0u8..8).map(|i| vec![i]).collect::<Vec<_>>());
}

#[test]
fn metered_writes_stop_at_the_call_and_block_budgets_before_anything_is_written() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let call = WriteLimits {
        bytes_max: 100,
        items_max: 3,
    };
    let block = WriteLimits {
        bytes_max: 150,
        items_max: 100,
    };
    // Keys: limit - 1, the limit, limit + 1.
    fork.meter_writes(call, block);
    let mut map = fork.map(&address("metered")).unwrap();
    map.put(b"a", b"1").unwrap();
    map.put(b"b", b"2").unwrap();
    map.put(b"c", b"3").unwrap();
    assert_eq!(
        map.put(b"d", b"4").unwrap_err(),
        StorageError::WriteBudgetExceeded {
            scope: "call",
            unit: "keys",
            max: 3
        }
    );
    assert!(map.get(b"d").unwrap().is_none(), "a refused write leaves nothing");
    assert_eq!(
        fork.write_usage(),
        (WriteUsage { bytes: 6, items: 3 }, WriteUsage { bytes: 6, items: 3 })
    );
    fork.stop_metering_writes();
    // Unmetered writes (the host's own) are not counted.
    fork.map(&address("metered")).unwrap().put(b"e", &[0; 500]).unwrap();
    // Bytes: a new call gets a fresh call budget; the block's goes on.
    fork.meter_writes(call, block);
    let mut map = fork.map(&address("metered")).unwrap();
    map.put(b"f", &[0; 98]).unwrap();
    assert_eq!(
        map.put(b"g", &[0; 1]).unwrap_err(),
        StorageError::WriteBudgetExceeded {
            scope: "call",
            unit: "bytes",
            max: 100
        }
    );
    fork.stop_metering_writes();
    fork.meter_writes(call, block);
    let mut map = fork.map(&address("metered")).unwrap();
    map.put(b"h", &[0; 44]).unwrap();
    assert_eq!(
        map.put(b"i", &[0; 1]).unwrap_err(),
        StorageError::WriteBudgetExceeded {
            scope: "block",
            unit: "bytes",
            max: 150
        }
    );
    // Removals count too.
    assert!(matches!(
        map.remove(b"a"),
        Err(StorageError::WriteBudgetExceeded { scope: "block", .. })
    ));
    assert_eq!(map.get(b"a").unwrap(), Some(b"1".to_vec()));
}

fn items_scan(items_max: u64) -> Scan {
    Scan::new(ScanLimit {
        items_max,
        bytes_max: u64::MAX,
    })
}

#[test]
fn a_bounded_clear_refuses_an_index_with_more_keys_than_its_scan() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut list = fork.proof_list(&address("many")).unwrap();
    for i in 0u32..100 {
        list.push(&i.to_le_bytes()).unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    let mut list = fork.proof_list(&address("many")).unwrap();
    // The list's own keys: items, tree nodes, its length.
    let mut scan = Scan::unlimited();
    let removed = list.clear_scanned(&mut scan).unwrap();
    assert!(removed > 100, "{removed} keys");
    assert_eq!(scan.items(), removed as u64);
    let mut fork = Fork::new(database.snapshot());
    let mut list = fork.proof_list(&address("many")).unwrap();
    let mut scan = items_scan(removed as u64 - 1);
    assert_eq!(
        list.clear_scanned(&mut scan).unwrap_err(),
        StorageError::ScanLimitExceeded {
            items_max: removed as u64 - 1,
            bytes_max: u64::MAX,
        }
    );
    assert_eq!(scan.items(), removed as u64 - 1, "it stopped at the limit");
    let mut fork = Fork::new(database.snapshot());
    let mut list = fork.proof_list(&address("many")).unwrap();
    assert_eq!(list.clear_scanned(&mut items_scan(removed as u64)).unwrap(), removed);
    assert!(list.is_empty().unwrap());
    // Metered, every key removed is a write.
    let mut fork = Fork::new(database.snapshot());
    let limits = WriteLimits {
        bytes_max: usize::MAX,
        items_max: 50,
    };
    fork.meter_writes(limits, WriteLimits::BLOCK);
    assert!(matches!(
        fork.proof_list(&address("many")).unwrap().clear(),
        Err(StorageError::WriteBudgetExceeded { unit: "keys", .. })
    ));
}

#[test]
fn a_range_over_entries_the_fork_removed_pays_for_passing_them() {
    let database = MemoryDatabase::new();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("removed")).unwrap();
    for i in 0u32..100 {
        map.put(&i.to_be_bytes(), &[7; 100]).unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    let mut map = fork.map(&address("removed")).unwrap();
    for i in 0u32..100 {
        map.remove(&i.to_be_bytes()).unwrap();
    }
    // Nothing to answer, but a hundred removed entries to pass over.
    let mut scan = Scan::unlimited();
    assert!(
        map.range_scanned(None, None, 8, RANGE_BYTES_MAX, &mut scan)
            .unwrap()
            .is_empty()
    );
    assert!(scan.items() >= 100, "{} entries examined", scan.items());
    assert!(scan.bytes() >= 100 * 104, "{} bytes examined", scan.bytes());
    // A scan short of them fails instead of answering an empty page for free.
    let mut short = items_scan(99);
    assert!(matches!(
        map.range_scanned(None, None, 8, RANGE_BYTES_MAX, &mut short),
        Err(StorageError::ScanLimitExceeded { items_max: 99, .. })
    ));
    let mut few_bytes = Scan::new(ScanLimit {
        items_max: u64::MAX,
        bytes_max: 1_000,
    });
    assert!(matches!(
        map.range_scanned(None, None, 8, RANGE_BYTES_MAX, &mut few_bytes),
        Err(StorageError::ScanLimitExceeded { bytes_max: 1_000, .. })
    ));
    assert!(few_bytes.bytes() <= 1_000);
}

/// What a clear of a proof map examines and removes depends on the map's
/// contents alone, not on whether its tree was settled since its keys were
/// written (tree nodes of keys written in the block do not exist yet): so
/// a transaction's fuel for a clear cannot depend on when a root was last
/// asked for.
#[test]
fn a_proof_maps_clear_costs_the_same_whether_or_not_its_tree_was_settled() {
    let database = MemoryDatabase::new();
    let map = address("ledger");
    let mut fork = Fork::new(database.snapshot());
    for i in 0u32..50 {
        fork.proof_map(&map)
            .unwrap()
            .put(&i.to_be_bytes(), b"committed")
            .unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();

    let cost = |settle: bool| {
        let mut fork = Fork::new(database.snapshot());
        let mut ledger = fork.proof_map(&map).unwrap();
        for i in 50u32..80 {
            ledger.put(&i.to_be_bytes(), b"this block").unwrap();
        }
        if settle {
            ledger.root().unwrap();
        }
        let mut scan = Scan::unlimited();
        let removed = ledger.clear_scanned(&mut scan).unwrap();
        assert!(ledger.is_empty().unwrap());
        let root = fork.state_root().unwrap();
        (removed, scan.items(), scan.bytes(), root)
    };
    let unsettled = cost(false);
    assert_eq!(unsettled, cost(true));
    assert_eq!(unsettled.0, 81, "80 keys and the length");
}
