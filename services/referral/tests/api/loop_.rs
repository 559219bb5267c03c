//! The closed loop: the lead department accepts, contacts the enterprise,
//! works and completes; the field worker records the enterprise's word;
//! rejections go back for routing, a dispute to the district; a
//! dissatisfied answer opens a second round; suspensions and extensions
//! move the due dates; every illegal move names the state.

use louyu_proto::referral::v1::*;
use louyu_proto::visits::v1::{DemandStatus, GetDemandRequest, TransitionDemandRequest};
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

fn accept(name: &str) -> AcceptReferralRequest {
    AcceptReferralRequest {
        name: name.to_owned(),
        note: "已受理 accepted".to_owned(),
        request_id: String::new(),
    }
}

fn complete(name: &str) -> CompleteReferralRequest {
    CompleteReferralRequest {
        name: name.to_owned(),
        outcome: "推荐同楼201室400平方米 offered unit 201 of the same building, 400 m²".to_owned(),
        request_id: String::new(),
    }
}

fn answer(name: &str, resolution: Resolution, satisfaction: i32) -> ConfirmReferralRequest {
    ConfirmReferralRequest {
        name: name.to_owned(),
        resolution: resolution as i32,
        satisfaction,
        note: String::new(),
        request_id: String::new(),
    }
}

async fn a_referral_goes_from_requested_to_confirmed(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let name = referral.name.clone();
    let mut lead = suite.officer(STREET_OFFICE).await;
    let mut partner = suite.officer(INVESTMENT_OFFICE).await;

    // The partner reads it, and only the lead moves it.
    partner
        .get_referral(GetReferralRequest { name: name.clone() })
        .await
        .expect("the partner sees it");
    assert_code(
        partner.accept_referral(accept(&name)).await,
        Code::PermissionDenied,
    );
    // A department it is not addressed to does not see it at all.
    let mut stranger = suite.officer("tax").await;
    assert_code(
        stranger
            .get_referral(GetReferralRequest { name: name.clone() })
            .await,
        Code::NotFound,
    );
    // Nor can the field worker accept for the department.
    assert_code(
        suite
            .field_worker()
            .await
            .accept_referral(accept(&name))
            .await,
        Code::PermissionDenied,
    );

    let accepted = lead
        .accept_referral(accept(&name))
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(state(&accepted), ReferralState::Accepted);
    let contacted = lead
        .record_first_contact(RecordFirstContactRequest {
            name: name.clone(),
            note: "电话联系企业行政 phoned the enterprise".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("first contact")
        .into_inner();
    assert_eq!(
        state(&contacted),
        ReferralState::Accepted,
        "no change of state"
    );
    assert!(
        contacted
            .clocks
            .as_ref()
            .is_some_and(|clocks| clocks.first_contact_time.is_some())
    );
    let started = lead
        .start_referral(StartReferralRequest {
            name: name.clone(),
            ..StartReferralRequest::default()
        })
        .await
        .expect("started")
        .into_inner();
    assert_eq!(state(&started), ReferralState::InProgress);
    let completed = lead
        .complete_referral(complete(&name))
        .await
        .expect("completed")
        .into_inner();
    assert_eq!(state(&completed), ReferralState::Completed);
    assert_eq!(
        (
            completed.fhir_status.as_str(),
            completed.business_status.as_str()
        ),
        ("completed", "awaiting-confirmation")
    );

    // The department cannot confirm its own work: the enterprise's word is.
    assert_code(
        lead.confirm_referral(answer(&name, Resolution::Solved, 5))
            .await,
        Code::PermissionDenied,
    );
    let confirmed = suite
        .field_worker()
        .await
        .confirm_referral(answer(&name, Resolution::Solved, 5))
        .await
        .expect("confirmed")
        .into_inner();
    assert_eq!(state(&confirmed), ReferralState::Confirmed);
    assert_eq!(
        (
            confirmed.fhir_status.as_str(),
            confirmed.business_status.as_str()
        ),
        ("completed", "confirmed")
    );
    assert_eq!(
        confirmed.confirmation.as_ref().map(|c| c.satisfaction),
        Some(5)
    );
    let actions: Vec<&str> = confirmed
        .history
        .iter()
        .map(|step| step.action.as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "dispatch",
            "accept",
            "first-contact",
            "start",
            "complete",
            "confirm"
        ]
    );
    assert!(
        confirmed.history[1..4]
            .iter()
            .all(|step| step.department == department(STREET_OFFICE)),
        "the lead department acted"
    );

    // Nothing moves a confirmed referral; the refusal names the state.
    let refused = assert_code(
        lead.accept_referral(accept(&name)).await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("CONFIRMED"), "{refused:?}");

    // The demand's status in visits followed every move.
    let demand = suite
        .demand_once(&referral.demand, DemandStatus::Confirmed)
        .await;
    assert_eq!(demand.referral, name);
    let statuses: Vec<i32> = demand
        .history
        .iter()
        .map(|change| change.to_status)
        .collect();
    assert_eq!(
        statuses,
        vec![
            DemandStatus::Open as i32,
            DemandStatus::Referred as i32,
            DemandStatus::InProgress as i32,
            DemandStatus::Resolved as i32,
            DemandStatus::Confirmed as i32,
        ]
    );
    assert_eq!(
        demand.history[2].actor,
        format!("staff:officer-{STREET_OFFICE}"),
        "who moved the referral"
    );
    // The departments it was referred to reach the demand in visits.
    let mut partner_visits = suite.visits_as_officer(INVESTMENT_OFFICE).await;
    partner_visits
        .get_demand(GetDemandRequest {
            name: referral.demand.clone(),
        })
        .await
        .expect("the investment office reads the demand referred to it");
    // And the enterprise and its building in the registry, and its colour.
    let officer = |id: &str| {
        louyu_testkit::identity::person_in(
            &format!("officer-{id}"),
            &[louyu_kit::identity::Role::DepartmentOfficer],
            None,
            Some(id),
        )
    };
    let registry_as = async |id: &str| {
        louyu_proto::registry::v1::registry_service_client::RegistryServiceClient::new(
            suite
                .sandbox
                .client_as(louyu_kit::config::ServiceName::Registry, &officer(id))
                .await,
        )
    };
    let risk_as = async |id: &str| {
        louyu_proto::risk::v1::risk_service_client::RiskServiceClient::new(
            suite
                .sandbox
                .client_as(louyu_kit::config::ServiceName::Risk, &officer(id))
                .await,
        )
    };
    let enterprise = referral.enterprise.clone();
    let registry = registry_as(INVESTMENT_OFFICE).await;
    eventually(
        "the registry gives the department its referral's enterprise",
        || {
            let mut registry = registry.clone();
            let name = enterprise.clone();
            async move {
                registry
                    .get_enterprise(louyu_proto::registry::v1::GetEnterpriseRequest { name })
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    registry
        .clone()
        .get_building(louyu_proto::registry::v1::GetBuildingRequest {
            name: referral.building.clone(),
            ..Default::default()
        })
        .await
        .expect("and its building");
    let risk = risk_as(INVESTMENT_OFFICE).await;
    let assessment = format!("{enterprise}/assessment");
    eventually(
        "risk gives the department its referral's assessment",
        || {
            let mut risk = risk.clone();
            let name = assessment.clone();
            async move {
                risk.get_assessment(louyu_proto::risk::v1::GetAssessmentRequest { name })
                    .await
                    .is_ok()
            }
        },
    )
    .await;
    // A department the referral is not addressed to reaches none of it.
    assert_code(
        registry_as("tax")
            .await
            .get_enterprise(louyu_proto::registry::v1::GetEnterpriseRequest {
                name: enterprise.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        risk_as("tax")
            .await
            .get_assessment(louyu_proto::risk::v1::GetAssessmentRequest { name: assessment })
            .await,
        Code::NotFound,
    );
}

async fn a_referred_demands_status_is_the_referrals_to_move(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    suite
        .demand_once(&referral.demand, DemandStatus::Referred)
        .await;
    let refused = assert_code(
        suite
            .visits
            .transition_demand(TransitionDemandRequest {
                name: referral.demand.clone(),
                to_status: DemandStatus::InProgress as i32,
                reason: "开始办理 started".to_owned(),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains(&referral.name), "{refused:?}");
}

async fn a_rejected_referral_goes_back_for_routing_and_a_dispute_to_the_district(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let name = referral.name.clone();
    let mut lead = suite.officer(STREET_OFFICE).await;
    assert_invalid_field(
        lead.reject_referral(RejectReferralRequest {
            name: name.clone(),
            note: "不归我们管 not ours".to_owned(),
            ..RejectReferralRequest::default()
        })
        .await,
        "reason",
    );
    let rejected = lead
        .reject_referral(RejectReferralRequest {
            name: name.clone(),
            reason: RejectionReason::NotResponsible as i32,
            note: "应由区投促办牵头 the investment office should lead".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(state(&rejected), ReferralState::Rejected);
    assert_eq!(rejected.rejection_count, 1);
    let rejection = rejected.rejection.as_ref().expect("the rejection");
    assert_eq!(rejection.department, department(STREET_OFFICE));
    // It cannot be accepted or worked on while rejected.
    assert_code(
        lead.accept_referral(accept(&name)).await,
        Code::FailedPrecondition,
    );

    // A dispute over responsibility: the street may not rule on it.
    let reroute = RerouteReferralRequest {
        name: name.clone(),
        departments: vec![department(INVESTMENT_OFFICE), department(STREET_OFFICE)],
        lead_department: department(INVESTMENT_OFFICE),
        note: "区里裁定：投促办牵头 the district rules: the investment office leads".to_owned(),
        request_id: String::new(),
    };
    assert_code(
        suite
            .street_admin()
            .await
            .reroute_referral(reroute.clone())
            .await,
        Code::PermissionDenied,
    );
    let rerouted = suite
        .referral
        .reroute_referral(reroute)
        .await
        .expect("the district rules")
        .into_inner();
    assert_eq!(state(&rerouted), ReferralState::Requested);
    assert_eq!(rerouted.lead_department, department(INVESTMENT_OFFICE));
    assert!(rerouted.rejection.is_none());
    assert_eq!(rerouted.rejection_count, 1, "the return stays counted");
    suite
        .officer(INVESTMENT_OFFICE)
        .await
        .accept_referral(accept(&name))
        .await
        .expect("the new lead accepts");
}

async fn a_dissatisfied_answer_opens_a_second_round_with_a_warning(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let name = referral.name.clone();
    let mut lead = suite.officer(STREET_OFFICE).await;
    lead.accept_referral(accept(&name)).await.expect("accepted");
    let first = lead
        .complete_referral(complete(&name))
        .await
        .expect("completed")
        .into_inner();
    let mut worker = suite.field_worker().await;
    assert_invalid_field(
        worker
            .confirm_referral(answer(&name, Resolution::Solved, 7))
            .await,
        "satisfaction",
    );
    let reopened = worker
        .confirm_referral(answer(&name, Resolution::PartlySolved, 2))
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(state(&reopened), ReferralState::Reopened);
    assert_eq!(
        (
            reopened.fhir_status.as_str(),
            reopened.business_status.as_str()
        ),
        ("in-progress", "reopened")
    );
    assert!(reopened.warned);
    assert_eq!(reopened.round, 2);
    let due = |referral: &Referral| {
        referral
            .clocks
            .as_ref()
            .and_then(|clocks| clocks.complete_due_time)
            .expect("complete due")
            .seconds
    };
    assert!(due(&reopened) > due(&first) - 5 * 86_400, "due anew");

    // The department's inbox shows it among the warned.
    let warned = lead
        .list_department_referrals(ListDepartmentReferralsRequest {
            parent: department(STREET_OFFICE),
            view: InboxView::Warned as i32,
            ..ListDepartmentReferralsRequest::default()
        })
        .await
        .expect("the inbox")
        .into_inner();
    assert_eq!(
        warned
            .referrals
            .iter()
            .map(|referral| referral.name.as_str())
            .collect::<Vec<_>>(),
        vec![name.as_str()]
    );
    // The second round is handled and confirmed.
    lead.start_referral(StartReferralRequest {
        name: name.clone(),
        ..StartReferralRequest::default()
    })
    .await
    .expect("second round started");
    lead.complete_referral(complete(&name))
        .await
        .expect("second round completed");
    let confirmed = worker
        .confirm_referral(answer(&name, Resolution::Solved, 4))
        .await
        .expect("confirmed")
        .into_inner();
    assert_eq!(state(&confirmed), ReferralState::Confirmed);
}

async fn a_suspension_and_an_extension_move_the_due_date_with_approval(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let name = referral.name.clone();
    let mut lead = suite.officer(STREET_OFFICE).await;
    lead.accept_referral(accept(&name)).await.expect("accepted");
    // A department asks; the admin approves by making the move.
    assert_code(
        lead.suspend_referral(SuspendReferralRequest {
            name: name.clone(),
            reason: "等待业主答复 waiting for the landlord".to_owned(),
            request_id: String::new(),
        })
        .await,
        Code::PermissionDenied,
    );
    let mut admin = suite.street_admin().await;
    let suspended = admin
        .suspend_referral(SuspendReferralRequest {
            name: name.clone(),
            reason: "等待业主答复 waiting for the landlord".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("suspended")
        .into_inner();
    assert_eq!(state(&suspended), ReferralState::OnHold);
    assert_eq!(suspended.fhir_status, "on-hold");
    assert_eq!(
        suspended.suspension.as_ref().map(|s| s.approver.as_str()),
        Some("staff:street-admin")
    );
    let resumed = admin
        .resume_referral(ResumeReferralRequest {
            name: name.clone(),
            ..ResumeReferralRequest::default()
        })
        .await
        .expect("resumed")
        .into_inner();
    assert_eq!(
        state(&resumed),
        ReferralState::Accepted,
        "back where it was"
    );
    let due = |referral: &Referral| {
        referral
            .clocks
            .as_ref()
            .and_then(|clocks| clocks.complete_due_time)
            .expect("complete due")
            .seconds
    };
    // Resumed the same day: nothing was suspended in working days unless
    // today is one, which moves the due by at most a day or so.
    assert!(due(&resumed) >= due(&referral));

    assert_invalid_field(
        admin
            .extend_referral(ExtendReferralRequest {
                name: name.clone(),
                working_days: 11,
                reason: "复杂诉求 complex".to_owned(),
                request_id: String::new(),
            })
            .await,
        "working_days",
    );
    let extended = admin
        .extend_referral(ExtendReferralRequest {
            name: name.clone(),
            working_days: 5,
            reason: "需协调多部门 several departments must agree".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("extended")
        .into_inner();
    assert!(
        due(&extended) >= due(&resumed) + 5 * 86_400,
        "five working days are at least five days"
    );
    assert_eq!(
        extended.history.last().map(|s| s.action.as_str()),
        Some("extend")
    );
}

backend_tests!(
    a_referral_goes_from_requested_to_confirmed,
    a_referred_demands_status_is_the_referrals_to_move,
    a_rejected_referral_goes_back_for_routing_and_a_dispute_to_the_district,
    a_dissatisfied_answer_opens_a_second_round_with_a_warning,
    a_suspension_and_an_extension_move_the_due_date_with_approval,
);
