//! The visits service's database. Every mutation runs in one transaction
//! with its idempotency key, its audit record and its events.

mod demands;
mod plans;
mod scope;
mod visits;

use louyu_kit::db::Db;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;

use crate::error::VisitsError;

pub use demands::{DemandInput, LinkedDemand, ReferralChange};
pub use plans::{DuePlan, PlanScope};
pub use scope::{GET_DEMAND, GET_VISIT, Place};
pub use visits::{ObservationInput, VisitInput};

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    names: DistrictNames,
    page_tokens: PageTokens,
}

pub use louyu_kit::mutation::{Call, Mutations};

impl Mutations for Store {
    type Error = VisitsError;

    fn db(&self) -> &Db {
        &self.db
    }
}

impl Store {
    pub fn new(db: Db, names: DistrictNames, page_tokens: PageTokens) -> Self {
        Self {
            db,
            names,
            page_tokens,
        }
    }

    pub fn names(&self) -> &DistrictNames {
        &self.names
    }

    /// The response of an earlier call with the same request id, read
    /// without taking the write lock, so a retry is answered even before any
    /// validation against the registry.
    pub async fn replayed<R: prost::Message + Default>(
        &self,
        call: &Call,
    ) -> Result<Option<R>, VisitsError> {
        Ok(louyu_kit::mutation::replayed(&self.db, call).await?)
    }
}

fn int32(row: &sqlx::any::AnyRow, column: &str) -> Result<i32, VisitsError> {
    use sqlx::Row;
    let value: i64 = row.try_get(column)?;
    i32::try_from(value).map_err(|_| VisitsError::Corrupt(format!("{column} out of range")))
}

fn timestamp(micros: i64) -> Option<prost_types::Timestamp> {
    Some(louyu_kit::time::timestamp_from_micros(micros))
}
