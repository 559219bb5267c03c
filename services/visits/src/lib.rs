//! The visits service: what happens when someone walks a building. Visits
//! with their observations, the demands raised, and when each enterprise is
//! next due a visit.

pub mod api;
pub mod domain;
pub mod error;
pub mod feeds;
pub mod registry;
pub mod startup;
pub mod store;
