//! The referral service and the risk service, both ways: an enterprise
//! turning orange opens one retention case, red updates it with the joint
//! visit within 24 hours, back to green closes it; and a referral's outcome
//! becomes a signal of the enterprise's assessment.

use louyu_proto::common::v1::RiskColour;
use louyu_proto::referral::v1::*;
use louyu_proto::risk::v1::{
    ClearColourOverrideRequest, ColourOverride, GetAssessmentRequest, ListSignalsRequest,
    SetColourOverrideRequest,
};
use louyu_testkit::{TestBackend, backend_tests};

use crate::helpers::*;

fn assessment() -> String {
    format!("{}/assessment", enterprise_name(&uscc(1)))
}

async fn set_colour(suite: &mut Suite, colour: RiskColour) {
    // The tenant is assessed (from the registry's feed) before its colour
    // can be set by hand.
    let risk = suite.risk.clone();
    eventually("the tenant is assessed in its building", || async {
        risk.clone()
            .get_assessment(GetAssessmentRequest { name: assessment() })
            .await
            .is_ok_and(|found| !found.into_inner().building.is_empty())
    })
    .await;
    suite
        .risk
        .set_colour_override(SetColourOverrideRequest {
            name: assessment(),
            colour_override: Some(ColourOverride {
                colour: colour as i32,
                reason: "街道走访核实 the street confirmed it on a visit".to_owned(),
                expire_time: Some(louyu_kit::time::timestamp_from_micros(
                    louyu_kit::time::now_micros() + 30 * 86_400_000_000,
                )),
                ..ColourOverride::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("an override");
}

async fn cases(suite: &Suite) -> Vec<RetentionCase> {
    suite
        .referral
        .clone()
        .list_retention_cases(ListRetentionCasesRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("enterprise = \"{}\"", enterprise_name(&uscc(1))),
            ..ListRetentionCasesRequest::default()
        })
        .await
        .expect("the cases")
        .into_inner()
        .retention_cases
}

async fn case_once(
    suite: &Suite,
    what: &str,
    test: impl Fn(&RetentionCase) -> bool,
) -> RetentionCase {
    eventually(what, || async {
        cases(suite).await.first().is_some_and(&test)
    })
    .await;
    let mut found = cases(suite).await;
    assert_eq!(found.len(), 1, "at most one case per enterprise");
    found.remove(0)
}

async fn orange_opens_a_retention_case_red_updates_it_and_green_closes_it(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    set_colour(&mut suite, RiskColour::Orange).await;
    let opened = case_once(&suite, "orange opens a case", |case| {
        case.colour == RiskColour::Orange as i32
    })
    .await;
    assert_eq!(opened.state, RetentionCaseState::Open as i32);
    assert_eq!(
        opened.departments,
        vec![department(STREET_OFFICE), department(INVESTMENT_OFFICE)]
    );
    assert!(
        opened.response.contains("2 working days"),
        "{}",
        opened.response
    );
    assert_eq!(opened.building, format!("{DISTRICT}/buildings/b-1"));

    set_colour(&mut suite, RiskColour::Red).await;
    let red = case_once(&suite, "red updates it", |case| {
        case.colour == RiskColour::Red as i32
    })
    .await;
    assert_eq!(red.name, opened.name, "the same case");
    assert!(red.response.contains("24 hours"), "{}", red.response);
    let due = red.due_time.as_ref().expect("due").seconds;
    let updated = red.update_time.as_ref().expect("updated").seconds;
    assert!(
        (due - updated - 24 * 3600).abs() <= 5,
        "a joint visit within 24 hours of the change"
    );
    // Each response was notified to the departments that act: orange's, then
    // red's.
    let notified = suite
        .referral
        .list_notifications(ListNotificationsRequest {
            parent: DISTRICT.to_owned(),
            filter: format!("kind = RETENTION_CASE AND subject = \"{}\"", red.name),
            ..ListNotificationsRequest::default()
        })
        .await
        .expect("the notifications")
        .into_inner()
        .notifications;
    assert_eq!(notified.len(), 2, "{notified:?}");
    // The street's office and the investment office see it.
    suite
        .officer(INVESTMENT_OFFICE)
        .await
        .get_retention_case(GetRetentionCaseRequest {
            name: red.name.clone(),
        })
        .await
        .expect("the investment office reads the case");

    suite
        .risk
        .clear_colour_override(ClearColourOverrideRequest {
            name: assessment(),
            reason: "续签租约 the lease was renewed".to_owned(),
        })
        .await
        .expect("cleared");
    let closed = case_once(&suite, "green closes it", |case| {
        case.state == RetentionCaseState::Closed as i32
    })
    .await;
    assert_eq!(closed.name, opened.name);
    assert!(
        closed.close_reason.contains("again"),
        "{}",
        closed.close_reason
    );
    assert!(closed.close_time.is_some());

    // Orange again: a new case.
    set_colour(&mut suite, RiskColour::Orange).await;
    eventually("orange again opens a new case", || async {
        cases(&suite).await.len() == 2
    })
    .await;
}

async fn a_referrals_outcome_is_a_signal_of_the_enterprises_assessment(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let signal_kinds = || async {
        suite
            .risk
            .clone()
            .list_signals(ListSignalsRequest {
                parent: enterprise_name(&uscc(1)),
                ..ListSignalsRequest::default()
            })
            .await
            .expect("the signals")
            .into_inner()
            .signals
            .into_iter()
            .filter(|signal| signal.kind.starts_with("referral_"))
            .map(|signal| signal.kind)
            .collect::<Vec<_>>()
    };
    let mut lead = suite.officer(STREET_OFFICE).await;
    lead.reject_referral(RejectReferralRequest {
        name: referral.name.clone(),
        reason: RejectionReason::InsufficientInformation as i32,
        note: "缺少面积需求 no area given".to_owned(),
        request_id: String::new(),
    })
    .await
    .expect("rejected");
    eventually("a rejection raises the risk", || async {
        signal_kinds().await == vec!["referral_failed"]
    })
    .await;
    suite
        .street_admin()
        .await
        .reroute_referral(RerouteReferralRequest {
            name: referral.name.clone(),
            note: "补充面积需求后重新派单 sent again with the area".to_owned(),
            ..RerouteReferralRequest::default()
        })
        .await
        .expect("rerouted by the rules");
    lead.accept_referral(AcceptReferralRequest {
        name: referral.name.clone(),
        ..AcceptReferralRequest::default()
    })
    .await
    .expect("accepted");
    lead.complete_referral(CompleteReferralRequest {
        name: referral.name.clone(),
        outcome: "推荐201室 offered unit 201".to_owned(),
        request_id: String::new(),
    })
    .await
    .expect("completed");
    eventually("solving it lowers the risk instead", || async {
        signal_kinds().await == vec!["referral_resolved"]
    })
    .await;
}

async fn a_red_enterprises_demand_is_due_sooner_also_when_rerouted(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    set_colour(&mut suite, RiskColour::Red).await;
    // The referral service has the colour once the case is open.
    case_once(&suite, "red opens a case", |case| {
        case.colour == RiskColour::Red as i32
    })
    .await;
    let calendar = louyu_referral::domain::Rules::default_rules()
        .calendar()
        .clone();
    let complete_in = |referral: &Referral, days: u32| {
        let clocks = referral.clocks.as_ref().expect("clocks");
        let dispatched =
            louyu_kit::time::micros_from_timestamp(clocks.dispatch_time.as_ref().expect("sent"));
        let due =
            louyu_kit::time::micros_from_timestamp(clocks.complete_due_time.as_ref().expect("due"));
        due == calendar.due_after(dispatched, days)
    };
    let referral = suite.office_space_referral().await;
    assert!(complete_in(&referral, 3), "red: three working days");
    let rerouted = suite
        .street_admin()
        .await
        .reroute_referral(RerouteReferralRequest {
            name: referral.name.clone(),
            departments: vec![department(INVESTMENT_OFFICE)],
            note: "投促办牵头 the investment office leads".to_owned(),
            ..RerouteReferralRequest::default()
        })
        .await
        .expect("rerouted")
        .into_inner();
    assert!(complete_in(&rerouted, 3), "still red when re-routed");
}

backend_tests!(
    a_red_enterprises_demand_is_due_sooner_also_when_rerouted,
    orange_opens_a_retention_case_red_updates_it_and_green_closes_it,
    a_referrals_outcome_is_a_signal_of_the_enterprises_assessment,
);
