//! The risk service's types and decisions, with no I/O: the signals an
//! assessment rests on, the district's rules, and the assessment itself,
//! explained factor by factor.
//!
//! - [`signal`]: what is known about an enterprise (a lease nearing its end,
//!   an intent to relocate, an open demand, a court case…), each with where
//!   it came from and when.
//! - [`rules`]: a district's versioned rules (TOML): points per factor,
//!   decay, thresholds from score to colour, floors.
//! - [`assess`]: the colour of one enterprise from its signals under the
//!   rules at a given time, with its explanation and the time at which it
//!   would next change with no new signal.

pub mod assess;
pub mod colour;
pub mod rules;
pub mod signal;

pub use assess::{Assessment, Factor, assess};
pub use colour::Colour;
pub use rules::{Rules, RulesError};
pub use signal::{Signal, SignalKind};

/// A text shown to people, in Simplified Chinese with English beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            zh: zh.into(),
            en: en.into(),
        }
    }
}
