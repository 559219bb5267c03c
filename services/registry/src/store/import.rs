use louyu_kit::audit::{self, RequestContext};
use louyu_kit::db::{NullableDouble, RowLock, Tx};
use louyu_kit::feed::{self, NewEvent};
use louyu_proto::registry::v1::{EnterpriseStatus, ImportRecordsRequest};
use sqlx::{Acquire, AnyConnection};

use super::{BuildingInput, EnterpriseInput, Store, TenancyInput, UnitInput, exists};
use crate::domain::Uscc;
use crate::domain::fields;
use crate::error::RegistryError;
use crate::events;

/// One parsed row of an import file.
#[derive(Debug, Clone)]
pub enum ImportRow {
    /// `present` names the file's columns: on an update, fields whose
    /// column the file lacks keep their values.
    Building {
        id: String,
        input: BuildingInput,
        present: Vec<&'static str>,
    },
    Unit {
        building_id: String,
        id: String,
        input: UnitInput,
    },
    Enterprise {
        uscc: Uscc,
        input: EnterpriseInput,
        present: Vec<&'static str>,
    },
    Tenancy(TenancyInput),
}

/// Why a row that parsed could not be applied.
#[derive(Debug, Clone)]
pub struct RowProblem {
    pub field: String,
    pub message: String,
}

impl Store {
    /// Applies each row in a savepoint of one transaction: a row that fails
    /// leaves no trace, the others commit together (or, with
    /// `validate_only`, are rolled back after being checked).
    ///
    /// The rows' events are appended after the last row: appending takes the
    /// feed's lock until commit, and a row that waited for another call's
    /// uncommitted insert while this import held that lock would deadlock
    /// with it.
    pub async fn apply_import(
        &self,
        context: &RequestContext,
        rows: Vec<(i32, ImportRow)>,
        validate_only: bool,
    ) -> Result<Vec<(i32, Result<(), RowProblem>)>, RegistryError> {
        let mut transaction = self.db.begin_write().await?;
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut events = Vec::new();
        for (line, row) in rows {
            let mut outcome = self
                .apply_in_savepoint(&mut transaction, context, &row)
                .await?;
            // Another call created the same record after this row looked for
            // it (PostgreSQL): the second try finds it and updates it.
            if matches!(&outcome, Err(RegistryError::Database(error)) if louyu_kit::db::is_unique_violation(error))
            {
                outcome = self
                    .apply_in_savepoint(&mut transaction, context, &row)
                    .await?;
            }
            match outcome {
                Ok(row_events) => {
                    events.extend(row_events);
                    outcomes.push((line, Ok(())));
                }
                Err(error) => outcomes.push((line, Err(problem_of(&row, error)?))),
            }
        }
        if validate_only {
            transaction.rollback().await?;
            return Ok(outcomes);
        }
        for event in events {
            feed::append(&mut transaction, context, event).await?;
        }
        self.db.commit_with_events(transaction).await?;
        Ok(outcomes)
    }

    /// One row in a savepoint: its effect and audit record stay only when it
    /// succeeds. Returns the row's events, or why it failed.
    async fn apply_in_savepoint(
        &self,
        transaction: &mut Tx,
        context: &RequestContext,
        row: &ImportRow,
    ) -> Result<Result<Vec<NewEvent>, RegistryError>, RegistryError> {
        let mut savepoint = transaction.begin().await?;
        let outcome = self.apply_row(&mut savepoint, context, row).await;
        if outcome.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        Ok(outcome)
    }

    async fn apply_row(
        &self,
        connection: &mut AnyConnection,
        context: &RequestContext,
        row: &ImportRow,
    ) -> Result<Vec<NewEvent>, RegistryError> {
        let (resource, events) = match row {
            ImportRow::Building { id, input, present } => {
                self.import_building(connection, id, input, present).await?
            }
            ImportRow::Unit {
                building_id,
                id,
                input,
            } => self.import_unit(connection, building_id, id, input).await?,
            ImportRow::Enterprise {
                uscc,
                input,
                present,
            } => {
                self.import_enterprise(connection, uscc, input, present)
                    .await?
            }
            ImportRow::Tenancy(input) => self.import_tenancy(connection, input).await?,
        };
        let Some(resource) = resource else {
            return Ok(Vec::new());
        };
        let method = louyu_proto::method_of::<ImportRecordsRequest>();
        audit::record(connection, context, method, &resource, "").await?;
        Ok(events)
    }

    async fn import_building(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        input: &BuildingInput,
        present: &[&str],
    ) -> Result<(Option<String>, Vec<NewEvent>), RegistryError> {
        if !self
            .sub_district_exists(connection, &input.managing_sub_district)
            .await?
        {
            return Err(louyu_kit::error::InvalidArgument::new(
                "managing_sub_district",
                format!(
                    "街道不存在 unknown sub-district {}",
                    self.names.sub_district(&input.managing_sub_district)
                ),
            )
            .into());
        }
        let now = louyu_kit::time::now_micros();
        let existed = exists(connection, "SELECT 1 FROM buildings WHERE id = $1", &[id]).await?;
        let mut input = input.clone();
        if existed {
            let current = self.building_in(connection, id, RowLock::ForUpdate).await?;
            if !present.contains(&"latitude") {
                input.location = current
                    .location
                    .map(|location| (location.latitude, location.longitude));
            }
            if !present.contains(&"floors_above_ground") {
                input.floors_above_ground = i64::from(current.floors_above_ground);
            }
            if !present.contains(&"floors_below_ground") {
                input.floors_below_ground = i64::from(current.floors_below_ground);
            }
            if !present.contains(&"property_manager") {
                input.property_manager = current.property_manager;
            }
        }
        // Council and chief are not in the file: an update keeps them.
        let sql = if existed {
            "UPDATE buildings SET display_name = $2, address = $3, latitude = $4, longitude = $5, floors_above_ground = $6, \
             floors_below_ground = $7, managing_sub_district = $8, property_manager = $9, updated_at = $10 WHERE id = $1"
        } else {
            "INSERT INTO buildings (id, display_name, address, latitude, longitude, floors_above_ground, floors_below_ground, \
             managing_sub_district, property_manager, council_members, building_chief, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '[]', '', $10, $10)"
        };
        sqlx::query(sql)
            .bind(id)
            .bind(&input.display_name)
            .bind(&input.address)
            .bind(NullableDouble(input.location.map(|location| location.0)))
            .bind(NullableDouble(input.location.map(|location| location.1)))
            .bind(input.floors_above_ground)
            .bind(input.floors_below_ground)
            .bind(&input.managing_sub_district)
            .bind(&input.property_manager)
            .bind(now)
            .execute(&mut *connection)
            .await?;
        // The event leaves the council and chief out.
        let building = self.building_in(connection, id, RowLock::None).await?;
        let changed_fields = if existed {
            present
                .iter()
                .filter(|column| **column != "building_id")
                .map(|column| {
                    if *column == "latitude" || *column == "longitude" {
                        "location"
                    } else {
                        column
                    }
                })
                .fold(Vec::new(), |mut fields: Vec<String>, field| {
                    if !fields.iter().any(|known| known == field) {
                        fields.push(field.to_owned());
                    }
                    fields
                })
        } else {
            Vec::new()
        };
        let name = building.name.clone();
        let event = events::building_changed(&building, changed_fields);
        Ok((Some(name), vec![event]))
    }

    async fn import_unit(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
        input: &UnitInput,
    ) -> Result<(Option<String>, Vec<NewEvent>), RegistryError> {
        if !exists(
            connection,
            "SELECT 1 FROM buildings WHERE id = $1",
            &[building_id],
        )
        .await?
        {
            return Err(RegistryError::not_found(self.names.building(building_id)));
        }
        let now = louyu_kit::time::now_micros();
        let existed = exists(
            connection,
            "SELECT 1 FROM units WHERE building_id = $1 AND id = $2",
            &[building_id, id],
        )
        .await?;
        let sql = if existed {
            "UPDATE units SET display_name = $3, floor = $4, area = $5, updated_at = $6 WHERE building_id = $1 AND id = $2"
        } else {
            "INSERT INTO units (building_id, id, display_name, floor, area, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)"
        };
        sqlx::query(sql)
            .bind(building_id)
            .bind(id)
            .bind(&input.display_name)
            .bind(input.floor)
            .bind(input.area)
            .bind(now)
            .execute(&mut *connection)
            .await?;
        Ok((Some(self.names.unit(building_id, id)), Vec::new()))
    }

    async fn import_enterprise(
        &self,
        connection: &mut AnyConnection,
        uscc: &Uscc,
        input: &EnterpriseInput,
        present: &[&str],
    ) -> Result<(Option<String>, Vec<NewEvent>), RegistryError> {
        let name = self.names.enterprise(uscc.as_str());
        if !exists(
            connection,
            "SELECT 1 FROM enterprises WHERE uscc = $1",
            &[uscc.as_str()],
        )
        .await?
        {
            self.insert_enterprise(connection, uscc, input).await?;
            let created = self
                .enterprise_in(connection, uscc.as_str(), RowLock::None)
                .await?;
            let event = events::enterprise_created(&created);
            return Ok((Some(name), vec![event]));
        }
        // Contacts are not in the file: an update keeps them.
        let current = self
            .enterprise_in(connection, uscc.as_str(), RowLock::ForUpdate)
            .await?;
        let mut merged = input.clone();
        if !present.contains(&"industry") {
            merged.industry = current.industry.clone();
        }
        if !present.contains(&"headcount") {
            merged.headcount = i64::from(current.headcount);
        }
        if !present.contains(&"party_members") {
            merged.party_members = i64::from(current.party_members);
        }
        if !present.contains(&"registered_address") {
            merged.registered_address = current.registered_address.clone();
        }
        if !present.contains(&"status") {
            merged.status =
                EnterpriseStatus::try_from(current.status).unwrap_or(EnterpriseStatus::Active);
        }
        merged.contacts = current
            .contacts
            .iter()
            .map(|contact| fields::contact("contacts", contact))
            .collect::<Result<_, _>>()?;
        let mut events = Vec::new();
        if merged.status as i32 != current.status && merged.status != EnterpriseStatus::Active {
            events = self
                .end_active_tenancies_of(
                    connection,
                    uscc,
                    fields::today_in_shanghai(),
                    "企业迁出或注销 enterprise left",
                )
                .await?;
        }
        self.write_enterprise(connection, uscc, &merged).await?;
        let updated = self
            .enterprise_in(connection, uscc.as_str(), RowLock::None)
            .await?;
        let changed_fields = [
            "display_name",
            "industry",
            "headcount",
            "party_members",
            "registered_address",
            "status",
        ]
        .map(str::to_owned)
        .to_vec();
        events.insert(0, events::enterprise_changed(&updated, changed_fields));
        Ok((Some(name), events))
    }

    async fn import_tenancy(
        &self,
        connection: &mut AnyConnection,
        input: &TenancyInput,
    ) -> Result<(Option<String>, Vec<NewEvent>), RegistryError> {
        // Importing the same file twice does not start the tenancy twice.
        let same_active = exists(
            connection,
            "SELECT 1 FROM tenancies WHERE uscc = $1 AND building_id = $2 AND unit_id = $3 AND lease_start = $4 \
             AND lease_end = $5 AND active = 1",
            &[
                input.uscc.as_str(),
                &input.building_id,
                &input.unit_id,
                &fields::date_to_text(input.lease_start),
                &fields::date_to_text(input.lease_end),
            ],
        )
        .await?;
        if same_active {
            return Ok((None, Vec::new()));
        }
        let (tenancy, event) = self.start_tenancy(connection, input, "tenancy").await?;
        Ok((Some(tenancy.name), vec![event]))
    }
}

/// The column a store error is about, as the import file names it.
fn problem_of(row: &ImportRow, error: RegistryError) -> Result<RowProblem, RegistryError> {
    let field = |name: &str| name.to_owned();
    Ok(match error {
        RegistryError::InvalidArgument(invalid) => {
            let violation = invalid.violations.into_iter().next().unwrap_or_else(|| {
                louyu_kit::error::FieldViolation {
                    field: String::new(),
                    description: String::new(),
                }
            });
            let column = violation
                .field
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            RowProblem {
                field: column,
                message: violation.description,
            }
        }
        RegistryError::NotFound { resource } => RowProblem {
            field: match row {
                ImportRow::Unit { .. } => field("building_id"),
                ImportRow::Tenancy(_) if resource.contains("/enterprises/") => field("uscc"),
                ImportRow::Tenancy(_) => field("unit_id"),
                _ => String::new(),
            },
            message: format!("未找到 not found: {resource}"),
        },
        RegistryError::FailedPrecondition(message) | RegistryError::PermissionDenied(message) => {
            RowProblem {
                field: String::new(),
                message,
            }
        }
        RegistryError::AlreadyExists { resource } => RowProblem {
            field: String::new(),
            message: format!("已存在 already exists: {resource}"),
        },
        other @ (RegistryError::Database(_) | RegistryError::Corrupt(_)) => return Err(other),
    })
}
