//! The risk service: every enterprise of the district graded stable (green)
//! to unstable (red) from what is known about it, under rules each district
//! configures, each grade explained factor by factor.

pub mod activation;
pub mod api;
pub mod domain;
pub mod error;
pub mod events;
pub mod feeds;
pub mod schedule;
pub mod startup;
pub mod store;
