//! Colours set by hand: beside the computed colour, acted on while they
//! last, audited, ended by themselves at their expiry; only sub-district
//! and district admins set them, within their reach.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::common::v1::{ListAuditRecordsRequest, RiskColour};
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::*;
use louyu_proto::visits::v1::GetVisitPlanRequest;
use louyu_testkit::identity::{auditor, person_in};
use louyu_testkit::{TestBackend, assert_invalid_field, backend_tests};
use tonic::Code;

use crate::helpers::*;

fn set(code: &str, colour: RiskColour, seconds: i64) -> SetColourOverrideRequest {
    SetColourOverrideRequest {
        name: format!("{}/assessment", enterprise_name(code)),
        colour_override: Some(ColourOverride {
            colour: colour as i32,
            reason: "联合走访发现经营困难 a joint visit found the business in trouble".to_owned(),
            expire_time: Some(louyu_kit::time::timestamp_from_micros(
                louyu_kit::time::now_micros() + seconds * 1_000_000,
            )),
            ..ColourOverride::default()
        }),
        request_id: String::new(),
    }
}

async fn an_override_is_shown_beside_the_colour_acted_on_and_ends_at_its_expiry(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    suite.assessment_once(&code, RiskColour::Green).await;
    let set = suite
        .risk
        .set_colour_override(set(&code, RiskColour::Red, 3))
        .await
        .expect("set by hand")
        .into_inner();
    assert_eq!(
        set.colour,
        RiskColour::Green as i32,
        "the computed colour stays"
    );
    assert_eq!(set.effective_colour, RiskColour::Red as i32);
    let shown = set.colour_override.expect("shown beside it");
    assert_eq!(shown.colour, RiskColour::Red as i32);
    assert_eq!(shown.actor, "staff:admin-1");

    // The visit plan follows the colour acted on.
    let plan = format!("{DISTRICT}/visitPlans/{code}");
    let visits = suite.visits.clone();
    eventually("the plan is red", || {
        let mut visits = visits.clone();
        let name = plan.clone();
        async move {
            visits
                .get_visit_plan(GetVisitPlanRequest { name })
                .await
                .is_ok_and(|plan| plan.into_inner().colour == RiskColour::Red as i32)
        }
    })
    .await;

    // Audited with the verified caller.
    let records = AuditServiceClient::new(
        suite
            .sandbox()
            .client_as(ServiceName::Risk, &auditor())
            .await,
    )
    .list_audit_records(ListAuditRecordsRequest::default())
    .await
    .expect("the audit trail")
    .into_inner()
    .audit_records;
    assert!(
        records
            .iter()
            .any(|record| record.method == "SetColourOverride" && record.actor == "staff:admin-1"),
        "{records:?}"
    );

    // It ends by itself.
    let risk = suite.risk.clone();
    let name = set.name.clone();
    eventually("the override expires", || {
        let mut risk = risk.clone();
        let name = name.clone();
        async move {
            risk.get_assessment(GetAssessmentRequest { name })
                .await
                .is_ok_and(|assessment| {
                    let assessment = assessment.into_inner();
                    assessment.colour_override.is_none()
                        && assessment.effective_colour == RiskColour::Green as i32
                })
        }
    })
    .await;
    let history = suite
        .risk
        .list_assessment_changes(ListAssessmentChangesRequest {
            parent: enterprise_name(&code),
            ..ListAssessmentChangesRequest::default()
        })
        .await
        .expect("the history")
        .into_inner()
        .assessment_changes;
    let colours: Vec<(i32, i32)> = history
        .iter()
        .map(|change| (change.previous_colour, change.colour))
        .collect();
    assert_eq!(
        colours,
        [
            (RiskColour::Unspecified as i32, RiskColour::Green as i32),
            (RiskColour::Green as i32, RiskColour::Red as i32),
            (RiskColour::Red as i32, RiskColour::Green as i32),
        ]
    );
    let causes: Vec<String> = history
        .iter()
        .map(|change| change.cause.clone().expect("a cause").en)
        .collect();
    assert!(causes[1].contains("joint visit"), "{causes:?}");
    assert!(causes[2].contains("expired"), "{causes:?}");
}

async fn only_admins_within_reach_set_an_override_and_bad_ones_are_refused(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    suite.assessment_once(&code, RiskColour::Green).await;
    suite.placed(&code).await;
    let mut district = suite.risk.clone();
    let client = async |who| {
        RiskServiceClient::new(suite.sandbox().client_as(ServiceName::Risk, &who).await)
    };
    let mut worker = client(person_in(
        "s-1",
        &[Role::FieldWorker],
        Some("nanjingxilu"),
        None,
    ))
    .await;
    assert_code(
        worker
            .set_colour_override(set(&code, RiskColour::Red, 3600))
            .await,
        Code::PermissionDenied,
    );
    let mut elsewhere = client(person_in(
        "admin-x",
        &[Role::SubDistrictAdmin],
        Some("elsewhere"),
        None,
    ))
    .await;
    assert_code(
        elsewhere
            .set_colour_override(set(&code, RiskColour::Red, 3600))
            .await,
        Code::NotFound,
    );
    // An enterprise risk has not assessed (never registered, or not yet
    // brought by the registry's feed): refused as missing, even for the
    // district, never accepted and lost.
    let unknown = uscc(9);
    assert_code(
        district
            .set_colour_override(set(&unknown, RiskColour::Red, 3600))
            .await,
        Code::NotFound,
    );
    let mut street = client(person_in(
        "admin-n",
        &[Role::SubDistrictAdmin],
        Some("nanjingxilu"),
        None,
    ))
    .await;
    let mut no_expiry = set(&code, RiskColour::Orange, 3600);
    no_expiry
        .colour_override
        .as_mut()
        .expect("an override")
        .expire_time = None;
    assert_invalid_field(
        street.set_colour_override(no_expiry).await,
        "colour_override.expire_time",
    );
    assert_invalid_field(
        street
            .set_colour_override(set(&code, RiskColour::Orange, 400 * 86_400))
            .await,
        "colour_override.expire_time",
    );
    assert_code(
        street
            .clear_colour_override(ClearColourOverrideRequest {
                name: format!("{}/assessment", enterprise_name(&code)),
                reason: "误设 set by mistake".to_owned(),
            })
            .await,
        Code::FailedPrecondition,
    );
    let set = street
        .set_colour_override(set(&code, RiskColour::Orange, 3600))
        .await
        .expect("their street's enterprise")
        .into_inner();
    assert_eq!(set.effective_colour, RiskColour::Orange as i32);
    let cleared = street
        .clear_colour_override(ClearColourOverrideRequest {
            name: set.name.clone(),
            reason: "误设 set by mistake".to_owned(),
        })
        .await
        .expect("ended early")
        .into_inner();
    assert!(cleared.colour_override.is_none());
    assert_eq!(cleared.effective_colour, RiskColour::Green as i32);
}

backend_tests!(
    an_override_is_shown_beside_the_colour_acted_on_and_ends_at_its_expiry,
    only_admins_within_reach_set_an_override_and_bad_ones_are_refused,
);
