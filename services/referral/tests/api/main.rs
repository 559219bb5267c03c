//! The referral service over real gRPC, with the registry and the visits
//! service running, on SQLite and PostgreSQL.

mod helpers;
mod loop_;
mod races;
mod routing;
