//! What every Louyu service shares: configuration, telemetry, the database,
//! server bootstrap, errors, request parsing helpers, the audit trail and the
//! event feeds.

pub mod audit;
pub mod config;
pub mod db;
pub mod error;
pub mod feed;
pub mod fields;
pub mod filter;
pub mod gateway_protection;
pub mod geo;
pub mod handler;
pub mod hosting;
pub mod idempotency;
pub mod identity;
pub mod metrics;
pub mod mutation;
pub mod names;
pub mod observe;
pub mod operations;
pub mod page;
pub mod peer;
pub mod permissions;
pub mod scope;
pub mod server;
pub mod telemetry;
pub mod text;
pub mod time;
mod trace_ids;
pub mod uscc;
