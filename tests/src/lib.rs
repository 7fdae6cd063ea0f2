//! Repository-wide checks and end-to-end scenario suites of wasmvisor.
//!
//! The suites live in `tests/tests/all/` (one test binary); this library
//! holds what they share.

use std::path::{Path, PathBuf};

/// The repository's root directory.
///
/// Read from `CARGO_MANIFEST_DIR` as cargo sets it when it runs the tests,
/// not as it was when this library was compiled: with a target directory
/// shared between clones (as `.ci/run` uses), a library compiled in another
/// clone may be reused unchanged.
pub fn repo_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Path::new(&manifest_dir)
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}
