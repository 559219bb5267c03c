//! The visits service's database. Every mutation runs in one transaction
//! with its idempotency key, its audit record and its events.

mod demands;
mod plans;
mod visits;

use louyu_kit::audit::{self, RequestContext};
use louyu_kit::db::{Db, Tx};
use louyu_kit::feed::{self, NewEvent};
use louyu_kit::idempotency;
use louyu_kit::names::DistrictNames;
use louyu_kit::page::PageTokens;
use sqlx::AnyConnection;

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

/// A mutating call: who makes it, which RPC, and its idempotency key.
#[derive(Debug, Clone)]
pub struct Call {
    pub context: RequestContext,
    pub method: &'static str,
    pub request_id: String,
    pub request_hash: String,
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

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The response of an earlier call with the same request id, read
    /// without taking the write lock, so a retry is answered even before any
    /// validation against the registry.
    pub async fn replayed<R: prost::Message + Default>(
        &self,
        call: &Call,
    ) -> Result<Option<R>, VisitsError> {
        let mut connection = self.db.pool().acquire().await?;
        decode(
            idempotency::replay(
                &mut connection,
                call.method,
                &call.request_id,
                &call.request_hash,
            )
            .await?,
        )
    }

    /// Begins a mutation; when the call repeats an earlier one, returns that
    /// call's response instead.
    async fn begin<R: prost::Message + Default>(
        &self,
        call: &Call,
    ) -> Result<(Tx, Option<R>), VisitsError> {
        let mut transaction = self.db.begin_write().await?;
        let replayed = idempotency::replay(
            &mut transaction,
            call.method,
            &call.request_id,
            &call.request_hash,
        )
        .await?;
        Ok((transaction, decode(replayed)?))
    }

    /// Records the key, the audit record and the events, and commits.
    async fn finish<R: prost::Message>(
        &self,
        mut transaction: Tx,
        call: &Call,
        resource: &str,
        response: &R,
        events: Vec<NewEvent>,
    ) -> Result<(), VisitsError> {
        idempotency::remember(
            &mut transaction,
            call.method,
            &call.request_id,
            &call.request_hash,
            response,
        )
        .await?;
        audit::record(
            &mut transaction,
            &call.context,
            call.method,
            resource,
            &call.request_id,
        )
        .await?;
        append_events(&mut transaction, &call.context, events).await?;
        self.db.commit_with_events(transaction).await?;
        Ok(())
    }
}

/// Events go last in a transaction: appending takes the feed's lock until
/// commit.
async fn append_events(
    connection: &mut AnyConnection,
    context: &RequestContext,
    events: Vec<NewEvent>,
) -> Result<(), VisitsError> {
    for event in events {
        feed::append(connection, context, event).await?;
    }
    Ok(())
}

fn decode<R: prost::Message + Default>(bytes: Option<Vec<u8>>) -> Result<Option<R>, VisitsError> {
    bytes
        .map(|bytes| {
            R::decode(bytes.as_slice()).map_err(|error| VisitsError::Corrupt(error.to_string()))
        })
        .transpose()
}

fn int32(row: &sqlx::any::AnyRow, column: &str) -> Result<i32, VisitsError> {
    use sqlx::Row;
    let value: i64 = row.try_get(column)?;
    i32::try_from(value).map_err(|_| VisitsError::Corrupt(format!("{column} out of range")))
}

fn timestamp(micros: i64) -> Option<prost_types::Timestamp> {
    Some(louyu_kit::time::timestamp_from_micros(micros))
}
