//! Repository-wide checks and end-to-end scenario suites of wasmvisor.
//!
//! The suites live in `tests/tests/all/` (one test binary); this library
//! holds what they share.

use std::path::{Path, PathBuf};

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}
