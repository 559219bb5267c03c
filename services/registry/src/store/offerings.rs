//! What each building resource offers, and when. An offering's row holds
//! its fields and which of the two availabilities it has; its weekly times
//! (opening hours, or weekly sessions with their dates) and one-off
//! sessions are rows of their own, replaced whole when it changes.

use std::collections::HashMap;

use louyu_kit::db::RowLock;
use louyu_kit::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::page::ChildRows;
use louyu_proto::registry::v1::{Offering, OfferingKind};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::scope::RESOURCES;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::fields;
use crate::domain::offerings::{Availability, DailyPeriod, Span, WeeklySession};
use crate::error::RegistryError;

/// An offering's fields, parsed.
#[derive(Debug, Clone)]
pub struct OfferingInput {
    pub display_name: String,
    pub kind: OfferingKind,
    pub provider: String,
    pub description: String,
    pub availability: Availability,
}

/// An offering's own row: its keys, its stored availability, and the
/// message without its times.
struct OfferingRow {
    resource_id: String,
    id: String,
    availability: i64,
    offering: Offering,
}

/// An offering as read: the resource it belongs to, its availability as
/// the domain holds it (to lay out its times), and the message.
#[derive(Debug, Clone)]
pub struct StoredOffering {
    pub resource_id: String,
    pub availability: Availability,
    pub offering: Offering,
}

const COLUMNS: &str = "resource_id, id, display_name, kind, provider, description, availability, created_at, updated_at";

/// The stored `availability` of an offering open in opening hours, and of
/// one on at set sessions.
const OPENING_HOURS: i64 = 1;
const SESSIONS: i64 = 2;

/// Pages run over resource and offering together, which sort as the
/// offerings' names do.
const PAGE_KEY: &str = "resource_id || '/' || id";

impl Store {
    pub async fn create_offering(
        &self,
        call: &Call,
        resource_id: &str,
        id: &str,
        input: OfferingInput,
    ) -> Result<Offering, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let resource = self.names.resource(resource_id);
            if !exists(
                &mut transaction,
                "SELECT 1 FROM building_resources WHERE id = $1",
                &[resource_id],
            )
            .await?
            {
                return Err(RegistryError::not_found(resource));
            }
            self.check_write(&mut transaction, call, &RESOURCES, resource_id, &resource)
                .await?;
            let name = self.names.offering(resource_id, id);
            if exists(
                &mut transaction,
                "SELECT 1 FROM offerings WHERE resource_id = $1 AND id = $2",
                &[resource_id, id],
            )
            .await?
            {
                return Err(RegistryError::AlreadyExists { resource: name });
            }
            let now = louyu_kit::time::now_micros();
            sqlx::query(
                "INSERT INTO offerings (resource_id, id, display_name, kind, provider, description, availability, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(resource_id)
            .bind(id)
            .bind(&input.display_name)
            .bind(i64::from(input.kind as i32))
            .bind(&input.provider)
            .bind(&input.description)
            .bind(stored_availability(&input.availability))
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            write_times(&mut transaction, resource_id, id, &input.availability).await?;
            let created = self
                .offering_in(&mut transaction, resource_id, id, RowLock::None)
                .await?
                .offering;
            self.finish(transaction, call, &name, &created, Vec::new())
                .await?;
            Ok(created)
        })
        .await
    }

    pub async fn update_offering(
        &self,
        call: &Call,
        resource_id: &str,
        id: &str,
        apply: impl FnOnce(&mut Offering) -> Result<OfferingInput, RegistryError>,
    ) -> Result<Offering, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let mut offering = self
                .offering_in(&mut transaction, resource_id, id, RowLock::ForUpdate)
                .await?
                .offering;
            self.check_write(&mut transaction, call, &RESOURCES, resource_id, &offering.name)
                .await?;
            let input = apply(&mut offering)?;
            sqlx::query(
                "UPDATE offerings SET display_name = $1, kind = $2, provider = $3, description = $4, \
                 availability = $5, updated_at = $6 WHERE resource_id = $7 AND id = $8",
            )
            .bind(&input.display_name)
            .bind(i64::from(input.kind as i32))
            .bind(&input.provider)
            .bind(&input.description)
            .bind(stored_availability(&input.availability))
            .bind(louyu_kit::time::now_micros())
            .bind(resource_id)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            delete_times(&mut transaction, resource_id, id).await?;
            write_times(&mut transaction, resource_id, id, &input.availability).await?;
            let updated = self
                .offering_in(&mut transaction, resource_id, id, RowLock::None)
                .await?
                .offering;
            let name = updated.name.clone();
            self.finish(transaction, call, &name, &updated, Vec::new())
                .await?;
            Ok(updated)
        })
        .await
    }

    pub async fn delete_offering(
        &self,
        call: &Call,
        resource_id: &str,
        id: &str,
    ) -> Result<(), RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let name = self
                .offering_in(&mut transaction, resource_id, id, RowLock::ForUpdate)
                .await?
                .offering
                .name;
            self.check_write(&mut transaction, call, &RESOURCES, resource_id, &name)
                .await?;
            delete_times(&mut transaction, resource_id, id).await?;
            let deleted = sqlx::query("DELETE FROM offerings WHERE resource_id = $1 AND id = $2")
                .bind(resource_id)
                .bind(id)
                .execute(&mut *transaction)
                .await?;
            // A concurrent delete removed it first (SQLite, where the read
            // above takes no lock).
            if deleted.rows_affected() == 0 {
                return Err(RegistryError::not_found(name));
            }
            self.finish(transaction, call, &name, &(), Vec::new()).await
        })
        .await
    }

    pub async fn get_offering(
        &self,
        resource_id: &str,
        id: &str,
    ) -> Result<Offering, RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        Ok(self
            .offering_in(&mut connection, resource_id, id, RowLock::None)
            .await?
            .offering)
    }

    /// The offerings of one resource, or of every resource with `None`.
    pub async fn list_offerings(
        &self,
        resource_id: Option<&str>,
        page: &PageQuery,
    ) -> Result<(Vec<Offering>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!("SELECT {COLUMNS} FROM offerings WHERE 1 = 1"));
        if let Some(resource_id) = resource_id {
            let mut connection = self.db.pool().acquire().await?;
            if !exists(
                &mut connection,
                "SELECT 1 FROM building_resources WHERE id = $1",
                &[resource_id],
            )
            .await?
            {
                return Err(RegistryError::not_found(self.names.resource(resource_id)));
            }
            query
                .push(" AND resource_id = ")
                .push_value(SqlValue::Text(resource_id.to_owned()));
        }
        filter::push_conditions(&page.comparisons, OFFERING_FILTERS, &mut query)?;
        let (rows, next) = self
            .list_page(
                query,
                PAGE_KEY,
                page,
                |row| self.offering_row(row),
                |row| format!("{}/{}", row.resource_id, row.id),
            )
            .await?;
        let mut connection = self.db.pool().acquire().await?;
        let offerings = self.with_times(&mut connection, rows).await?;
        Ok((
            offerings
                .into_iter()
                .map(|stored| stored.offering)
                .collect(),
            next,
        ))
    }

    /// Every offering of the given resources, by resource and name.
    pub(super) async fn offerings_of_resources(
        &self,
        resource_ids: &[String],
    ) -> Result<Vec<StoredOffering>, RegistryError> {
        if resource_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = SqlQuery::new(&format!(
            "SELECT {COLUMNS} FROM offerings WHERE resource_id IN ("
        ));
        for (index, resource_id) in resource_ids.iter().enumerate() {
            if index > 0 {
                query.push(", ");
            }
            query.push_value(SqlValue::Text(resource_id.clone()));
        }
        query.push(") ORDER BY resource_id, id");
        let mut connection = self.db.pool().acquire().await?;
        let rows = query
            .build()
            .fetch_all(&mut *connection)
            .await?
            .iter()
            .map(|row| self.offering_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        self.with_times(&mut connection, rows).await
    }

    async fn offering_in(
        &self,
        connection: &mut sqlx::AnyConnection,
        resource_id: &str,
        id: &str,
        lock: RowLock,
    ) -> Result<StoredOffering, RegistryError> {
        let lock = self.db.row_lock(lock, "offerings");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM offerings WHERE resource_id = $1 AND id = $2{lock}"
        )))
        .bind(resource_id)
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.names.offering(resource_id, id)))?;
        let offering = self.offering_row(&row)?;
        let mut offerings = self.with_times(connection, vec![offering]).await?;
        Ok(offerings.remove(0))
    }

    /// An offering's own row, without its times.
    fn offering_row(&self, row: &AnyRow) -> Result<OfferingRow, RegistryError> {
        let resource_id: String = row.try_get("resource_id")?;
        let id: String = row.try_get("id")?;
        Ok(OfferingRow {
            availability: row.try_get("availability")?,
            offering: Offering {
                name: self.names.offering(&resource_id, &id),
                display_name: row.try_get("display_name")?,
                kind: super::int32(row, "kind")?,
                provider: row.try_get("provider")?,
                description: row.try_get("description")?,
                availability: None,
                create_time: timestamp(row, "created_at")?,
                update_time: timestamp(row, "updated_at")?,
            },
            resource_id,
            id,
        })
    }

    /// The offerings of `rows`, in order, each with its times, read with one
    /// query per kind of time for all of them.
    async fn with_times(
        &self,
        connection: &mut sqlx::AnyConnection,
        rows: Vec<OfferingRow>,
    ) -> Result<Vec<StoredOffering>, RegistryError> {
        let mut resource_ids: Vec<String> = Vec::new();
        for row in &rows {
            if !resource_ids.contains(&row.resource_id) {
                resource_ids.push(row.resource_id.clone());
            }
        }
        let mut weekly_rows = ChildRows::fetch(
            &mut *connection,
            "SELECT resource_id, offering_id, day_of_week, start_second, end_second, first_date, last_date \
             FROM offering_weekly_times WHERE 1 = 1",
            "resource_id",
            &resource_ids,
            "offering_id, ordinal",
        )
        .await?;
        let mut one_off_rows = ChildRows::fetch(
            &mut *connection,
            "SELECT resource_id, offering_id, start_at, end_at FROM offering_one_off_sessions WHERE 1 = 1",
            "resource_id",
            &resource_ids,
            "offering_id, ordinal",
        )
        .await?;
        let mut weekly: HashMap<(String, String), Vec<AnyRow>> = HashMap::new();
        let mut one_off: HashMap<(String, String), Vec<AnyRow>> = HashMap::new();
        for resource_id in &resource_ids {
            for row in weekly_rows.take(resource_id) {
                let offering_id: String = row.try_get("offering_id")?;
                weekly
                    .entry((resource_id.clone(), offering_id))
                    .or_default()
                    .push(row);
            }
            for row in one_off_rows.take(resource_id) {
                let offering_id: String = row.try_get("offering_id")?;
                one_off
                    .entry((resource_id.clone(), offering_id))
                    .or_default()
                    .push(row);
            }
        }
        let mut offerings = Vec::with_capacity(rows.len());
        for row in rows {
            let key = (row.resource_id, row.id);
            let availability = availability_from_rows(
                row.availability,
                &weekly.remove(&key).unwrap_or_default(),
                &one_off.remove(&key).unwrap_or_default(),
            )
            .ok_or_else(|| RegistryError::Corrupt(format!("the times of {}", row.offering.name)))?;
            offerings.push(StoredOffering {
                resource_id: key.0,
                offering: Offering {
                    availability: Some(availability.to_proto()),
                    ..row.offering
                },
                availability,
            });
        }
        Ok(offerings)
    }
}

fn stored_availability(availability: &Availability) -> i64 {
    match availability {
        Availability::OpeningHours(_) => OPENING_HOURS,
        Availability::Sessions { .. } => SESSIONS,
    }
}

/// An offering's availability from its stored kind and times; `None` when
/// they do not make one.
fn availability_from_rows(
    kind: i64,
    weekly: &[AnyRow],
    one_off: &[AnyRow],
) -> Option<Availability> {
    let period = |row: &AnyRow| -> Option<DailyPeriod> {
        DailyPeriod::from_stored(
            row.try_get("day_of_week").ok()?,
            row.try_get("start_second").ok()?,
            row.try_get("end_second").ok()?,
        )
    };
    let date = |row: &AnyRow, column: &str| -> Option<Option<time::Date>> {
        let text: Option<String> = row.try_get(column).ok()?;
        match text {
            None => Some(None),
            Some(text) => fields::date_from_input(column, &text).ok().map(Some),
        }
    };
    match kind {
        OPENING_HOURS => {
            let periods = weekly.iter().map(period).collect::<Option<Vec<_>>>()?;
            (!periods.is_empty() && one_off.is_empty())
                .then_some(Availability::OpeningHours(periods))
        }
        SESSIONS => {
            let weekly = weekly
                .iter()
                .map(|row| {
                    Some(WeeklySession {
                        period: period(row)?,
                        first_date: date(row, "first_date")??,
                        last_date: date(row, "last_date")?,
                    })
                })
                .collect::<Option<Vec<_>>>()?;
            let one_off = one_off
                .iter()
                .map(|row| {
                    Span::from_stored(row.try_get("start_at").ok()?, row.try_get("end_at").ok()?)
                })
                .collect::<Option<Vec<_>>>()?;
            (!weekly.is_empty() || !one_off.is_empty())
                .then_some(Availability::Sessions { weekly, one_off })
        }
        _ => None,
    }
}

async fn write_times(
    transaction: &mut sqlx::AnyConnection,
    resource_id: &str,
    offering_id: &str,
    availability: &Availability,
) -> Result<(), RegistryError> {
    let weekly: Vec<(DailyPeriod, Option<time::Date>, Option<time::Date>)> = match availability {
        Availability::OpeningHours(periods) => {
            periods.iter().map(|period| (*period, None, None)).collect()
        }
        Availability::Sessions { weekly, .. } => weekly
            .iter()
            .map(|session| (session.period, Some(session.first_date), session.last_date))
            .collect(),
    };
    for (ordinal, (period, first_date, last_date)) in weekly.into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO offering_weekly_times (resource_id, offering_id, ordinal, day_of_week, start_second, \
             end_second, first_date, last_date) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(resource_id)
        .bind(offering_id)
        .bind(ordinal_of(ordinal))
        .bind(period.day_number())
        .bind(period.start.seconds())
        .bind(period.end.seconds())
        .bind(first_date.map(fields::date_to_text))
        .bind(last_date.map(fields::date_to_text))
        .execute(&mut *transaction)
        .await?;
    }
    if let Availability::Sessions { one_off, .. } = availability {
        for (ordinal, session) in one_off.iter().enumerate() {
            sqlx::query(
                "INSERT INTO offering_one_off_sessions (resource_id, offering_id, ordinal, start_at, end_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(resource_id)
            .bind(offering_id)
            .bind(ordinal_of(ordinal))
            .bind(session.start_micros)
            .bind(session.end_micros)
            .execute(&mut *transaction)
            .await?;
        }
    }
    Ok(())
}

async fn delete_times(
    transaction: &mut sqlx::AnyConnection,
    resource_id: &str,
    offering_id: &str,
) -> Result<(), RegistryError> {
    for table in ["offering_weekly_times", "offering_one_off_sessions"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE resource_id = $1 AND offering_id = $2"
        )))
        .bind(resource_id)
        .bind(offering_id)
        .execute(&mut *transaction)
        .await?;
    }
    Ok(())
}

/// A list position as stored; lists are at most a few dozen long.
fn ordinal_of(index: usize) -> i64 {
    i64::try_from(index).expect("a list position fits in i64")
}

fn kind_number(value: &str) -> Option<i32> {
    fields::enum_number("OFFERING_KIND_", value, |name| {
        OfferingKind::from_str_name(name).map(|kind| kind as i32)
    })
}

const OFFERING_FILTERS: &[FilterField] = &[
    FilterField {
        name: "kind",
        column: "kind",
        kind: FieldKind::Enum(kind_number),
    },
    FilterField {
        name: "provider",
        column: "provider",
        kind: FieldKind::Text,
    },
];
