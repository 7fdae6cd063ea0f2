//! Integration tests of the testkit (one test binary).

mod chain;
mod guide;
mod supervisor;
