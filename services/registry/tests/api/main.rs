//! The registry over real gRPC, on SQLite and on PostgreSQL.

mod buildings;
mod coordinates;
mod councils;
mod directory;
mod enterprises;
mod events;
mod helpers;
mod identity;
mod import;
mod offerings;
mod page_tokens;
mod races;
mod scope;
mod server;
mod tenancies;
