//! The registry service: the district's sub-districts, buildings and units,
//! enterprises and their tenancies, staff and their assignments, the
//! department directory and building resources with what each offers and when.

pub mod api;
pub mod domain;
pub mod error;
pub mod events;
pub mod feeds;
pub mod import;
pub mod startup;
pub mod store;
