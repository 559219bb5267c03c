//! The referral service's types and decisions, with no I/O.
//!
//! - [`state`]: the closed loop: states (FHIR Task's), and the moves between them.
//! - [`referral`]: one referral's record and how each move changes it.
//! - [`retention`]: what a change of colour does to an enterprise's retention
//!   case.
//! - [`rules`]: a district's versioned rules (TOML): routes from a demand's
//!   category and sub-district to departments, deadlines, the calendar.
//! - [`scorecard`]: the departments' and sub-districts' rates over a period.
//! - [`calendar`]: working days of Asia/Shanghai and due times.
//! - [`notification`]: what the webhook tells the district's own systems,
//!   and when a failed delivery is tried again.

pub mod calendar;
pub mod notification;
pub mod referral;
pub mod retention;
pub mod rules;
pub mod scorecard;
pub mod state;

pub use calendar::Calendar;
pub use rules::{Days, DirectoryEntry, Rules, RulesError};
pub use state::Action;
