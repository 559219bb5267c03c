use louyu_proto::common::v1::RiskColour;
use louyu_proto::visits::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;

use crate::helpers::*;
use crate::visits::visit_request;

const DAY: i64 = 86_400_000_000;

async fn due_lists(suite: &mut Suite, as_of: i64, horizon_days: i32) -> Vec<(String, Vec<String>)> {
    let due = suite
        .visits
        .list_due_visits(ListDueVisitsRequest {
            staff: format!("{DISTRICT}/staff/s-1"),
            as_of: Some(louyu_kit::time::timestamp_from_micros(as_of)),
            horizon_days,
        })
        .await
        .unwrap()
        .into_inner();
    due.buildings
        .into_iter()
        .map(|building| {
            let plans = building
                .plans
                .iter()
                .map(|plan| plan.enterprise.rsplit('/').next().unwrap().to_owned())
                .collect();
            (
                building.building.rsplit('/').next().unwrap().to_owned(),
                plans,
            )
        })
        .collect()
}

async fn due_and_overdue_visits_come_out_in_order_across_a_simulated_month(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let world = suite.build_world().await;
    // Weekly visits for enterprises not graded yet.
    let policy = CadencePolicy {
        default_days: 7,
        ..suite
            .visits
            .get_cadence_policy(GetCadencePolicyRequest {
                name: format!("{DISTRICT}/cadencePolicy"),
            })
            .await
            .unwrap()
            .into_inner()
    };
    assert_eq!(
        (
            policy.red_days,
            policy.orange_days,
            policy.yellow_days,
            policy.blue_days,
            policy.green_days
        ),
        (1, 3, 14, 30, 90)
    );
    suite
        .visits
        .update_cadence_policy(UpdateCadencePolicyRequest {
            cadence_policy: Some(policy.clone()),
        })
        .await
        .unwrap();
    let bad = suite
        .visits
        .update_cadence_policy(UpdateCadencePolicyRequest {
            cadence_policy: Some(CadencePolicy {
                red_days: 0,
                ..policy
            }),
        })
        .await;
    assert_invalid_field(bad, "cadence_policy.red_days");

    // E was never visited: its plan starts when the registry announces its
    // tenancy.
    let visits = suite.visits.clone();
    let plan_of_e = format!("{DISTRICT}/visitPlans/{}", world.e);
    eventually("E has a plan from the registry's feed", || {
        let mut visits = visits.clone();
        let name = plan_of_e.clone();
        async move {
            visits
                .get_visit_plan(GetVisitPlanRequest { name })
                .await
                .is_ok()
        }
    })
    .await;

    let now = louyu_kit::time::now_micros();
    for (code, building, days_ago) in [
        (&world.a, "b-1", 10),
        (&world.b, "b-1", 2),
        (&world.d, "b-2", 5),
        (&world.c, "b-2", 30),
    ] {
        suite
            .visits
            .submit_visit(SubmitVisitRequest {
                parent: DISTRICT.to_owned(),
                visit: Some(visit_request(&[code], building, days_ago)),
                demands: vec![],
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    // Due: A now-3d, D now+2d, B now+5d, E about now+7d. C is not s-1's.
    assert_eq!(
        due_lists(&mut suite, now, 0).await,
        vec![("b-1".to_owned(), vec![world.a.clone()])]
    );
    assert_eq!(
        due_lists(&mut suite, now, 3).await,
        vec![
            ("b-1".to_owned(), vec![world.a.clone()]),
            ("b-2".to_owned(), vec![world.d.clone()])
        ],
        "a three-day horizon adds D"
    );
    assert_eq!(
        due_lists(&mut suite, now + 6 * DAY, 0).await,
        vec![
            ("b-1".to_owned(), vec![world.a.clone(), world.b.clone()]),
            ("b-2".to_owned(), vec![world.d.clone()])
        ],
        "grouped by building, the most overdue first"
    );
    assert_eq!(
        due_lists(&mut suite, now + 30 * DAY, 0).await,
        vec![
            (
                "b-1".to_owned(),
                vec![world.a.clone(), world.b.clone(), world.e.clone()]
            ),
            ("b-2".to_owned(), vec![world.d.clone()])
        ],
        "a month on, everyone of s-1 is due"
    );
    // A is visited again: it drops out until next week.
    suite
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(visit_request(&[&world.a], "b-1", 0)),
            demands: vec![],
            request_id: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        due_lists(&mut suite, now + DAY, 0).await,
        Vec::<(String, Vec<String>)>::new()
    );
    let plan = suite
        .visits
        .get_visit_plan(GetVisitPlanRequest {
            name: format!("{DISTRICT}/visitPlans/{}", world.a),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(plan.cadence_days, 7);
    assert_eq!(
        plan.colour,
        RiskColour::Unspecified as i32,
        "no colour until the risk service grades it"
    );

    // B's lease ends and it takes no other unit: its plan ends, and it leaves
    // s-1's list.
    let tenancies = suite
        .registry
        .list_tenancies(louyu_proto::registry::v1::ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!(
                "enterprise = \"{}\" AND state = ACTIVE",
                enterprise(&world.b)
            ),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tenancies;
    suite
        .registry
        .end_tenancy(louyu_proto::registry::v1::EndTenancyRequest {
            name: tenancies[0].name.clone(),
            end_date: Some(louyu_proto::google::r#type::Date {
                year: 2026,
                month: 11,
                day: 30,
            }),
            reason: "租约到期".to_owned(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let visits = suite.visits.clone();
    let plan_of_b = format!("{DISTRICT}/visitPlans/{}", world.b);
    eventually("B's plan ends with its last tenancy", || {
        let mut visits = visits.clone();
        let name = plan_of_b.clone();
        async move {
            !visits
                .get_visit_plan(GetVisitPlanRequest { name })
                .await
                .unwrap()
                .into_inner()
                .active
        }
    })
    .await;
    assert_eq!(
        due_lists(&mut suite, now + 30 * DAY, 0).await,
        vec![
            ("b-2".to_owned(), vec![world.d.clone()]),
            ("b-1".to_owned(), vec![world.e.clone(), world.a.clone()])
        ],
        "B is off the list; D (due on day 2) leads, then E (its plan began before A's latest visit) and A"
    );

    // An officer's assignment is not a round of visits.
    suite
        .registry
        .create_assignment(louyu_proto::registry::v1::CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/s-2"),
            assignment: Some(louyu_proto::registry::v1::Assignment {
                building: format!("{DISTRICT}/buildings/b-1"),
                role: louyu_proto::registry::v1::AssignmentRole::SafetyOfficer as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let nobody = suite
        .visits
        .list_due_visits(ListDueVisitsRequest {
            staff: format!("{DISTRICT}/staff/s-2"),
            as_of: None,
            horizon_days: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        nobody.buildings.is_empty(),
        "s-2 has no rounds: only a safety officer's assignment"
    );
}

backend_tests!(due_and_overdue_visits_come_out_in_order_across_a_simulated_month);
