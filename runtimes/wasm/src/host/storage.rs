//! `wasmvisor:service/storage`: the guest's scoped storage.
//!
//! Every argument is checked against [`crate::limits`] here, at the
//! boundary, before any backend sees it; writes are refused when the call
//! is read-only. Violations are returned to the guest as `storage-error`s.
//!
//! Every call costs fuel in proportion to what it moves
//! ([`HOST_CALL_FUEL`], then per byte read or written, and per entry a
//! range or a clear examines — answered or passed over), charged before the
//! work where the work is known, and bounded by the fuel left where it is
//! not: a range or a clear examines no more entries than the fuel left
//! pays for, nor more bytes (each bound is the whole fuel left, so a read
//! may examine up to about twice what it can pay for before the charge
//! after it traps; a range over an entry pays for the value like a get). Running out ends the call with `FuelExhausted`; a
//! spent write budget ends it with core error `WriteBudgetExceeded`.

use crate::bindings::service_world::wasmvisor::service::storage::Host;
use crate::bindings::{IndexRef, StorageError};
use crate::errors::host_trap;
use crate::limits::{
    HOST_CALL_FUEL, INDEX_NAME_BYTES_MAX, ITEM_FUEL, KEY_BYTES_MAX, RANGE_BYTES_MAX, RANGE_ITEMS_MAX, READ_BYTE_FUEL,
    SERVICE_VALUE_BYTES_MAX, WRITE_BYTE_FUEL,
};
use crate::state::{Entries, HostState, RangeLimit, StorageAccess, StorageFault};
use wasmvisor_storage::{Scan, ScanLimit};

fn check_name(index: &IndexRef) -> Result<(), StorageError> {
    let name = &index.name;
    let valid_chars = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > INDEX_NAME_BYTES_MAX || !valid_chars {
        let shown: String = name.chars().take(INDEX_NAME_BYTES_MAX).collect();
        return Err(StorageError::InvalidName(shown));
    }
    Ok(())
}

fn check_key(key: &[u8]) -> Result<(), StorageError> {
    if key.len() > KEY_BYTES_MAX {
        return Err(StorageError::KeyTooLarge(saturating_u32(key.len())));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), StorageError> {
    if value.len() > SERVICE_VALUE_BYTES_MAX {
        return Err(StorageError::ValueTooLarge(saturating_u32(value.len())));
    }
    Ok(())
}

fn saturating_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Fuel per byte, for `bytes` bytes.
fn bytes_fuel(bytes: usize, per_byte: u64) -> u64 {
    (bytes as u64).saturating_mul(per_byte)
}

/// What a host storage function answers: the guest's result, or a trap.
type HostResult<T> = wasmtime::Result<Result<T, StorageError>>;

/// The guest's result of a storage operation, or the trap that ends its
/// call.
fn answer<T>(result: Result<T, StorageFault>) -> HostResult<T> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(StorageFault::Refused(error)) => Ok(Err(error)),
        Err(StorageFault::Trap(error)) => Err(host_trap(error)),
    }
}

/// The fuel a bounded read costs for what it examined.
fn scan_fuel(scan: &Scan) -> u64 {
    scan.items()
        .saturating_mul(ITEM_FUEL)
        .saturating_add(scan.bytes().saturating_mul(READ_BYTE_FUEL))
}

impl HostState {
    /// A scan the fuel left pays for, entries and bytes alike (the charge
    /// after it may still find the two together too dear, and trap).
    fn scan_paid_by_fuel_left(&self) -> Scan {
        let left = self.fuel.left();
        Scan::new(ScanLimit {
            items_max: left / ITEM_FUEL,
            bytes_max: left / READ_BYTE_FUEL.max(1),
        })
    }

    fn check_writable(&self) -> Result<(), StorageError> {
        match self.env.access {
            StorageAccess::ReadWrite => Ok(()),
            StorageAccess::ReadOnly => Err(StorageError::ReadOnly),
        }
    }

    /// Charges `fuel` for the call in progress, or traps.
    fn charge(&mut self, fuel: u64) -> wasmtime::Result<()> {
        self.fuel.charge(fuel).map_err(host_trap)
    }
}

impl Host for HostState {
    fn get(&mut self, index: IndexRef, key: Vec<u8>) -> HostResult<Option<Vec<u8>>> {
        self.charge(HOST_CALL_FUEL.saturating_add(bytes_fuel(key.len(), READ_BYTE_FUEL)))?;
        if let Err(error) = check_name(&index).and_then(|()| check_key(&key)) {
            return Ok(Err(error));
        }
        let value = self.env.storage.get(&index, &key);
        if let Ok(Some(value)) = &value {
            self.charge(bytes_fuel(value.len(), READ_BYTE_FUEL))?;
        }
        answer(value)
    }

    fn put(&mut self, index: IndexRef, key: Vec<u8>, value: Vec<u8>) -> HostResult<()> {
        self.charge(HOST_CALL_FUEL.saturating_add(bytes_fuel(key.len() + value.len(), WRITE_BYTE_FUEL)))?;
        if let Err(error) = check_name(&index)
            .and_then(|()| check_key(&key))
            .and_then(|()| check_value(&value))
            .and_then(|()| self.check_writable())
        {
            return Ok(Err(error));
        }
        answer(self.env.storage.put(&index, &key, &value))
    }

    fn remove(&mut self, index: IndexRef, key: Vec<u8>) -> HostResult<bool> {
        self.charge(HOST_CALL_FUEL.saturating_add(bytes_fuel(key.len(), WRITE_BYTE_FUEL)))?;
        if let Err(error) = check_name(&index)
            .and_then(|()| check_key(&key))
            .and_then(|()| self.check_writable())
        {
            return Ok(Err(error));
        }
        answer(self.env.storage.remove(&index, &key))
    }

    fn push(&mut self, index: IndexRef, value: Vec<u8>) -> HostResult<u64> {
        self.charge(HOST_CALL_FUEL.saturating_add(bytes_fuel(8 + value.len(), WRITE_BYTE_FUEL)))?;
        if let Err(error) = check_name(&index)
            .and_then(|()| check_value(&value))
            .and_then(|()| self.check_writable())
        {
            return Ok(Err(error));
        }
        answer(self.env.storage.push(&index, &value))
    }

    fn len(&mut self, index: IndexRef) -> HostResult<u64> {
        self.charge(HOST_CALL_FUEL)?;
        if let Err(error) = check_name(&index) {
            return Ok(Err(error));
        }
        answer(self.env.storage.len(&index))
    }

    /// Answers at most `limit` entries (and never more than
    /// [`RANGE_ITEMS_MAX`] or [`RANGE_BYTES_MAX`]), examining no more
    /// entries and bytes than the fuel left pays for; pays for every entry
    /// examined.
    fn range(
        &mut self,
        index: IndexRef,
        from: Option<Vec<u8>>,
        to: Option<Vec<u8>>,
        limit: u32,
    ) -> HostResult<Entries> {
        let bounds = from.as_deref().map_or(0, <[u8]>::len) + to.as_deref().map_or(0, <[u8]>::len);
        self.charge(HOST_CALL_FUEL.saturating_add(bytes_fuel(bounds, READ_BYTE_FUEL)))?;
        let checked = check_name(&index)
            .and_then(|()| from.as_deref().map_or(Ok(()), check_key))
            .and_then(|()| to.as_deref().map_or(Ok(()), check_key));
        if let Err(error) = checked {
            return Ok(Err(error));
        }
        let wanted = (limit as usize).min(RANGE_ITEMS_MAX);
        if wanted == 0 {
            return Ok(Ok(Vec::new()));
        }
        let range_limit = RangeLimit {
            items_max: wanted,
            bytes_max: RANGE_BYTES_MAX,
        };
        let mut scan = self.scan_paid_by_fuel_left();
        let entries = self
            .env
            .storage
            .range(&index, from.as_deref(), to.as_deref(), range_limit, &mut scan);
        self.charge(scan_fuel(&scan))?;
        answer(entries)
    }

    /// Removes the index's keys if the fuel left pays for examining every
    /// stored entry ([`ITEM_FUEL`] and [`READ_BYTE_FUEL`] per byte each),
    /// else traps having removed none for good; each removal is also a
    /// metered write.
    fn clear(&mut self, index: IndexRef) -> HostResult<()> {
        self.charge(HOST_CALL_FUEL)?;
        if let Err(error) = check_name(&index).and_then(|()| self.check_writable()) {
            return Ok(Err(error));
        }
        let mut scan = self.scan_paid_by_fuel_left();
        let removed = self.env.storage.clear(&index, &mut scan);
        self.charge(scan_fuel(&scan))?;
        answer(removed.map(drop))
    }
}
