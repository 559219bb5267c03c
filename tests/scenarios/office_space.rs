//! The example the district's users give (see the news report this system
//! is drawn from): "a small foreign-owned company whose lease ends in two
//! months and which needs more room than its building offers is fairly
//! unstable (orange); once it moves to a larger unit in the district and
//! the next visit observes no intent to relocate, it is at most average
//! (yellow)". The registry records the lease and the move, the visits
//! service what the field worker saw and the need for more room it raised,
//! the risk service the colour (and the referral service a retention case
//! while it is orange), the referral service sends the need to the street
//! office and the district investment office with the district's vacant
//! units attached, and follows it until the enterprise confirms it; the
//! visit plan follows the colour.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_proto::common::v1::{DemandCategory, RiskColour};
use louyu_proto::referral::v1::referral_service_client::ReferralServiceClient;
use louyu_proto::referral::v1::{
    AcceptReferralRequest, CompleteReferralRequest, ConfirmReferralRequest, GetReferralRequest,
    ListReferralsRequest, ListRetentionCasesRequest, RecordFirstContactRequest, ReferralState,
    Resolution,
};
use louyu_proto::registry::v1::{
    Assignment, AssignmentRole, CreateAssignmentRequest, MoveEnterpriseRequest, Tenancy,
};
use louyu_proto::risk::v1::{GetAssessmentRequest, ListAssessmentChangesRequest};
use louyu_proto::visits::v1::{
    DemandDraft, DemandStatus, ExpansionFit, GetDemandRequest, GetVisitPlanRequest, Observation,
    RelocationIntent, SubmitVisitRequest, Trend, Urgency, Visit, VisitKind,
};
use louyu_scenarios::start;
use louyu_testkit::fixtures::{self, DISTRICT, date_in, enterprise_name, uscc};
use louyu_testkit::identity::person_in;
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
    fixtures::referral_departments(&mut district.registry).await;
    // The visit records the lease ending soon and the need for more room
    // than the building has, and raises the need as a demand.
    let submitted = district
        .visits
        .submit_visit(SubmitVisitRequest {
            parent: DISTRICT.to_owned(),
            visit: Some(Visit {
                building: format!("{DISTRICT}/buildings/b-1"),
                staff: vec![format!("{DISTRICT}/staff/s-1")],
                visit_time: Some(louyu_kit::time::timestamp_from_micros(
                    louyu_kit::time::now_micros() - 3_600_000_000,
                )),
                kind: VisitKind::Routine as i32,
                observations: vec![Observation {
                    enterprise: enterprise_name(&code),
                    relocation_intent: RelocationIntent::None as i32,
                    expansion_need: true,
                    expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
                    headcount_trend: Trend::Growing as i32,
                    business_trend: Trend::Growing as i32,
                    satisfaction: 4,
                    ..Observation::default()
                }],
                ..Visit::default()
            }),
            demands: vec![DemandDraft {
                enterprise: enterprise_name(&code),
                category: DemandCategory::OfficeSpace as i32,
                description: "租约两个月后到期，需扩租至约400平方米 the lease ends in two months; needs about 400 m²".to_owned(),
                urgency: Urgency::High as i32,
            }],
            request_id: String::new(),
        })
        .await
        .expect("the visit")
        .into_inner();
    let demand = submitted.demands[0].name.clone();
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

    // While it is orange, a retention case is open for it.
    let referral_client = district.referral.clone();
    eventually("a retention case opens", || {
        let mut referral = referral_client.clone();
        let enterprise = enterprise_name(&code);
        async move {
            referral
                .list_retention_cases(ListRetentionCasesRequest {
                    parent: DISTRICT.to_owned(),
                    filter: format!("enterprise = \"{enterprise}\" AND state = OPEN"),
                    ..ListRetentionCasesRequest::default()
                })
                .await
                .is_ok_and(|found| found.into_inner().retention_cases.len() == 1)
        }
    })
    .await;

    // The need is referred to the street office (leading) and the district
    // investment office, with the district's vacant units with more room
    // attached: unit 201 of the same building.
    eventually("the demand is referred", || {
        let mut referral = referral_client.clone();
        let demand = demand.clone();
        async move {
            referral
                .list_referrals(ListReferralsRequest {
                    parent: DISTRICT.to_owned(),
                    filter: format!("demand = \"{demand}\""),
                    ..ListReferralsRequest::default()
                })
                .await
                .is_ok_and(|found| found.into_inner().referrals.len() == 1)
        }
    })
    .await;
    let referral = district
        .referral
        .list_referrals(ListReferralsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("demand = \"{demand}\""),
            ..ListReferralsRequest::default()
        })
        .await
        .expect("the referral")
        .into_inner()
        .referrals
        .remove(0);
    let departments: Vec<&str> = referral
        .departments
        .iter()
        .map(|department| department.department.as_str())
        .collect();
    assert_eq!(
        departments,
        vec![
            format!("{DISTRICT}/departments/nanjingxilu-office").as_str(),
            format!("{DISTRICT}/departments/investment").as_str(),
        ]
    );
    let offered: Vec<&str> = referral
        .offered_units
        .iter()
        .map(|unit| unit.unit.as_str())
        .collect();
    assert_eq!(
        offered,
        vec![format!("{DISTRICT}/buildings/b-1/units/201").as_str()]
    );

    // The street office accepts, contacts the enterprise, and finds it the
    // unit; the field worker records that the enterprise is satisfied.
    let officer = person_in(
        "officer-1",
        &[Role::DepartmentOfficer],
        None,
        Some("nanjingxilu-office"),
    );
    let mut street_office = ReferralServiceClient::new(
        district
            .sandbox
            .client_as(ServiceName::Referral, &officer)
            .await,
    );
    let name = referral.name.clone();
    street_office
        .accept_referral(AcceptReferralRequest {
            name: name.clone(),
            ..AcceptReferralRequest::default()
        })
        .await
        .expect("accepted");
    street_office
        .record_first_contact(RecordFirstContactRequest {
            name: name.clone(),
            note: "电话联系企业行政 phoned the enterprise".to_owned(),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect("contacted");
    street_office
        .complete_referral(CompleteReferralRequest {
            name: name.clone(),
            outcome: "推荐同楼201室400平方米，企业确认迁入 offered unit 201 (400 m²); the enterprise takes it"
                .to_owned(),
            ..CompleteReferralRequest::default()
        })
        .await
        .expect("completed");
    let worker = person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let mut field_worker = ReferralServiceClient::new(
        district
            .sandbox
            .client_as(ServiceName::Referral, &worker)
            .await,
    );
    // s-1 covers b-1 once the registry's feed has told the referral
    // service.
    district
        .registry
        .create_assignment(CreateAssignmentRequest {
            parent: format!("{DISTRICT}/staff/s-1"),
            assignment: Some(Assignment {
                building: format!("{DISTRICT}/buildings/b-1"),
                role: AssignmentRole::FieldWorker as i32,
                ..Assignment::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("s-1 covers b-1");
    eventually("the field worker records the enterprise's word", || {
        let mut field_worker = field_worker.clone();
        let name = name.clone();
        async move {
            field_worker
                .confirm_referral(ConfirmReferralRequest {
                    name,
                    resolution: Resolution::Solved as i32,
                    satisfaction: 5,
                    note: "企业满意 the enterprise is satisfied".to_owned(),
                    request_id: "confirm-once".to_owned(),
                })
                .await
                .is_ok()
        }
    })
    .await;
    let confirmed = field_worker
        .get_referral(GetReferralRequest { name: name.clone() })
        .await
        .expect("the referral")
        .into_inner();
    assert_eq!(confirmed.state, ReferralState::Confirmed as i32);
    // The demand in visits followed the referral.
    let visits_client = district.visits.clone();
    eventually("the demand is confirmed", || {
        let mut visits = visits_client.clone();
        let demand = demand.clone();
        async move {
            visits
                .get_demand(GetDemandRequest { name: demand })
                .await
                .is_ok_and(|found| found.into_inner().status == DemandStatus::Confirmed as i32)
        }
    })
    .await;

    // It moves to the larger unit on a new three-year lease, and the next
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
