//! The consensus types and signatures (one test binary).

mod context;
mod signing;
