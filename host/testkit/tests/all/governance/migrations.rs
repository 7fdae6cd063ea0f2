//! Migrations and the supervisor's own upgrade.
