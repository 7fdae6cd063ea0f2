//! The compiled-artifact cache: compiled components on disk, so a restart
//! loads code instead of recompiling it.
//!
//! Entries are keyed by the component's blake3 hash and a fingerprint of
//! the engine's configuration, and kept in a directory opened with
//! `cap-std`: every file name is derived from hashes, never from a request,
//! and no path can escape the directory. Each entry is the blake3 of its
//! payload followed by the payload (wasmtime's serialized component); a
//! corrupt, truncated or mismatched entry is detected, counted and
//! recompiled, never executed.

use std::hash::{Hash as _, Hasher as _};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::errors::WasmError;

/// Counters of the cache, for metrics and tests.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Components compiled from their bytes.
    pub compilations: AtomicU64,
    /// Components loaded from the cache.
    pub hits: AtomicU64,
    /// Entries found corrupt or incompatible (then recompiled).
    pub rejected_entries: AtomicU64,
}

impl CacheStats {
    /// (compilations, hits, rejected entries).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.compilations.load(Ordering::SeqCst),
            self.hits.load(Ordering::SeqCst),
            self.rejected_entries.load(Ordering::SeqCst),
        )
    }
}

/// The outcome of looking a component up in the cache.
pub enum CacheLookup {
    /// A sound entry: the compiled component.
    Hit(Component),
    /// No entry.
    Miss,
    /// An entry exists but is corrupt, truncated or incompatible.
    Rejected,
}

/// A directory of compiled components.
#[derive(Debug)]
pub struct CompiledCache {
    dir: Dir,
    fingerprint: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl CompiledCache {
    /// Opens (creating it if needed) the cache directory for `engine`.
    pub fn open(path: &Path, engine: &Engine) -> Result<Self, WasmError> {
        let io = |error: std::io::Error| WasmError::Cache(format!("{}: {error}", path.display()));
        std::fs::create_dir_all(path).map_err(io)?;
        let dir = Dir::open_ambient_dir(path, ambient_authority()).map_err(io)?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir,
            fingerprint: format!("{:016x}", hasher.finish()),
        })
    }

    /// The entry's file name: only hex digits, a dash and an extension.
    pub fn entry_name(&self, component_hash: &[u8; 32]) -> String {
        format!("{}-{}.cwasm", hex(component_hash), self.fingerprint)
    }

    /// Looks up the compiled component for `component_hash`.
    pub fn load(&self, engine: &Engine, component_hash: &[u8; 32]) -> CacheLookup {
        let Ok(bytes) = self.dir.read(self.entry_name(component_hash)) else {
            return CacheLookup::Miss;
        };
        let Some((checksum, payload)) = bytes.split_at_checked(32) else {
            return CacheLookup::Rejected;
        };
        if blake3::hash(payload).as_bytes() != checksum {
            return CacheLookup::Rejected;
        }
        match load_verified(engine, payload) {
            Ok(component) => CacheLookup::Hit(component),
            Err(_) => CacheLookup::Rejected,
        }
    }

    /// Stores a compiled component (atomically: a temporary file renamed
    /// into place). Failures only cost a future recompilation.
    pub fn store(&self, component_hash: &[u8; 32], component: &Component) -> Result<(), WasmError> {
        let payload = component
            .serialize()
            .map_err(|error| WasmError::Cache(error.to_string()))?;
        let name = self.entry_name(component_hash);
        let temporary = format!("{name}.tmp");
        let io = |error: std::io::Error| WasmError::Cache(format!("{name}: {error}"));
        let mut file = self.dir.create(&temporary).map_err(io)?;
        file.write_all(blake3::hash(&payload).as_bytes()).map_err(io)?;
        file.write_all(&payload).map_err(io)?;
        file.sync_all().map_err(io)?;
        self.dir.rename(&temporary, &self.dir, &name).map_err(io)
    }
}

/// Loads compiled code that passed the blake3 integrity check.
#[allow(unsafe_code)]
fn load_verified(engine: &Engine, payload: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires the bytes to be a component it serialized
    // itself. This payload was written by `CompiledCache::store` from
    // `Component::serialize` and its blake3 matches the checksum stored
    // with it, so it is not corrupt or truncated; wasmtime additionally
    // checks its own version and engine configuration in the header and
    // refuses a mismatch. The cache directory is the node's own.
    unsafe { Component::deserialize(engine, payload) }
}
