//! The visits service over real gRPC, with a real registry, on SQLite and
//! on PostgreSQL.

mod demands;
mod helpers;
mod page_tokens;
mod plans;
mod races;
mod scope;
mod visits;
