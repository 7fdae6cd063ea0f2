//! Guest storage backed by the storage crate: an instance's namespace in
//! the block's fork, so wasm state enters the state root exactly like
//! native state (same indexes, same keys, same values).

use std::sync::{Arc, Mutex};

use wasmvisor_storage::{Fork, IndexAddress, Namespace, StorageError as StoreError};

use crate::bindings::{IndexKind, IndexRef, StorageError};
use crate::errors::RuntimeErrorCode;
use crate::state::{Entries, InstanceStorage, RangeLimit, StorageFault};

/// Where the first node-local failure under a call is recorded (a storage
/// failure, or one a nested call or a lifecycle transition met): the
/// runtime answers it as the call's [`wasmvisor_runtime::NodeError`],
/// whatever the guest made of the trap that ended it.
pub type NodeFailure = Arc<Mutex<Option<wasmvisor_runtime::NodeError>>>;

/// Records `error` as the call's node-local failure (the first one stays).
pub fn record_node_failure(slot: &NodeFailure, error: wasmvisor_runtime::NodeError) {
    slot.lock()
        .expect("a lock is poisoned only by a panic, and a panic stops the node")
        .get_or_insert(error);
}

/// One instance's namespace in a fork.
pub struct ForkStorage {
    fork: Fork,
    namespace: Namespace,
    node_failure: NodeFailure,
}

impl ForkStorage {
    /// Storage for `namespace` in `fork`; node-local failures are recorded
    /// in `node_failure` for the runtime to act on after the call.
    pub fn new(fork: Fork, namespace: Namespace, node_failure: NodeFailure) -> Self {
        Self {
            fork,
            namespace,
            node_failure,
        }
    }

    /// Gives the fork back.
    pub fn into_fork(self) -> Fork {
        self.fork
    }
}

/// Converts a storage error: refusals go back to the guest; a spent write
/// budget or bound ends the call; a failure of the node's storage ends it
/// too, recorded in `node_failure` so that the runtime answers a node error
/// instead of any outcome.
fn refuse(node_failure: &NodeFailure, error: StoreError) -> StorageFault {
    let refused = match error {
        StoreError::KeyTooLarge { size, .. } => StorageError::KeyTooLarge(u32::try_from(size).unwrap_or(u32::MAX)),
        StoreError::ValueTooLarge { size, .. } => StorageError::ValueTooLarge(u32::try_from(size).unwrap_or(u32::MAX)),
        StoreError::InvalidIndexName(name) => StorageError::InvalidName(name),
        StoreError::KindMismatch { name, .. } => StorageError::KindMismatch(name),
        StoreError::OutOfRange { position, .. } => StorageError::OutOfRange(position),
        StoreError::Unsupported(what) => StorageError::Unsupported(what.into()),
        StoreError::WriteBudgetExceeded { .. } => {
            let error = wasmvisor_runtime::write_budget_error(&error).expect("a write budget error");
            return StorageFault::Trap(crate::host::to_guest_error(error));
        }
        StoreError::ScanLimitExceeded { .. } => {
            return StorageFault::Trap(
                RuntimeErrorCode::FuelExhausted.error("fuel exhausted: the read would examine more than it pays for"),
            );
        }
        node_local => {
            record_node_failure(node_failure, wasmvisor_runtime::NodeError::Storage(node_local));
            return StorageFault::Trap(crate::host::to_guest_error(wasmvisor_runtime::ExecutionError::new(
                wasmvisor_runtime::ErrorKind::Unexpected,
                "the node's storage failed",
            )));
        }
    };
    StorageFault::Refused(refused)
}

fn position(key: &[u8]) -> Result<u64, StorageError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| StorageError::Unsupported("list keys are 8-byte little-endian positions".into()))?;
    Ok(u64::from_le_bytes(bytes))
}

fn no_entry_key(key: &[u8]) -> Result<(), StorageError> {
    if key.is_empty() {
        Ok(())
    } else {
        Err(StorageError::Unsupported("entry keys must be empty".into()))
    }
}

/// The storage crate's kind for a contract kind.
fn store_kind(kind: IndexKind) -> wasmvisor_storage::IndexKind {
    use wasmvisor_storage::IndexKind as Store;
    match kind {
        IndexKind::Entry => Store::Entry,
        IndexKind::ProofEntry => Store::ProofEntry,
        IndexKind::Map => Store::Map,
        IndexKind::KeySet => Store::KeySet,
        IndexKind::ProofMap => Store::ProofMap,
        IndexKind::List => Store::List,
        IndexKind::ProofList => Store::ProofList,
    }
}

enum Opened<'a> {
    Entry(wasmvisor_storage::EntryIndex<'a>),
    Map(wasmvisor_storage::MapIndex<'a>),
    List(wasmvisor_storage::ListIndex<'a>),
}

impl ForkStorage {
    fn open(&mut self, index: &IndexRef) -> Result<(Opened<'_>, NodeFailure), StorageFault> {
        let failure = Arc::clone(&self.node_failure);
        let address = IndexAddress::new(self.namespace, &index.name)
            .map_err(|_| StorageError::InvalidName(index.name.clone()))?;
        use wasmvisor_storage::IndexKind as Store;
        let opened = match store_kind(index.kind) {
            Store::Entry => self.fork.entry(&address).map(Opened::Entry),
            Store::ProofEntry => self.fork.proof_entry(&address).map(Opened::Entry),
            Store::Map => self.fork.map(&address).map(Opened::Map),
            Store::KeySet => self.fork.key_set(&address).map(Opened::Map),
            Store::ProofMap => self.fork.proof_map(&address).map(Opened::Map),
            Store::List => self.fork.list(&address).map(Opened::List),
            Store::ProofList => self.fork.proof_list(&address).map(Opened::List),
        };
        match opened {
            Ok(opened) => Ok((opened, failure)),
            Err(error) => Err(refuse(&failure, error)),
        }
    }
}

impl InstanceStorage for ForkStorage {
    fn get(&mut self, index: &IndexRef, key: &[u8]) -> Result<Option<Vec<u8>>, StorageFault> {
        let (opened, failure) = self.open(index)?;
        let result = match opened {
            Opened::Entry(entry) => {
                no_entry_key(key)?;
                entry.get()
            }
            Opened::Map(map) => map.get(key),
            Opened::List(list) => list.get(position(key)?),
        };
        result.map_err(|error| refuse(&failure, error))
    }

    fn put(&mut self, index: &IndexRef, key: &[u8], value: &[u8]) -> Result<(), StorageFault> {
        let (opened, failure) = self.open(index)?;
        let result = match opened {
            Opened::Entry(mut entry) => {
                no_entry_key(key)?;
                entry.set(value)
            }
            Opened::Map(mut map) => map.put(key, value),
            Opened::List(mut list) => list.set(position(key)?, value),
        };
        result.map_err(|error| refuse(&failure, error))
    }

    fn remove(&mut self, index: &IndexRef, key: &[u8]) -> Result<bool, StorageFault> {
        let (opened, failure) = self.open(index)?;
        let result = match opened {
            Opened::Entry(mut entry) => {
                no_entry_key(key)?;
                entry.remove()
            }
            Opened::Map(mut map) => map.remove(key),
            Opened::List(_) => {
                return Err(StorageError::Unsupported("list items cannot be removed; use clear".into()).into());
            }
        };
        result.map_err(|error| refuse(&failure, error))
    }

    fn push(&mut self, index: &IndexRef, value: &[u8]) -> Result<u64, StorageFault> {
        let (opened, failure) = self.open(index)?;
        match opened {
            Opened::List(mut list) => list.push(value).map_err(|error| refuse(&failure, error)),
            _ => Err(StorageError::Unsupported("push applies to lists only".into()).into()),
        }
    }

    fn len(&mut self, index: &IndexRef) -> Result<u64, StorageFault> {
        let (opened, failure) = self.open(index)?;
        let result = match opened {
            Opened::Entry(entry) => entry.get().map(|value| u64::from(value.is_some())),
            Opened::Map(map) => map.len(),
            Opened::List(list) => list.len(),
        };
        result.map_err(|error| refuse(&failure, error))
    }

    fn range(
        &mut self,
        index: &IndexRef,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        limit: RangeLimit,
        scan: &mut wasmvisor_storage::Scan,
    ) -> Result<Entries, StorageFault> {
        let (opened, failure) = self.open(index)?;
        match opened {
            Opened::Entry(entry) => {
                let value = entry.get().map_err(|error| refuse(&failure, error))?;
                let answered: Entries = value
                    .into_iter()
                    .filter(|_| from.is_none_or(<[u8]>::is_empty))
                    .map(|value| (Vec::new(), value))
                    .collect();
                // The value read is examined like any range's entry (and
                // paid for by the caller).
                for (key, value) in &answered {
                    scan.examine(key.len() + value.len())
                        .map_err(|error| refuse(&failure, error))?;
                }
                Ok(answered)
            }
            Opened::Map(map) => map
                .range_scanned(from, to, limit.items_max, limit.bytes_max, scan)
                .map_err(|error| refuse(&failure, error)),
            Opened::List(list) => {
                let from = from.map(position).transpose()?.unwrap_or(0);
                let to = to.map(position).transpose()?;
                let items = list
                    .range_scanned(from, to, limit.items_max, limit.bytes_max, scan)
                    .map_err(|error| refuse(&failure, error))?;
                Ok(items
                    .into_iter()
                    .map(|(position, value)| (position.to_le_bytes().to_vec(), value))
                    .collect())
            }
        }
    }

    fn clear(&mut self, index: &IndexRef, scan: &mut wasmvisor_storage::Scan) -> Result<usize, StorageFault> {
        let (opened, failure) = self.open(index)?;
        let result = match opened {
            Opened::Entry(mut entry) => entry.remove().map(usize::from),
            Opened::Map(mut map) => map.clear_scanned(scan),
            Opened::List(mut list) => list.clear_scanned(scan),
        };
        result.map_err(|error| refuse(&failure, error))
    }

    fn fork_mut(&mut self) -> Option<&mut Fork> {
        Some(&mut self.fork)
    }

    fn into_fork_storage(self: Box<Self>) -> Option<ForkStorage> {
        Some(*self)
    }
}
