//! Integration tests of the dispatcher (one test binary).

mod lifecycle;
mod ordering;
mod restart;
mod support;
mod token;
