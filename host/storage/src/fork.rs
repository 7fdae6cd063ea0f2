//! Forks: a snapshot plus changes, with checkpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use crate::address::IndexAddress;
use crate::backend::{Change, Entries, Patch, Snapshot};
use crate::error::StorageError;
use crate::limits::{FORK_READ_CACHE_BYTES_MAX, SNAPSHOT_PAGE_BYTES_MAX, SNAPSHOT_PAGE_ITEMS_MAX};

/// How much may be written: bytes of keys and values, and keys written or
/// removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    /// Bytes of keys and values.
    pub bytes_max: usize,
    /// Keys written or removed.
    pub items_max: usize,
}

impl WriteLimits {
    /// What one transaction (with every call it makes) may write.
    pub const TRANSACTION: Self = Self {
        bytes_max: wasmvisor_limits::TRANSACTION_WRITE_BYTES_MAX,
        items_max: wasmvisor_limits::TRANSACTION_WRITE_ITEMS_MAX,
    };
    /// No limit (the block's budget as the block's own hooks see it: they
    /// must run whatever transactions wrote).
    pub const UNLIMITED: Self = Self {
        bytes_max: usize::MAX,
        items_max: usize::MAX,
    };
    /// What all calls of one block may write.
    pub const BLOCK: Self = Self {
        bytes_max: wasmvisor_limits::BLOCK_WRITE_BYTES_MAX,
        items_max: wasmvisor_limits::BLOCK_WRITE_ITEMS_MAX,
    };
}

/// What was written under a [`WriteLimits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteUsage {
    /// Bytes of keys and values.
    pub bytes: usize,
    /// Keys written or removed.
    pub items: usize,
}

impl WriteUsage {
    fn charge(&mut self, limits: WriteLimits, bytes: usize, scope: &'static str) -> Result<WriteUsage, StorageError> {
        let next = WriteUsage {
            bytes: self.bytes.saturating_add(bytes),
            items: self.items.saturating_add(1),
        };
        if next.items > limits.items_max {
            return Err(StorageError::WriteBudgetExceeded {
                scope,
                unit: "keys",
                max: limits.items_max,
            });
        }
        if next.bytes > limits.bytes_max {
            return Err(StorageError::WriteBudgetExceeded {
                scope,
                unit: "bytes",
                max: limits.bytes_max,
            });
        }
        Ok(next)
    }
}

/// The write budgets of a fork: the current call's, and the block's, which
/// counts every metered write since the fork was made (rolled-back writes
/// included: they were work all the same).
#[derive(Debug, Clone, Copy)]
struct WriteMeter {
    call_limits: WriteLimits,
    block_limits: WriteLimits,
    call: WriteUsage,
    block: WriteUsage,
}

/// How much a bounded read may examine: every entry it looks at — those
/// it answers, and those it passes over (removed in the fork, or shadowed
/// by the fork's own change) — with their keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanLimit {
    /// Entries examined.
    pub items_max: u64,
    /// Bytes of the keys and values examined.
    pub bytes_max: u64,
}

impl ScanLimit {
    /// No bound (the host's own reads).
    pub const UNLIMITED: Self = Self {
        items_max: u64::MAX,
        bytes_max: u64::MAX,
    };
}

/// What a bounded read examined, against its [`ScanLimit`]. A read that
/// would go past the limit stops before examining more and fails with
/// [`StorageError::ScanLimitExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    limit: ScanLimit,
    items: u64,
    bytes: u64,
}

impl Scan {
    /// A scan allowed to examine up to `limit`.
    pub fn new(limit: ScanLimit) -> Self {
        Self {
            limit,
            items: 0,
            bytes: 0,
        }
    }

    /// An unbounded scan.
    pub fn unlimited() -> Self {
        Self::new(ScanLimit::UNLIMITED)
    }

    /// Entries examined so far.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Bytes (keys and values) examined so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Counts one entry of `bytes` bytes (its key and value), or refuses
    /// it with [`StorageError::ScanLimitExceeded`] and counts nothing.
    pub fn examine(&mut self, bytes: usize) -> Result<(), StorageError> {
        let items = self.items.saturating_add(1);
        let bytes = self.bytes.saturating_add(bytes as u64);
        if items > self.limit.items_max || bytes > self.limit.bytes_max {
            return Err(StorageError::ScanLimitExceeded {
                items_max: self.limit.items_max,
                bytes_max: self.limit.bytes_max,
            });
        }
        self.items = items;
        self.bytes = bytes;
        Ok(())
    }
}

/// A position in a fork's current checkpoint (see [`Fork::savepoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Savepoint(usize);

/// A snapshot plus changes.
///
/// Changes since the last checkpoint can be undone with [`Fork::rollback`];
/// [`Fork::flush`] makes them part of the fork for good. Each transaction
/// and each hook runs between two checkpoints, so an error rolls back only
/// its own changes. A finished fork becomes a [`Patch`] with
/// [`Fork::into_patch`]; a fork that is dropped (a discarded proposal, a read
/// query) leaves no trace.
pub struct Fork {
    snapshot: Arc<dyn Snapshot>,
    overlay: BTreeMap<Vec<u8>, Change>,
    /// Previous overlay values of keys changed since the last checkpoint,
    /// oldest first.
    undo: Vec<(Vec<u8>, Option<Change>)>,
    /// Proof indexes changed since the state aggregator was last updated.
    /// A superset is harmless: recomputing an unchanged index gives the
    /// same hash.
    pub(crate) touched: BTreeSet<IndexAddress>,
    /// Keys of proof maps written since their trees were last brought up
    /// to date (see [`Fork::take_unsettled`]). A superset is harmless:
    /// settling a key its tree already holds changes nothing.
    pub(crate) unsettled: BTreeMap<IndexAddress, BTreeSet<Vec<u8>>>,
    /// Keys settled since the last checkpoint, with the undo position
    /// their tree writes start at: rolling back past it undoes those
    /// writes, so the keys are unsettled again.
    settled: Vec<(usize, IndexAddress, BTreeSet<Vec<u8>>)>,
    /// Point reads answered by the snapshot. The snapshot never changes,
    /// so an answer stays true for the fork's whole life; the overlay is
    /// always consulted first.
    read_cache: Mutex<ReadCache>,
    /// Write budgets, while a call's writes are metered.
    meter: Option<WriteMeter>,
    /// Metered writes of the block so far (kept while metering is off).
    block_writes: WriteUsage,
}

/// Snapshot answers kept by a fork, up to [`FORK_READ_CACHE_BYTES_MAX`].
#[derive(Default)]
struct ReadCache {
    answers: HashMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

impl std::fmt::Debug for Fork {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Fork")
            .field("changes", &self.overlay.len())
            .field("since_checkpoint", &self.undo.len())
            .finish_non_exhaustive()
    }
}

impl Fork {
    /// A fork with no changes over `snapshot`.
    pub fn new(snapshot: Arc<dyn Snapshot>) -> Self {
        Self {
            snapshot,
            overlay: BTreeMap::new(),
            undo: Vec::new(),
            touched: BTreeSet::new(),
            unsettled: BTreeMap::new(),
            settled: Vec::new(),
            read_cache: Mutex::default(),
            meter: None,
            block_writes: WriteUsage::default(),
        }
    }

    /// Meters the writes of a new call (a transaction with every call it
    /// makes, a hook, a constructor): from now until
    /// [`Fork::stop_metering_writes`], a write that would take the call past
    /// `call` or the block (every metered write of this fork) past `block`
    /// fails with [`StorageError::WriteBudgetExceeded`] before anything of
    /// it is written. Writes are counted as their index sees them: one key
    /// and its value's bytes per put, one key per removal (a clear counts
    /// every key it removes).
    pub fn meter_writes(&mut self, call: WriteLimits, block: WriteLimits) {
        self.meter = Some(WriteMeter {
            call_limits: call,
            block_limits: block,
            call: WriteUsage::default(),
            block: self.block_writes,
        });
    }

    /// Ends metering (the host's own writes are not metered).
    pub fn stop_metering_writes(&mut self) {
        if let Some(meter) = self.meter.take() {
            self.block_writes = meter.block;
        }
    }

    /// What the current call has written under metering (zero when none is
    /// metered) and what the block has.
    pub fn write_usage(&self) -> (WriteUsage, WriteUsage) {
        match &self.meter {
            Some(meter) => (meter.call, meter.block),
            None => (WriteUsage::default(), self.block_writes),
        }
    }

    /// Counts one metered write of `bytes` (key and value), or refuses it.
    pub(crate) fn charge_write(&mut self, bytes: usize) -> Result<(), StorageError> {
        let Some(meter) = &mut self.meter else {
            return Ok(());
        };
        let call = meter.call.charge(meter.call_limits, bytes, "call")?;
        let block = meter.block.charge(meter.block_limits, bytes, "block")?;
        meter.call = call;
        meter.block = block;
        Ok(())
    }

    /// Marks a checkpoint: changes so far can no longer be rolled back.
    pub fn flush(&mut self) {
        self.undo.clear();
        self.settled.clear();
    }

    /// Discards every change since the last checkpoint.
    pub fn rollback(&mut self) {
        self.rollback_to(Savepoint(0));
    }

    /// A mark inside the current checkpoint, for nested calls: rolling back
    /// to it undoes only what happened after it.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint(self.undo.len())
    }

    /// Undoes every change made since `savepoint` (which must belong to the
    /// current checkpoint; a mark from before a flush undoes nothing).
    pub fn rollback_to(&mut self, savepoint: Savepoint) {
        while self.undo.len() > savepoint.0 {
            let (key, previous) = self.undo.pop().expect("the length was checked");
            match previous {
                Some(change) => self.overlay.insert(key, change),
                None => self.overlay.remove(&key),
            };
        }
        while self
            .settled
            .last()
            .is_some_and(|(position, ..)| *position >= savepoint.0)
        {
            let (_, address, keys) = self.settled.pop().expect("checked above");
            self.unsettled.entry(address).or_default().extend(keys);
        }
    }

    /// Marks `key` of the proof map at `address` as written: its tree is
    /// brought up to date once, with every other key written, when a root
    /// or proof is next asked for.
    pub(crate) fn mark_unsettled(&mut self, address: &IndexAddress, key: &[u8]) {
        match self.unsettled.get_mut(address) {
            Some(keys) => {
                keys.insert(key.to_vec());
            }
            None => {
                self.unsettled.insert(address.clone(), BTreeSet::from([key.to_vec()]));
            }
        }
    }

    /// Takes the unsettled keys of every proof map (`only: None`) or of one,
    /// for the caller to bring their trees up to date and then hand back
    /// to [`Fork::settled`].
    pub(crate) fn take_unsettled(&mut self, only: Option<&IndexAddress>) -> Vec<(IndexAddress, BTreeSet<Vec<u8>>)> {
        match only {
            None => std::mem::take(&mut self.unsettled).into_iter().collect(),
            Some(address) => self.unsettled.remove_entry(address).into_iter().collect(),
        }
    }

    /// Records that the trees of `keys` were brought up to date by writes
    /// made since `from`: a rollback past `from` undoes those writes and
    /// makes the keys unsettled again.
    pub(crate) fn settled(&mut self, from: Savepoint, keys: Vec<(IndexAddress, BTreeSet<Vec<u8>>)>) {
        self.settled
            .extend(keys.into_iter().map(|(address, keys)| (from.0, address, keys)));
    }

    /// Number of keys changed in this fork.
    pub fn change_count(&self) -> usize {
        self.overlay.len()
    }

    /// Finishes the fork: brings the state commitment up to date (see
    /// [`Fork::state_root`]) and returns every change as a patch, including
    /// those since the last checkpoint.
    pub fn into_patch(mut self) -> Result<Patch, StorageError> {
        self.state_root()?;
        Ok(Patch { changes: self.overlay })
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        match self.overlay.get(key) {
            Some(Change::Put(value)) => Ok(Some(value.clone())),
            Some(Change::Delete) => Ok(None),
            None => self.snapshot_get(key),
        }
    }

    /// A snapshot read, answered from the read cache when it was made
    /// before.
    fn snapshot_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let mut cache = self
            .read_cache
            .lock()
            .expect("a lock is poisoned only by a panic, and a panic stops the node");
        if let Some(answer) = cache.answers.get(key) {
            return Ok(answer.clone());
        }
        let answer = self.snapshot.get(key)?;
        let size = key.len() + answer.as_ref().map_or(0, Vec::len);
        if cache.bytes + size <= FORK_READ_CACHE_BYTES_MAX {
            cache.bytes += size;
            cache.answers.insert(key.to_vec(), answer.clone());
        }
        Ok(answer)
    }

    fn record(&mut self, key: Vec<u8>, change: Change) {
        let previous = self.overlay.insert(key.clone(), change);
        self.undo.push((key, previous));
    }

    pub(crate) fn put_raw(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.record(key, Change::Put(value));
    }

    pub(crate) fn delete_raw(&mut self, key: Vec<u8>) {
        self.record(key, Change::Delete);
    }

    /// Entries with `from <= key < to` as the fork sees them (its own
    /// changes over the snapshot): at most `items_max`, and no more than
    /// `bytes_max` bytes of keys and values, except that the first entry is
    /// answered whatever its size. Keys count without their first
    /// `key_prefix_len` bytes (an index's prefix, which its callers never
    /// see). The snapshot is read in pages bounded in items and bytes, so
    /// no more than about one page beyond the answer is ever held. An
    /// answer shorter than `items_max` does not mean the range is
    /// exhausted; an empty one does. Every entry examined, answered or
    /// passed over, counts against `scan`.
    pub(crate) fn range_raw(
        &self,
        from: &[u8],
        to: Option<&[u8]>,
        items_max: usize,
        bytes_max: usize,
        key_prefix_len: usize,
        scan: &mut Scan,
    ) -> Result<Entries, StorageError> {
        let upper = to.map_or(Bound::Unbounded, Bound::Excluded);
        let mut overlay = self.overlay.range::<[u8], _>((Bound::Included(from), upper)).peekable();
        let mut snapshot = SnapshotPages::new(&*self.snapshot, from, to);
        let mut entries: Entries = Vec::new();
        let mut bytes = 0usize;
        while entries.len() < items_max {
            let wanted = PageLimit {
                items_max: (items_max - entries.len()).min(SNAPSHOT_PAGE_ITEMS_MAX),
                bytes_max: bytes_max.saturating_sub(bytes).clamp(1, SNAPSHOT_PAGE_BYTES_MAX),
            };
            let source = match (
                snapshot.peek(wanted)?.map(|(key, _)| key.as_slice()),
                overlay.peek().map(|(key, _)| key.as_slice()),
            ) {
                (None, None) => break,
                (Some(_), None) => Source::Snapshot,
                (None, Some(_)) => Source::Overlay,
                (Some(snapshot_key), Some(overlay_key)) => match snapshot_key.cmp(overlay_key) {
                    std::cmp::Ordering::Less => Source::Snapshot,
                    std::cmp::Ordering::Greater => Source::Overlay,
                    // The fork's change shadows the snapshot's value.
                    std::cmp::Ordering::Equal => Source::ShadowingOverlay,
                },
            };
            let entry = match source {
                Source::Snapshot => {
                    let entry = snapshot.take().expect("peeked above");
                    scan.examine(entry.0.len() + entry.1.len())?;
                    entry
                }
                Source::Overlay | Source::ShadowingOverlay => {
                    if source == Source::ShadowingOverlay
                        && let Some((key, value)) = snapshot.take()
                    {
                        scan.examine(key.len() + value.len())?;
                    }
                    let (key, change) = overlay.next().expect("peeked above");
                    match change {
                        Change::Put(value) => {
                            scan.examine(key.len() + value.len())?;
                            (key.clone(), value.clone())
                        }
                        Change::Delete => {
                            scan.examine(key.len())?;
                            continue;
                        }
                    }
                }
            };
            let size = entry.0.len().saturating_sub(key_prefix_len) + entry.1.len();
            if !entries.is_empty() && bytes.saturating_add(size) > bytes_max {
                break;
            }
            bytes = bytes.saturating_add(size);
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Every key starting with `prefix`, as the fork sees them.
    pub(crate) fn keys_with_prefix(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut keys = Vec::new();
        let mut cursor = prefix.to_vec();
        while let Some(page) = self.prefix_page(prefix, &mut cursor, &mut Scan::unlimited())? {
            keys.extend(page.into_iter().map(|(key, _)| key));
        }
        Ok(keys)
    }

    /// The next page of entries starting with `prefix` from `cursor`
    /// (moved past the page), bounded like a snapshot page; `None` once
    /// there are no more.
    pub(crate) fn prefix_page(
        &self,
        prefix: &[u8],
        cursor: &mut Vec<u8>,
        scan: &mut Scan,
    ) -> Result<Option<Entries>, StorageError> {
        let end = prefix_end(prefix);
        let page = self.range_raw(
            cursor,
            end.as_deref(),
            SNAPSHOT_PAGE_ITEMS_MAX,
            SNAPSHOT_PAGE_BYTES_MAX,
            0,
            scan,
        )?;
        let Some((last, _)) = page.last() else {
            return Ok(None);
        };
        *cursor = last.clone();
        cursor.push(0);
        Ok(Some(page))
    }
}

/// Where the next entry of a merged range comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Snapshot,
    Overlay,
    /// The overlay, which changes the snapshot's entry of the same key.
    ShadowingOverlay,
}

/// How much of the snapshot one page may read.
#[derive(Debug, Clone, Copy)]
struct PageLimit {
    items_max: usize,
    bytes_max: usize,
}

/// One key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// The snapshot's entries of a range, read a bounded page at a time as a
/// merge with the overlay consumes them.
struct SnapshotPages<'a> {
    snapshot: &'a dyn Snapshot,
    to: Option<&'a [u8]>,
    /// Where the next page starts.
    next: Vec<u8>,
    page: std::vec::IntoIter<Entry>,
    peeked: Option<Entry>,
    exhausted: bool,
}

impl<'a> SnapshotPages<'a> {
    fn new(snapshot: &'a dyn Snapshot, from: &[u8], to: Option<&'a [u8]>) -> Self {
        Self {
            snapshot,
            to,
            next: from.to_vec(),
            page: Vec::new().into_iter(),
            peeked: None,
            exhausted: false,
        }
    }

    /// The next entry, reading a page of at most `limit` if needed.
    fn peek(&mut self, limit: PageLimit) -> Result<Option<&Entry>, StorageError> {
        if self.peeked.is_none() {
            self.peeked = self.page.next();
            if self.peeked.is_none() && !self.exhausted {
                let page = self
                    .snapshot
                    .range(&self.next, self.to, limit.items_max, limit.bytes_max)?;
                match page.last() {
                    None => self.exhausted = true,
                    Some((last, _)) => {
                        self.next = last.clone();
                        self.next.push(0);
                    }
                }
                self.page = page.into_iter();
                self.peeked = self.page.next();
            }
        }
        Ok(self.peeked.as_ref())
    }

    /// Takes the peeked entry.
    fn take(&mut self) -> Option<Entry> {
        self.peeked.take()
    }
}

/// The smallest key greater than every key starting with `prefix`
/// (`None` if there is none: the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
