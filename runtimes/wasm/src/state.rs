//! Per-call host state: who is calling, at what height, the storage the
//! guest may reach, and what its host calls have cost.

use wasmvisor_runtime::Meter;

use crate::bindings::{Caller, ExecutionError, IndexRef, InstanceSpec, StorageError};

/// Key-value pairs returned by [`InstanceStorage::range`], in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Why a storage operation did not happen: a refusal the guest is told
/// about, or a failure that ends its call with a recorded error.
#[derive(Debug, Clone)]
pub enum StorageFault {
    /// Returned to the guest as a `storage-error`.
    Refused(StorageError),
    /// Ends the call (a trap) with this execution error: a spent write
    /// budget, or more work than the call's fuel pays for.
    Trap(ExecutionError),
}

impl From<StorageError> for StorageFault {
    fn from(error: StorageError) -> Self {
        StorageFault::Refused(error)
    }
}

/// How much a range may answer (see [`InstanceStorage::range`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeLimit {
    /// Entries.
    pub items_max: usize,
    /// Bytes of keys and values (the first entry is answered whatever its
    /// size).
    pub bytes_max: usize,
}

/// Storage as one instance sees it: every index name is already resolved
/// inside that instance's namespace by the implementation. Inputs reaching
/// an implementation have passed the limits in [`crate::limits`].
pub trait InstanceStorage: Send {
    /// Reads a value (entries: empty key; lists: 8-byte LE position).
    fn get(&mut self, index: &IndexRef, key: &[u8]) -> Result<Option<Vec<u8>>, StorageFault>;
    /// Writes a value.
    fn put(&mut self, index: &IndexRef, key: &[u8], value: &[u8]) -> Result<(), StorageFault>;
    /// Removes a key; returns whether it was present.
    fn remove(&mut self, index: &IndexRef, key: &[u8]) -> Result<bool, StorageFault>;
    /// Appends to a list; returns the new item's position.
    fn push(&mut self, index: &IndexRef, value: &[u8]) -> Result<u64, StorageFault>;
    /// Number of items in the index.
    fn len(&mut self, index: &IndexRef) -> Result<u64, StorageFault>;
    /// Entries with `from <= key < to` within `limit`, examining no more
    /// than `scan` allows; an answer shorter than the limit's items does
    /// not mean the range is exhausted.
    fn range(
        &mut self,
        index: &IndexRef,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
        limit: RangeLimit,
        scan: &mut wasmvisor_storage::Scan,
    ) -> Result<Entries, StorageFault>;
    /// Removes every item of the index, reading no more stored entries
    /// than `scan` allows (else the call ends, and its removals with it);
    /// answers the keys removed.
    fn clear(&mut self, index: &IndexRef, scan: &mut wasmvisor_storage::Scan) -> Result<usize, StorageFault>;

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
    /// The budget of the top-level call this one belongs to: its fuel and
    /// the guest memory the chain may hold.
    pub meter: Meter,
    /// Where a node-local failure met by a host call is kept (the same
    /// slot the call's storage records into).
    pub node_failure: crate::fork_storage::NodeFailure,
}

/// What only `after-commit` may use.
#[derive(Debug, Clone, Default)]
pub struct AfterCommitState {
    /// Requests for the dispatcher (broadcasts, local deploys), bounded.
    pub outbox: Outbox,
    /// This node's service key, if it is a validator.
    pub node_service_key: Option<[u8; 32]>,
    /// This node's settings for the instance being called.
    pub settings: std::sync::Arc<std::collections::BTreeMap<String, String>>,
}

/// Mailbox requests a guest queued from `after-commit`.
pub type Outbox = std::sync::Arc<std::sync::Mutex<Vec<wasmvisor_runtime::MailboxRequest>>>;

/// The data of a wasmtime `Store`: one per call, dropped after it.
pub struct HostState {
    pub(crate) env: CallEnv,
    pub(crate) limiter: CallLimiter,
    pub(crate) fuel: HostFuel,
    /// Fuel the services this call called burned (part of what the call
    /// was charged, but their work, not its own).
    pub(crate) nested_fuel: u64,
}

/// The fuel of the host call in progress: what the guest had when it
/// called the host, and what the host's work has cost so far. The store's
/// call hook fills `available` on the way in and takes `charged` off the
/// store's fuel on the way out.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HostFuel {
    /// Host transitions in progress (a host call may reenter the guest,
    /// which may reach the host again); accounting is done at the outermost.
    pub(crate) depth: u32,
    pub(crate) available: u64,
    pub(crate) charged: u64,
}

impl HostState {
    /// A node-local failure met by a host call (a nested call's, a
    /// lifecycle transition's): kept for the runtime, which answers it as
    /// the call's node error; the guest is stopped by the trap returned.
    pub(crate) fn node_failed(&mut self, error: wasmvisor_runtime::NodeError) -> wasmtime::Error {
        let message = format!("a node-local failure stops the call: {error}");
        crate::fork_storage::record_node_failure(&self.env.node_failure, error);
        wasmtime::Error::msg(message)
    }

    /// Hands a call's result to the guest: its deterministic error as a
    /// value, a node-local failure as a trap (see [`Self::node_failed`]).
    ///
    /// A callee's exhausted stack ends the caller too, with the same error:
    /// where a stack runs out depends on the machine's native frames, so
    /// no guest may go on from that point with work that depends on it
    /// (the fuel left, say). And the description a guest reads is the
    /// callee's own only when the callee chose it: the host's words for a
    /// trap or a runtime limit (wasmtime's text) are replaced by fixed ones.
    pub(crate) fn answer_guest<T>(
        &mut self,
        result: Result<T, wasmvisor_runtime::CallError>,
    ) -> wasmtime::Result<Result<T, ExecutionError>> {
        use wasmvisor_runtime::{CallError, ErrorKind as Kind};
        let stack = crate::errors::RuntimeErrorCode::StackExhausted as u8;
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(CallError::Execution(error)) if error.kind == Kind::Runtime(stack) => {
                Err(crate::errors::host_trap(crate::host::to_guest_error(error)))
            }
            Err(CallError::Execution(mut error)) => {
                match error.kind {
                    Kind::Unexpected => error.description = "the callee failed unexpectedly".into(),
                    Kind::Runtime(code) => error.description = format!("the callee's runtime refused it (code {code})"),
                    Kind::Common(_) | Kind::Core(_) | Kind::Service(_) => {}
                }
                Ok(Err(crate::host::to_guest_error(error)))
            }
            Err(CallError::Node(error)) => Err(self.node_failed(error)),
        }
    }
}

impl HostFuel {
    /// Fuel the current host call may still spend.
    pub(crate) fn left(&self) -> u64 {
        self.available.saturating_sub(self.charged)
    }

    /// Charges `fuel`, or answers the trap that ends the call when it is
    /// more than what is left (nothing is charged then).
    pub(crate) fn charge(&mut self, fuel: u64) -> Result<(), ExecutionError> {
        if fuel > self.left() {
            return Err(crate::errors::RuntimeErrorCode::FuelExhausted.error("fuel exhausted in a host call"));
        }
        self.charged += fuel;
        Ok(())
    }
}

/// Enforces the per-call memory, table and instance limits and remembers
/// whether it refused anything, so the failure is reported precisely as a
/// resource limit on every node.
///
/// Memory a call's instances grow to is also taken from the chain's
/// [`Meter`] (what every call of the transaction holds at once) and given
/// back when the call ends.
#[derive(Debug)]
pub(crate) struct CallLimiter {
    pub(crate) memory_bytes_max: usize,
    pub(crate) table_elements_max: usize,
    pub(crate) instances_max: usize,
    pub(crate) refused: bool,
    pub(crate) meter: Meter,
    /// Memory this call has taken from the meter.
    pub(crate) memory_reserved: usize,
}

impl CallLimiter {
    /// Gives the call's memory back to the chain.
    pub(crate) fn release(&mut self) {
        self.meter.release_memory(std::mem::take(&mut self.memory_reserved));
    }
}

impl wasmtime::ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current);
        let allowed = desired <= self.memory_bytes_max && self.meter.reserve_memory(growth);
        if allowed {
            self.memory_reserved += growth;
        }
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
