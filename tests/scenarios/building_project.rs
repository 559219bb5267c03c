//! One of the building's three lists, across services: a need raised in the
//! visits service and a resource of the registry are answered by a project
//! of the building's council (a job fair in the service station, one of the
//! districts' own examples), from proposal to completion.

use louyu_kit::config::ServiceName;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::google::r#type::LatLng;
use louyu_proto::registry::v1::building_council_service_client::BuildingCouncilServiceClient;
use louyu_proto::registry::v1::*;
use louyu_proto::visits::v1::{CreateDemandRequest, DemandDraft, Urgency};
use louyu_scenarios::start;
use louyu_testkit::fixtures::{self, DISTRICT, enterprise_name, uscc};
use louyu_testkit::{TestBackend, backend_tests};

async fn a_council_project_answers_a_need_with_a_resource_from_proposal_to_completion(
    backend: TestBackend,
) {
    let Some(mut district) = start(backend).await else {
        return;
    };
    fixtures::one_building(&mut district.registry).await;
    let code = uscc(1);
    fixtures::tenant(&mut district.registry, &code, "101", 400).await;
    let demand = district
        .visits
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(DemandDraft {
                enterprise: enterprise_name(&code),
                category: DemandCategory::TalentHousehold as i32,
                description: "招聘软件工程师 hiring software engineers".to_owned(),
                urgency: Urgency::Normal as i32,
            }),
            request_id: String::new(),
        })
        .await
        .expect("a need")
        .into_inner()
        .demand
        .expect("the demand");
    let station = district
        .registry
        .create_building_resource(CreateBuildingResourceRequest {
            parent: DISTRICT.to_owned(),
            building_resource: Some(BuildingResource {
                display_name: "静安大厦党群服务站".to_owned(),
                kind: ResourceKind::ServiceStation as i32,
                building: format!("{DISTRICT}/buildings/b-1"),
                location: Some(LatLng {
                    latitude: 31.2235,
                    longitude: 121.4455,
                }),
                ..BuildingResource::default()
            }),
            building_resource_id: "station".to_owned(),
            ..CreateBuildingResourceRequest::default()
        })
        .await
        .expect("the service station")
        .into_inner();
    let mut councils =
        BuildingCouncilServiceClient::new(district.sandbox.client(ServiceName::Registry).await);
    let project = councils
        .create_project(CreateProjectRequest {
            parent: format!("{DISTRICT}/buildings/b-1"),
            project: Some(Project {
                title: "服务站招聘会 a job fair in the service station".to_owned(),
                proposer: Some(Organisation {
                    kind: OrganisationKind::Enterprise as i32,
                    enterprise: enterprise_name(&code),
                    ..Organisation::default()
                }),
                participants: vec![Organisation {
                    kind: OrganisationKind::SubDistrict as i32,
                    display_name: "南京西路街道".to_owned(),
                    ..Organisation::default()
                }],
                demands: vec![demand.name.clone()],
                resources: vec![station.name.clone()],
                ..Project::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("proposed")
        .into_inner();
    for state in [
        ProjectState::Discussed,
        ProjectState::Approved,
        ProjectState::InProgress,
        ProjectState::Completed,
    ] {
        councils
            .transition_project(TransitionProjectRequest {
                name: project.name.clone(),
                to_state: state as i32,
                reason: String::new(),
                request_id: String::new(),
            })
            .await
            .expect("moved");
    }
    // The need's projects, found from the need.
    let answered = councils
        .list_projects(ListProjectsRequest {
            parent: format!("{DISTRICT}/buildings/-"),
            filter: format!("demand = \"{}\"", demand.name),
            ..ListProjectsRequest::default()
        })
        .await
        .expect("the projects of the need")
        .into_inner()
        .projects;
    assert_eq!(answered.len(), 1);
    let done = &answered[0];
    assert_eq!(done.state, ProjectState::Completed as i32);
    assert_eq!(done.demands, vec![demand.name.clone()]);
    assert_eq!(done.resources, vec![station.name.clone()]);
    let states: Vec<i32> = done.history.iter().map(|change| change.to_state).collect();
    assert_eq!(
        states,
        vec![
            ProjectState::Proposed as i32,
            ProjectState::Discussed as i32,
            ProjectState::Approved as i32,
            ProjectState::InProgress as i32,
            ProjectState::Completed as i32,
        ]
    );
    let by_resource = councils
        .list_projects(ListProjectsRequest {
            parent: format!("{DISTRICT}/buildings/b-1"),
            filter: format!("resource = \"{}\"", station.name),
            ..ListProjectsRequest::default()
        })
        .await
        .expect("the projects using the station")
        .into_inner()
        .projects;
    assert_eq!(by_resource.len(), 1);
}

backend_tests!(a_council_project_answers_a_need_with_a_resource_from_proposal_to_completion);
