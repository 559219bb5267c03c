//! The referral service's database: referrals with their departments and
//! history, the demands the visits feed published, the rules by version,
//! the notification outbox, and the scope kept from the registry's feed. A
//! change, its audit record, its events and its notifications commit
//! together.

pub mod notifications;
mod parts;
mod referrals;
mod retention;
mod rules;
mod scorecard;

use louyu_kit::db::Db;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;

use crate::domain::Rules;
use crate::error::ReferralError;

pub use louyu_kit::mutation::{Call, Mutations};
pub use parts::PartInput;
pub use referrals::{DemandFacts, Inbox, OfferedUnitRecord, Opened};
pub use referrals::{acting_as_system, acting_of};
pub use retention::ColourChange;
pub use rules::{RulesInForce, calendar_warnings};
pub use scorecard::ScoreBy;

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    names: DistrictNames,
    page_tokens: PageTokens,
    rules: std::sync::Arc<RulesInForce>,
}

impl Mutations for Store {
    type Error = ReferralError;

    fn db(&self) -> &Db {
        &self.db
    }
}

impl Store {
    /// `rules`: those the service ships with, in force until a district
    /// puts its own in force.
    pub fn new(db: Db, names: DistrictNames, page_tokens: PageTokens, rules: Rules) -> Self {
        Self {
            db,
            names,
            page_tokens,
            rules: std::sync::Arc::new(RulesInForce::new(rules)),
        }
    }

    pub fn names(&self) -> &DistrictNames {
        &self.names
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
}
