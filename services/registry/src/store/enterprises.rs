use louyu_kit::db::RowLock;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::page::ChildRows;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{Contact, Enterprise, EnterpriseStatus};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::ENTERPRISES;
use super::{Call, PageQuery, Store, timestamp};
use crate::domain::Uscc;
use crate::domain::fields::{self, StoredContact};
use crate::error::RegistryError;
use crate::events;

/// An enterprise's fields, parsed.
#[derive(Debug, Clone)]
pub struct EnterpriseInput {
    pub display_name: String,
    pub industry: String,
    pub headcount: i64,
    pub party_members: i64,
    pub contacts: Vec<StoredContact>,
    pub status: EnterpriseStatus,
    pub registered_address: String,
}

const COLUMNS: &str = "uscc, display_name, industry, headcount, party_members, contacts, status, registered_address, \
     created_at, updated_at";

impl Store {
    pub async fn create_enterprise(
        &self,
        call: &Call,
        uscc: &Uscc,
        input: EnterpriseInput,
    ) -> Result<Enterprise, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let name = self.names.enterprise(uscc.as_str());
            // The primary key says whether the enterprise exists, and the
            // response is what was written: a new enterprise has no tenancy.
            let created = self
                .insert_enterprise(&mut transaction, uscc, &input)
                .await
                .map_err(|error| error.when_creating(&name))?;
            let event = events::enterprise_created(&created);
            self.finish(transaction, call, &name, &created, vec![event])
                .await?;
            Ok(created)
        })
        .await
    }

    /// Inserts an enterprise and returns it as written.
    pub(super) async fn insert_enterprise(
        &self,
        transaction: &mut sqlx::AnyConnection,
        uscc: &Uscc,
        input: &EnterpriseInput,
    ) -> Result<Enterprise, RegistryError> {
        let now = louyu_kit::time::now_micros();
        sqlx::query(
            "INSERT INTO enterprises (uscc, display_name, industry, headcount, party_members, contacts, status, \
             registered_address, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(uscc.as_str())
        .bind(&input.display_name)
        .bind(&input.industry)
        .bind(input.headcount)
        .bind(input.party_members)
        .bind(serde_json::to_string(&input.contacts)?)
        .bind(i64::from(input.status as i32))
        .bind(&input.registered_address)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        let count = |column: &str, value: i64| {
            i32::try_from(value)
                .map_err(|_| RegistryError::Corrupt(format!("{column} out of range")))
        };
        Ok(Enterprise {
            name: self.names.enterprise(uscc.as_str()),
            uscc: uscc.as_str().to_owned(),
            display_name: input.display_name.clone(),
            industry: input.industry.clone(),
            headcount: count("headcount", input.headcount)?,
            party_members: count("party_members", input.party_members)?,
            contacts: input.contacts.iter().cloned().map(Contact::from).collect(),
            status: input.status as i32,
            registered_address: input.registered_address.clone(),
            occupied_units: Vec::new(),
            create_time: Some(louyu_kit::time::timestamp_from_micros(now)),
            update_time: Some(louyu_kit::time::timestamp_from_micros(now)),
        })
    }

    /// Changes an enterprise. Moving out or deregistering ends its active
    /// tenancies on the same day, announced with the change.
    pub async fn update_enterprise(
        &self,
        call: &Call,
        uscc: &Uscc,
        apply: impl FnOnce(&mut Enterprise) -> Result<(EnterpriseInput, Vec<String>), RegistryError>,
    ) -> Result<Enterprise, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut enterprise = self
                .enterprise_in(&mut transaction, uscc.as_str(), RowLock::ForUpdate)
                .await?;
            let name = enterprise.name.clone();
            self.check_write(&mut transaction, call, &ENTERPRISES, uscc.as_str(), &name)
                .await?;
            let previous_status = enterprise.status;
            let (input, changed_fields) = apply(&mut enterprise)?;
            let mut events = Vec::new();
            if input.status as i32 != previous_status && input.status != EnterpriseStatus::Active {
                let reason = match input.status {
                    EnterpriseStatus::MovedOut => "企业迁出 enterprise moved out",
                    _ => "企业注销 enterprise deregistered",
                };
                events.extend(
                    self.end_active_tenancies_of(
                        &mut transaction,
                        uscc,
                        fields::today_in_shanghai(),
                        reason,
                    )
                    .await?,
                );
            }
            self.write_enterprise(&mut transaction, uscc, &input)
                .await?;
            let updated = self
                .enterprise_in(&mut transaction, uscc.as_str(), RowLock::None)
                .await?;
            events.insert(0, events::enterprise_changed(&updated, changed_fields));
            self.finish(transaction, call, &name, &updated, events)
                .await?;
            Ok(updated)
        })
        .await
    }

    pub(super) async fn write_enterprise(
        &self,
        transaction: &mut sqlx::AnyConnection,
        uscc: &Uscc,
        input: &EnterpriseInput,
    ) -> Result<(), RegistryError> {
        sqlx::query(
            "UPDATE enterprises SET display_name = $1, industry = $2, headcount = $3, party_members = $4, contacts = $5, \
             status = $6, registered_address = $7, updated_at = $8 WHERE uscc = $9",
        )
        .bind(&input.display_name)
        .bind(&input.industry)
        .bind(input.headcount)
        .bind(input.party_members)
        .bind(serde_json::to_string(&input.contacts)?)
        .bind(i64::from(input.status as i32))
        .bind(&input.registered_address)
        .bind(louyu_kit::time::now_micros())
        .bind(uscc.as_str())
        .execute(&mut *transaction)
        .await?;
        Ok(())
    }

    pub async fn get_enterprise(
        &self,
        uscc: &Uscc,
        reach: &Reach,
    ) -> Result<Enterprise, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        let name = self.names.enterprise(uscc.as_str());
        self.check_read(&mut connection, &ENTERPRISES, reach, uscc.as_str(), &name)
            .await?;
        self.enterprise_in(&mut connection, uscc.as_str(), RowLock::None)
            .await
    }

    pub(super) async fn enterprise_in(
        &self,
        transaction: &mut sqlx::AnyConnection,
        uscc: &str,
        lock: RowLock,
    ) -> Result<Enterprise, RegistryError> {
        let lock = self.db.row_lock(lock, "enterprises");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM enterprises WHERE uscc = $1{lock}"
        )))
        .bind(uscc)
        .fetch_optional(&mut *transaction)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.enterprise(uscc)))?;
        let mut enterprise = self.enterprise_from_row(&row)?;
        self.fill_occupied_units(&mut *transaction, std::slice::from_mut(&mut enterprise))
            .await?;
        Ok(enterprise)
    }

    pub async fn list_enterprises(
        &self,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Enterprise>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM enterprises WHERE 1 = 1"));
        reach.push_condition(&mut query, &ENTERPRISES.sql);
        filter::push_conditions(&page.comparisons, ENTERPRISE_FILTERS, &mut query)?;
        let (mut enterprises, next) = self
            .list_page(
                query,
                "uscc",
                page,
                |row| self.enterprise_from_row(row),
                |item| last_id(&item.name).to_owned(),
            )
            .await?;
        self.fill_occupied_units(self.db.pool(), &mut enterprises)
            .await?;
        Ok((enterprises, next))
    }

    async fn fill_occupied_units<'e>(
        &self,
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        enterprises: &mut [Enterprise],
    ) -> Result<(), RegistryError> {
        let usccs: Vec<String> = enterprises
            .iter()
            .map(|enterprise| last_id(&enterprise.name).to_owned())
            .collect();
        let mut units = ChildRows::fetch(
            executor,
            "SELECT uscc, building_id, unit_id FROM tenancies WHERE active = 1",
            "uscc",
            &usccs,
            "building_id, unit_id",
        )
        .await?;
        for (enterprise, uscc) in enterprises.iter_mut().zip(&usccs) {
            enterprise.occupied_units = units.take_as(uscc, |row| -> Result<_, RegistryError> {
                Ok(self.names.unit(
                    &row.try_get::<String, _>("building_id")?,
                    &row.try_get::<String, _>("unit_id")?,
                ))
            })?;
        }
        Ok(())
    }

    fn enterprise_from_row(&self, row: &AnyRow) -> Result<Enterprise, RegistryError> {
        let uscc: String = row.try_get("uscc")?;
        let contacts: Vec<StoredContact> =
            serde_json::from_str(&row.try_get::<String, _>("contacts")?)?;
        Ok(Enterprise {
            name: self.names.enterprise(&uscc),
            uscc,
            display_name: row.try_get("display_name")?,
            industry: row.try_get("industry")?,
            headcount: super::int32(row, "headcount")?,
            party_members: super::int32(row, "party_members")?,
            contacts: contacts.into_iter().map(Contact::from).collect(),
            status: super::int32(row, "status")?,
            registered_address: row.try_get("registered_address")?,
            occupied_units: Vec::new(),
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
    }
}

fn status_number(value: &str) -> Option<i32> {
    fields::enum_number("ENTERPRISE_STATUS_", value, |name| {
        EnterpriseStatus::from_str_name(name).map(|status| status as i32)
    })
}

const ENTERPRISE_FILTERS: &[FilterField] = &[
    FilterField {
        name: "status",
        column: "status",
        kind: FieldKind::Enum(status_number),
    },
    FilterField {
        name: "industry",
        column: "industry",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "display_name",
        column: "display_name",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "headcount",
        column: "headcount",
        kind: FieldKind::Integer,
    },
];
