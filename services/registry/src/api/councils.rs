//! `BuildingCouncilService`: councils, the building chief, council meetings
//! and projects. Each handler parses the request, calls the store and
//! replies; contacts are masked for those who see them masked, and the
//! reads that show them are audited, as for buildings.

use louyu_kit::config::ChiefPolicy;
use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::identity::caller_of;
use louyu_kit::page::PageTokens;
use louyu_kit::permissions::sees_contacts;
use louyu_kit::scope::Reach;
use louyu_proto::registry::v1::building_council_service_server::BuildingCouncilService;
use louyu_proto::registry::v1::*;
use tonic::{Request, Status};

use super::update::{IMMUTABLE, Update, mutable_fields};
use crate::domain::{Names, contacts, fields};
use crate::store::{
    Call, ChiefMove, DecisionInput, MeetingInput, MemberInput, Nominee, OrganisationInput,
    ProjectInput, Store,
};

/// The most agenda items, decisions, participants or links one request
/// carries.
const MAX_ITEMS: usize = 50;

#[derive(Debug, Clone)]
pub struct CouncilApi {
    store: Store,
    page_tokens: PageTokens,
    policy: ChiefPolicy,
}

impl CouncilApi {
    pub fn new(store: Store, page_tokens: PageTokens, policy: ChiefPolicy) -> Self {
        Self {
            store,
            page_tokens,
            policy,
        }
    }

    fn names(&self) -> &Names {
        self.store.names()
    }

    /// `(building_id, id)` of `districts/{d}/buildings/{b}/{collection}/{id}`.
    fn child(
        &self,
        field: &str,
        name: &str,
        collection: &str,
    ) -> Result<(String, String), InvalidArgument> {
        self.names()
            .parse_nested(field, name, "buildings", collection)
    }

    /// Masks contacts for a caller who sees them masked, or records that
    /// the caller saw `resources`' contacts.
    async fn disclose<T>(
        &self,
        request: &Request<T>,
        method: &str,
        resources: &[&str],
        contacts: Vec<&mut Option<Contact>>,
    ) -> Result<(), Status> {
        let caller = caller_of(request)?;
        if !sees_contacts(caller) {
            for contact in contacts.into_iter().flatten() {
                contacts::mask(contact);
            }
            return Ok(());
        }
        if resources.is_empty() {
            return Ok(());
        }
        self.store
            .record_disclosures(
                &louyu_kit::audit::RequestContext::of_caller(caller),
                method,
                resources,
            )
            .await
            .map_err(louyu_kit::error::into_status)
    }

    /// [`CouncilApi::disclose`] for a page of items, each naming itself and
    /// holding one contact.
    async fn disclose_each<T, I>(
        &self,
        request: &Request<I>,
        method: &str,
        items: &mut [T],
        parts: impl Fn(&mut T) -> (&String, &mut Option<Contact>),
    ) -> Result<(), Status> {
        let mut names = Vec::with_capacity(items.len());
        let mut contacts = Vec::with_capacity(items.len());
        for item in items.iter_mut() {
            let (name, contact) = parts(item);
            names.push(name.clone());
            contacts.push(contact);
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.disclose(request, method, &names, contacts).await
    }
}

fn organisation(
    names: &Names,
    field: &str,
    value: Option<&Organisation>,
) -> Result<OrganisationInput, InvalidArgument> {
    let value = required(field, value)?;
    let mut violations = Violations::new();
    let kind = violations.check(fields::required_enum::<OrganisationKind>(
        &format!("{field}.kind"),
        value.kind,
    ));
    let enterprise = if kind == Some(OrganisationKind::Enterprise) {
        violations
            .check(names.parse_enterprise(&format!("{field}.enterprise"), &value.enterprise))
            .map(|uscc| uscc.as_str().to_owned())
    } else {
        Some(String::new())
    };
    let required_name = kind.is_some_and(|kind| kind != OrganisationKind::Enterprise);
    let display_name = violations.check(fields::text(
        &format!("{field}.display_name"),
        &value.display_name,
        fields::MAX_NAME_CHARS,
        required_name,
    ));
    violations.into_result()?;
    Ok(OrganisationInput {
        kind: kind.expect("checked"),
        enterprise: enterprise.expect("checked"),
        display_name: display_name.expect("checked"),
    })
}

fn member_input(names: &Names, value: &CouncilMember) -> Result<MemberInput, InvalidArgument> {
    let mut violations = Violations::new();
    let contact = violations.check(
        required("council_member.contact", value.contact.as_ref())
            .and_then(|contact| fields::contact("council_member.contact", contact)),
    );
    let title = violations.check(fields::text("council_member.role", &value.role, 50, false));
    let council_role = violations.check(fields::required_enum::<CouncilRole>(
        "council_member.council_role",
        value.council_role,
    ));
    let organisation = violations.check(organisation(
        names,
        "council_member.organisation",
        value.organisation.as_ref(),
    ));
    let term_start = violations.check(fields::date(
        "council_member.term_start",
        value.term_start.as_ref(),
    ));
    let term_end = match &value.term_end {
        Some(end) => violations
            .check(fields::date("council_member.term_end", Some(end)))
            .map(Some),
        None => Some(None),
    };
    if let (Some(start), Some(Some(end))) = (term_start, term_end)
        && end < start
    {
        violations.add(
            "council_member.term_end",
            "不得早于任期开始 must not be before term_start",
        );
    }
    violations.into_result()?;
    Ok(MemberInput {
        contact: contact.expect("checked"),
        title: title.expect("checked"),
        council_role: council_role.expect("checked"),
        organisation: organisation.expect("checked"),
        term_start: term_start.expect("checked"),
        term_end: term_end.expect("checked"),
    })
}

fn project_input(
    names: &Names,
    field: &str,
    value: &Project,
) -> Result<ProjectInput, InvalidArgument> {
    let mut violations = Violations::new();
    let title = violations.check(fields::name(&format!("{field}.title"), &value.title));
    let description = violations.check(fields::multiline_text(
        &format!("{field}.description"),
        &value.description,
        fields::MAX_TEXT_CHARS,
        false,
    ));
    let proposer = violations.check(organisation(
        names,
        &format!("{field}.proposer"),
        value.proposer.as_ref(),
    ));
    for (list, count) in [
        ("participants", value.participants.len()),
        ("demands", value.demands.len()),
        ("resources", value.resources.len()),
    ] {
        if count > MAX_ITEMS {
            violations.add(
                format!("{field}.{list}"),
                format!("最多{MAX_ITEMS}项 at most {MAX_ITEMS}"),
            );
        }
    }
    let mut participants = Vec::new();
    for (index, participant) in value.participants.iter().enumerate() {
        if let Some(parsed) = violations.check(organisation(
            names,
            &format!("{field}.participants[{index}]"),
            Some(participant),
        )) {
            participants.push(parsed);
        }
    }
    let mut demands = Vec::new();
    for (index, demand) in value.demands.iter().enumerate() {
        if let Some(id) =
            violations.check(names.parse(&format!("{field}.demands[{index}]"), demand, "demands"))
        {
            demands.push(id);
        }
    }
    let mut resources = Vec::new();
    for (index, resource) in value.resources.iter().enumerate() {
        if let Some(id) = violations.check(names.parse(
            &format!("{field}.resources[{index}]"),
            resource,
            "resources",
        )) {
            resources.push(id);
        }
    }
    violations.into_result()?;
    Ok(ProjectInput {
        title: title.expect("checked"),
        description: description.expect("checked"),
        proposer: proposer.expect("checked"),
        participants,
        demands,
        resources,
    })
}

fn note(field: &str, value: &str) -> Result<String, InvalidArgument> {
    fields::multiline_text(field, value, fields::MAX_TEXT_CHARS, true)
}

#[tonic::async_trait]
impl BuildingCouncilService for CouncilApi {
    async fn create_council_member(
        &self,
        request: Request<CreateCouncilMemberRequest>,
    ) -> Reply<CouncilMember> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        let input = member_input(
            self.names(),
            required("council_member", body.council_member.as_ref())?,
        )?;
        let id = louyu_kit::names::generate_id("cmb");
        reply(
            self.store
                .create_council_member(&call, &building, &id, input)
                .await,
        )
    }

    async fn get_council_member(
        &self,
        request: Request<GetCouncilMemberRequest>,
    ) -> Reply<CouncilMember> {
        let (building, id) = self.child("name", &request.get_ref().name, "councilMembers")?;
        let reach = Reach::of_request(&request)?;
        let mut member = self
            .store
            .get_council_member(&building, &id, &reach)
            .await
            .map_err(louyu_kit::error::into_status)?;
        let name = member.name.clone();
        self.disclose(
            &request,
            "GetCouncilMember",
            &[&name],
            vec![&mut member.contact],
        )
        .await?;
        Ok(tonic::Response::new(member))
    }

    async fn list_council_members(
        &self,
        request: Request<ListCouncilMembersRequest>,
    ) -> Reply<ListCouncilMembersResponse> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let reach = Reach::of_request(&request)?;
        let mut response: tonic::Response<ListCouncilMembersResponse> =
            louyu_kit::handler::list(&self.page_tokens, body, async |page| {
                self.store
                    .list_council_members(&building, page, &reach)
                    .await
            })
            .await?;
        let members = &mut response.get_mut().council_members;
        self.disclose_each(&request, "ListCouncilMembers", members, |member| {
            (&member.name, &mut member.contact)
        })
        .await?;
        Ok(response)
    }

    async fn update_council_member(
        &self,
        request: Request<UpdateCouncilMemberRequest>,
    ) -> Reply<CouncilMember> {
        let body = request.get_ref();
        let patch = required("council_member", body.council_member.as_ref())?;
        let (building, id) = self.child("council_member.name", &patch.name, "councilMembers")?;
        let mutable = mutable_fields!(
            CouncilMember;
            contact, role, council_role, organisation, term_end
        );
        let update = Update::parse(body.update_mask.as_ref(), mutable, IMMUTABLE, patch)?;
        let call = Call::new(&request)?;
        let names = self.names().clone();
        reply(
            self.store
                .update_council_member(&call, &building, &id, move |current| {
                    update.apply(current);
                    Ok(member_input(&names, current)?)
                })
                .await,
        )
    }

    async fn nominate_chief(
        &self,
        request: Request<NominateChiefRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        let mut violations = Violations::new();
        let nominee = match (body.council_member.is_empty(), body.staff.is_empty()) {
            (false, true) => violations
                .check(self.child("council_member", &body.council_member, "councilMembers"))
                .map(|(member_building, id)| {
                    if member_building != building {
                        violations.add(
                            "council_member",
                            "须为本楼楼事会成员 must be a member of this building's council",
                        );
                    }
                    Nominee::Member(id)
                }),
            (true, false) => violations
                .check(self.names().parse_staff("staff", &body.staff))
                .map(Nominee::Staff),
            _ => {
                violations.add(
                    "council_member",
                    "须提名楼事会成员或街道人员之一 must name exactly one of council_member or staff",
                );
                None
            }
        };
        let note = violations.check(note("note", &body.note));
        violations.into_result()?;
        reply(
            self.store
                .nominate_chief(
                    &call,
                    &building,
                    nominee.expect("checked"),
                    note.expect("checked"),
                    self.policy,
                )
                .await,
        )
    }

    async fn get_chief_appointment(
        &self,
        request: Request<GetChiefAppointmentRequest>,
    ) -> Reply<ChiefAppointment> {
        let (building, id) = self.child("name", &request.get_ref().name, "chiefAppointments")?;
        let reach = Reach::of_request(&request)?;
        let mut appointment = self
            .store
            .get_chief_appointment(&building, &id, &reach)
            .await
            .map_err(louyu_kit::error::into_status)?;
        let name = appointment.name.clone();
        self.disclose(
            &request,
            "GetChiefAppointment",
            &[&name],
            vec![&mut appointment.contact],
        )
        .await?;
        Ok(tonic::Response::new(appointment))
    }

    async fn list_chief_appointments(
        &self,
        request: Request<ListChiefAppointmentsRequest>,
    ) -> Reply<ListChiefAppointmentsResponse> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let reach = Reach::of_request(&request)?;
        let mut response: tonic::Response<ListChiefAppointmentsResponse> =
            louyu_kit::handler::list(&self.page_tokens, body, async |page| {
                self.store
                    .list_chief_appointments(&building, page, &reach)
                    .await
            })
            .await?;
        let appointments = &mut response.get_mut().chief_appointments;
        self.disclose_each(&request, "ListChiefAppointments", appointments, |item| {
            (&item.name, &mut item.contact)
        })
        .await?;
        Ok(response)
    }

    async fn start_chief_notice(
        &self,
        request: Request<StartChiefNoticeRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "chiefAppointments")?;
        let call = Call::idempotent(&request)?;
        let mut violations = Violations::new();
        let start = violations.check(fields::date("start_date", body.start_date.as_ref()));
        let end = violations.check(fields::date("end_date", body.end_date.as_ref()));
        violations.into_result()?;
        let movement = ChiefMove::StartNotice {
            start: start.expect("checked"),
            end: end.expect("checked"),
        };
        reply(
            self.store
                .move_chief(&call, &building, &id, movement, self.policy)
                .await,
        )
    }

    async fn object_to_chief(
        &self,
        request: Request<ObjectToChiefRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "chiefAppointments")?;
        let call = Call::idempotent(&request)?;
        let text = note("text", &body.text)?;
        reply(
            self.store
                .move_chief(
                    &call,
                    &building,
                    &id,
                    ChiefMove::Object { text },
                    self.policy,
                )
                .await,
        )
    }

    async fn resolve_chief_objection(
        &self,
        request: Request<ResolveChiefObjectionRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "chiefAppointments")?;
        let call = Call::idempotent(&request)?;
        let resolution = note("resolution", &body.resolution)?;
        let movement = ChiefMove::Resolve {
            upheld: body.upheld,
            resolution,
        };
        reply(
            self.store
                .move_chief(&call, &building, &id, movement, self.policy)
                .await,
        )
    }

    async fn appoint_chief(
        &self,
        request: Request<AppointChiefRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "chiefAppointments")?;
        let call = Call::idempotent(&request)?;
        reply(
            self.store
                .move_chief(&call, &building, &id, ChiefMove::Appoint, self.policy)
                .await,
        )
    }

    async fn end_chief_term(
        &self,
        request: Request<EndChiefTermRequest>,
    ) -> Reply<ChiefAppointment> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "chiefAppointments")?;
        let call = Call::idempotent(&request)?;
        let reason = note("reason", &body.reason)?;
        reply(
            self.store
                .move_chief(
                    &call,
                    &building,
                    &id,
                    ChiefMove::End { reason },
                    self.policy,
                )
                .await,
        )
    }

    async fn create_council_meeting(
        &self,
        request: Request<CreateCouncilMeetingRequest>,
    ) -> Reply<CouncilMeeting> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        let meeting = required("council_meeting", body.council_meeting.as_ref())?;
        let mut violations = Violations::new();
        let date = violations.check(fields::date(
            "council_meeting.meeting_date",
            meeting.meeting_date.as_ref(),
        ));
        if meeting.attendees.is_empty() {
            violations.add(
                "council_meeting.attendees",
                "至少一名出席成员 needs at least one attendee",
            );
        }
        for (list, count) in [
            ("attendees", meeting.attendees.len()),
            ("agenda", meeting.agenda.len()),
            ("decisions", meeting.decisions.len()),
        ] {
            if count > MAX_ITEMS {
                violations.add(
                    format!("council_meeting.{list}"),
                    format!("最多{MAX_ITEMS}项 at most {MAX_ITEMS}"),
                );
            }
        }
        let mut attendees = Vec::new();
        for (index, attendee) in meeting.attendees.iter().enumerate() {
            let field = format!("council_meeting.attendees[{index}]");
            if let Some((member_building, id)) =
                violations.check(self.child(&field, attendee, "councilMembers"))
            {
                if member_building == building {
                    attendees.push(id);
                } else {
                    violations.add(
                        field,
                        "须为本楼楼事会成员 must be a member of this building's council",
                    );
                }
            }
        }
        let mut agenda = Vec::new();
        for (index, item) in meeting.agenda.iter().enumerate() {
            if let Some(item) = violations.check(fields::text(
                &format!("council_meeting.agenda[{index}]"),
                item,
                fields::MAX_NAME_CHARS,
                true,
            )) {
                agenda.push(item);
            }
        }
        let mut decisions = Vec::new();
        for (index, decision) in meeting.decisions.iter().enumerate() {
            let field = format!("council_meeting.decisions[{index}]");
            let text = violations.check(note(&format!("{field}.text"), &decision.text));
            let new_project = match &decision.new_project {
                Some(project) => violations
                    .check(project_input(
                        self.names(),
                        &format!("{field}.new_project"),
                        project,
                    ))
                    .map(Some),
                None => Some(None),
            };
            let project = if decision.project.is_empty() {
                Some(None)
            } else {
                let moved = violations.check(self.child(
                    &format!("{field}.project"),
                    &decision.project,
                    "projects",
                ));
                let state = violations.check(fields::required_enum::<ProjectState>(
                    &format!("{field}.project_state"),
                    decision.project_state,
                ));
                match (moved, state) {
                    (Some((project_building, id)), Some(state)) if project_building == building => {
                        Some(Some((id, state)))
                    }
                    (Some(_), Some(_)) => {
                        violations.add(
                            format!("{field}.project"),
                            "须为本楼项目 must be a project of this building",
                        );
                        None
                    }
                    _ => None,
                }
            };
            if let (Some(Some(_)), Some(Some(_))) = (&new_project, &project) {
                violations.add(
                    format!("{field}.project"),
                    "新建项目与推进项目只能选一 give new_project or project, not both",
                );
            }
            if let (Some(text), Some(new_project), Some(project)) = (text, new_project, project) {
                decisions.push(DecisionInput {
                    text,
                    new_project,
                    project,
                });
            }
        }
        violations.into_result()?;
        let input = MeetingInput {
            date: date.expect("checked"),
            attendees,
            agenda,
            decisions,
        };
        reply(
            self.store
                .create_council_meeting(&call, &building, input)
                .await,
        )
    }

    async fn get_council_meeting(
        &self,
        request: Request<GetCouncilMeetingRequest>,
    ) -> Reply<CouncilMeeting> {
        let (building, id) = self.child("name", &request.get_ref().name, "councilMeetings")?;
        let reach = Reach::of_request(&request)?;
        reply(self.store.get_council_meeting(&building, &id, &reach).await)
    }

    async fn list_council_meetings(
        &self,
        request: Request<ListCouncilMeetingsRequest>,
    ) -> Reply<ListCouncilMeetingsResponse> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let reach = Reach::of_request(&request)?;
        louyu_kit::handler::list(&self.page_tokens, body, async |page| {
            self.store
                .list_council_meetings(&building, page, &reach)
                .await
        })
        .await
    }

    async fn create_project(&self, request: Request<CreateProjectRequest>) -> Reply<Project> {
        let body = request.get_ref();
        let building = self.names().parse_building("parent", &body.parent)?;
        let call = Call::idempotent(&request)?;
        let input = project_input(
            self.names(),
            "project",
            required("project", body.project.as_ref())?,
        )?;
        let id = louyu_kit::names::generate_time_ordered_id("pj");
        reply(
            self.store
                .create_project(&call, &building, &id, input)
                .await,
        )
    }

    async fn get_project(&self, request: Request<GetProjectRequest>) -> Reply<Project> {
        let (building, id) = self.child("name", &request.get_ref().name, "projects")?;
        let reach = Reach::of_request(&request)?;
        reply(self.store.get_project(&building, &id, &reach).await)
    }

    async fn list_projects(
        &self,
        request: Request<ListProjectsRequest>,
    ) -> Reply<ListProjectsResponse> {
        let body = request.get_ref();
        let every = format!("{}/buildings/-", self.names().district());
        let building = if body.parent == every {
            None
        } else {
            Some(self.names().parse_building("parent", &body.parent)?)
        };
        let reach = Reach::of_request(&request)?;
        louyu_kit::handler::list(&self.page_tokens, body, async |page| {
            self.store
                .list_projects(building.as_deref(), page, &reach)
                .await
        })
        .await
    }

    async fn update_project(&self, request: Request<UpdateProjectRequest>) -> Reply<Project> {
        let body = request.get_ref();
        let patch = required("project", body.project.as_ref())?;
        let (building, id) = self.child("project.name", &patch.name, "projects")?;
        let mutable = mutable_fields!(
            Project;
            title, description, participants, demands, resources
        );
        let update = Update::parse(body.update_mask.as_ref(), mutable, IMMUTABLE, patch)?;
        let call = Call::new(&request)?;
        let names = self.names().clone();
        reply(
            self.store
                .update_project(&call, &building, &id, move |current| {
                    update.apply(current);
                    Ok(project_input(&names, "project", current)?)
                })
                .await,
        )
    }

    async fn transition_project(
        &self,
        request: Request<TransitionProjectRequest>,
    ) -> Reply<Project> {
        let body = request.get_ref();
        let (building, id) = self.child("name", &body.name, "projects")?;
        let call = Call::idempotent(&request)?;
        let mut violations = Violations::new();
        let to = violations.check(fields::required_enum::<ProjectState>(
            "to_state",
            body.to_state,
        ));
        let dropping = to == Some(ProjectState::Dropped);
        let reason = violations.check(fields::multiline_text(
            "reason",
            &body.reason,
            fields::MAX_TEXT_CHARS,
            dropping,
        ));
        violations.into_result()?;
        reply(
            self.store
                .transition_project(
                    &call,
                    &building,
                    &id,
                    to.expect("checked"),
                    reason.expect("checked"),
                )
                .await,
        )
    }
}
