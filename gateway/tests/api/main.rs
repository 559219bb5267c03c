//! The gateway over real gRPC and REST, in front of a registry and a visits service,
//! on SQLite and PostgreSQL.

mod audit;
mod enterprise_page;
mod export;
mod forwarding;
mod helpers;
mod login;
mod matrix;
mod page;
mod protection;
mod rest;
mod scope;
mod stream;
