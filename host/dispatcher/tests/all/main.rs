//! Integration tests of the dispatcher (one test binary).

mod deploy;
mod failures;
mod lifecycle;
mod migration;
mod ordering;
mod restart;
mod support;
mod token;
