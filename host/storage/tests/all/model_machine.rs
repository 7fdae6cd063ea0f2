//! The storage model machine: operation sequences applied to the real
//! store and to a `BTreeMap`/`Vec` model, compared after every step. Used
//! by the property tests here and by the `storage` fuzz target
//! (`tests/fuzz`), which includes this file by path.

use std::collections::BTreeMap;

use wasmvisor_storage::hash::{entry_hash, hash_bytes, index_hash};
use wasmvisor_storage::{
    Database, Fork, IndexAddress, IndexKind, Namespace, list_root_from_scratch, smt_root_from_scratch,
};

#[derive(Debug, Clone)]
pub enum Op {
    /// Maps/sets: put key; entries: set; lists: push (key % 3 == 0) or set position `key`.
    Write(u8, Vec<u8>),
    Remove(u8),
    Clear,
    Flush,
    Rollback,
    /// Finish the fork, merge the patch, continue on a new fork.
    Commit,
    /// Compare the index's root with the model's (proof indexes): a proof
    /// map's tree takes every key written since the last root in one
    /// batch.
    Root,
}

/// The model: contents, whether the index exists, with checkpoint copies.
#[derive(Debug, Clone, Default, PartialEq)]
struct ModelState {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    list: Vec<Vec<u8>>,
    bound: bool,
}

fn key_bytes(key: u8) -> Vec<u8> {
    // Keys of different lengths exercise prefix ordering.
    if key.is_multiple_of(2) {
        vec![key]
    } else {
        vec![key, key]
    }
}

/// Applies a write-type op to the real index and to the model.
fn apply(fork: &mut Fork, address: &IndexAddress, kind: IndexKind, model: &mut ModelState, op: &Op) {
    match kind {
        IndexKind::Entry | IndexKind::ProofEntry => {
            let mut entry = if kind == IndexKind::Entry {
                fork.entry(address)
            } else {
                fork.proof_entry(address)
            }
            .unwrap();
            match op {
                Op::Write(_, value) => {
                    entry.set(value).unwrap();
                    model.map.insert(Vec::new(), value.clone());
                    model.bound = true;
                }
                Op::Remove(_) => {
                    let removed = entry.remove().unwrap();
                    assert_eq!(removed, model.map.remove(&Vec::new()).is_some());
                    model.bound = true;
                }
                Op::Clear => {
                    entry.remove().unwrap();
                    model.map.clear();
                    model.bound = true;
                }
                _ => unreachable!(),
            }
        }
        IndexKind::Map | IndexKind::KeySet | IndexKind::ProofMap => {
            let mut map = match kind {
                IndexKind::Map => fork.map(address),
                IndexKind::KeySet => fork.key_set(address),
                _ => fork.proof_map(address),
            }
            .unwrap();
            match op {
                Op::Write(key, value) => {
                    let value = if kind == IndexKind::KeySet {
                        Vec::new()
                    } else {
                        value.clone()
                    };
                    map.put(&key_bytes(*key), &value).unwrap();
                    model.map.insert(key_bytes(*key), value);
                    model.bound = true;
                }
                Op::Remove(key) => {
                    let removed = map.remove(&key_bytes(*key)).unwrap();
                    assert_eq!(removed, model.map.remove(&key_bytes(*key)).is_some());
                    model.bound |= removed;
                }
                Op::Clear => {
                    map.clear().unwrap();
                    model.map.clear();
                    model.bound = true;
                }
                _ => unreachable!(),
            }
        }
        IndexKind::List | IndexKind::ProofList => {
            let mut list = if kind == IndexKind::List {
                fork.list(address)
            } else {
                fork.proof_list(address)
            }
            .unwrap();
            match op {
                Op::Write(key, value) if key % 3 == 0 => {
                    let position = list.push(value).unwrap();
                    assert_eq!(position, model.list.len() as u64);
                    model.list.push(value.clone());
                    model.bound = true;
                }
                Op::Write(key, value) => {
                    let position = u64::from(*key);
                    let result = list.set(position, value);
                    if (position as usize) < model.list.len() {
                        result.unwrap();
                        model.list[position as usize] = value.clone();
                        model.bound = true;
                    } else {
                        assert!(result.is_err(), "setting past the end must fail");
                    }
                }
                Op::Remove(_) | Op::Clear => {
                    list.clear().unwrap();
                    model.list.clear();
                    model.bound = true;
                }
                _ => unreachable!(),
            }
        }
    }
}

/// The index's root computed from the model, by the definitions.
fn model_root(kind: IndexKind, model: &ModelState) -> wasmvisor_storage::Hash {
    match kind {
        IndexKind::ProofEntry => entry_hash(model.map.get(&Vec::new()).map(Vec::as_slice)),
        IndexKind::ProofMap => {
            let pairs: Vec<_> = model
                .map
                .iter()
                .map(|(key, value)| (hash_bytes(key), hash_bytes(value)))
                .collect();
            smt_root_from_scratch(&pairs)
        }
        IndexKind::ProofList => list_root_from_scratch(&model.list),
        _ => unreachable!("not a proof index"),
    }
}

/// Compares everything observable about the index with the model; its
/// root only if `roots`.
fn compare(fork: &mut Fork, address: &IndexAddress, kind: IndexKind, model: &ModelState, roots: bool) {
    match kind {
        IndexKind::Entry | IndexKind::ProofEntry => {
            let entry = if kind == IndexKind::Entry {
                fork.entry(address)
            } else {
                fork.proof_entry(address)
            }
            .unwrap();
            assert_eq!(entry.get().unwrap(), model.map.get(&Vec::new()).cloned());
            if roots && kind.is_proof() {
                assert_eq!(entry.root().unwrap(), model_root(kind, model));
            }
        }
        IndexKind::Map | IndexKind::KeySet | IndexKind::ProofMap => {
            let mut map = match kind {
                IndexKind::Map => fork.map(address),
                IndexKind::KeySet => fork.key_set(address),
                _ => fork.proof_map(address),
            }
            .unwrap();
            let contents: BTreeMap<_, _> = map.range(None, None, usize::MAX).unwrap().into_iter().collect();
            assert_eq!(&contents, &model.map);
            assert_eq!(map.len().unwrap(), model.map.len() as u64);
            for key in 0u8..24 {
                assert_eq!(
                    map.get(&key_bytes(key)).unwrap(),
                    model.map.get(&key_bytes(key)).cloned()
                );
            }
            // A bounded range agrees with the model's.
            let (from, to) = (key_bytes(4), key_bytes(15));
            let expected: Vec<_> = model
                .map
                .range(from.clone()..to.clone())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(map.range(Some(&from), Some(&to), usize::MAX).unwrap(), expected);
            if roots && kind.is_proof() {
                assert_eq!(map.root().unwrap(), model_root(kind, model));
            }
        }
        IndexKind::List | IndexKind::ProofList => {
            let list = if kind == IndexKind::List {
                fork.list(address)
            } else {
                fork.proof_list(address)
            }
            .unwrap();
            assert_eq!(list.len().unwrap(), model.list.len() as u64);
            let items: Vec<_> = list
                .range(0, None, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|(_, value)| value)
                .collect();
            assert_eq!(items, model.list);
            for (position, item) in model.list.iter().enumerate() {
                assert_eq!(list.get(position as u64).unwrap().as_ref(), Some(item));
            }
            if roots && kind.is_proof() {
                assert_eq!(list.root().unwrap(), model_root(kind, model));
            }
        }
    }
    assert_eq!(
        fork.index_kind(address).unwrap().is_some(),
        model.bound,
        "binding of {kind:?}"
    );
}

/// The state root the model predicts: the aggregator over the one index.
fn model_state_root(address: &IndexAddress, kind: IndexKind, model: &ModelState) -> wasmvisor_storage::Hash {
    if !kind.is_proof() || !model.bound {
        return smt_root_from_scratch(&[]);
    }
    smt_root_from_scratch(&[(
        hash_bytes(&address.to_bytes()),
        index_hash(kind, &model_root(kind, model)),
    )])
}

pub fn run_model(database: &dyn Database, kind: IndexKind, ops: &[Op]) {
    let address = IndexAddress::new(Namespace::Service(7), "subject").unwrap();
    let mut fork = Fork::new(database.snapshot());
    let mut current = ModelState::default();
    let mut checkpoint = current.clone();
    for op in ops {
        match op {
            Op::Flush => {
                fork.flush();
                checkpoint = current.clone();
            }
            Op::Rollback => {
                fork.rollback();
                current = checkpoint.clone();
            }
            Op::Commit => {
                let patch = fork.into_patch().unwrap();
                database.merge(patch).unwrap();
                fork = Fork::new(database.snapshot());
                checkpoint = current.clone();
                let root = fork.state_root().unwrap();
                assert_eq!(
                    root,
                    model_state_root(&address, kind, &current),
                    "state root after commit"
                );
            }
            Op::Root => {}
            write => apply(&mut fork, &address, kind, &mut current, write),
        }
        compare(&mut fork, &address, kind, &current, matches!(op, Op::Root));
    }
}
