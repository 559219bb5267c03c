use louyu_kit::filter::SqlQuery;
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_proto::registry::v1::{SubDistrict, SubDistrictKind};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Call, PageQuery, Store, exists, timestamp};
use crate::error::RegistryError;

#[derive(Debug, Clone)]
pub struct SubDistrictInput {
    pub id: String,
    pub display_name: String,
    pub kind: SubDistrictKind,
}

const COLUMNS: &str = "id, display_name, kind, created_at, updated_at";

impl Store {
    pub async fn create_sub_district(
        &self,
        call: &Call,
        input: SubDistrictInput,
    ) -> Result<SubDistrict, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let name = self.names.sub_district(&input.id);
            // The primary key says whether it exists (ALREADY_EXISTS).
            let now = louyu_kit::time::now_micros();
            sqlx::query("INSERT INTO sub_districts (id, display_name, kind, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
                .bind(&input.id)
                .bind(&input.display_name)
                .bind(i64::from(input.kind as i32))
                .bind(now)
                .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            let created = SubDistrict {
                name: name.clone(),
                display_name: input.display_name,
                kind: input.kind as i32,
                create_time: Some(louyu_kit::time::timestamp_from_micros(now)),
                update_time: Some(louyu_kit::time::timestamp_from_micros(now)),
            };
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn get_sub_district(&self, id: &str) -> Result<SubDistrict, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sub_districts WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.sub_district(id)))?;
        self.sub_district_from_row(&row)
    }

    pub async fn list_sub_districts(
        &self,
        page: &PageQuery,
    ) -> Result<(Vec<SubDistrict>, String), RegistryError> {
        let query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM sub_districts WHERE 1 = 1"));
        self.list_page(
            query,
            "id",
            page,
            |row| self.sub_district_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    /// Whether a sub-district exists, inside a transaction.
    pub(super) async fn sub_district_exists(
        &self,
        transaction: &mut sqlx::AnyConnection,
        id: &str,
    ) -> Result<bool, RegistryError> {
        exists(
            transaction,
            "SELECT 1 FROM sub_districts WHERE id = $1",
            &[id],
        )
        .await
    }

    fn sub_district_from_row(&self, row: &AnyRow) -> Result<SubDistrict, RegistryError> {
        let id: String = row.try_get("id")?;
        Ok(SubDistrict {
            name: self.names.sub_district(&id),
            display_name: row.try_get("display_name")?,
            kind: super::int32(row, "kind")?,
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}
