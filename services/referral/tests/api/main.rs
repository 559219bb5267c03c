//! The referral service over real gRPC, with the registry, the visits and
//! the risk service running, on SQLite and PostgreSQL.

mod helpers;
mod loop_;
mod notifications;
mod permissions;
mod races;
mod receiver;
mod reporting;
mod retention;
mod routing;
mod scorecard;
mod split;
