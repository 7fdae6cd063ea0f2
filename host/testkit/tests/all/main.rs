//! Integration tests of the testkit (one test binary).

mod chain;
mod faults;
mod governance;
mod guide;
mod node_local;
mod stack;
mod supervisor;
