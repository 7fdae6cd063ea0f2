//! The `wasmvisor` binary on loopback ports, driven over HTTP as an
//! operator and a client would (one test binary).

mod attacks;
#[cfg(feature = "byzantine")]
mod byzantine;
mod crash;
mod engine_codec;
mod hostile;
mod network;
mod node;
mod openapi;
mod partitions;
mod support;
mod wire_format;
