//! Integration tests of the wasm runtime (one test binary for the crate).

mod cache;
mod calls;
mod components;
mod deploy;
mod equivalence;
mod sandbox;
mod supervisor;
mod support;
mod token;
