//! Integration tests of the storage crate (one test binary).

mod crash;
mod fork;
mod model;
mod proofs;
mod rocks;
