//! The work budget of one top-level call, shared by every call it makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What one top-level call — a transaction, a hook, a constructor, a read
/// query — may use, together with every service it calls: fuel (wasm
/// instructions and host calls) and guest memory held at once.
///
/// A nested call runs on what its caller has left, and what it uses is
/// gone for the caller too, so nesting cannot multiply the allowance. Calls
/// nest synchronously on one thread; the meter is shared (cheaply cloned)
/// along the chain. Runtimes that do not meter (native services) leave it
/// untouched.
#[derive(Debug, Clone)]
pub struct Meter(Arc<MeterState>);

#[derive(Debug)]
struct MeterState {
    fuel_remaining: AtomicU64,
    memory_bytes: AtomicUsize,
    memory_bytes_max: usize,
}

impl Meter {
    /// A budget of `fuel`, and of guest memory held at once by the whole
    /// call chain as the limits give ([`wasmvisor_limits::CALL_CHAIN_MEMORY_BYTES_MAX`]).
    pub fn new(fuel: u64) -> Self {
        Self::with_memory(fuel, wasmvisor_limits::CALL_CHAIN_MEMORY_BYTES_MAX)
    }

    /// A budget of `fuel` and `memory_bytes_max` bytes of guest memory.
    pub fn with_memory(fuel: u64, memory_bytes_max: usize) -> Self {
        Self(Arc::new(MeterState {
            fuel_remaining: AtomicU64::new(fuel),
            memory_bytes: AtomicUsize::new(0),
            memory_bytes_max,
        }))
    }

    /// Fuel left for the rest of the chain.
    pub fn fuel_remaining(&self) -> u64 {
        self.0.fuel_remaining.load(Ordering::SeqCst)
    }

    /// Records what is left after a call (never more than before: a call
    /// cannot give fuel back).
    pub fn set_fuel_remaining(&self, fuel: u64) {
        self.0.fuel_remaining.fetch_min(fuel, Ordering::SeqCst);
    }

    /// Takes `bytes` of guest memory for a call of the chain, if the chain
    /// stays within its memory budget; answers whether it did.
    pub fn reserve_memory(&self, bytes: usize) -> bool {
        update(&self.0.memory_bytes, |held| {
            held.checked_add(bytes).filter(|next| *next <= self.0.memory_bytes_max)
        })
    }

    /// Gives back memory a finished call held.
    pub fn release_memory(&self, bytes: usize) {
        update(&self.0.memory_bytes, |held| Some(held.saturating_sub(bytes)));
    }

    /// Guest memory the chain holds now, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.0.memory_bytes.load(Ordering::SeqCst)
    }
}

/// Sets `counter` to `next(held)` atomically unless `next` answers `None`;
/// answers whether it did. (A compare-and-swap loop: `fetch_update` is
/// deprecated on newer toolchains and its successor missing on older ones.)
fn update(counter: &AtomicUsize, next: impl Fn(usize) -> Option<usize>) -> bool {
    let mut held = counter.load(Ordering::SeqCst);
    loop {
        let Some(new) = next(held) else {
            return false;
        };
        match counter.compare_exchange_weak(held, new, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(now) => held = now,
        }
    }
}
