//! Integration tests of the blockchain layer (one test binary).

mod blocks;
mod crash;
mod limits;
mod proposals;
mod replay;
mod transactions;
