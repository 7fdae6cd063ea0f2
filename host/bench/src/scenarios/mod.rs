//! One module per scenario; each `run` prints its figures.

pub mod deploy;
pub mod exec;
pub mod host_call;
pub mod instantiate;
pub mod limits;
pub mod network;
pub mod storage;
pub mod supervisor;
pub mod tps;
