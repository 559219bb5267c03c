//! Building councils, one file per resource as elsewhere in the store: members with their terms, the chief chosen by "one
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

mod chiefs;
mod meetings;
mod members;
mod projects;

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
}
