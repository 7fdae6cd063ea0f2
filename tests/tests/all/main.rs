//! Repository-wide checks and scenario suites (one test binary).

mod architecture;
mod guide;
mod limits;
mod scenario;
