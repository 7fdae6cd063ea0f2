//! `wasmvisor:service/storage`: the guest's scoped storage.
//!
//! Every argument is checked against [`crate::limits`] here, at the
//! boundary, before any backend sees it; writes are refused when the call
//! is read-only. Violations are returned to the guest as `storage-error`s.

use crate::bindings::service_world::wasmvisor::service::storage::Host;
use crate::bindings::{IndexRef, StorageError};
use crate::limits::{INDEX_NAME_LEN_MAX, KEY_SIZE_MAX, RANGE_ITEMS_MAX, VALUE_SIZE_MAX};
use crate::state::{Entries, HostState, StorageAccess};

fn check_name(index: &IndexRef) -> Result<(), StorageError> {
    let name = &index.name;
    let valid_chars = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > INDEX_NAME_LEN_MAX || !valid_chars {
        let shown: String = name.chars().take(INDEX_NAME_LEN_MAX).collect();
        return Err(StorageError::InvalidName(shown));
    }
    Ok(())
}

fn check_key(key: &[u8]) -> Result<(), StorageError> {
    if key.len() > KEY_SIZE_MAX {
        return Err(StorageError::KeyTooLarge(saturating_u32(key.len())));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), StorageError> {
    if value.len() > VALUE_SIZE_MAX {
        return Err(StorageError::ValueTooLarge(saturating_u32(value.len())));
    }
    Ok(())
}

fn saturating_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl HostState {
    fn check_writable(&self) -> Result<(), StorageError> {
        match self.env.access {
            StorageAccess::ReadWrite => Ok(()),
            StorageAccess::ReadOnly => Err(StorageError::ReadOnly),
        }
    }
}

impl Host for HostState {
    fn get(&mut self, index: IndexRef, key: Vec<u8>) -> wasmtime::Result<Result<Option<Vec<u8>>, StorageError>> {
        Ok(check_name(&index)
            .and_then(|()| check_key(&key))
            .and_then(|()| self.env.storage.get(&index, &key)))
    }

    fn put(&mut self, index: IndexRef, key: Vec<u8>, value: Vec<u8>) -> wasmtime::Result<Result<(), StorageError>> {
        Ok(check_name(&index)
            .and_then(|()| check_key(&key))
            .and_then(|()| check_value(&value))
            .and_then(|()| self.check_writable())
            .and_then(|()| self.env.storage.put(&index, &key, &value)))
    }

    fn remove(&mut self, index: IndexRef, key: Vec<u8>) -> wasmtime::Result<Result<bool, StorageError>> {
        Ok(check_name(&index)
            .and_then(|()| check_key(&key))
            .and_then(|()| self.check_writable())
            .and_then(|()| self.env.storage.remove(&index, &key)))
    }

    fn push(&mut self, index: IndexRef, value: Vec<u8>) -> wasmtime::Result<Result<u64, StorageError>> {
        Ok(check_name(&index)
            .and_then(|()| check_value(&value))
            .and_then(|()| self.check_writable())
            .and_then(|()| self.env.storage.push(&index, &value)))
    }

    fn len(&mut self, index: IndexRef) -> wasmtime::Result<Result<u64, StorageError>> {
        Ok(check_name(&index).and_then(|()| self.env.storage.len(&index)))
    }

    fn range(
        &mut self,
        index: IndexRef,
        from: Option<Vec<u8>>,
        to: Option<Vec<u8>>,
        limit: u32,
    ) -> wasmtime::Result<Result<Entries, StorageError>> {
        let checked = check_name(&index)
            .and_then(|()| from.as_deref().map_or(Ok(()), check_key))
            .and_then(|()| to.as_deref().map_or(Ok(()), check_key));
        Ok(checked.and_then(|()| {
            self.env
                .storage
                .range(&index, from.as_deref(), to.as_deref(), limit.min(RANGE_ITEMS_MAX))
        }))
    }

    fn clear(&mut self, index: IndexRef) -> wasmtime::Result<Result<(), StorageError>> {
        Ok(check_name(&index)
            .and_then(|()| self.check_writable())
            .and_then(|()| self.env.storage.clear(&index)))
    }
}
