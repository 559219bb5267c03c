//! The registry's database. Every mutation runs in one transaction with its
//! idempotency key, its audit record and its events, so a change, its trail
//! and its announcement commit together or not at all.

mod buildings;
mod councils;
mod departments;
mod enterprises;
mod import;
mod offerings;
mod resources;
mod scope;
mod staff;
mod sub_districts;
mod tenancies;
mod units;

use louyu_kit::db::Db;
use louyu_kit::filter::SqlQuery;
pub use louyu_kit::page::PageQuery;
use louyu_kit::page::{self, PageTokens};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::Names;
use crate::error::RegistryError;

pub use buildings::{BuildingInput, CouncilMemberRecord};
pub use councils::{
    ChiefMove, DecisionInput, MeetingInput, MemberInput, Nominee, OrganisationInput, ProjectInput,
};
pub use departments::DepartmentInput;
pub use enterprises::EnterpriseInput;
pub use import::{ImportRow, RowProblem};
pub use offerings::OfferingInput;
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

pub use louyu_kit::mutation::{Call, Mutations};

impl Mutations for Store {
    type Error = RegistryError;

    fn db(&self) -> &Db {
        &self.db
    }
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

    /// Records in the audit trail that `reader` saw the contact details of
    /// `resources` through `method` (`DiscloseContacts` in the trail's
    /// method column, with the read method after it).
    pub async fn record_disclosures(
        &self,
        reader: &louyu_kit::audit::RequestContext,
        method: &str,
        resources: &[&str],
    ) -> Result<(), RegistryError> {
        let method = format!("DiscloseContacts/{method}");
        let mut transaction = self.db.begin_write().await?;
        for resource in resources {
            louyu_kit::audit::record(&mut transaction, reader, &method, resource, "").await?;
        }
        transaction.commit().await?;
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
