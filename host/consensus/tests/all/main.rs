//! The consensus types and signatures (one test binary).

mod codec;
mod context;
mod signing;
