//! Building councils over real gRPC: members with terms, the chief chosen by
//! "one nomination, three public notices" with an objection and its
//! resolution, at most one chief at a time (also under concurrent calls),
//! meetings whose decisions make and move projects, and the district's
//! policy of sub-district officials as chiefs.

use louyu_kit::config::{ChiefPolicy, ServiceName};
use louyu_kit::identity::Role;
use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::building_council_service_client::BuildingCouncilServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::identity::{AuthorizedChannel, auditor, person_in};
use louyu_testkit::{TestBackend, backend_tests, race, tally};
use tonic::Code;

use crate::helpers::*;

type Councils = BuildingCouncilServiceClient<AuthorizedChannel>;

fn building() -> String {
    format!("{DISTRICT}/buildings/b-1")
}

fn day(offset: i64) -> Date {
    louyu_testkit::fixtures::date_in(offset)
}

async fn councils(app: &TestApp) -> Councils {
    BuildingCouncilServiceClient::new(app.sandbox().client(ServiceName::Registry).await)
}

async fn councils_as(app: &TestApp, who: &louyu_kit::identity::Principal) -> Councils {
    BuildingCouncilServiceClient::new(app.sandbox().client_as(ServiceName::Registry, who).await)
}

fn member(person: &str, role: CouncilRole, organisation: Organisation) -> CouncilMember {
    CouncilMember {
        contact: Some(Contact {
            person_name: person.to_owned(),
            title: "书记".to_owned(),
            phone: "13812345678".to_owned(),
            email: String::new(),
        }),
        council_role: role as i32,
        organisation: Some(organisation),
        term_start: Some(day(-30)),
        ..CouncilMember::default()
    }
}

fn station() -> Organisation {
    Organisation {
        kind: OrganisationKind::ServiceStation as i32,
        display_name: "高和大厦党群服务站".to_owned(),
        ..Organisation::default()
    }
}

async fn add_member(client: &mut Councils, person: &str) -> CouncilMember {
    client
        .create_council_member(CreateCouncilMemberRequest {
            parent: building(),
            council_member: Some(member(person, CouncilRole::ServiceStationHead, station())),
            request_id: String::new(),
        })
        .await
        .expect("a member")
        .into_inner()
}

async fn nominate(client: &mut Councils, member: &CouncilMember) -> ChiefAppointment {
    client
        .nominate_chief(NominateChiefRequest {
            parent: building(),
            council_member: member.name.clone(),
            note: "楼事会推选 chosen by the council".to_owned(),
            ..NominateChiefRequest::default()
        })
        .await
        .expect("nominated")
        .into_inner()
}

async fn notice(client: &mut Councils, name: &str, start: i64, end: i64) -> ChiefAppointment {
    client
        .start_chief_notice(StartChiefNoticeRequest {
            name: name.to_owned(),
            start_date: Some(day(start)),
            end_date: Some(day(end)),
            request_id: String::new(),
        })
        .await
        .expect("a notice period")
        .into_inner()
}

/// Three notice periods that have all ended.
async fn three_past_notices(client: &mut Councils, name: &str) {
    for (start, end) in [(-20, -16), (-13, -9), (-6, -2)] {
        notice(client, name, start, end).await;
    }
}

fn appoint(name: &str) -> AppointChiefRequest {
    AppointChiefRequest {
        name: name.to_owned(),
        request_id: String::new(),
    }
}

fn state(appointment: &ChiefAppointment) -> ChiefAppointmentState {
    ChiefAppointmentState::try_from(appointment.state).expect("a state")
}

async fn a_chief_is_appointed_after_three_notices_and_objections_stop_it_until_resolved(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    louyu_testkit::fixtures::one_building(&mut app.registry).await;
    let mut client = councils(&app).await;
    let zhang = add_member(&mut client, "张三").await;
    let li = add_member(&mut client, "李四").await;
    assert!(zhang.active);

    // Zhang: nominated, three notice periods ended, appointed.
    let nomination = nominate(&mut client, &zhang).await;
    assert_eq!(state(&nomination), ChiefAppointmentState::Nominated);
    assert_code(
        client.appoint_chief(appoint(&nomination.name)).await,
        Code::FailedPrecondition,
    );
    notice(&mut client, &nomination.name, -20, -16).await;
    let early = assert_code(
        client.appoint_chief(appoint(&nomination.name)).await,
        Code::FailedPrecondition,
    );
    assert!(early.message().contains("3"), "{early:?}");
    assert_invalid_field(
        client
            .start_chief_notice(StartChiefNoticeRequest {
                name: nomination.name.clone(),
                start_date: Some(day(-17)),
                end_date: Some(day(-15)),
                request_id: String::new(),
            })
            .await,
        "start_date",
    );
    notice(&mut client, &nomination.name, -13, -9).await;
    notice(&mut client, &nomination.name, -6, -2).await;
    let appointed = client
        .appoint_chief(appoint(&nomination.name))
        .await
        .expect("appointed")
        .into_inner();
    assert_eq!(state(&appointed), ChiefAppointmentState::Appointed);
    assert_eq!(appointed.notices.len(), 3);

    // The building shows its chief and council.
    let shown = app
        .registry
        .get_building(GetBuildingRequest {
            name: building(),
            ..GetBuildingRequest::default()
        })
        .await
        .expect("the building")
        .into_inner();
    #[allow(deprecated)]
    {
        assert_eq!(
            shown
                .building_chief
                .as_ref()
                .map(|chief| chief.person_name.as_str()),
            Some("张三")
        );
        assert_eq!(shown.council_members.len(), 2);
    }

    // Li: an objection during an open notice stops the appointment until it
    // is resolved; upheld, the nomination is withdrawn.
    let second = nominate(&mut client, &li).await;
    notice(&mut client, &second.name, -1, 3).await;
    let objected = client
        .object_to_chief(ObjectToChiefRequest {
            name: second.name.clone(),
            text: "候选人未在本楼工作满一年 the nominee has not worked here a year".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("objected")
        .into_inner();
    assert_eq!(state(&objected), ChiefAppointmentState::Objected);
    assert_code(
        client
            .start_chief_notice(StartChiefNoticeRequest {
                name: second.name.clone(),
                start_date: Some(day(5)),
                end_date: Some(day(9)),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    let dismissed = client
        .resolve_chief_objection(ResolveChiefObjectionRequest {
            name: second.name.clone(),
            upheld: false,
            resolution: "经核实已满一年 checked: over a year".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("dismissed")
        .into_inner();
    assert_eq!(state(&dismissed), ChiefAppointmentState::InNotice);
    assert_eq!(dismissed.objections.len(), 1);
    assert!(!dismissed.objections[0].resolution.is_empty());
    client
        .object_to_chief(ObjectToChiefRequest {
            name: second.name.clone(),
            text: "另有异议 another objection".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("objected again");
    let withdrawn = client
        .resolve_chief_objection(ResolveChiefObjectionRequest {
            name: second.name.clone(),
            upheld: true,
            resolution: "异议成立 the objection stands".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("upheld")
        .into_inner();
    assert_eq!(state(&withdrawn), ChiefAppointmentState::Withdrawn);

    // A third nomination, ready, waits for Zhang's term to end.
    let third = nominate(&mut client, &li).await;
    three_past_notices(&mut client, &third.name).await;
    let busy = assert_code(
        client.appoint_chief(appoint(&third.name)).await,
        Code::FailedPrecondition,
    );
    assert!(busy.message().contains(&appointed.name), "{busy:?}");
    client
        .end_chief_term(EndChiefTermRequest {
            name: appointed.name.clone(),
            reason: "任期届满 the term is over".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("ended");
    client
        .appoint_chief(appoint(&third.name))
        .await
        .expect("the next chief");
    let history = client
        .list_chief_appointments(ListChiefAppointmentsRequest {
            parent: building(),
            ..ListChiefAppointmentsRequest::default()
        })
        .await
        .expect("the history")
        .into_inner()
        .chief_appointments;
    let states: Vec<ChiefAppointmentState> = history.iter().map(state).collect();
    assert_eq!(
        states,
        vec![
            ChiefAppointmentState::Ended,
            ChiefAppointmentState::Withdrawn,
            ChiefAppointmentState::Appointed
        ]
    );

    // Auditors see the contacts masked.
    let masked = councils_as(&app, &auditor())
        .await
        .list_chief_appointments(ListChiefAppointmentsRequest {
            parent: building(),
            ..ListChiefAppointmentsRequest::default()
        })
        .await
        .expect("an auditor reads")
        .into_inner()
        .chief_appointments;
    assert_eq!(
        masked[0]
            .contact
            .as_ref()
            .map(|contact| contact.phone.as_str()),
        Some("138****5678")
    );
}

async fn two_appointments_at_once_make_one_chief(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    louyu_testkit::fixtures::one_building(&mut app.registry).await;
    let mut client = councils(&app).await;
    let mut ready = Vec::new();
    for person in ["张三", "李四", "王五", "赵六"] {
        let member = add_member(&mut client, person).await;
        let nomination = nominate(&mut client, &member).await;
        three_past_notices(&mut client, &nomination.name).await;
        ready.push(nomination.name);
    }
    let results = race(ready.len() * 2, |index| {
        let mut client = client.clone();
        let name = ready[index % ready.len()].clone();
        async move {
            client
                .appoint_chief(appoint(&name))
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert_eq!(
        tally(&results, &[Code::FailedPrecondition, Code::Aborted]),
        1,
        "exactly one chief"
    );
}

async fn council_members_are_checked_and_kept_by_the_sub_district(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    louyu_testkit::fixtures::one_building(&mut app.registry).await;
    let mut client = councils(&app).await;
    let unknown = Organisation {
        kind: OrganisationKind::Enterprise as i32,
        enterprise: format!("{DISTRICT}/enterprises/{}", uscc(7)),
        ..Organisation::default()
    };
    assert_invalid_field(
        client
            .create_council_member(CreateCouncilMemberRequest {
                parent: building(),
                council_member: Some(member(
                    "王五",
                    CouncilRole::EnterpriseAdministration,
                    unknown,
                )),
                request_id: String::new(),
            })
            .await,
        "council_member.organisation.enterprise",
    );
    let mut no_role = member("王五", CouncilRole::Unspecified, station());
    no_role.term_end = Some(day(-40));
    let refused = client
        .create_council_member(CreateCouncilMemberRequest {
            parent: building(),
            council_member: Some(no_role),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(refused, "council_member.council_role");
    let worker = person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    assert_code(
        councils_as(&app, &worker)
            .await
            .create_council_member(CreateCouncilMemberRequest {
                parent: building(),
                council_member: Some(member(
                    "王五",
                    CouncilRole::EmployeeRepresentative,
                    station(),
                )),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    let kept = add_member(&mut client, "王五").await;
    let read = client
        .get_council_member(GetCouncilMemberRequest {
            name: kept.name.clone(),
        })
        .await
        .expect("the member")
        .into_inner();
    assert_eq!(read, kept);
    assert_code(
        client
            .get_council_member(GetCouncilMemberRequest {
                name: format!("{}/councilMembers/cmb-missing", building()),
            })
            .await,
        Code::NotFound,
    );
    let ended = client
        .update_council_member(UpdateCouncilMemberRequest {
            council_member: Some(CouncilMember {
                name: kept.name.clone(),
                term_end: Some(day(-1)),
                ..CouncilMember::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["term_end".to_owned()],
            }),
        })
        .await
        .expect("the term ended")
        .into_inner();
    assert!(!ended.active);
    let active = client
        .list_council_members(ListCouncilMembersRequest {
            parent: building(),
            filter: "active = true".to_owned(),
            ..ListCouncilMembersRequest::default()
        })
        .await
        .expect("the active members")
        .into_inner()
        .council_members;
    assert!(active.is_empty(), "{active:?}");
    // A member whose term has ended is not nominated.
    assert_invalid_field(
        client
            .nominate_chief(NominateChiefRequest {
                parent: building(),
                council_member: kept.name.clone(),
                note: "推选 chosen".to_owned(),
                ..NominateChiefRequest::default()
            })
            .await,
        "council_member",
    );
}

async fn a_meeting_decides_a_project_and_moves_it(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    louyu_testkit::fixtures::one_building(&mut app.registry).await;
    let mut client = councils(&app).await;
    let zhang = add_member(&mut client, "张三").await;
    let mural = Project {
        title: "楼宇员工与居民共绘墙绘 a mural painted with the residents".to_owned(),
        proposer: Some(Organisation {
            kind: OrganisationKind::SubDistrict as i32,
            display_name: "南京西路街道".to_owned(),
            ..Organisation::default()
        }),
        participants: vec![Organisation {
            kind: OrganisationKind::ResidentialCommunity as i32,
            display_name: "静安别墅居民区".to_owned(),
            ..Organisation::default()
        }],
        ..Project::default()
    };
    let meeting = client
        .create_council_meeting(CreateCouncilMeetingRequest {
            parent: building(),
            council_meeting: Some(CouncilMeeting {
                meeting_date: Some(day(0)),
                attendees: vec![zhang.name.clone()],
                agenda: vec!["墙绘方案 the mural".to_owned()],
                decisions: vec![CouncilDecision {
                    text: "同意开展墙绘 the mural goes ahead".to_owned(),
                    new_project: Some(mural),
                    ..CouncilDecision::default()
                }],
                ..CouncilMeeting::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a meeting")
        .into_inner();
    let project = meeting.decisions[0].project.clone();
    assert_eq!(
        client
            .get_council_meeting(GetCouncilMeetingRequest {
                name: meeting.name.clone(),
            })
            .await
            .expect("the meeting")
            .into_inner(),
        meeting
    );
    assert!(!project.is_empty());
    let next = client
        .create_council_meeting(CreateCouncilMeetingRequest {
            parent: building(),
            council_meeting: Some(CouncilMeeting {
                meeting_date: Some(day(0)),
                attendees: vec![zhang.name.clone()],
                decisions: vec![CouncilDecision {
                    text: "已商议 discussed".to_owned(),
                    project: project.clone(),
                    project_state: ProjectState::Discussed as i32,
                    ..CouncilDecision::default()
                }],
                ..CouncilMeeting::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a second meeting")
        .into_inner();
    assert_eq!(next.decisions[0].project, project);
    let moved = client
        .get_project(GetProjectRequest {
            name: project.clone(),
        })
        .await
        .expect("the project")
        .into_inner();
    assert_eq!(moved.state, ProjectState::Discussed as i32);
    assert_eq!(moved.history.len(), 2);
    // A project cannot skip to completed; the refusal names the state.
    let refused = assert_code(
        client
            .transition_project(TransitionProjectRequest {
                name: project.clone(),
                to_state: ProjectState::Completed as i32,
                ..TransitionProjectRequest::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("DISCUSSED"), "{refused:?}");
    assert_invalid_field(
        client
            .transition_project(TransitionProjectRequest {
                name: project,
                to_state: ProjectState::Dropped as i32,
                ..TransitionProjectRequest::default()
            })
            .await,
        "reason",
    );
    let meetings = client
        .list_council_meetings(ListCouncilMeetingsRequest {
            parent: building(),
            ..ListCouncilMeetingsRequest::default()
        })
        .await
        .expect("the meetings")
        .into_inner()
        .council_meetings;
    assert_eq!(
        meetings
            .iter()
            .map(|meeting| meeting.name.as_str())
            .collect::<Vec<_>>(),
        vec![next.name.as_str(), meeting.name.as_str()],
        "most recent first"
    );
}

async fn where_the_policy_says_so_the_sub_districts_official_is_chief_at_once(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app_with(backend, |config| {
        config.chief_policy = ChiefPolicy::SubDistrictOfficial;
    })
    .await
    else {
        return;
    };
    louyu_testkit::fixtures::one_building(&mut app.registry).await;
    app.registry
        .create_staff(CreateStaffRequest {
            parent: DISTRICT.to_owned(),
            staff: Some(Staff {
                display_name: "街道副主任".to_owned(),
                sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                active: true,
                ..Staff::default()
            }),
            staff_id: "official-1".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("the official");
    let mut client = councils(&app).await;
    let zhang = add_member(&mut client, "张三").await;
    assert_invalid_field(
        client
            .nominate_chief(NominateChiefRequest {
                parent: building(),
                council_member: zhang.name.clone(),
                note: "推选 chosen".to_owned(),
                ..NominateChiefRequest::default()
            })
            .await,
        "staff",
    );
    let nomination = client
        .nominate_chief(NominateChiefRequest {
            parent: building(),
            staff: format!("{DISTRICT}/staff/official-1"),
            note: "街道负责同志任楼长 the sub-district's official".to_owned(),
            ..NominateChiefRequest::default()
        })
        .await
        .expect("nominated")
        .into_inner();
    let appointed = client
        .appoint_chief(appoint(&nomination.name))
        .await
        .expect("appointed at once")
        .into_inner();
    assert_eq!(state(&appointed), ChiefAppointmentState::Appointed);
    assert!(appointed.notices.is_empty());
}

backend_tests!(
    a_chief_is_appointed_after_three_notices_and_objections_stop_it_until_resolved,
    two_appointments_at_once_make_one_chief,
    council_members_are_checked_and_kept_by_the_sub_district,
    a_meeting_decides_a_project_and_moves_it,
    where_the_policy_says_so_the_sub_districts_official_is_chief_at_once,
);
