//! Integration tests of the testkit (one test binary).

mod chain;
mod faults;
mod governance;
mod guide;
mod stack;
mod supervisor;
