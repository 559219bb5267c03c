//! The gateway over real gRPC, in front of a registry and a visits service,
//! on SQLite and PostgreSQL.

mod forwarding;
mod helpers;
