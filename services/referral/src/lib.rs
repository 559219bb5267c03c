//! The referral service: every demand routed to the department that can
//! solve it and followed, against three deadlines counted in working days,
//! until the enterprise says it is solved.

pub mod api;
pub mod deadlines;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod events;
pub mod feeds;
pub mod registry;
pub mod startup;
pub mod store;
pub mod webhook;

pub use startup::Referral;
