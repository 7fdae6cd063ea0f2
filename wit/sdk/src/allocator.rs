//! The guest's memory allocator: dlmalloc, as the standard library uses on
//! `wasm32-unknown-unknown`, but started on a heap that is already part of
//! the instance's memory when it is created.
//!
//! Why: the host gives every call a fresh instance, and the standard
//! library's allocator takes its first bytes by growing the linear memory
//! (`memory.grow`), even for a call that needs a few hundred bytes. A memory
//! that grew during a call has to be shrunk back when the host reuses its
//! slot for the next instance, and making those pages inaccessible again
//! (`mprotect`) flushes the TLB of every core the node runs on. That flush
//! was a tenth of a wasm transfer's time (BENCHMARKS.md, "A heap in the
//! initial memory"). With [`STATIC_HEAP_BYTES`] reserved in the module's
//! zero-initialised data, a call whose live allocations stay well within
//! it (dlmalloc's own bookkeeping and the call's arguments and answer
//! take part of it) never grows its memory; one that needs more grows it
//! exactly as before.
//!
//! Enabled by the SDK's default feature `allocator` on wasm32. A guest that
//! brings its own `#[global_allocator]` turns the feature off.
//!
//! The allocator is as deterministic as the standard library's: the same
//! calls give the same addresses on every node. Guests are single-threaded
//! (wasm threads are off in the host's engine), which is what makes the
//! unsynchronised state below sound.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};

use dlmalloc::Dlmalloc;

#[cfg(target_feature = "atomics")]
compile_error!("the SDK's allocator assumes a single-threaded guest; build without wasm threads");

/// Bytes of heap in every instance's initial memory, handed to the
/// allocator before it grows the memory. Zero-initialised data costs
/// nothing until a call touches it: the host maps the memory's image
/// copy-on-write and resets only the pages a call wrote.
pub const STATIC_HEAP_BYTES: usize = wasmvisor_limits::GUEST_SDK_HEAP_BYTES;

/// A wasm page, the unit of `memory.grow`.
const WASM_PAGE_BYTES: usize = 64 * 1024;

/// dlmalloc's flag for a segment it did not obtain from the system and
/// must never release or merge.
const EXTERN_SEGMENT: u32 = 1;

#[repr(C, align(16))]
struct StaticHeap(UnsafeCell<[u8; STATIC_HEAP_BYTES]>);

// SAFETY: guests are single-threaded (see the module's documentation), and
// the heap is reached only through the allocator.
unsafe impl Sync for StaticHeap {}

static HEAP: StaticHeap = StaticHeap(UnsafeCell::new([0; STATIC_HEAP_BYTES]));

/// dlmalloc's system: the static heap first, then `memory.grow`.
struct System {
    heap_given: AtomicBool,
}

// SAFETY: the regions handed out are each handed out once: the static heap
// by the flag, grown pages because `memory.grow` never answers the same
// pages twice.
unsafe impl dlmalloc::Allocator for System {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if size <= STATIC_HEAP_BYTES && !self.heap_given.swap(true, Ordering::Relaxed) {
            return (HEAP.0.get().cast(), STATIC_HEAP_BYTES, EXTERN_SEGMENT);
        }
        grow(size)
    }

    fn remap(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize, _can_move: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // The static heap is handed out once, untouched; grown pages are
        // zero.
        true
    }

    fn page_size(&self) -> usize {
        WASM_PAGE_BYTES
    }
}

/// At least `size` bytes of new pages, or null when the memory cannot grow.
fn grow(size: usize) -> (*mut u8, usize, u32) {
    let pages = size.div_ceil(WASM_PAGE_BYTES);
    let previous = core::arch::wasm32::memory_grow(0, pages);
    if previous == usize::MAX {
        return (ptr::null_mut(), 0, 0);
    }
    let start = previous * WASM_PAGE_BYTES;
    let bytes = pages * WASM_PAGE_BYTES;
    // The last page of a 4 GiB memory: a region may not end at address 0.
    let bytes = if start.wrapping_add(bytes) == 0 {
        bytes - 16
    } else {
        bytes
    };
    (start as *mut u8, bytes, 0)
}

/// The SDK's global allocator (see the module's documentation).
pub struct GuestAllocator(UnsafeCell<Dlmalloc<System>>);

// SAFETY: guests are single-threaded (see the module's documentation).
unsafe impl Sync for GuestAllocator {}

impl GuestAllocator {
    /// An allocator that has handed out nothing yet.
    pub const fn new() -> Self {
        Self(UnsafeCell::new(Dlmalloc::new_with_allocator(System {
            heap_given: AtomicBool::new(false),
        })))
    }
}

impl Default for GuestAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: each method forwards to dlmalloc with the contract of the same
// `GlobalAlloc` method; no two calls run at once in a single-threaded
// guest, so the `&mut` taken of the state is never aliased.
unsafe impl GlobalAlloc for GuestAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).malloc(layout.size(), layout.align()) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { (*self.0.get()).calloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { (*self.0.get()).free(ptr, layout.size(), layout.align()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size) }
    }
}
