//! The gateway over real gRPC and REST, in front of a registry and a visits service,
//! on SQLite and PostgreSQL.

mod export;
mod forwarding;
mod helpers;
mod page;
mod rest;
