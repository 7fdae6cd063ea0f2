//! The supervisor's governance, driven only by signed transactions of
//! validators (helpers: `wasmvisor_testkit::governance`).

mod lifecycle;
mod migrations;
mod proposals;

use wasmvisor_testkit::governance::*;
use wasmvisor_testkit::{BlockOutcome, SupervisorMode, TestKit};
