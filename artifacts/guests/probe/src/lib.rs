//! Benchmark guest: measures what crossing the sandbox costs.
//!
//! Transactions (default interface; the arguments of 1 and 2 are a `u32`
//! count, little-endian):
//! - 0 `nothing`: returns at once (the cost of a call: a fresh instance,
//!   the context, the return);
//! - 1 `read`: `count` raw `storage.get` host calls on the map `probe`,
//!   keys `0..count` (8-byte little-endian);
//! - 2 `write`: `count` raw `storage.put` host calls on the same keys, each
//!   with a 32-byte value.
//!
//! The loops call the host interface directly (no typed index, no
//! encoding), so the difference between a call with `count` operations and
//! an empty one is the host calls alone.

use wasmvisor_sdk::bindings::wasmvisor::service::storage::{self as host, IndexKind, IndexRef};
use wasmvisor_sdk::{Call, ExecutionError, Service, storage_failure};

const NOTHING: u32 = 0;
const READ: u32 = 1;
const WRITE: u32 = 2;

fn count(call: &Call) -> Result<u32, ExecutionError> {
    let bytes: [u8; 4] = call.arguments.as_slice().try_into().map_err(|_| {
        wasmvisor_sdk::common_error(
            wasmvisor_sdk::CommonError::MalformedArguments,
            "the argument is a 4-byte little-endian count",
        )
    })?;
    Ok(u32::from_le_bytes(bytes))
}

fn probe_map() -> IndexRef {
    IndexRef {
        name: "probe".into(),
        kind: IndexKind::Map,
    }
}

struct Probe;

impl Service for Probe {
    fn execute(call: Call) -> Result<(), ExecutionError> {
        call.require_default_interface()?;
        match call.method_id {
            NOTHING => Ok(()),
            READ => {
                let index = probe_map();
                let mut found = 0u32;
                for key in 0..u64::from(count(&call)?) {
                    if host::get(&index, &key.to_le_bytes())
                        .map_err(storage_failure)?
                        .is_some()
                    {
                        found += 1;
                    }
                }
                // Keeps the loop from being optimised away.
                core::hint::black_box(found);
                Ok(())
            }
            WRITE => {
                let index = probe_map();
                let value = [7u8; 32];
                for key in 0..u64::from(count(&call)?) {
                    host::put(&index, &key.to_le_bytes(), &value).map_err(storage_failure)?;
                }
                Ok(())
            }
            _ => Err(call.no_such_method()),
        }
    }
}

wasmvisor_sdk::export_service!(Probe);
