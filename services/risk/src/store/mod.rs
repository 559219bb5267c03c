//! The risk service's database: the current signals of each enterprise,
//! its assessment and the history of its colour, and what the registry's
//! feed said that signals and scope need. A change, its audit record and
//! its events commit together.

mod assessments;
mod district;
mod dry_run;
mod rules;
mod seen;
mod signals;
mod summary;

use std::sync::Arc;

use louyu_kit::db::Db;
use louyu_kit::filter::SqlQuery;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::{self, PageQuery, PageTokens};
use sqlx::any::AnyRow;

use crate::domain::Rules;
use crate::error::RiskError;

pub use assessments::{ASSESSMENTS, Cause, OverrideInput};
pub use district::{CHUNK_SIZE, ChunkOutcome, RescoreSummary};
pub use louyu_kit::mutation::{Call, Mutations};
pub use rules::{Activation, RulesInForce};
pub use summary::GroupBy;

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    names: DistrictNames,
    page_tokens: PageTokens,
    /// The rules in force, re-read when another version comes into force.
    rules: Arc<RulesInForce>,
}

impl Mutations for Store {
    type Error = RiskError;

    fn db(&self) -> &Db {
        &self.db
    }
}

impl Store {
    /// `rules`: those the service ships with, in force until a district
    /// activates its own.
    pub fn new(db: Db, names: DistrictNames, page_tokens: PageTokens, rules: Rules) -> Self {
        Self {
            db,
            names,
            page_tokens,
            rules: Arc::new(RulesInForce::new(rules)),
        }
    }

    pub fn names(&self) -> &DistrictNames {
        &self.names
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs a List query in key order (see [`page::fetch_page`]).
    async fn list_page<T>(
        &self,
        query: SqlQuery,
        key_column: &str,
        page: &PageQuery,
        from_row: impl FnMut(&AnyRow) -> Result<T, RiskError>,
        key_of: impl Fn(&T) -> String,
    ) -> Result<(Vec<T>, String), RiskError> {
        page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            key_column,
            page::Order::Ascending,
            page,
            from_row,
            key_of,
        )
        .await
    }
}
