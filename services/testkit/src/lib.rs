//! What Louyu's test suites share, and nothing the services ship: a fresh
//! database per test on SQLite or PostgreSQL ([`TestDatabase`],
//! [`backend_tests!`]), a [`sandbox::Sandbox`] that starts any set of
//! services in process on fresh databases and port 0, whose clients present
//! tokens ([`identity`]), the shared [`fixtures`], and the process's
//! `/metrics` as a scraper reads it ([`metrics`]).

pub mod clock;
mod database;
pub mod fixtures;
pub mod h2load;
pub mod identity;
pub mod metrics;
pub mod permissions;
pub mod sandbox;

pub use database::*;
