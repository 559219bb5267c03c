//! Data scope (issue 8): who sees and changes which visits, demands and
//! plans. The district of `World`: s-1 is a field worker covering b-1 and
//! enterprise D of b-2; both buildings belong to `nanjingxilu`. Some tests
//! add a second street, `jingansi`, with building b-3 and enterprise F.

use std::time::{Duration, Instant};

use louyu_kit::identity::{Principal, Role};
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::*;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::*;
use louyu_testkit::identity::{AuthorizedChannel, auditor, person_in};
use louyu_testkit::{TestBackend, backend_tests};
use tonic::{Code, Status};

use crate::helpers::*;
use crate::visits::{draft, visit_request};

type Visits = VisitsServiceClient<AuthorizedChannel>;

const NANJINGXILU: &str = "nanjingxilu";
const JINGANSI: &str = "jingansi";

/// s-1, the field worker of the world.
fn field_worker() -> Principal {
    person_in("s-1", &[Role::FieldWorker], Some(NANJINGXILU), None)
}

async fn visits_as(suite: &Suite, principal: &Principal) -> Visits {
    VisitsServiceClient::new(
        suite
            .sandbox()
            .client_as(louyu_kit::config::ServiceName::Visits, principal)
            .await,
    )
}

/// Adds the street `jingansi` with building b-3, unit 101 let to
/// enterprise F; returns F's USCC.
async fn second_street(suite: &mut Suite) -> String {
    let registry = &mut suite.registry;
    let mut street = louyu_testkit::fixtures::create_street_request();
    street.sub_district_id = JINGANSI.to_owned();
    street.sub_district.as_mut().unwrap().display_name = "静安寺街道".to_owned();
    registry.create_sub_district(street).await.unwrap();
    registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(Building {
                display_name: "b-3".to_owned(),
                address: "愚园路".to_owned(),
                managing_sub_district: format!("{DISTRICT}/subDistricts/{JINGANSI}"),
                ..Building::default()
            }),
            building_id: "b-3".to_owned(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .unwrap();
    registry
        .create_unit(CreateUnitRequest {
            parent: format!("{DISTRICT}/buildings/b-3"),
            unit: Some(Unit {
                display_name: "101".to_owned(),
                floor: 1,
                area_square_meters: 100.0,
                ..Unit::default()
            }),
            unit_id: "101".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let f = louyu_testkit::fixtures::uscc(6);
    registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(Enterprise {
                uscc: f.clone(),
                display_name: "企业F".to_owned(),
                ..Enterprise::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let date = |year| Date {
        year,
        month: 1,
        day: 1,
    };
    registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(Tenancy {
                enterprise: enterprise(&f),
                unit: format!("{DISTRICT}/buildings/b-3/units/101"),
                lease_start: Some(date(2024)),
                lease_end: Some(date(2028)),
                ..Tenancy::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    f
}

async fn raise(client: &mut Visits, code: &str) -> Result<Demand, Status> {
    client
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(draft(code, DemandCategory::OfficeSpace)),
            request_id: String::new(),
        })
        .await
        .map(|response| response.into_inner().demand.unwrap())
}

/// A visit to `building` meeting `met`, raising a demand for each of
/// `raising`.
async fn record(
    client: &mut Visits,
    building: &str,
    met: &[&str],
    raising: &[&str],
) -> Result<SubmitVisitResponse, Status> {
    client
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(met, building, 1)),
            demands: raising
                .iter()
                .map(|code| draft(code, DemandCategory::Financing))
                .collect(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get_demand(client: &mut Visits, name: &str) -> Result<Demand, Status> {
    client
        .get_demand(GetDemandRequest {
            name: name.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get_visit(client: &mut Visits, name: &str) -> Result<Visit, Status> {
    client
        .get_visit(GetVisitRequest {
            name: name.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn transition(client: &mut Visits, name: &str, to: DemandStatus) -> Result<Demand, Status> {
    client
        .transition_demand(TransitionDemandRequest {
            name: name.to_owned(),
            to_status: to as i32,
            reason: "跟进 following up".to_owned(),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Every demand the client lists, page by page (`page_size` each).
async fn demand_names(client: &mut Visits, page_size: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_demands(ListDemandsRequest {
                parent: DISTRICT.to_owned(),
                page_size,
                page_token,
                ..ListDemandsRequest::default()
            })
            .await
            .unwrap()
            .into_inner();
        names.extend(page.demands.into_iter().map(|demand| demand.name));
        if page.next_page_token.is_empty() {
            return names;
        }
        page_token = page.next_page_token;
    }
}

async fn visit_names(client: &mut Visits) -> Vec<String> {
    client
        .list_visits(ListVisitsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 100,
            ..ListVisitsRequest::default()
        })
        .await
        .unwrap()
        .into_inner()
        .visits
        .into_iter()
        .map(|visit| visit.name)
        .collect()
}

async fn counted(client: &mut Visits) -> i64 {
    client
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            filter: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .total
}

/// Out of reach reads as missing: NOT_FOUND, worded exactly as for a
/// resource that does not exist (its name aside).
fn assert_reads_as_missing(
    result: Result<impl std::fmt::Debug, Status>,
    name: &str,
    missing: Result<impl std::fmt::Debug, Status>,
    missing_name: &str,
) {
    let status = result.expect_err("out of reach");
    let missing = missing.expect_err("missing");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert_eq!(
        status.message().replace(name, "<name>"),
        missing.message().replace(missing_name, "<name>"),
        "out of reach must read like missing"
    );
}

/// Waits until the registry's feed has told visits of all of s-1's
/// assignments: the building b-1 (A's plan) and, created last, enterprise D
/// of b-2 (D's plan). The feed arrives in order, so D's means all.
async fn until_assignments_arrive(worker: &Visits, world: &World) {
    for code in [&world.a, &world.d] {
        eventually("the field worker's assignments reach visits", || {
            let mut worker = worker.clone();
            let name = format!("{DISTRICT}/visitPlans/{code}");
            async move {
                worker
                    .get_visit_plan(GetVisitPlanRequest { name })
                    .await
                    .is_ok()
            }
        })
        .await;
    }
}

async fn a_field_worker_sees_only_the_visits_demands_and_plans_of_their_assignments(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let on_b1 = record(&mut suite.visits, "b-1", &[&world.a], &[&world.a])
        .await
        .unwrap();
    let on_b2 = record(&mut suite.visits, "b-2", &[&world.c], &[&world.c])
        .await
        .unwrap();
    let of_d = raise(&mut suite.visits, &world.d).await.unwrap();
    let (visit_b1, demand_a) = (on_b1.visit.unwrap().name, on_b1.demands[0].name.clone());
    let (visit_b2, demand_c) = (on_b2.visit.unwrap().name, on_b2.demands[0].name.clone());

    let mut worker = visits_as(&suite, &field_worker()).await;
    until_assignments_arrive(&worker, &world).await;
    get_visit(&mut worker, &visit_b1)
        .await
        .expect("b-1 is theirs");
    get_demand(&mut worker, &of_d.name)
        .await
        .expect("D is assigned to them");
    let missing_visit = format!("{DISTRICT}/visits/v-missing");
    assert_reads_as_missing(
        get_visit(&mut worker, &visit_b2).await,
        &visit_b2,
        get_visit(&mut worker, &missing_visit).await,
        &missing_visit,
    );
    let missing_demand = format!("{DISTRICT}/demands/dm-missing");
    assert_reads_as_missing(
        get_demand(&mut worker, &demand_c).await,
        &demand_c,
        get_demand(&mut worker, &missing_demand).await,
        &missing_demand,
    );

    assert_eq!(visit_names(&mut worker).await, vec![visit_b1]);
    let mut listed = demand_names(&mut worker, 100).await;
    listed.sort();
    let mut expected = vec![demand_a, of_d.name];
    expected.sort();
    assert_eq!(listed, expected, "C's demand is left out");
    assert_eq!(counted(&mut worker).await, 2);
    assert_eq!(counted(&mut suite.visits).await, 3, "the district sees all");

    let plan = |code: &str| GetVisitPlanRequest {
        name: format!("{DISTRICT}/visitPlans/{code}"),
    };
    worker
        .get_visit_plan(plan(&world.a))
        .await
        .expect("A's plan");
    assert_code(worker.get_visit_plan(plan(&world.c)).await, Code::NotFound);
}

async fn a_field_worker_records_only_where_they_are_assigned(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let of_a = raise(&mut suite.visits, &world.a).await.unwrap();
    let of_c = raise(&mut suite.visits, &world.c).await.unwrap();
    let mut worker = visits_as(&suite, &field_worker()).await;
    until_assignments_arrive(&worker, &world).await;

    record(&mut worker, "b-1", &[&world.a, &world.b], &[&world.b])
        .await
        .expect("b-1 is theirs");
    record(&mut worker, "b-2", &[&world.d], &[])
        .await
        .expect("D of b-2 is theirs");
    let building = |id: &str| format!("{DISTRICT}/buildings/{id}");
    assert_reads_as_missing(
        record(&mut worker, "b-2", &[&world.c], &[]).await,
        &building("b-2"),
        record(&mut worker, "b-9", &[], &[]).await,
        &building("b-9"),
    );
    assert_code(
        record(&mut worker, "b-2", &[&world.d, &world.c], &[]).await,
        Code::NotFound,
    );
    raise(&mut worker, &world.e).await.expect("E is in b-1");
    assert_code(raise(&mut worker, &world.c).await, Code::NotFound);

    transition(&mut worker, &of_a.name, DemandStatus::InProgress)
        .await
        .expect("A's demand is theirs");
    assert_code(
        transition(&mut worker, &of_c.name, DemandStatus::InProgress).await,
        Code::NotFound,
    );
    let untouched = get_demand(&mut suite.visits, &of_c.name).await.unwrap();
    assert_eq!(untouched.status, DemandStatus::Open as i32);
    assert_eq!(
        counted(&mut suite.visits).await,
        4,
        "A and C, B's raised on their visit and E's"
    );
}

async fn a_sub_district_admin_sees_their_street_and_may_not_change_what_they_only_see(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let f = second_street(&mut suite).await;
    let of_a = raise(&mut suite.visits, &world.a).await.unwrap();
    let on_b3 = record(&mut suite.visits, "b-3", &[&f], &[&f])
        .await
        .unwrap();
    let (visit_b3, demand_f) = (on_b3.visit.unwrap().name, on_b3.demands[0].name.clone());

    let mut street_admin = visits_as(
        &suite,
        &person_in("sd-1", &[Role::SubDistrictAdmin], Some(JINGANSI), None),
    )
    .await;
    // The building's sub-district reaches visits by the registry's feed.
    eventually("b-3's sub-district reaches visits", || {
        let mut street_admin = street_admin.clone();
        let visit = visit_b3.clone();
        async move { get_visit(&mut street_admin, &visit).await.is_ok() }
    })
    .await;
    get_demand(&mut street_admin, &demand_f).await.unwrap();
    assert_code(
        get_demand(&mut street_admin, &of_a.name).await,
        Code::NotFound,
    );
    assert_eq!(
        demand_names(&mut street_admin, 100).await,
        vec![demand_f.clone()]
    );
    assert_eq!(counted(&mut street_admin).await, 1);
    assert_eq!(visit_names(&mut street_admin).await, vec![visit_b3]);
    assert_code(
        transition(&mut street_admin, &of_a.name, DemandStatus::InProgress).await,
        Code::NotFound,
    );
    transition(&mut street_admin, &demand_f, DemandStatus::InProgress)
        .await
        .expect("their street's demand");
    assert_code(raise(&mut street_admin, &world.a).await, Code::NotFound);

    // Also a field worker of b-1: may see its demands (GetDemand reaches own
    // assignments) but merge only in their street.
    let mut both = visits_as(
        &suite,
        &person_in(
            "s-1",
            &[Role::SubDistrictAdmin, Role::FieldWorker],
            Some(JINGANSI),
            None,
        ),
    )
    .await;
    let of_a_again = record(&mut suite.visits, "b-1", &[], &[&world.a])
        .await
        .unwrap()
        .demands[0]
        .name
        .clone();
    until_assignments_arrive(&both, &world).await;
    let merged = both
        .merge_demands(MergeDemandsRequest {
            name: of_a.name.clone(),
            duplicate: of_a_again,
            reason: String::new(),
            request_id: String::new(),
        })
        .await;
    assert_code(merged, Code::PermissionDenied);
}

async fn a_department_officer_sees_no_demand_until_one_is_addressed_to_their_department(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let of_a = raise(&mut suite.visits, &world.a).await.unwrap();
    raise(&mut suite.visits, &world.c).await.unwrap();
    let officer = |department| person_in("o-1", &[Role::DepartmentOfficer], None, Some(department));
    let mut invest = visits_as(&suite, &officer("invest")).await;
    let mut tax = visits_as(&suite, &officer("tax")).await;
    assert!(demand_names(&mut invest, 100).await.is_empty());
    assert_eq!(counted(&mut invest).await, 0);
    assert_code(get_demand(&mut invest, &of_a.name).await, Code::NotFound);
    assert_code(
        transition(&mut invest, &of_a.name, DemandStatus::InProgress).await,
        Code::NotFound,
    );

    // What the referral service's feed will do when it refers A's demand
    // to the investment department.
    let db = louyu_kit::db::Db::connect(&suite.visits_database_url)
        .await
        .unwrap();
    sqlx::query("INSERT INTO demand_departments (demand_id, department_id) VALUES ($1, $2)")
        .bind(of_a.name.rsplit('/').next().unwrap())
        .bind("invest")
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;

    get_demand(&mut invest, &of_a.name).await.unwrap();
    assert_eq!(
        demand_names(&mut invest, 100).await,
        vec![of_a.name.clone()]
    );
    assert_eq!(counted(&mut invest).await, 1);
    transition(&mut invest, &of_a.name, DemandStatus::InProgress)
        .await
        .expect("addressed to their department");
    assert_code(get_demand(&mut tax, &of_a.name).await, Code::NotFound);
    assert_eq!(counted(&mut tax).await, 0);
}

async fn an_auditor_reads_everything_and_changes_nothing(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let on_b2 = record(&mut suite.visits, "b-2", &[&world.c], &[&world.c])
        .await
        .unwrap();
    let of_a = raise(&mut suite.visits, &world.a).await.unwrap();
    let demand_c = on_b2.demands[0].name.clone();

    let mut reader = visits_as(&suite, &auditor()).await;
    get_demand(&mut reader, &demand_c).await.unwrap();
    get_visit(&mut reader, &on_b2.visit.unwrap().name)
        .await
        .unwrap();
    assert_eq!(demand_names(&mut reader, 1).await.len(), 2);
    assert_eq!(counted(&mut reader).await, 2);
    assert_code(
        transition(&mut reader, &of_a.name, DemandStatus::InProgress).await,
        Code::PermissionDenied,
    );
    assert_code(raise(&mut reader, &world.b).await, Code::PermissionDenied);
    assert_code(
        record(&mut reader, "b-1", &[&world.a], &[]).await,
        Code::PermissionDenied,
    );

    // An auditor who is also s-1, a field worker: sees C's building and
    // demand, so recording there is refused as PERMISSION_DENIED.
    let mut auditing_worker = visits_as(
        &suite,
        &person_in(
            "s-1",
            &[Role::Auditor, Role::FieldWorker],
            Some(NANJINGXILU),
            None,
        ),
    )
    .await;
    eventually("the field worker's assignments reach visits", || {
        let mut auditing_worker = auditing_worker.clone();
        let b = world.b.clone();
        async move { raise(&mut auditing_worker, &b).await.is_ok() }
    })
    .await;
    assert_code(
        raise(&mut auditing_worker, &world.c).await,
        Code::PermissionDenied,
    );
    assert_code(
        record(&mut auditing_worker, "b-2", &[&world.c], &[]).await,
        Code::PermissionDenied,
    );
    assert_code(
        transition(&mut auditing_worker, &demand_c, DemandStatus::InProgress).await,
        Code::PermissionDenied,
    );
}

/// Polls for at most a second.
async fn within_a_second<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what} within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn an_assignment_made_or_deleted_in_the_registry_takes_effect_within_a_second(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let of_c = raise(&mut suite.visits, &world.c).await.unwrap();
    // The feed is followed: s-1's assignments of the world have arrived.
    until_assignments_arrive(&visits_as(&suite, &field_worker()).await, &world).await;
    let worker = visits_as(
        &suite,
        &person_in("s-2", &[Role::FieldWorker], Some(NANJINGXILU), None),
    )
    .await;
    let sees_c = || {
        let mut worker = worker.clone();
        let name = of_c.name.clone();
        async move { get_demand(&mut worker, &name).await.is_ok() }
    };
    assert!(!sees_c().await, "s-2 covers nothing yet");

    let assignment = suite
        .registry
        .create_assignment(CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/s-2"),
            assignment: Some(Assignment {
                building: format!("{DISTRICT}/buildings/b-2"),
                role: AssignmentRole::FieldWorker as i32,
                ..Assignment::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    within_a_second("the assignment takes effect", &sees_c).await;

    suite
        .registry
        .delete_assignment(DeleteAssignmentRequest {
            name: assignment.name,
        })
        .await
        .unwrap();
    within_a_second("the deleted assignment stops", || async { !sees_c().await }).await;
}

async fn a_page_token_of_one_caller_reveals_nothing_out_of_reach_to_another(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    // In id order: A, C, D, E; C is out of s-1's reach.
    let mut raised = Vec::new();
    for code in [&world.a, &world.c, &world.d, &world.e] {
        raised.push(raise(&mut suite.visits, code).await.unwrap().name);
    }
    let mut worker = visits_as(&suite, &field_worker()).await;
    until_assignments_arrive(&worker, &world).await;

    let first = suite
        .visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 1,
            ..ListDemandsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.demands[0].name, raised[0]);
    let rest = worker
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 10,
            page_token: first.next_page_token,
            ..ListDemandsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = rest.demands.into_iter().map(|demand| demand.name).collect();
    assert_eq!(names, vec![raised[2].clone(), raised[3].clone()]);

    // Page by page, their own tokens skip C too.
    let paged = demand_names(&mut worker, 1).await;
    assert_eq!(
        paged,
        vec![raised[0].clone(), raised[2].clone(), raised[3].clone()]
    );
}

async fn every_role_is_refused_exactly_the_methods_the_table_denies_it(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let methods = louyu_testkit::permissions::assert_roles_refused_as_the_table_says(
        suite.sandbox(),
        louyu_kit::config::ServiceName::Visits,
        &[
            louyu_kit::permissions::VISITS,
            louyu_kit::permissions::AUDIT,
            louyu_kit::permissions::EVENT_FEED,
        ],
    )
    .await;
    assert!(methods > 12, "every visits method is covered: {methods}");
}

/// Another government system raises a signal as a demand: visits looks the
/// enterprise up in the registry as itself, and the demand is recorded
/// with the system as its reporter.
async fn a_system_raises_a_demand_for_any_enterprise_of_the_district(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    let hotline = Principal::System(louyu_kit::identity::SystemIdentity {
        name: "hotline-12345".to_owned(),
        district: louyu_testkit::identity::TOKEN_DISTRICT.to_owned(),
    });
    let channel = suite
        .sandbox()
        .client_as(louyu_kit::config::ServiceName::Visits, &hotline)
        .await;
    let demand = VisitsServiceClient::new(channel)
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(draft(&world.c, DemandCategory::TalentHousehold)),
            request_id: String::new(),
        })
        .await
        .expect("a system raises a demand")
        .into_inner()
        .demand
        .expect("the demand");
    assert_eq!(demand.building, format!("{DISTRICT}/buildings/b-2"));
    assert_eq!(demand.reports[0].actor, "system:hotline-12345");
}

backend_tests!(
    every_role_is_refused_exactly_the_methods_the_table_denies_it,
    a_system_raises_a_demand_for_any_enterprise_of_the_district,
    a_field_worker_sees_only_the_visits_demands_and_plans_of_their_assignments,
    a_field_worker_records_only_where_they_are_assigned,
    a_sub_district_admin_sees_their_street_and_may_not_change_what_they_only_see,
    a_department_officer_sees_no_demand_until_one_is_addressed_to_their_department,
    an_auditor_reads_everything_and_changes_nothing,
    an_assignment_made_or_deleted_in_the_registry_takes_effect_within_a_second,
    a_page_token_of_one_caller_reveals_nothing_out_of_reach_to_another,
);

/// A registry event as the feed delivers it.
fn feed_event<M: prost::Message + prost::Name>(message: &M) -> louyu_proto::common::v1::Event {
    louyu_proto::common::v1::Event {
        event_type: M::full_name(),
        payload: Some(prost_types::Any {
            type_url: M::type_url(),
            value: message.encode_to_vec(),
        }),
        ..Default::default()
    }
}

/// s-9's assignment `id` to b-1, for one enterprise or (`""`) the whole
/// building.
fn assignment_of_s9(id: &str, enterprise: &str) -> Assignment {
    Assignment {
        name: format!("{DISTRICT}/staff/s-9/assignments/{id}"),
        building: format!("{DISTRICT}/buildings/b-1"),
        enterprise: enterprise.to_owned(),
        role: AssignmentRole::FieldWorker as i32,
        ..Assignment::default()
    }
}

fn b1_managed_by(sub_district: &str) -> BuildingChanged {
    BuildingChanged {
        building: Some(Building {
            name: format!("{DISTRICT}/buildings/b-1"),
            managing_sub_district: format!("{DISTRICT}/subDistricts/{sub_district}"),
            ..Building::default()
        }),
        changed_fields: Vec::new(),
    }
}

/// What visits keeps for scope: s-9's assignments (id, building, USCC or
/// empty) and each building's sub-district.
async fn scope_rows(
    connection: &mut sqlx::AnyConnection,
) -> (Vec<(String, String, String)>, Vec<(String, String)>) {
    let assignments: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, building_id, uscc FROM scope_assignments WHERE staff_id = 's-9' ORDER BY id",
    )
    .fetch_all(&mut *connection)
    .await
    .unwrap();
    let buildings = sqlx::query_as("SELECT building_id, sub_district_id FROM scope_buildings")
        .fetch_all(&mut *connection)
        .await
        .unwrap();
    let assignments = assignments
        .into_iter()
        .map(|(id, building, uscc)| (id, building, uscc.unwrap_or_default()))
        .collect();
    (assignments, buildings)
}

/// Each of the registry's scope events, applied twice by the visits
/// service's handler, leaves what one application left.
async fn applying_each_scope_event_twice_changes_nothing(backend: TestBackend) {
    use louyu_kit::feed::EventHandler;

    let Some(database) = louyu_testkit::TestDatabase::create(backend).await else {
        return;
    };
    let db = louyu_kit::db::Db::connect(&database.url).await.unwrap();
    louyu_kit::hosting::migrate_database(&db, &louyu_visits::startup::Visits)
        .await
        .unwrap();
    let store = louyu_visits::store::Store::new(
        db.clone(),
        louyu_kit::names::DistrictNames::new("jingan"),
        louyu_kit::page::PageTokens::new(secrecy::SecretString::from("test")),
    );
    let handler = louyu_visits::feeds::RegistryEvents::new(store);
    let d = louyu_testkit::fixtures::uscc(4);
    let mut connection = db.pool().acquire().await.unwrap();
    for event in [
        feed_event(&AssignmentStarted {
            assignment: Some(assignment_of_s9("a-whole", "")),
        }),
        feed_event(&AssignmentStarted {
            assignment: Some(assignment_of_s9("a-one", &enterprise(&d))),
        }),
        feed_event(&b1_managed_by(JINGANSI)),
    ] {
        for _ in 0..2 {
            handler.handle(&mut connection, &event).await.unwrap();
        }
    }
    assert_eq!(
        scope_rows(&mut connection).await,
        (
            vec![
                ("a-one".to_owned(), "b-1".to_owned(), d.clone()),
                ("a-whole".to_owned(), "b-1".to_owned(), String::new()),
            ],
            vec![("b-1".to_owned(), JINGANSI.to_owned())],
        )
    );
    for event in [
        feed_event(&AssignmentEnded {
            assignment: Some(assignment_of_s9("a-whole", "")),
            reason: "删除 deleted".to_owned(),
        }),
        feed_event(&b1_managed_by(NANJINGXILU)),
    ] {
        for _ in 0..2 {
            handler.handle(&mut connection, &event).await.unwrap();
        }
    }
    assert_eq!(
        scope_rows(&mut connection).await,
        (
            vec![("a-one".to_owned(), "b-1".to_owned(), d)],
            vec![("b-1".to_owned(), NANJINGXILU.to_owned())],
        )
    );
    drop(connection);
    db.close().await;
}

backend_tests!(applying_each_scope_event_twice_changes_nothing);
