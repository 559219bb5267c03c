//! Building councils: members with their terms, the chief chosen by "one
//! nomination, three public notices", council meetings, and the buildings'
//! projects. Everything hangs off a building and is read and written within
//! the caller's reach of it. The building keeps a copy of its council and
//! chief, written in the same transaction, so a building reads in one query.

use louyu_kit::db::RowLock;
use louyu_kit::feed::NewEvent;
use louyu_kit::filter::{self, Comparison, FieldKind, FilterField, SqlQuery, SqlValue};
use louyu_kit::mutation::Mutations;
use louyu_kit::names::last_id;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::{
    ChiefAppointment, ChiefAppointmentChanged, ChiefAppointmentState as Chief, ChiefNotice,
    ChiefObjection, Contact, CouncilDecision, CouncilMeeting, CouncilMeetingRecorded,
    CouncilMember, CouncilMemberChanged, CouncilRole, Organisation, OrganisationKind, Project,
    ProjectChange, ProjectChanged, ProjectState,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::Date;

use super::buildings::CouncilMemberRecord;
use super::scope::BUILDINGS;
use super::{Call, PageQuery, Store, exists, timestamp};
use crate::domain::councils::{
    self, ChiefPolicy, ChiefRefusal, DATE, Notice, Objection, project_move_allowed,
};
use crate::domain::fields::StoredContact;
use crate::error::RegistryError;

/// Who a council member speaks for, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationInput {
    pub kind: OrganisationKind,
    /// For an enterprise: its code.
    pub enterprise: String,
    pub display_name: String,
}

/// A council member's fields, parsed.
#[derive(Debug, Clone)]
pub struct MemberInput {
    pub contact: StoredContact,
    pub title: String,
    pub council_role: CouncilRole,
    pub organisation: OrganisationInput,
    pub term_start: Date,
    pub term_end: Option<Date>,
}

/// Who is nominated building chief.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nominee {
    /// A council member of the building, by id.
    Member(String),
    /// A member of the sub-district's staff, by id.
    Staff(String),
}

/// A move of a chief nomination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChiefMove {
    StartNotice { start: Date, end: Date },
    Object { text: String },
    Resolve { upheld: bool, resolution: String },
    Appoint,
    End { reason: String },
}

/// A project's fields, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInput {
    pub title: String,
    pub description: String,
    pub proposer: OrganisationInput,
    pub participants: Vec<OrganisationInput>,
    /// Demand ids (visits').
    pub demands: Vec<String>,
    /// Building resource ids.
    pub resources: Vec<String>,
}

/// A decision of a council meeting, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionInput {
    pub text: String,
    pub new_project: Option<ProjectInput>,
    /// A project of the building (id) and the state the decision moves it to.
    pub project: Option<(String, ProjectState)>,
}

/// A council meeting's fields, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingInput {
    pub date: Date,
    /// Council member ids of the building.
    pub attendees: Vec<String>,
    pub agenda: Vec<String>,
    pub decisions: Vec<DecisionInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct OrganisationRecord {
    kind: i32,
    #[serde(default)]
    enterprise: String,
    #[serde(default)]
    display_name: String,
}

impl From<&OrganisationInput> for OrganisationRecord {
    fn from(input: &OrganisationInput) -> Self {
        Self {
            kind: input.kind as i32,
            enterprise: input.enterprise.clone(),
            display_name: input.display_name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct DecisionRecord {
    text: String,
    /// The project it created or moved (id), and the state it moved it to.
    #[serde(default)]
    project: String,
    #[serde(default)]
    created: bool,
    #[serde(default)]
    project_state: i32,
}

const MEMBER_COLUMNS: &str = "id, building_id, contact, title, council_role, organisation_kind, \
     organisation_enterprise, organisation_name, term_start, term_end, created_at, updated_at";

const CHIEF_COLUMNS: &str = "id, building_id, council_member_id, staff_id, state, notices, objections, note, \
     contact, nominated_at, appointed_at, ended_at, end_reason";

const PROJECT_COLUMNS: &str = "id, building_id, title, description, proposer, participants, state, drop_reason, \
     created_at, updated_at";

const MEETING_COLUMNS: &str =
    "id, building_id, meeting_date, attendees, agenda, decisions, created_at";

fn date_text(date: Date) -> String {
    date.format(DATE).expect("a date formats")
}

fn proto_date(text: &str) -> Option<louyu_proto::google::r#type::Date> {
    let date = Date::parse(text, DATE).ok()?;
    Some(louyu_proto::google::r#type::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    })
}

fn proto_date_of(date: Date) -> louyu_proto::google::r#type::Date {
    louyu_proto::google::r#type::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, RegistryError> {
    Ok(serde_json::to_string(value)?)
}

fn today() -> Date {
    louyu_kit::time::today_in_shanghai()
}

impl Store {
    fn member_name(&self, building_id: &str, id: &str) -> String {
        format!("{}/councilMembers/{id}", self.names.building(building_id))
    }

    fn chief_name(&self, building_id: &str, id: &str) -> String {
        format!(
            "{}/chiefAppointments/{id}",
            self.names.building(building_id)
        )
    }

    fn project_name(&self, building_id: &str, id: &str) -> String {
        format!("{}/projects/{id}", self.names.building(building_id))
    }

    fn meeting_name(&self, building_id: &str, id: &str) -> String {
        format!("{}/councilMeetings/{id}", self.names.building(building_id))
    }

    /// The building must exist and lie within the call's reach.
    async fn check_building_write(
        &self,
        connection: &mut AnyConnection,
        call: &Call,
        building_id: &str,
    ) -> Result<(), RegistryError> {
        let building = self.names.building(building_id);
        if !exists(
            connection,
            "SELECT 1 FROM buildings WHERE id = $1",
            &[building_id],
        )
        .await?
        {
            return Err(RegistryError::not_found(&building));
        }
        self.check_write(connection, call, &BUILDINGS, building_id, &building)
            .await
    }

    async fn check_building_read(
        &self,
        building_id: &str,
        reach: &Reach,
    ) -> Result<(), RegistryError> {
        let mut connection = self.db.pool().acquire().await?;
        let building = self.names.building(building_id);
        if !exists(
            &mut connection,
            "SELECT 1 FROM buildings WHERE id = $1",
            &[building_id],
        )
        .await?
        {
            return Err(RegistryError::not_found(&building));
        }
        self.check_read(&mut connection, &BUILDINGS, reach, building_id, &building)
            .await
    }

    async fn check_enterprise(
        &self,
        connection: &mut AnyConnection,
        field: &str,
        organisation: &OrganisationInput,
    ) -> Result<(), RegistryError> {
        if organisation.kind == OrganisationKind::Enterprise
            && !exists(
                connection,
                "SELECT 1 FROM enterprises WHERE uscc = $1",
                &[&organisation.enterprise],
            )
            .await?
        {
            return Err(louyu_kit::error::InvalidArgument::new(
                format!("{field}.enterprise"),
                format!(
                    "企业不存在 unknown enterprise {}",
                    self.names.enterprise(&organisation.enterprise)
                ),
            )
            .into());
        }
        Ok(())
    }

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

    async fn member_in(
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
    pub(super) fn council_member_of(
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

    // Projects.

    async fn check_project_links(
        &self,
        connection: &mut AnyConnection,
        field: &str,
        input: &ProjectInput,
    ) -> Result<(), RegistryError> {
        for (index, resource) in input.resources.iter().enumerate() {
            if !exists(
                connection,
                "SELECT 1 FROM building_resources WHERE id = $1",
                &[resource],
            )
            .await?
            {
                return Err(louyu_kit::error::InvalidArgument::new(
                    format!("{field}.resources[{index}]"),
                    format!(
                        "资源不存在 unknown resource {}",
                        self.names.resource(resource)
                    ),
                )
                .into());
            }
        }
        self.check_enterprise(connection, &format!("{field}.proposer"), &input.proposer)
            .await?;
        for (index, participant) in input.participants.iter().enumerate() {
            self.check_enterprise(
                connection,
                &format!("{field}.participants[{index}]"),
                participant,
            )
            .await?;
        }
        Ok(())
    }

    /// Writes a new project in the caller's transaction.
    async fn insert_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
        input: &ProjectInput,
        actor: &str,
    ) -> Result<(), RegistryError> {
        let now = louyu_kit::time::now_micros();
        let name = self.project_name(building_id, id);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO projects ({PROJECT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $8)"
        )))
        .bind(id)
        .bind(building_id)
        .bind(&input.title)
        .bind(&input.description)
        .bind(json(&OrganisationRecord::from(&input.proposer))?)
        .bind(json(
            &input
                .participants
                .iter()
                .map(OrganisationRecord::from)
                .collect::<Vec<_>>(),
        )?)
        .bind(i64::from(ProjectState::Proposed as i32))
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|error| RegistryError::from(error).when_creating(&name))?;
        self.write_project_links(connection, id, input).await?;
        insert_project_change(
            connection,
            id,
            ProjectState::Unspecified,
            ProjectState::Proposed,
            actor,
            "",
            now,
        )
        .await
    }

    async fn write_project_links(
        &self,
        connection: &mut AnyConnection,
        id: &str,
        input: &ProjectInput,
    ) -> Result<(), RegistryError> {
        for (table, column, values) in [
            ("project_demands", "demand_id", &input.demands),
            ("project_resources", "resource_id", &input.resources),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE project_id = $1"
            )))
            .bind(id)
            .execute(&mut *connection)
            .await?;
            for value in values {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (project_id, {column}) VALUES ($1, $2) ON CONFLICT DO NOTHING"
                )))
                .bind(id)
                .bind(value)
                .execute(&mut *connection)
                .await?;
            }
        }
        Ok(())
    }

    pub async fn create_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        input: ProjectInput,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.check_project_links(&mut transaction, "project", &input)
                .await?;
            self.insert_project(
                &mut transaction,
                building_id,
                id,
                &input,
                &call.context.actor,
            )
            .await?;
            let project = self.project_in(&mut transaction, building_id, id).await?;
            let name = project.name.clone();
            let event = project_changed(&project);
            self.finish(transaction, call, &name, &project, vec![event])
                .await?;
            Ok(project)
        })
        .await
    }

    pub async fn update_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        apply: impl FnOnce(&mut Project) -> Result<ProjectInput, RegistryError>,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.lock_project(&mut transaction, building_id, id).await?;
            let mut project = self.project_in(&mut transaction, building_id, id).await?;
            let input = apply(&mut project)?;
            self.check_project_links(&mut transaction, "project", &input)
                .await?;
            sqlx::query(
                "UPDATE projects SET title = $1, description = $2, participants = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(&input.title)
            .bind(&input.description)
            .bind(json(
                &input
                    .participants
                    .iter()
                    .map(OrganisationRecord::from)
                    .collect::<Vec<_>>(),
            )?)
            .bind(louyu_kit::time::now_micros())
            .bind(id)
            .execute(&mut *transaction)
            .await?;
            self.write_project_links(&mut transaction, id, &input)
                .await?;
            let project = self.project_in(&mut transaction, building_id, id).await?;
            let name = project.name.clone();
            let event = project_changed(&project);
            self.finish(transaction, call, &name, &project, vec![event])
                .await?;
            Ok(project)
        })
        .await
    }

    async fn lock_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<ProjectState, RegistryError> {
        let lock = self.db.row_lock(RowLock::ForUpdate, "projects");
        let state: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT state FROM projects WHERE id = $1 AND building_id = $2{lock}"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?;
        let state =
            state.ok_or_else(|| RegistryError::not_found(self.project_name(building_id, id)))?;
        Ok(ProjectState::try_from(state as i32).unwrap_or(ProjectState::Unspecified))
    }

    /// Moves a project in the caller's transaction, the row locked here.
    async fn move_project(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
        to: ProjectState,
        reason: &str,
        actor: &str,
    ) -> Result<(), RegistryError> {
        let from = self.lock_project(connection, building_id, id).await?;
        if !project_move_allowed(from, to) {
            return Err(RegistryError::FailedPrecondition(format!(
                "{} 当前为 {}，不能改为 {} is {}: it cannot move to {}",
                self.project_name(building_id, id),
                from.as_str_name(),
                to.as_str_name(),
                from.as_str_name(),
                to.as_str_name()
            )));
        }
        let now = louyu_kit::time::now_micros();
        sqlx::query(
            "UPDATE projects SET state = $1, drop_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(i64::from(to as i32))
        .bind(if to == ProjectState::Dropped {
            reason
        } else {
            ""
        })
        .bind(now)
        .bind(id)
        .execute(&mut *connection)
        .await?;
        insert_project_change(connection, id, from, to, actor, reason, now).await
    }

    pub async fn transition_project(
        &self,
        call: &Call,
        building_id: &str,
        id: &str,
        to: ProjectState,
        reason: String,
    ) -> Result<Project, RegistryError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.check_building_write(&mut transaction, call, building_id)
                .await?;
            self.move_project(
                &mut transaction,
                building_id,
                id,
                to,
                &reason,
                &call.context.actor,
            )
            .await?;
            let project = self.project_in(&mut transaction, building_id, id).await?;
            let name = project.name.clone();
            let event = project_changed(&project);
            self.finish(transaction, call, &name, &project, vec![event])
                .await?;
            Ok(project)
        })
        .await
    }

    pub async fn get_project(
        &self,
        building_id: &str,
        id: &str,
        reach: &Reach,
    ) -> Result<Project, RegistryError> {
        self.check_building_read(building_id, reach).await?;
        let mut connection = self.db.pool().acquire().await?;
        self.project_in(&mut connection, building_id, id).await
    }

    /// Projects of a building, or of every building within reach (`None`).
    pub async fn list_projects(
        &self,
        building_id: Option<&str>,
        page: &PageQuery,
        reach: &Reach,
    ) -> Result<(Vec<Project>, String), RegistryError> {
        let mut query = SqlQuery::new(&format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE 1 = 1"
        ));
        match building_id {
            Some(building_id) => {
                self.check_building_read(building_id, reach).await?;
                query
                    .push(" AND building_id = ")
                    .push_value(SqlValue::Text(building_id.to_owned()));
            }
            None => {
                query.push(" AND building_id IN (SELECT id FROM buildings WHERE 1 = 1");
                reach.push_condition(&mut query, &BUILDINGS.sql);
                query.push(")");
            }
        }
        filter::push_conditions(&page.comparisons, PROJECT_FILTERS, &mut query)?;
        let (mut projects, next) = self
            .list_page(
                query,
                "id",
                page,
                |row| self.project_from_row(row),
                |item| last_id(&item.name).to_owned(),
            )
            .await?;
        let mut connection = self.db.pool().acquire().await?;
        for project in &mut projects {
            self.fill_project(&mut connection, project).await?;
        }
        Ok((projects, next))
    }

    async fn project_in(
        &self,
        connection: &mut AnyConnection,
        building_id: &str,
        id: &str,
    ) -> Result<Project, RegistryError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROJECT_COLUMNS} FROM projects WHERE id = $1 AND building_id = $2"
        )))
        .bind(id)
        .bind(building_id)
        .fetch_optional(&mut *connection)
        .await?
        .ok_or_else(|| RegistryError::not_found(self.project_name(building_id, id)))?;
        let mut project = self.project_from_row(&row)?;
        self.fill_project(connection, &mut project).await?;
        Ok(project)
    }

    /// The project's links and history.
    async fn fill_project(
        &self,
        connection: &mut AnyConnection,
        project: &mut Project,
    ) -> Result<(), RegistryError> {
        let id = last_id(&project.name).to_owned();
        let demands: Vec<String> = sqlx::query_scalar(
            "SELECT demand_id FROM project_demands WHERE project_id = $1 ORDER BY demand_id",
        )
        .bind(&id)
        .fetch_all(&mut *connection)
        .await?;
        project.demands = demands
            .iter()
            .map(|demand| self.names.name("demands", demand))
            .collect();
        let resources: Vec<String> = sqlx::query_scalar(
            "SELECT resource_id FROM project_resources WHERE project_id = $1 ORDER BY resource_id",
        )
        .bind(&id)
        .fetch_all(&mut *connection)
        .await?;
        project.resources = resources
            .iter()
            .map(|resource| self.names.resource(resource))
            .collect();
        let rows = sqlx::query(
            "SELECT from_state, to_state, actor, reason, at FROM project_changes WHERE project_id = $1 ORDER BY position",
        )
        .bind(&id)
        .fetch_all(&mut *connection)
        .await?;
        project.history = rows
            .iter()
            .map(|row| {
                Ok(ProjectChange {
                    from_state: row.try_get::<i64, _>("from_state")? as i32,
                    to_state: row.try_get::<i64, _>("to_state")? as i32,
                    actor: row.try_get("actor")?,
                    reason: row.try_get("reason")?,
                    time: timestamp(row, "at")?,
                })
            })
            .collect::<Result<_, RegistryError>>()?;
        Ok(())
    }

    fn organisation_of(&self, record: OrganisationRecord) -> Organisation {
        Organisation {
            kind: record.kind,
            enterprise: if record.enterprise.is_empty() {
                String::new()
            } else {
                self.names.enterprise(&record.enterprise)
            },
            display_name: record.display_name,
        }
    }

    fn project_from_row(&self, row: &AnyRow) -> Result<Project, RegistryError> {
        let id: String = row.try_get("id")?;
        let building_id: String = row.try_get("building_id")?;
        let proposer: OrganisationRecord =
            serde_json::from_str(&row.try_get::<String, _>("proposer")?)?;
        let participants: Vec<OrganisationRecord> =
            serde_json::from_str(&row.try_get::<String, _>("participants")?)?;
        Ok(Project {
            name: self.project_name(&building_id, &id),
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            proposer: Some(self.organisation_of(proposer)),
            participants: participants
                .into_iter()
                .map(|participant| self.organisation_of(participant))
                .collect(),
            demands: Vec::new(),
            resources: Vec::new(),
            state: row.try_get::<i64, _>("state")? as i32,
            drop_reason: row.try_get("drop_reason")?,
            history: Vec::new(),
            create_time: timestamp(row, "created_at")?,
            update_time: timestamp(row, "updated_at")?,
        })
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

async fn insert_project_change(
    connection: &mut AnyConnection,
    id: &str,
    from: ProjectState,
    to: ProjectState,
    actor: &str,
    reason: &str,
    at: i64,
) -> Result<(), RegistryError> {
    sqlx::query(
        "INSERT INTO project_changes (project_id, position, from_state, to_state, actor, reason, at) \
         VALUES ($1, (SELECT COUNT(*) FROM project_changes WHERE project_id = $1), $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(i64::from(from as i32))
    .bind(i64::from(to as i32))
    .bind(actor)
    .bind(reason)
    .bind(at)
    .execute(&mut *connection)
    .await?;
    Ok(())
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

fn project_changed(project: &Project) -> NewEvent {
    NewEvent::new(
        &project.name,
        &ProjectChanged {
            project: Some(project.clone()),
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

fn project_state_number(name: &str) -> Option<i32> {
    ProjectState::from_str_name(name)
        .or_else(|| ProjectState::from_str_name(&format!("PROJECT_STATE_{name}")))
        .map(|state| state as i32)
}

fn demand_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let name = filter::quoted_name(comparison)?;
    query.push(" AND id IN (SELECT project_id FROM project_demands WHERE demand_id = ");
    query.push_value(SqlValue::Text(last_id(name).to_owned()));
    query.push(")");
    Ok(())
}

fn resource_filter(
    comparison: &Comparison,
    query: &mut SqlQuery,
) -> Result<(), louyu_kit::error::InvalidArgument> {
    let name = filter::quoted_name(comparison)?;
    query.push(" AND id IN (SELECT project_id FROM project_resources WHERE resource_id = ");
    query.push_value(SqlValue::Text(last_id(name).to_owned()));
    query.push(")");
    Ok(())
}

const PROJECT_FILTERS: &[FilterField] = &[
    FilterField {
        name: "state",
        column: "state",
        kind: FieldKind::Enum(project_state_number),
    },
    FilterField {
        name: "demand",
        column: "id",
        kind: FieldKind::Custom(demand_filter),
    },
    FilterField {
        name: "resource",
        column: "id",
        kind: FieldKind::Custom(resource_filter),
    },
];
