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
//! - 9: call another service: target (u32 LE), method (u32 LE), then its
//!   arguments; returns the callee's result
//! - 10: write the entry `caller-marker`, make the call of method 9, and
//!   succeed whatever the callee did
//! - 11: call itself (method 11) without end
//! - 12: look up the instance named by the arguments and store its id in
//!   the entry `found` (`u64::MAX` if none)
//! - 13: nested-call fuel bomb: spin, then call itself (method 13) `n` times
//!   (argument: n as u32 LE), ignoring the callees' failures — depth ×
//!   fan-out, which one transaction's fuel must bound
//! - 14: host-call loop: store a 512 KiB entry, then read it forever
//! - 15: write bomb: store values of almost 1 MiB under fresh keys forever
//! - 16: add `n` entries of 64 KiB to the map `wide` (argument: n as u32 LE)
//! - 17: range bomb: read the map `wide` from its start, again and again
//! - 18: add `n` small entries to the map `many` (argument: n as u32 LE)
//! - 19: clear the map `many`
//! - 20: call itself `k` times, one after the other, with method 6 and `n`
//!   (arguments: k as u32 LE, then n as u64 LE); a callee's failure is its
//!   own
//! - 21: fail with a service error whose description has `n` bytes
//!   (argument: n as u32 LE)
//! - 22: remove every entry of the map `wide` (see 16), then read it from
//!   its start again and again: each read passes over the removed entries
//!
//! Constructor and resume trap when their parameters are `trap`; the query
//! `trap` traps; the query `call-out` tries a call (refused in queries) and
//! answers the error code; the query `hog` grows its memory to 48 MiB and
//! spins until its fuel runs out; the query `heap` allocates and writes as
//! many bytes as its argument says (u32 LE) and answers the instance's
//! memory in pages when it was created and now (u32 LE each).

use wasmvisor_sdk::{
    Call, CommonError, Entry, ExecutionError, Map, QueryError, RawBytes, Service, calls, common_error, context,
};

/// The pages of memory the instance was created with: the linker's
/// `__heap_end` is the end of the initial memory.
fn initial_memory_pages() -> u32 {
    unsafe extern "C" {
        static __heap_end: u8;
    }
    const WASM_PAGE_BYTES: usize = 64 * 1024;
    let heap_end = (&raw const __heap_end) as usize;
    heap_end.div_ceil(WASM_PAGE_BYTES) as u32
}

/// Makes the call encoded as target (u32 LE), method (u32 LE), arguments.
fn forward(arguments: &[u8]) -> Result<(), ExecutionError> {
    if arguments.len() < 8 {
        return Err(common_error(
            CommonError::MalformedArguments,
            "target and method expected",
        ));
    }
    let target = u32::from_le_bytes(arguments[..4].try_into().expect("4 bytes"));
    let method = u32::from_le_bytes(arguments[4..8].try_into().expect("4 bytes"));
    calls::call(target, "", method, &arguments[8..])
}

/// A u32 LE argument.
fn count(call: &Call) -> Result<u32, ExecutionError> {
    let bytes: [u8; 4] = call
        .arguments
        .as_slice()
        .try_into()
        .map_err(|_| common_error(CommonError::MalformedArguments, "a u32 expected"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// Adds `n` entries of `value_len` bytes to `map`, after those it has.
fn fill(map: &Map<u64, RawBytes>, n: u32, value_len: usize) -> Result<(), ExecutionError> {
    let first = map.len()?;
    let value = vec![0x5a; value_len];
    for key in first..first + u64::from(n) {
        map.put_slice(&key, &value)?;
    }
    Ok(())
}

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
            9 => forward(&call.arguments),
            10 => {
                Entry::<u64>::new("caller-marker").set(&1)?;
                let _ignored = forward(&call.arguments);
                Ok(())
            }
            11 => calls::call(context::instance().id, "", 11, &[]),
            12 => {
                let name = String::from_utf8_lossy(&call.arguments).into_owned();
                let found = calls::instance_id_by_name(&name).map_or(u64::MAX, u64::from);
                Entry::<u64>::new("found").set(&found)
            }
            13 => {
                let fan_out = count(&call)?;
                for _ in 0..fan_out {
                    let mut spins = 0u64;
                    for _ in 0..1_000 {
                        spins = std::hint::black_box(spins.wrapping_add(1));
                    }
                    let _ignored = calls::call(context::instance().id, "", 13, &call.arguments);
                }
                Ok(())
            }
            14 => {
                let big = Map::<u64, RawBytes>::new("big");
                big.put_slice(&0, &vec![1; 512 << 10])?;
                loop {
                    std::hint::black_box(big.get(&0)?);
                }
            }
            15 => {
                let sink = Map::<u64, RawBytes>::new("sink");
                let value = vec![2; (1 << 20) - 64];
                for key in 0u64.. {
                    sink.put_slice(&key, &value)?;
                }
                Ok(())
            }
            16 => fill(&Map::new("wide"), count(&call)?, 64 << 10),
            17 => {
                let wide = Map::<u64, RawBytes>::new("wide");
                loop {
                    std::hint::black_box(wide.range(None, None)?);
                }
            }
            18 => fill(&Map::new("many"), count(&call)?, 8),
            19 => Map::<u64, RawBytes>::new("many").clear(),
            20 => {
                let (k, n) = call
                    .arguments
                    .split_at_checked(4)
                    .ok_or_else(|| common_error(CommonError::MalformedArguments, "k (u32) and n (u64) expected"))?;
                let k = u32::from_le_bytes(k.try_into().map_err(|_| call.no_such_method())?);
                for _ in 0..k {
                    calls::call(context::instance().id, "", 6, n)?;
                }
                Ok(())
            }
            21 => Err(wasmvisor_sdk::service_error(7, "x".repeat(count(&call)? as usize))),
            22 => {
                let wide = Map::<u64, RawBytes>::new("wide");
                for (key, _) in wide.entries()? {
                    wide.remove(&key)?;
                }
                loop {
                    std::hint::black_box(wide.first(None, None, 1)?);
                }
            }
            23 => {
                // Ranges over an entry holding 1 MiB: each answer moves the
                // value, so each must be paid for like a `get`.
                use wasmvisor_sdk::bindings::wasmvisor::service::storage::{self as host, IndexKind, IndexRef};
                Entry::<RawBytes>::new("blob").set(&RawBytes(vec![3; (1 << 20) - 64]))?;
                let blob = IndexRef {
                    name: "blob".into(),
                    kind: IndexKind::Entry,
                };
                for _ in 0..count(&call)? {
                    std::hint::black_box(host::range(&blob, None, None, 1).map_err(wasmvisor_sdk::storage_failure)?);
                }
                Ok(())
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

    fn query(method: String, arguments: Vec<u8>) -> Result<Vec<u8>, QueryError> {
        match method.as_str() {
            "trap" => panic!("trap in a query"),
            "hog" => {
                let hoard = std::hint::black_box(vec![1u8; 48 << 20]);
                let mut spins = 0u64;
                loop {
                    spins = std::hint::black_box(spins.wrapping_add(u64::from(hoard[spins as usize % hoard.len()])));
                }
            }
            "call-out" => match calls::call(2, "", 0, &[]) {
                Ok(()) => Ok(Vec::new()),
                Err(error) => Ok(vec![error.code]),
            },
            "heap" => {
                let bytes: [u8; 4] = arguments
                    .as_slice()
                    .try_into()
                    .map_err(|_| QueryError::BadRequest("a 4-byte little-endian size".into()))?;
                let held = std::hint::black_box(vec![1u8; u32::from_le_bytes(bytes) as usize]);
                drop(held);
                let mut answer = initial_memory_pages().to_le_bytes().to_vec();
                answer.extend_from_slice(&(core::arch::wasm32::memory_size(0) as u32).to_le_bytes());
                Ok(answer)
            }
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
