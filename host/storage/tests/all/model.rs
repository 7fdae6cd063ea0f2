//! Model-based tests: random operation sequences against the real store
//! and a `BTreeMap`/`Vec` model, compared after every step; proof roots
//! recomputed from scratch must equal the incremental ones.

use std::collections::BTreeMap;

use proptest::prelude::*;
use wasmvisor_storage::hash::hash_bytes;
use wasmvisor_storage::{
    Database, Fork, IndexAddress, IndexKind, MemoryDatabase, Namespace, RocksDatabase, smt_root_from_scratch,
};

use crate::model_machine::{Op, run_model};

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..24, proptest::collection::vec(any::<u8>(), 0..12)).prop_map(|(key, value)| Op::Write(key, value)),
        2 => (0u8..24).prop_map(Op::Remove),
        1 => Just(Op::Clear),
        2 => Just(Op::Flush),
        2 => Just(Op::Rollback),
        1 => Just(Op::Commit),
        3 => Just(Op::Root),
    ]
}

fn kinds() -> impl Strategy<Value = IndexKind> {
    proptest::sample::select(IndexKind::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_index_kind_matches_its_model_in_memory(
        kind in kinds(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        run_model(&MemoryDatabase::new(), kind, &ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn every_index_kind_matches_its_model_on_rocksdb(
        kind in kinds(),
        ops in proptest::collection::vec(op_strategy(), 1..60),
    ) {
        let directory = tempfile::tempdir().unwrap();
        let database = RocksDatabase::open(directory.path()).unwrap();
        run_model(&database, kind, &ops);
    }
}

#[test]
fn every_kind_is_covered_by_a_fixed_sequence() {
    // A deterministic run per kind, so a regression shows up even if the
    // random cases happen to miss a kind.
    let ops: Vec<Op> = (0u8..40)
        .map(|step| match step % 10 {
            0..=4 => Op::Write(step, vec![step; (step % 5) as usize]),
            5 => Op::Remove(step - 3),
            6 => Op::Flush,
            7 => Op::Rollback,
            8 => Op::Commit,
            _ => Op::Root,
        })
        .collect();
    // The roots asked for after every step too: trees settled key by key.
    let rooted: Vec<Op> = ops.iter().flat_map(|op| [op.clone(), Op::Root]).collect();
    for kind in IndexKind::ALL {
        run_model(&MemoryDatabase::new(), kind, &ops);
        run_model(&MemoryDatabase::new(), kind, &rooted);
    }
}

#[test]
fn a_large_proof_map_matches_the_from_scratch_root() {
    let database = MemoryDatabase::new();
    let address = IndexAddress::new(Namespace::Core, "big").unwrap();
    let mut fork = Fork::new(database.snapshot());
    let mut model = BTreeMap::new();
    let mut map = fork.proof_map(&address).unwrap();
    for i in 0u32..2_000 {
        let key = i.to_le_bytes().to_vec();
        let value = (i * 7).to_le_bytes().to_vec();
        map.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    for i in (0u32..2_000).step_by(3) {
        let key = i.to_le_bytes().to_vec();
        map.remove(&key).unwrap();
        model.remove(&key);
    }
    let pairs: Vec<_> = model
        .iter()
        .map(|(key, value)| (hash_bytes(key), hash_bytes(value)))
        .collect();
    assert_eq!(map.root().unwrap(), smt_root_from_scratch(&pairs));
}

/// What a proof map's namespace holds once committed (data, tree nodes and
/// length), after `ops` (writes, removals and commits), with the tree
/// settled after every operation or only when the fork is committed.
fn stored_after(ops: &[Op], settle_each: bool) -> wasmvisor_storage::NamespaceData {
    let database = MemoryDatabase::new();
    let address = IndexAddress::new(Namespace::Service(7), "subject").unwrap();
    let mut fork = Fork::new(database.snapshot());
    for op in ops {
        let mut map = fork.proof_map(&address).unwrap();
        match op {
            Op::Write(key, value) => map.put(&[*key], value).unwrap(),
            Op::Remove(key) => drop(map.remove(&[*key]).unwrap()),
            Op::Commit => {
                database.merge(fork.into_patch().unwrap()).unwrap();
                fork = Fork::new(database.snapshot());
                continue;
            }
            _ => {}
        }
        if settle_each {
            fork.proof_map(&address).unwrap().root().unwrap();
        }
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    Fork::new(database.snapshot())
        .export_namespace(Namespace::Service(7))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The stored tree is the one the definition gives for the final set of
    /// keys, however its changes were batched: settled after every write,
    /// once per commit, or built from the final contents in one batch. So
    /// nodes that settle at different moments store the same bytes.
    #[test]
    fn a_proof_maps_tree_is_stored_the_same_however_its_changes_are_batched(
        ops in proptest::collection::vec(
            prop_oneof![
                6 => (0u8..64, proptest::collection::vec(any::<u8>(), 0..4))
                    .prop_map(|(key, value)| Op::Write(key, value)),
                3 => (0u8..64).prop_map(Op::Remove),
                1 => Just(Op::Commit),
            ],
            1..120,
        ),
    ) {
        let mut contents = BTreeMap::new();
        for op in &ops {
            match op {
                Op::Write(key, value) => drop(contents.insert(*key, value.clone())),
                Op::Remove(key) => drop(contents.remove(key)),
                _ => {}
            }
        }
        // Bound as the sequence bound it (by a write), with the final
        // contents written in one batch.
        let bound = ops.iter().any(|op| matches!(op, Op::Write(..)));
        let binding = [Op::Write(200, Vec::new()), Op::Remove(200)];
        let in_one_batch: Vec<Op> = binding
            .into_iter()
            .filter(|_| bound)
            .chain(contents.into_iter().map(|(key, value)| Op::Write(key, value)))
            .collect();
        let per_key = stored_after(&ops, true);
        prop_assert_eq!(&per_key, &stored_after(&ops, false));
        prop_assert_eq!(&per_key, &stored_after(&in_one_batch, false));
    }
}

/// How a batch is put.
#[derive(Clone, Copy)]
enum Puts {
    OneByOne,
    Many,
    /// `put_many_absent`: the batch's keys are distinct and not committed.
    ManyAbsent,
}

/// What a map of `kind` holds after `committed` then `batch` were put into
/// it, the batch as `how` says, under a call write budget of
/// `budget_items` keys: the outcome, what was charged, and the namespace as
/// stored.
fn after_puts(
    kind: IndexKind,
    committed: &[(Vec<u8>, Vec<u8>)],
    batch: &[(Vec<u8>, Vec<u8>)],
    budget_items: usize,
    how: Puts,
) -> (
    Result<(), wasmvisor_storage::StorageError>,
    wasmvisor_storage::WriteUsage,
    wasmvisor_storage::NamespaceData,
) {
    let database = MemoryDatabase::new();
    let address = IndexAddress::new(Namespace::Service(7), "subject").unwrap();
    fn open<'a>(fork: &'a mut Fork, kind: IndexKind, address: &IndexAddress) -> wasmvisor_storage::MapIndex<'a> {
        match kind {
            IndexKind::Map => fork.map(address).unwrap(),
            IndexKind::KeySet => fork.key_set(address).unwrap(),
            _ => fork.proof_map(address).unwrap(),
        }
    }
    let mut fork = Fork::new(database.snapshot());
    for (key, value) in committed {
        open(&mut fork, kind, &address).put(key, value).unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    let mut fork = Fork::new(database.snapshot());
    fork.meter_writes(
        wasmvisor_storage::WriteLimits {
            bytes_max: usize::MAX,
            items_max: budget_items,
        },
        wasmvisor_storage::WriteLimits::UNLIMITED,
    );
    let entries = batch.iter().map(|(key, value)| (key.as_slice(), value.as_slice()));
    let outcome = match how {
        Puts::OneByOne => batch
            .iter()
            .try_for_each(|(key, value)| open(&mut fork, kind, &address).put(key, value)),
        Puts::Many => open(&mut fork, kind, &address).put_many(entries),
        Puts::ManyAbsent => open(&mut fork, kind, &address).put_many_absent(entries),
    };
    let (charged, _) = fork.write_usage();
    fork.stop_metering_writes();
    if kind == IndexKind::ProofMap {
        fork.proof_map(&address).unwrap().root().unwrap();
    }
    database.merge(fork.into_patch().unwrap()).unwrap();
    let stored = Fork::new(database.snapshot())
        .export_namespace(Namespace::Service(7))
        .unwrap();
    (outcome, charged, stored)
}

fn entries(kind: IndexKind) -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    let value = if kind == IndexKind::KeySet {
        Just(Vec::new()).boxed()
    } else {
        proptest::collection::vec(any::<u8>(), 0..4).boxed()
    };
    // Keys from a small range (repeats, and keys already committed), now
    // and then one over the key limit (refused mid-batch).
    let key = prop_oneof![
        20 => (0u8..16).prop_map(|key| vec![key]),
        1 => Just(vec![0u8; wasmvisor_storage::limits::KEY_BYTES_MAX + 1]),
    ];
    proptest::collection::vec((key, value), 0..24)
}

/// Up to 24 entries with keys that `entries` never draws.
fn fresh_entries(kind: IndexKind) -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    let value = if kind == IndexKind::KeySet {
        Just(Vec::new()).boxed()
    } else {
        proptest::collection::vec(any::<u8>(), 0..4).boxed()
    };
    proptest::collection::vec(((16u8..=255).prop_map(|key| vec![key, key]), value), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// `put_many` leaves what as many `put`s would: the same stored
    /// namespace (data, length, binding, tree), the same writes charged and
    /// the same outcome — also when an entry mid-batch is refused, by the
    /// key limit or the write budget.
    #[test]
    fn putting_many_entries_at_once_is_putting_them_one_by_one(
        (kind, committed, batch, fresh) in proptest::sample::select(vec![IndexKind::Map, IndexKind::KeySet, IndexKind::ProofMap])
            .prop_flat_map(|kind| (Just(kind), entries(kind), entries(kind), fresh_entries(kind))),
        budget_items in 0usize..30,
    ) {
        let committed: Vec<_> = committed
            .into_iter()
            .filter(|(key, _)| key.len() <= wasmvisor_storage::limits::KEY_BYTES_MAX)
            .collect();
        let one_by_one = after_puts(kind, &committed, &batch, budget_items, Puts::OneByOne);
        let together = after_puts(kind, &committed, &batch, budget_items, Puts::Many);
        prop_assert_eq!(&one_by_one, &together);

        // Entries whose keys are new and distinct — those of the same batch,
        // and fresh ones from keys never committed: putting them as known
        // absent leaves what putting them does.
        let mut seen: std::collections::BTreeSet<Vec<u8>> = committed.iter().map(|(key, _)| key.clone()).collect();
        let absent: Vec<_> = batch
            .iter()
            .chain(&fresh)
            .filter(|(key, _)| seen.insert(key.clone()))
            .cloned()
            .collect();
        prop_assert_eq!(
            after_puts(kind, &committed, &absent, budget_items, Puts::Many),
            after_puts(kind, &committed, &absent, budget_items, Puts::ManyAbsent)
        );
    }
}
