//! Concurrent calls on one enterprise, on PostgreSQL as on SQLite: signals
//! recorded at once all count (none lost to another's re-assessment), and a
//! retried `RecordSignal` racing its first call records one signal.

use louyu_kit::identity::{Principal, SystemIdentity};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::*;
use louyu_testkit::identity::TOKEN_DISTRICT;
use louyu_testkit::{TestBackend, backend_tests, race, the_one_response};

use crate::helpers::*;

const RACERS: usize = 12;

async fn court(suite: &Suite) -> RiskServiceClient<louyu_testkit::identity::AuthorizedChannel> {
    let court = Principal::System(SystemIdentity {
        name: "court-cases".to_owned(),
        district: TOKEN_DISTRICT.to_owned(),
    });
    RiskServiceClient::new(
        suite
            .sandbox()
            .client_as(louyu_kit::config::ServiceName::Risk, &court)
            .await,
    )
}

fn court_case(code: &str, case: usize, request_id: &str) -> RecordSignalRequest {
    RecordSignalRequest {
        parent: enterprise_name(code),
        signal: Some(Signal {
            kind: "court_case".to_owned(),
            subject: format!("（2026）沪0106民初{case}号"),
            ..Signal::default()
        }),
        request_id: request_id.to_owned(),
    }
}

async fn signals_recorded_at_once_all_count(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    suite.assessment_once(&code, RiskColour::Green).await;
    let client = court(&suite).await;
    let results = race(RACERS, |index| {
        let mut client = client.clone();
        let request = court_case(&code, index, "");
        async move {
            client
                .record_signal(request)
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let assessment = suite
        .risk
        .get_assessment(GetAssessmentRequest {
            name: format!("{}/assessment", enterprise_name(&code)),
        })
        .await
        .expect("the assessment")
        .into_inner();
    let counted = assessment
        .factors
        .iter()
        .filter(|factor| factor.kind == "court_case")
        .count();
    assert_eq!(counted, RACERS, "every case counts: {assessment:?}");

    // A retry racing its first call: one signal, one answer.
    let results = race(RACERS, |_| {
        let mut client = client.clone();
        let request = court_case(&code, 999, "9b1c0f4e-0c43-4f7e-bd3a-8d0c2f9e7a11");
        async move {
            client
                .record_signal(request)
                .await
                .map(tonic::Response::into_inner)
        }
    })
    .await;
    let recorded = the_one_response(&results);
    let signals = suite
        .risk
        .list_signals(ListSignalsRequest {
            parent: enterprise_name(&code),
            page_size: 1000,
            ..ListSignalsRequest::default()
        })
        .await
        .expect("the signals")
        .into_inner()
        .signals;
    assert_eq!(
        signals
            .iter()
            .filter(|signal| signal.subject == recorded.subject)
            .count(),
        1
    );
}

/// Several district admins activate different rules at once: each call
/// either puts its rules in force or is told to retry (ABORTED), never an
/// internal error, and one version ends in force.
async fn rules_activated_at_once_leave_one_version_in_force(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let shipped = suite
        .risk
        .clone()
        .get_rules(GetRulesRequest {
            name: format!("{DISTRICT}/rules"),
        })
        .await
        .expect("the rules in force")
        .into_inner();
    let results = race(RACERS, |index| {
        let mut risk = suite.risk.clone();
        let document = shipped
            .document
            .replace("2026-11-default-1", &format!("2026-12-race-{index}"));
        async move {
            risk.activate_rules(ActivateRulesRequest {
                name: format!("{DISTRICT}/rules"),
                document,
                request_id: String::new(),
            })
            .await
            .map(tonic::Response::into_inner)
        }
    })
    .await;
    let activated = louyu_testkit::tally(&results, &[tonic::Code::Aborted]);
    assert!(activated >= 1, "{results:?}");
    let in_force = suite
        .risk
        .clone()
        .get_rules(GetRulesRequest {
            name: format!("{DISTRICT}/rules"),
        })
        .await
        .expect("the rules in force")
        .into_inner();
    assert!(
        in_force.version.starts_with("2026-12-race-"),
        "{in_force:?}"
    );
}

backend_tests!(
    signals_recorded_at_once_all_count,
    rules_activated_at_once_leave_one_version_in_force,
);
