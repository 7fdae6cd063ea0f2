//! Integration tests of the testkit (one test binary).

mod chain;
mod governance;
mod guide;
mod supervisor;
