//! Repository-wide checks and scenario suites (one test binary).

mod architecture;
mod block_log;
mod guide;
mod limits;
mod scenario;
