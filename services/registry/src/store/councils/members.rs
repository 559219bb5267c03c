//! Council members and their terms; the building's copy of its council.

use super::*;

impl Store {
    // Council members.

    pub async fn create_council_member(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        input: MemberInput,
    ) -> Result<CouncilMember, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.check_enterprise(&mut transaction, "council_member.organisation", &input.organisation)
                .await?;
            let name = self.member_name(building_id, id);
            let now = louyu_kit::time::now_micros();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO council_members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
            )))
            .bind(id)
            .bind(building_id)
            .bind(json(&input.contact)?)
            .bind(&input.title)
            .bind(i64::from(input.council_role as i32))
            .bind(i64::from(input.organisation.kind as i32))
            .bind(&input.organisation.enterprise)
            .bind(&input.organisation.display_name)
            .bind(date_text(input.term_start))
            .bind(input.term_end.map(date_text))
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(|error| RegistryError::from(error).when_creating(&name))?;
            self.refresh_council_copy(&mut transaction, building_id)
                .await?;
            let member = self.member_in(&mut transaction, building_id, id).await?;
            let event = member_changed(&member);
            self.finish(transaction, call, &name, &member, vec![event])
                .await?;
            Ok(member)
        })
        .await
    }

    pub async fn update_council_member(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        apply: impl FnOnce(&mut CouncilMember) -> Result<MemberInput, RegistryError>,
    ) -> Result<CouncilMember, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            let lock = self.db.row_lock(RowLock::ForUpdate, "council_members");
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {MEMBER_COLUMNS} FROM council_members WHERE id = $1 AND building_id = $2{lock}"
            )))
            .bind(id)
            .bind(building_id)
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| RegistryError::not_found(self.member_name(building_id, id)))?;
            let mut member = self.member_from_row(&row)?;
            let input = apply(&mut member)?;
            if input.term_end.is_some_and(|end| end < input.term_start) {
                return Err(louyu_kit::error::InvalidArgument::new(
                    "council_member.term_end",
                    "不得早于任期开始 must not be before term_start",
                )
                .into());
            }
            self.check_enterprise(&mut transaction, "council_member.organisation", &input.organisation)
                .await?;
            sqlx::query(
                "UPDATE council_members SET contact = $1, title = $2, council_role = $3, organisation_kind = $4, \
                 organisation_enterprise = $5, organisation_name = $6, term_end = $7, updated_at = $8 WHERE id = $9",
            )
            .bind(json(&input.contact)?)
            .bind(&input.title)
            .bind(i64::from(input.council_role as i32))
            .bind(i64::from(input.organisation.kind as i32))
            .bind(&input.organisation.enterprise)
            .bind(&input.organisation.display_name)
            .bind(input.term_end.map(date_text))
            .bind(louyu_kit::time::now_micros())
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            self.refresh_council_copy(&mut transaction, building_id)
                .await?;
            let member = self.member_in(&mut transaction, building_id, id).await?;
            let name = member.name.clone();
            let event = member_changed(&member);
            self.finish(transaction, call, &name, &member, vec![event])
                .await?;
            Ok(member)
        })
        .await
    }

    pub async fn list_council_members(
        &self,
        building_id: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<CouncilMember>, String), RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut query = SqlQuery::new(&format!(
            "SELECT {MEMBER_COLUMNS} FROM council_members WHERE building_id = "
        ));
        query.push_value(SqlValue::Text(building_id.to_owned()));
        filter::push_conditions(&page.comparisons, MEMBER_FILTERS, &mut query)?;
        self.list_page(
            query,
            "id",
            page,
            |row| self.member_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    pub async fn get_council_member(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<CouncilMember, RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut connection = self.db.pool().acquire().await?;
        self.member_in(&mut connection, building_id, id).await
    }

    pub(super) async fn member_in(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<CouncilMember, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM council_members WHERE id = $1 AND building_id = $2"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.member_name(building_id, id)))?;
        self.member_from_row(&row)
    }

    fn member_from_row(&self, row: &AnyRow) -> Result<CouncilMember, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let contact: StoredContact = serde_json::from_str(&row.try_get::<String, _>("contact")?)?;
        let term_start: String = row.try_get("term_start")?;
        let term_end: Option<String> = row.try_get("term_end")?;
        let term_end_text = term_end.clone().unwrap_or_default();
        let enterprise: String = row.try_get("organisation_enterprise")?;
        let record = CouncilMemberRecord {
            contact,
            role: row.try_get("title")?,
            enterprise,
            id,
            council_role: row.try_get::<i64, _>("council_role")? as i32,
            organisation_kind: row.try_get::<i64, _>("organisation_kind")? as i32,
            organisation_name: row.try_get("organisation_name")?,
            term_start,
            term_end: term_end_text,
        };
        Ok(self.council_member_of(&building_id, record))
    }

    /// A member as the API shows it, from the building's copy or the row.
    pub(in crate::store) fn council_member_of(
        &self,
        building_id: &str,
        record: CouncilMemberRecord,
    ) -> CouncilMember {
        let active = councils::term_covers(&record.term_start, &record.term_end, today());
        let enterprise = if record.enterprise.is_empty() {
            String::new()
        } else {
            self.names.enterprise(&record.enterprise)
        };
        CouncilMember {
            name: if record.id.is_empty() {
                String::new()
            } else {
                self.member_name(building_id, &record.id)
            },
            contact: Some(record.contact.into()),
            role: record.role,
            enterprise: enterprise.clone(),
            council_role: record.council_role,
            organisation: Some(Organisation {
                kind: record.organisation_kind,
                enterprise,
                display_name: record.organisation_name,
            }),
            term_start: proto_date(&record.term_start),
            term_end: proto_date(&record.term_end),
            active,
        }
    }

    /// Rewrites the building's copy of its council from the members' rows.
    async fn refresh_council_copy(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
    ) -> Result<(), RegistryError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBER_COLUMNS} FROM council_members WHERE building_id = $1 ORDER BY id"
        )))
        .bind(building_id)
        .fetch_all(&mut *connection)
        .await?;
        let mut copy = Vec::with_capacity(rows.len());
        for row in &rows {
            copy.push(CouncilMemberRecord {
                contact: serde_json::from_str(&row.try_get::<String, _>("contact")?)?,
                role: row.try_get("title")?,
                enterprise: row.try_get("organisation_enterprise")?,
                id: row.try_get("id")?,
                council_role: row.try_get::<i64, _>("council_role")? as i32,
                organisation_kind: row.try_get::<i64, _>("organisation_kind")? as i32,
                organisation_name: row.try_get("organisation_name")?,
                term_start: row.try_get("term_start")?,
                term_end: row
                    .try_get::<Option<String>, _>("term_end")?
                    .unwrap_or_default(),
            });
        }
        sqlx::query("UPDATE buildings SET council_members = $1 WHERE id = $2")
            .bind(json(&copy)?)
            .bind(building_id)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}

/// A member's event: no contact (personal data).
fn member_changed(member: &CouncilMember) -> NewEvent {
    NewEvent::new(
        &member.name,
        &CouncilMemberChanged {
            council_member: Some(CouncilMember {
                contact: None,
                ..member.clone()
            }),
        },
    )
}

fn active_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    filter::equality_only(comparison)?;
    let wanted = match comparison.value.as_text() {
        Some("true") => true,
        Some("false") => false,
        _ => {
            return Err(louyu_kit::error::InvalidArgument::new(
                "filter",
                "active 须为 true 或 false must be true or false",
            ));
        }
    };
    let wanted = wanted != matches!(comparison.op, filter::Op::Ne);
    let today = date_text(today());
    query.push(if wanted { " AND (" } else { " AND NOT (" });
    query.push("term_start <= ");
    query.push_value(SqlValue::Text(today.clone()));
    query.push(" AND (term_end IS NULL OR term_end >= ");
    query.push_value(SqlValue::Text(today));
    query.push("))");
    Ok(())
}

fn council_role_number(name: &str) -> Option<i32> {
    CouncilRole::from_str_name(name)
        .or_else(|| CouncilRole::from_str_name(&format!("COUNCIL_ROLE_{name}")))
        .map(|role| role as i32)
}

const MEMBER_FILTERS: &[FilterField] = &[
    FilterField {
        name: "active",
        column: "term_start",
        kind: FieldKind::Custom(active_filter),
    },
    FilterField {
        name: "council_role",
        column: "council_role",
        kind: FieldKind::Enum(council_role_number),
    },
];
