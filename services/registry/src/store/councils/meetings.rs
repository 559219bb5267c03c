//! Council meetings and their decisions.

use super::*;
use projects::project_changed;

impl Store {
    pub async fn get_council_meeting(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<CouncilMeeting, RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut connection = self.db.pool().acquire().await?;
        let found = sqlx::query_scalar::<_, String>(
            "SELECT id FROM council_meetings WHERE id = $1 AND building_id = $2",
        )
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?;
        if found.is_none() {
            return Err(RegistryError::not_found(self.meeting_name(building_id, id)));
        }
        self.meeting_in(&mut connection, building_id, id).await
    }

    // Council meetings.

    pub async fn create_council_meeting(
        &self,
        call: &Call,
        building_id: &str,
        input: MeetingInput,
    ) -> Result<CouncilMeeting, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            for (index, attendee) in input.attendees.iter().enumerate() {
                if !exists(
                    &mut transaction,
                    "SELECT 1 FROM council_members WHERE id = $1 AND building_id = $2",
                    &[attendee, building_id],
                )
                .await?
                {
                    return Err(louyu_kit::error::InvalidArgument::new(
                        format!("council_meeting.attendees[{index}]"),
                        format!(
                            "不是本楼楼事会成员 is not a member of this building's council: {}",
                            self.member_name(building_id, attendee)
                        ),
                    )
                    .into());
                }
            }
            let id = louyu_kit::names::generate_time_ordered_id("cm");
            let mut events = Vec::new();
            let mut decisions = Vec::with_capacity(input.decisions.len());
            for (index, decision) in input.decisions.iter().enumerate() {
                let mut record = DecisionRecord {
                    text: decision.text.clone(),
                    project: String::new(),
                    created: false,
                    project_state: 0,
                };
                if let Some(project) = &decision.new_project {
                    self.check_project_links(
                        &mut transaction,
                        &format!("council_meeting.decisions[{index}].new_project"),
                        project,
                    )
                    .await?;
                    let project_id = format!("{id}-d{:02}", index + 1);
                    self.insert_project(
                        &mut transaction,
                        building_id,
                        &project_id,
                        project,
                        &call.context.actor,
                    )
                    .await?;
                    record.project = project_id;
                    record.created = true;
                    record.project_state = ProjectState::Proposed as i32;
                } else if let Some((project_id, state)) = &decision.project {
                    self.move_project(
                        &mut transaction,
                        building_id,
                        project_id,
                        *state,
                        &decision.text,
                        &call.context.actor,
                    )
                    .await?;
                    record.project = project_id.clone();
                    record.project_state = *state as i32;
                }
                if !record.project.is_empty() {
                    let project = self
                        .project_in(&mut transaction, building_id, &record.project)
                        .await?;
                    events.push(project_changed(&project));
                }
                decisions.push(record);
            }
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO council_meetings ({MEETING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )))
            .bind(&id)
            .bind(building_id)
            .bind(date_text(input.date))
            .bind(json(&input.attendees)?)
            .bind(json(&input.agenda)?)
            .bind(json(&decisions)?)
            .bind(louyu_kit::time::now_micros())
            .execute(&mut *transaction)
            .await?;
            let meeting = self.meeting_in(&mut transaction, building_id, &id).await?;
            let name = meeting.name.clone();
            events.push(NewEvent::new(
                &name,
                &CouncilMeetingRecorded {
                    council_meeting: Some(meeting.clone()),
                },
            ));
            self.finish(transaction, call, &name, &meeting, events)
                .await?;
            Ok(meeting)
        })
        .await
    }

    pub async fn list_council_meetings(
        &self,
        building_id: &str,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<CouncilMeeting>, String), RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut query = SqlQuery::new(&format!(
            "SELECT {MEETING_COLUMNS} FROM council_meetings WHERE building_id = "
        ));
        query.push_value(SqlValue::Text(building_id.to_owned()));
        louyu_kit::page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            louyu_kit::page::Order::Descending,
            page,
            |row| self.meeting_from_row(row),
            |item: &CouncilMeeting| last_id(&item.name).to_owned(),
        )
        .await
    }

    async fn meeting_in(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<CouncilMeeting, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MEETING_COLUMNS} FROM council_meetings WHERE id = $1 AND building_id = $2"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_one(&mut *connection)
        .await?;
        self.meeting_from_row(&row)
    }

    fn meeting_from_row(&self, row: &AnyRow) -> Result<CouncilMeeting, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let attendees: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("attendees")?)?;
        let agenda: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("agenda")?)?;
        let decisions: Vec<DecisionRecord> =
            serde_json::from_str(&row.try_get::<String, _>("decisions")?)?;
        Ok(CouncilMeeting {
            name: self.meeting_name(&building_id, &id),
            meeting_date: proto_date(&row.try_get::<String, _>("meeting_date")?),
            attendees: attendees
                .iter()
                .map(|member| self.member_name(&building_id, member))
                .collect(),
            agenda,
            decisions: decisions
                .into_iter()
                .map(|decision| {
                    let project = if decision.project.is_empty() {
                        String::new()
                    } else {
                        self.project_name(&building_id, &decision.project)
                    };
                    CouncilDecision {
                        text: decision.text,
                        new_project: decision.created.then(|| Project {
                            name: project.clone(),
                            ..Project::default()
                        }),
                        project,
                        project_state: decision.project_state,
                    }
                })
                .collect(),
            create_time: timestamp(row, "created_at")?,
        })
    }
}
