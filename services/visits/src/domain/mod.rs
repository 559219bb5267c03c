//! The visits service's rules, with no I/O: the demand lifecycle, visit
//! cadence and urgency, the due-visit list, and what the registry's answers
//! mean for a request.

pub mod cadence;
pub mod due;
pub mod lifecycle;
pub mod registry_answers;

pub use louyu_kit::time::{parse_instant, shanghai_time};
