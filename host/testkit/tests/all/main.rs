//! Integration tests of the testkit (one test binary).

mod chain;
mod faults;
mod stack;
mod governance;
mod guide;
mod supervisor;
