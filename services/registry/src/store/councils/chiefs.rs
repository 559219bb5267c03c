//! The building chief: one nomination, three public notices.

use super::*;

impl Store {
    // The building chief.

    pub async fn nominate_chief(
        &self,
        call: &Call,
        building_id: &str,
        nominee: Nominee,
        note: String,
        policy: ChiefPolicy,
    ) -> Result<ChiefAppointment, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            let (member_id, staff_id, contact) = match (&nominee, policy) {
                (Nominee::Member(id), ChiefPolicy::Council) => {
                    let member = self.member_in(&mut transaction, building_id, id).await.map_err(
                        |_| {
                            RegistryError::from(louyu_kit::error::InvalidArgument::new(
                                "council_member",
                                format!(
                                    "不是本楼楼事会成员 is not a member of this building's council: {}",
                                    self.member_name(building_id, id)
                                ),
                            ))
                        },
                    )?;
                    if !member.active {
                        return Err(louyu_kit::error::InvalidArgument::new(
                            "council_member",
                            "任期未覆盖今天 the member's term does not cover today",
                        )
                        .into());
                    }
                    let contact: String =
                        sqlx::query_scalar("SELECT contact FROM council_members WHERE id = $1")
                            .bind(id)
                            .fetch_one(&mut *transaction)
                            .await?;
                    (id.clone(), String::new(), contact)
                }
                (Nominee::Staff(id), ChiefPolicy::SubDistrictOfficial) => {
                    let row = sqlx::query(
                        "SELECT s.display_name, s.phone FROM staff s JOIN buildings b ON b.id = $2 \
                         WHERE s.id = $1 AND s.sub_district = b.managing_sub_district AND s.active = 1",
                    )
                    .bind(id)
                    .bind(building_id)
                    .fetch_optional(&mut *transaction)
                    .await?
                    .ok_or_else(|| {
                        RegistryError::from(louyu_kit::error::InvalidArgument::new(
                            "staff",
                            format!(
                                "不是本楼所属街道的在职人员 is not active staff of the building's sub-district: {}",
                                self.names.staff(id)
                            ),
                        ))
                    })?;
                    let contact = StoredContact {
                        person_name: row.try_get("display_name")?,
                        title: "街道负责同志 the sub-district's responsible official".to_owned(),
                        phone: row.try_get("phone")?,
                        email: String::new(),
                    };
                    (String::new(), id.clone(), json(&contact)?)
                }
                (Nominee::Member(_), ChiefPolicy::SubDistrictOfficial) => {
                    return Err(louyu_kit::error::InvalidArgument::new(
                        "staff",
                        "本区楼长由街道负责同志担任，请提名街道人员 this district's chiefs are the sub-district's responsible officials: nominate staff",
                    )
                    .into());
                }
                (Nominee::Staff(_), ChiefPolicy::Council) => {
                    return Err(louyu_kit::error::InvalidArgument::new(
                        "council_member",
                        "本区楼长由楼事会推选，请提名楼事会成员 this district's chiefs are chosen by the council: nominate a council member",
                    )
                    .into());
                }
            };
            let id = louyu_kit::names::generate_time_ordered_id("ca");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO chief_appointments ({CHIEF_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, '[]', '[]', $6, $7, $8, NULL, NULL, '')"
            )))
            .bind(&id)
            .bind(building_id)
            .bind(&member_id)
            .bind(&staff_id)
            .bind(i64::from(Chief::Nominated as i32))
            .bind(&note)
            .bind(&contact)
            .bind(louyu_kit::time::now_micros())
            .execute(&mut *transaction)
            .await?;
            let appointment = self.chief_in(&mut transaction, building_id, &id).await?;
            let name = appointment.name.clone();
            let event = chief_changed(&appointment);
            self.finish(transaction, call, &name, &appointment, vec![event])
                .await?;
            Ok(appointment)
        })
        .await
    }

    /// Makes a move of a nomination under its row lock.
    pub async fn move_chief(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        movement: ChiefMove,
        policy: ChiefPolicy,
    ) -> Result<ChiefAppointment, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            let lock = self.db.row_lock(RowLock::ForUpdate, "chief_appointments");
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {CHIEF_COLUMNS} FROM chief_appointments WHERE id = $1 AND building_id = $2{lock}"
            )))
            .bind(id)
            .bind(building_id)
            .fetch_optional(&mut *transaction)
            .await?
            .ok_or_else(|| RegistryError::not_found(self.chief_name(building_id, id)))?;
            let state = Chief::try_from(row.try_get::<i64, _>("state")? as i32)
                .map_err(|_| RegistryError::Corrupt("unknown chief state".to_owned()))?;
            let mut notices: Vec<Notice> =
                serde_json::from_str(&row.try_get::<String, _>("notices")?)?;
            let mut objections: Vec<Objection> =
                serde_json::from_str(&row.try_get::<String, _>("objections")?)?;
            let name = self.chief_name(building_id, id);
            let refused = |refusal: ChiefRefusal| -> RegistryError {
                match refusal {
                    ChiefRefusal::State(state) => RegistryError::FailedPrecondition(format!(
                        "{name} 当前为 {} is {}",
                        state.as_str_name(),
                        state.as_str_name()
                    )),
                    ChiefRefusal::Field(field, message) => {
                        louyu_kit::error::InvalidArgument::new(field, message).into()
                    }
                    ChiefRefusal::NotYet(message) => {
                        RegistryError::FailedPrecondition(format!("{name}: {message}"))
                    }
                }
            };
            let now = louyu_kit::time::now_micros();
            let to;
            let mut appointed_at: Option<i64> = row.try_get("appointed_at")?;
            let mut ended_at: Option<i64> = row.try_get("ended_at")?;
            let mut end_reason: String = row.try_get("end_reason")?;
            let mut chief_copy: Option<Option<String>> = None;
            match movement {
                ChiefMove::StartNotice { start, end } => {
                    councils::may_start_notice(state, &notices, start, end).map_err(refused)?;
                    notices.push(Notice { start, end });
                    to = Chief::InNotice;
                }
                ChiefMove::Object { text } => {
                    councils::may_object(state, &notices, today()).map_err(refused)?;
                    objections.push(Objection {
                        text,
                        raised_at: now,
                        upheld: false,
                        resolution: String::new(),
                        resolved_at: None,
                    });
                    to = Chief::Objected;
                }
                ChiefMove::Resolve { upheld, resolution } => {
                    if state != Chief::Objected {
                        return Err(refused(ChiefRefusal::State(state)));
                    }
                    if let Some(open) = objections
                        .iter_mut()
                        .rev()
                        .find(|objection| objection.resolved_at.is_none())
                    {
                        open.upheld = upheld;
                        open.resolution = resolution.clone();
                        open.resolved_at = Some(now);
                    }
                    if upheld {
                        to = Chief::Withdrawn;
                        ended_at = Some(now);
                        end_reason = resolution;
                    } else {
                        to = Chief::InNotice;
                    }
                }
                ChiefMove::Appoint => {
                    councils::may_appoint(policy, state, &notices, today()).map_err(refused)?;
                    let current: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM chief_appointments WHERE building_id = $1 AND state = $2",
                    )
                    .bind(building_id)
                    .bind(i64::from(Chief::Appointed as i32))
                    .fetch_optional(&mut *transaction)
                    .await?;
                    if let Some(current) = current {
                        return Err(self.chief_in_office(building_id, &current));
                    }
                    to = Chief::Appointed;
                    appointed_at = Some(now);
                    chief_copy = Some(Some(row.try_get("contact")?));
                }
                ChiefMove::End { reason } => {
                    if state != Chief::Appointed {
                        return Err(refused(ChiefRefusal::State(state)));
                    }
                    to = Chief::Ended;
                    ended_at = Some(now);
                    end_reason = reason;
                    chief_copy = Some(None);
                }
            }
            let updated = sqlx::query(
                "UPDATE chief_appointments SET state = $1, notices = $2, objections = $3, appointed_at = $4, \
                 ended_at = $5, end_reason = $6 WHERE id = $7",
            )
            .bind(i64::from(to as i32))
            .bind(json(&notices)?)
            .bind(json(&objections)?)
            .bind(appointed_at)
            .bind(ended_at)
            .bind(&end_reason)
            .bind(id)
            .execute(&mut *transaction)
            .await;
            match updated {
                Ok(_) => {}
                // Another nomination of the building was appointed at the
                // same moment: the index on the chief in office refuses.
                Err(error) if louyu_kit::db::is_unique_violation(&error) => {
                    return Err(RegistryError::FailedPrecondition(format!(
                        "{} 已有在任楼长 already has a chief in office",
                        self.names.building(building_id)
                    )));
                }
                Err(error) => return Err(error.into()),
            }
            if let Some(copy) = chief_copy {
                sqlx::query("UPDATE buildings SET building_chief = $1 WHERE id = $2")
                    .bind(copy.unwrap_or_default())
                    .bind(building_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            let appointment = self.chief_in(&mut transaction, building_id, id).await?;
            let event = chief_changed(&appointment);
            self.finish(transaction, call, &name, &appointment, vec![event])
                .await?;
            Ok(appointment)
        })
        .await
    }

    fn chief_in_office(&self, building_id: &str, current: &str) -> RegistryError {
        let current = self.chief_name(building_id, current);
        RegistryError::FailedPrecondition(format!(
            "{} 已有在任楼长 {current}，请先结束其任期 already has a chief in office, {current}: end that term first",
            self.names.building(building_id)
        ))
    }

    pub async fn get_chief_appointment(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<ChiefAppointment, RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut connection = self.db.pool().acquire().await?;
        self.chief_in(&mut connection, building_id, id).await
    }

    pub async fn list_chief_appointments(
        &self,
        building_id: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<ChiefAppointment>, String), RegistryError> {
        self.check_building_read(building_id, reach).await?;
        // Ids are time-ordered: by id is oldest first.
        let mut query = SqlQuery::new(&format!(
            "SELECT {CHIEF_COLUMNS} FROM chief_appointments WHERE building_id = "
        ));
        query.push_value(SqlValue::Text(building_id.to_owned()));
        self.list_page(
            query,
            "id",
            page,
            |row| self.chief_from_row(row),
            |item| last_id(&item.name).to_owned(),
        )
        .await
    }

    async fn chief_in(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<ChiefAppointment, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CHIEF_COLUMNS} FROM chief_appointments WHERE id = $1 AND building_id = $2"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.chief_name(building_id, id)))?;
        self.chief_from_row(&row)
    }

    fn chief_from_row(&self, row: &AnyRow) -> Result<ChiefAppointment, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let member: String = row.try_get("council_member_id")?;
        let staff: String = row.try_get("staff_id")?;
        let notices: Vec<Notice> = serde_json::from_str(&row.try_get::<String, _>("notices")?)?;
        let objections: Vec<Objection> =
            serde_json::from_str(&row.try_get::<String, _>("objections")?)?;
        let contact: StoredContact = serde_json::from_str(&row.try_get::<String, _>("contact")?)?;
        let at = |micros: Option<i64>| micros.map(louyu_kit::time::timestamp_from_micros);
        Ok(ChiefAppointment {
            name: self.chief_name(&building_id, &id),
            council_member: if member.is_empty() {
                String::new()
            } else {
                self.member_name(&building_id, &member)
            },
            staff: if staff.is_empty() {
                String::new()
            } else {
                self.names.staff(&staff)
            },
            state: row.try_get::<i64, _>("state")? as i32,
            notices: notices
                .iter()
                .map(|notice| ChiefNotice {
                    start_date: Some(proto_date_of(notice.start)),
                    end_date: Some(proto_date_of(notice.end)),
                })
                .collect(),
            objections: objections
                .into_iter()
                .map(|objection| ChiefObjection {
                    text: objection.text,
                    raise_time: at(Some(objection.raised_at)),
                    upheld: objection.upheld,
                    resolution: objection.resolution,
                    resolve_time: at(objection.resolved_at),
                })
                .collect(),
            note: row.try_get("note")?,
            nominate_time: at(Some(row.try_get("nominated_at")?)),
            appoint_time: at(row.try_get("appointed_at")?),
            end_time: at(row.try_get("ended_at")?),
            end_reason: row.try_get("end_reason")?,
            contact: Some(Contact::from(contact)),
        })
    }
}

/// A nomination's event: no contact.
fn chief_changed(appointment: &ChiefAppointment) -> NewEvent {
    NewEvent::new(
        &appointment.name,
        &ChiefAppointmentChanged {
            chief_appointment: Some(ChiefAppointment {
                contact: None,
                ..appointment.clone()
            }),
        },
    )
}
