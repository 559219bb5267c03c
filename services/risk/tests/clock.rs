//! Time alone changes a colour: a lease end comes within the next step with
//! no new signal, and the re-assessment scheduler finds it due and changes
//! the colour. The process's clock is shifted (as `LOUYU_DEV_CLOCK_OFFSET`
//! does), so this binary holds this one test, which runs the two backends
//! one after the other.

use louyu_kit::config::ServiceName;
use louyu_kit::time::{ClockOffset, now_micros, shift_clock};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::{GetAssessmentRequest, ListAssessmentChangesRequest};
use louyu_testkit::TestBackend;
use louyu_testkit::fixtures::{self, enterprise_name, uscc};
use louyu_testkit::sandbox::Sandbox;

async fn a_lease_end_coming_nearer_changes_the_colour_with_no_new_signal(backend: TestBackend) {
    shift_clock(ClockOffset::default());
    let Some(sandbox) = Sandbox::start(
        backend,
        &[
            &louyu_registry::startup::Registry,
            &louyu_risk::startup::Risk,
        ],
    )
    .await
    else {
        return;
    };
    let mut registry = RegistryServiceClient::new(sandbox.client(ServiceName::Registry).await);
    let mut risk = RiskServiceClient::new(sandbox.client(ServiceName::Risk).await);
    fixtures::one_building(&mut registry).await;
    let code = uscc(1);
    fixtures::tenant(&mut registry, &code, "101", 100).await;
    let name = format!("{}/assessment", enterprise_name(&code));
    louyu_testkit::eventually("the lease is assessed", || {
        let mut risk = risk.clone();
        let name = name.clone();
        async move {
            risk.get_assessment(GetAssessmentRequest { name })
                .await
                .is_ok_and(|found| {
                    found
                        .into_inner()
                        .factors
                        .iter()
                        .any(|factor| factor.kind == "lease_ending")
                })
        }
    })
    .await;
    let before = risk
        .get_assessment(GetAssessmentRequest { name: name.clone() })
        .await
        .expect("the assessment")
        .into_inner();
    let next = louyu_kit::time::micros_from_timestamp(
        before
            .next_change_time
            .as_ref()
            .expect("a nearing lease end changes the assessment with time"),
    );
    assert!(next > now_micros());

    // A minute past the next change, with nothing else happening.
    let ahead = next - now_micros() + 60_000_000;
    shift_clock(
        format!("{}s", ahead / 1_000_000)
            .parse()
            .expect("an offset"),
    );
    let before_colour = before.colour;
    louyu_testkit::eventually("time alone re-assesses the enterprise", || {
        let mut risk = risk.clone();
        let name = name.clone();
        async move {
            risk.get_assessment(GetAssessmentRequest { name })
                .await
                .is_ok_and(|found| found.into_inner().colour != before_colour)
        }
    })
    .await;
    shift_clock(ClockOffset::default());
    let after = risk
        .get_assessment(GetAssessmentRequest { name: name.clone() })
        .await
        .expect("the assessment")
        .into_inner();
    assert!(after.score > before.score, "{before:?} then {after:?}");
    assert!(after.colour > before.colour, "{before:?} then {after:?}");
    assert_ne!(after.colour, RiskColour::Unspecified as i32);
    let changes = risk
        .list_assessment_changes(ListAssessmentChangesRequest {
            parent: enterprise_name(&code),
            ..ListAssessmentChangesRequest::default()
        })
        .await
        .expect("the history")
        .into_inner()
        .assessment_changes;
    let last = changes.last().expect("a change");
    assert_eq!(last.colour, after.colour);
    assert_eq!(
        last.cause.as_ref().map(|cause| cause.en.as_str()),
        Some("time passing")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lease_end_coming_nearer_changes_the_colour_with_no_new_signal_on_both_backends() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        a_lease_end_coming_nearer_changes_the_colour_with_no_new_signal(backend).await;
    }
}
