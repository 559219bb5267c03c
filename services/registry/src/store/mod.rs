//! The registry's database. Every mutation runs in one transaction with its
//! idempotency key, its audit record and its events, so a change, its trail
//! and its announcement commit together or not at all.

mod buildings;
mod departments;
mod enterprises;
mod import;
mod resources;
mod staff;
mod sub_districts;
mod tenancies;
mod units;

use louyu_kit::audit::{self, RequestContext};
use louyu_kit::db::{Db, Tx};
use louyu_kit::feed::{self, NewEvent};
use louyu_kit::filter::SqlQuery;
use louyu_kit::idempotency;
pub use louyu_kit::page::PageQuery;
use louyu_kit::page::{self, PageTokens};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::Names;
use crate::error::RegistryError;

pub use buildings::{BuildingInput, CouncilMemberRecord};
pub use departments::DepartmentInput;
pub use enterprises::EnterpriseInput;
pub use import::{ImportRow, RowProblem};
pub use resources::ResourceInput;
pub use staff::{AssignmentInput, StaffInput};
pub use sub_districts::SubDistrictInput;
pub use tenancies::TenancyInput;
pub use units::UnitInput;

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    names: Names,
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
    pub fn new(db: Db, names: Names, page_tokens: PageTokens) -> Self {
        Self {
            db,
            names,
            page_tokens,
        }
    }

    pub fn names(&self) -> &Names {
        &self.names
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Begins a mutation; when the call repeats an earlier one, returns that
    /// call's response instead.
    async fn begin<R: prost::Message + Default>(
        &self,
        call: &Call,
    ) -> Result<(Tx, Option<R>), RegistryError> {
        let mut transaction = self.db.begin_write().await?;
        let replayed = idempotency::replay(
            &mut transaction,
            call.method,
            &call.request_id,
            &call.request_hash,
        )
        .await?;
        match replayed {
            Some(bytes) => {
                let response = R::decode(bytes.as_slice())
                    .map_err(|error| RegistryError::Corrupt(error.to_string()))?;
                Ok((transaction, Some(response)))
            }
            None => Ok((transaction, None)),
        }
    }

    /// Records the key, the audit record and the events, and commits.
    async fn finish<R: prost::Message>(
        &self,
        mut transaction: Tx,
        call: &Call,
        resource: &str,
        response: &R,
        events: Vec<NewEvent>,
    ) -> Result<(), RegistryError> {
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
        // Events last: appending takes the feed's lock until commit.
        for event in events {
            feed::append(&mut transaction, &call.context, event).await?;
        }
        self.db.commit_with_events(transaction).await?;
        Ok(())
    }

    /// Runs a List query in name order (see [`page::fetch_page`]).
    async fn list_page<T>(
        &self,
        query: SqlQuery,
        key_column: &str,
        page: &PageQuery,
        from_row: impl FnMut(&AnyRow) -> Result<T, RegistryError>,
        key_of: impl Fn(&T) -> String,
    ) -> Result<(Vec<T>, String), RegistryError> {
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

/// The last segment of a resource name: the key lists page by.
fn last_segment(name: &str) -> String {
    name.rsplit('/').next().unwrap_or_default().to_owned()
}

fn timestamp(row: &AnyRow, column: &str) -> Result<Option<prost_types::Timestamp>, RegistryError> {
    Ok(Some(louyu_kit::time::timestamp_from_micros(
        row.try_get(column)?,
    )))
}

fn int32(row: &AnyRow, column: &str) -> Result<i32, RegistryError> {
    let value: i64 = row.try_get(column)?;
    i32::try_from(value).map_err(|_| RegistryError::Corrupt(format!("{column} out of range")))
}

/// Whether a row exists: `SELECT 1 FROM <table> WHERE <condition>` with text
/// parameters.
async fn exists(
    transaction: &mut sqlx::AnyConnection,
    sql: &'static str,
    values: &[&str],
) -> Result<bool, RegistryError> {
    let mut query = sqlx::query(sql);
    for value in values {
        query = query.bind((*value).to_owned());
    }
    Ok(query.fetch_optional(&mut *transaction).await?.is_some())
}
