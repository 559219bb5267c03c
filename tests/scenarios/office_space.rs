//! The example the district's users give (see the news report this system
//! is drawn from): "a small foreign-owned company whose lease ends in two
//! months and which needs more room than its building offers is fairly
//! unstable (orange); once it moves to a larger unit in the district and
//! the next visit observes no intent to relocate, it is at most average
//! (yellow)". The registry records the lease and the move, the visits
//! service what the field worker saw, the risk service the colour, and
//! the visit plan follows it. (The referral issue extends it with the
//! referral that found the unit.)

use louyu_proto::common::v1::RiskColour;
use louyu_proto::registry::v1::{MoveEnterpriseRequest, Tenancy};
use louyu_proto::risk::v1::{GetAssessmentRequest, ListAssessmentChangesRequest};
use louyu_proto::visits::v1::{
    ExpansionFit, GetVisitPlanRequest, Observation, RelocationIntent, Trend,
};
use louyu_scenarios::start;
use louyu_testkit::fixtures::{self, DISTRICT, date_in, enterprise_name, uscc};
use louyu_testkit::{TestBackend, backend_tests, eventually};

async fn a_growing_tenant_turns_orange_and_settles_once_it_moves_within_the_district(
    backend: TestBackend,
) {
    let Some(mut district) = start(backend).await else {
        return;
    };
    fixtures::one_building(&mut district.registry).await;
    let code = uscc(1);
    let lease = fixtures::tenant(&mut district.registry, &code, "101", 60).await;
    fixtures::visit(
        &mut district.visits,
        &code,
        Observation {
            relocation_intent: RelocationIntent::None as i32,
            expansion_need: true,
            expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
            headcount_trend: Trend::Growing as i32,
            business_trend: Trend::Growing as i32,
            satisfaction: 4,
            ..Observation::default()
        },
    )
    .await;
    let assessment = format!("{}/assessment", enterprise_name(&code));
    let plan = format!("{DISTRICT}/visitPlans/{code}");
    let colours =
        |district: &louyu_scenarios::District| (district.risk.clone(), district.visits.clone());
    let (risk, visits) = colours(&district);
    eventually("the enterprise is orange, and so is its visit plan", || {
        let (mut risk, mut visits) = (risk.clone(), visits.clone());
        let (assessment, plan) = (assessment.clone(), plan.clone());
        async move {
            let orange = RiskColour::Orange as i32;
            risk.get_assessment(GetAssessmentRequest { name: assessment })
                .await
                .is_ok_and(|found| found.into_inner().effective_colour == orange)
                && visits
                    .get_visit_plan(GetVisitPlanRequest { name: plan })
                    .await
                    .is_ok_and(|found| found.into_inner().colour == orange)
        }
    })
    .await;

    // It moves to the larger unit on a new three-year lease, and the next
    // visit finds it settled.
    district
        .registry
        .move_enterprise(MoveEnterpriseRequest {
            from_tenancy: lease.name.clone(),
            to_tenancy: Some(Tenancy {
                enterprise: enterprise_name(&code),
                unit: format!("{DISTRICT}/buildings/b-1/units/201"),
                lease_start: Some(date_in(0)),
                lease_end: Some(date_in(3 * 365)),
                area_square_meters: 400.0,
                ..Tenancy::default()
            }),
            move_date: Some(date_in(0)),
            request_id: String::new(),
        })
        .await
        .expect("the move");
    fixtures::visit(
        &mut district.visits,
        &code,
        Observation {
            relocation_intent: RelocationIntent::None as i32,
            expansion_need: false,
            expansion_fit: ExpansionFit::BuildingCanMeet as i32,
            headcount_trend: Trend::Growing as i32,
            business_trend: Trend::Growing as i32,
            satisfaction: 5,
            ..Observation::default()
        },
    )
    .await;
    eventually(
        "the enterprise is at most yellow, and so is its plan",
        || {
            let (mut risk, mut visits) = (risk.clone(), visits.clone());
            let (assessment, plan) = (assessment.clone(), plan.clone());
            async move {
                let settled = |colour: i32| {
                    colour != RiskColour::Unspecified as i32 && colour <= RiskColour::Yellow as i32
                };
                risk.get_assessment(GetAssessmentRequest { name: assessment })
                    .await
                    .is_ok_and(|found| settled(found.into_inner().effective_colour))
                    && visits
                        .get_visit_plan(GetVisitPlanRequest { name: plan })
                        .await
                        .is_ok_and(|found| settled(found.into_inner().colour))
            }
        },
    )
    .await;

    // The history tells the story, each change with its cause.
    let changes = district
        .risk
        .list_assessment_changes(ListAssessmentChangesRequest {
            parent: enterprise_name(&code),
            ..ListAssessmentChangesRequest::default()
        })
        .await
        .expect("the history")
        .into_inner()
        .assessment_changes;
    let orange_at = changes
        .iter()
        .position(|change| change.colour == RiskColour::Orange as i32)
        .expect("it was orange");
    assert!(
        changes[orange_at + 1..]
            .iter()
            .any(|change| change.colour <= RiskColour::Yellow as i32),
        "{changes:?}"
    );
    assert!(changes.iter().all(|change| change.cause.is_some()));
}

backend_tests!(a_growing_tenant_turns_orange_and_settles_once_it_moves_within_the_district);
