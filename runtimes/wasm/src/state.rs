//! Per-call host state: who is calling, at what height, and the storage
//! the guest may reach.

use crate::bindings::{Caller, IndexRef, InstanceSpec, StorageError};

/// Key-value pairs returned by [`InstanceStorage::range`], in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Storage as one instance sees it: every index name is already resolved
/// inside that instance's namespace by the implementation. Inputs reaching
/// an implementation have passed the limits in [`crate::limits`].
pub trait InstanceStorage: Send {
    /// Reads a value (entries: empty key; lists: 8-byte LE position).
    fn get(&mut self, index: &IndexRef, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Writes a value.
    fn put(&mut self, index: &IndexRef, key: &[u8], value: &[u8]) -> Result<(), StorageError>;
    /// Removes a key; returns whether it was present.
    fn remove(&mut self, index: &IndexRef, key: &[u8]) -> Result<bool, StorageError>;
    /// Appends to a list; returns the new item's position.
    fn push(&mut self, index: &IndexRef, value: &[u8]) -> Result<u64, StorageError>;
    /// Number of items in the index.
    fn len(&mut self, index: &IndexRef) -> Result<u64, StorageError>;
    /// Up to `limit` entries with `from <= key < to`.
    fn range(
        &mut self,
        index: &IndexRef,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, StorageError>;
    /// Removes every item of the index.
    fn clear(&mut self, index: &IndexRef) -> Result<(), StorageError>;

    /// The fork behind this storage, if it is fork-backed (cross-service
    /// calls run on it).
    fn fork_mut(&mut self) -> Option<&mut wasmvisor_storage::Fork> {
        None
    }

    /// Hands back the fork if this is fork-backed storage (used by the
    /// runtime to return the block's fork after a call).
    fn into_fork_storage(self: Box<Self>) -> Option<crate::fork_storage::ForkStorage> {
        None
    }
}

/// Whether a call may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageAccess {
    /// Consensus calls: transactions, hooks, constructors.
    ReadWrite,
    /// Read queries and `after-commit`.
    ReadOnly,
}

/// Everything the host knows about one call; the guest reads it through the
/// `context` interface and reaches `storage` through the `storage`
/// interface.
pub struct CallEnv {
    /// The instance being called.
    pub instance: InstanceSpec,
    /// Who initiated the call.
    pub caller: Caller,
    /// Height of the block being executed.
    pub height: u64,
    /// Whether the call may write.
    pub access: StorageAccess,
    /// The instance's storage.
    pub storage: Box<dyn InstanceStorage>,
    /// How to call other services (`None`: calls are refused, e.g. in
    /// read queries).
    pub calls: Option<wasmvisor_runtime::CallSite>,
    /// The lifecycle mechanism, given only to the supervisor's consensus
    /// calls (backs the `dispatcher` interface).
    pub lifecycle: Option<std::sync::Arc<dyn wasmvisor_runtime::LifecycleControl>>,
    /// Node-local capabilities of `after-commit` (`None` in every other
    /// call, so consensus calls cannot see or do anything node-local).
    pub after_commit: Option<AfterCommitState>,
}

/// What only `after-commit` may use.
#[derive(Debug, Clone, Default)]
pub struct AfterCommitState {
    /// Requests for the dispatcher (broadcasts, local deploys), bounded.
    pub outbox: Outbox,
    /// This node's service key, if it is a validator.
    pub node_service_key: Option<[u8; 32]>,
}

/// Mailbox requests a guest queued from `after-commit`.
pub type Outbox = std::sync::Arc<std::sync::Mutex<Vec<wasmvisor_runtime::MailboxRequest>>>;

/// The data of a wasmtime `Store`: one per call, dropped after it.
pub struct HostState {
    pub(crate) env: CallEnv,
    pub(crate) limiter: CallLimiter,
}

/// Enforces the per-call memory, table and instance limits and remembers
/// whether it refused anything, so the failure is reported precisely as a
/// resource limit on every node.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    pub(crate) memory_bytes_max: usize,
    pub(crate) table_elements_max: usize,
    pub(crate) instances_max: usize,
    pub(crate) refused: bool,
}

impl wasmtime::ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes_max;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.table_elements_max;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn instances(&self) -> usize {
        self.instances_max
    }

    fn tables(&self) -> usize {
        self.instances_max
    }

    fn memories(&self) -> usize {
        self.instances_max
    }
}
