//! Host implementations of the WIT interfaces, one file per interface.

mod calls;
mod context;
mod dispatcher;
mod storage;
mod types;
