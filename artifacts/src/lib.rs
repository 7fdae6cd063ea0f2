//! The wasm guests of wasmvisor, built from source by this crate's build
//! script and exposed as constants.
//!
//! Every guest crate (the supervisor in `guest-supervisor/`, sample services
//! and test guests in `artifacts/guests/`) is compiled for
//! `wasm32-unknown-unknown` and encoded as a component. The components are
//! also written to `<target-dir>/wasm/<name>.wasm` ([`COMPONENT_DIR`]), where
//! operators and the CLI can find them.

/// One built guest component.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    /// Short name; the component file is `<name>.wasm`.
    pub name: &'static str,
    /// Absolute path of the component file.
    pub path: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
