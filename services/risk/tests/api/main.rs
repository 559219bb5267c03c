//! The risk service over real gRPC, with a real registry and visits
//! service feeding it, on SQLite and on PostgreSQL.

mod assessments;
mod helpers;
mod overrides;
mod races;
mod rules;
mod signals;
