//! Test guest: a service that attacks the sandbox. Every attack must end
//! in an execution error for its own call while the block goes on.
//!
//! Methods (default interface):
//! - 0: loop forever (fuel exhaustion)
//! - 1: grow memory until the host refuses (memory limit)
//! - 2: recurse without bound (stack limit)
//! - 3: panic (a trap)
//! - 4: store a value larger than the host allows (refused host call)
//! - 5: use a key larger than the host allows (refused host call)
//! - 6: add 1 to the entry `counter` `n` times (argument: n as u64 LE) —
//!   a bounded workload to cut off with fuel at a deterministic point
//! - 7: set the entry `trap-hooks`, after which both block hooks trap
//! - 8: write the entry `marker`, then trap (the write must roll back)
//!
//! Constructor and resume trap when their parameters are `trap`; the query
//! `trap` traps.

use wasmvisor_sdk::{Call, Entry, ExecutionError, QueryError, Service};

fn counter() -> Entry<u64> {
    Entry::new("counter")
}

fn trap_hooks() -> Entry<bool> {
    Entry::new("trap-hooks")
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // The arithmetic on the result keeps this from being a tail call.
    std::hint::black_box(recurse(depth + 1)) + depth
}

fn maybe_trap(params: &[u8]) {
    if params == b"trap" {
        panic!("asked to trap");
    }
}

struct Hostile;

impl Service for Hostile {
    fn initialize(params: Vec<u8>) -> Result<(), ExecutionError> {
        maybe_trap(&params);
        Ok(())
    }

    fn resume(params: Vec<u8>) -> Result<(), ExecutionError> {
        maybe_trap(&params);
        Ok(())
    }

    fn execute(call: Call) -> Result<(), ExecutionError> {
        match call.method_id {
            0 => {
                let mut spins = 0u64;
                loop {
                    spins = std::hint::black_box(spins.wrapping_add(1));
                }
            }
            1 => {
                // Reserve (grow linear memory) without touching the pages,
                // so the memory limit is hit long before the fuel runs out.
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let chunk: Vec<u8> = Vec::with_capacity(16 << 20);
                    hoard.push(std::hint::black_box(chunk));
                }
            }
            2 => {
                std::hint::black_box(recurse(0));
                Ok(())
            }
            3 => panic!("a deliberate trap"),
            4 => Entry::<Vec<u8>>::new("huge").set(&vec![7; 2 << 20]),
            5 => wasmvisor_sdk::Map::<Vec<u8>, u64>::new("keys").put(&vec![1; 4096], &1),
            6 => {
                let bytes: [u8; 8] = call
                    .arguments
                    .as_slice()
                    .try_into()
                    .map_err(|_| call.no_such_method())?;
                for _ in 0..u64::from_le_bytes(bytes) {
                    let next = counter().get()?.unwrap_or(0) + 1;
                    counter().set(&next)?;
                }
                Ok(())
            }
            7 => trap_hooks().set(&true),
            8 => {
                Entry::<u64>::new("marker").set(&1)?;
                panic!("trap after writing");
            }
            _ => Err(call.no_such_method()),
        }
    }

    fn before_transactions() -> Result<(), ExecutionError> {
        if trap_hooks().get()?.unwrap_or(false) {
            panic!("trap in before-transactions");
        }
        Ok(())
    }

    fn after_transactions() -> Result<(), ExecutionError> {
        if trap_hooks().get()?.unwrap_or(false) {
            panic!("trap in after-transactions");
        }
        Ok(())
    }

    fn query(method: String, _arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "trap" => panic!("trap in a query"),
            "counter" => Ok(counter()
                .get()
                .map_err(|error| QueryError::Internal(error.description))?
                .unwrap_or(0)
                .to_le_bytes()
                .to_vec()),
            _ => Err(QueryError::NotFound(method)),
        }
    }
}

wasmvisor_sdk::export_service!(Hostile);
