//! Integration tests of the storage crate (one test binary).

mod crash;
mod fork;
mod model;
mod model_machine;
mod proofs;
mod rocks;
