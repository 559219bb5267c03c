//! The visits service's database. Every mutation runs in one transaction
//! with its idempotency key, its audit record and its events.

mod demands;
mod plans;
mod visits;

use louyu_kit::db::{Db, Tx};
use louyu_kit::feed::NewEvent;
use louyu_kit::mutation;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;

use crate::error::VisitsError;

pub use demands::{DemandInput, LinkedDemand};
pub use plans::{DuePlan, PlanScope};
pub use visits::{ObservationInput, VisitInput};

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    names: DistrictNames,
    page_tokens: PageTokens,
}

pub use louyu_kit::mutation::Call;

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
        Ok(mutation::replayed(&self.db, call).await?)
    }

    /// Begins a mutation's transaction.
    async fn begin(&self) -> Result<Tx, VisitsError> {
        Ok(mutation::begin(&self.db).await?)
    }

    /// Runs a mutation; when it fails, a call under the same `request_id`
    /// that committed answers instead (see [`mutation::settle`]).
    async fn settle<R: prost::Message + Default>(
        &self,
        call: &Call,
        mutation: impl Future<Output = Result<R, VisitsError>>,
    ) -> Result<R, VisitsError> {
        mutation::settle(&self.db, call, mutation).await
    }

    /// Records the key, the audit record and the events, and commits.
    async fn finish<R: prost::Message>(
        &self,
        transaction: Tx,
        call: &Call,
        resource: &str,
        response: &R,
        events: Vec<NewEvent>,
    ) -> Result<(), VisitsError> {
        Ok(mutation::finish(&self.db, transaction, call, resource, response, events).await?)
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
