//! Signals other government systems record: only systems may, only the
//! kinds that are theirs, each once however often it is sent.

use louyu_kit::identity::{Principal, SystemIdentity};
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::*;
use louyu_testkit::identity::TOKEN_DISTRICT;
use louyu_testkit::{TestBackend, assert_invalid_field, backend_tests};
use tonic::Code;

use crate::helpers::*;

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

fn record(code: &str, kind: &str, value: Option<f64>, request_id: &str) -> RecordSignalRequest {
    RecordSignalRequest {
        parent: enterprise_name(code),
        signal: Some(Signal {
            kind: kind.to_owned(),
            value,
            subject: "（2026）沪0106民初1234号".to_owned(),
            ..Signal::default()
        }),
        request_id: request_id.to_owned(),
    }
}

async fn a_system_records_a_signal_once_and_the_enterprise_is_reassessed(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    let before = suite.assessment_once(&code, RiskColour::Green).await;
    let mut court = court(&suite).await;
    let request_id = "6f1c1f0e-5a55-4c1e-9d55-0f9b7b1d2c01";
    let first = court
        .record_signal(record(&code, "court_case", None, request_id))
        .await
        .expect("a court case")
        .into_inner();
    assert_eq!(first.source, "system:court-cases");
    let again = court
        .record_signal(record(&code, "court_case", None, request_id))
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(again, first);
    let signals = suite
        .risk
        .list_signals(ListSignalsRequest {
            parent: enterprise_name(&code),
            ..ListSignalsRequest::default()
        })
        .await
        .expect("the signals")
        .into_inner()
        .signals;
    assert_eq!(
        signals
            .iter()
            .filter(|signal| signal.kind == "court_case")
            .count(),
        1
    );
    let after = suite
        .risk
        .get_assessment(GetAssessmentRequest {
            name: before.name.clone(),
        })
        .await
        .expect("the assessment")
        .into_inner();
    assert!(after.score > before.score, "{after:?}");
    assert!(
        after
            .factors
            .iter()
            .any(|factor| factor.kind == "court_case")
    );
}

async fn a_bad_signal_is_refused_naming_what_is_wrong(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    suite.assessment_once(&code, RiskColour::Green).await;
    let mut court = court(&suite).await;
    let unknown = court
        .record_signal(record(&code, "bankruptcy", None, ""))
        .await;
    let message = unknown
        .as_ref()
        .err()
        .map(|status| status.message().to_owned());
    assert_invalid_field(unknown, "signal.kind");
    assert!(
        message.is_some_and(|message| message.contains("court_case")),
        "the kinds that exist are named"
    );
    assert_invalid_field(
        court
            .record_signal(record(&code, "lease_ending", None, ""))
            .await,
        "signal.kind",
    );
    assert_invalid_field(
        court
            .record_signal(record(&code, "tax_revenue_drop", Some(1.5), ""))
            .await,
        "signal.value",
    );
    assert_invalid_field(
        court
            .record_signal(record(&code, "tax_revenue_drop", None, ""))
            .await,
        "signal.value",
    );
    assert_code(
        court
            .record_signal(record(&uscc(9), "court_case", None, ""))
            .await,
        Code::NotFound,
    );
    // People do not record signals: systems do.
    assert_code(
        suite
            .risk
            .record_signal(record(&code, "court_case", None, ""))
            .await,
        Code::PermissionDenied,
    );
}

async fn signals_without_a_value_and_with_one_are_recorded_in_any_order(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 5 * 365).await;
    suite.assessment_once(&code, RiskColour::Green).await;
    let mut court = court(&suite).await;
    // First signals without a value, then signals with one, each run at
    // least as long as the PostgreSQL pool has connections (16, in kit's
    // `Db::connect`): the pool hands out its idle connections oldest first,
    // so every connection inserts a signal without a value before one with.
    let calls_reaching_every_connection = 20;
    let mut expected_values = Vec::new();
    for number in 0..calls_reaching_every_connection {
        let court_case = court
            .record_signal(record(&code, "court_case", None, ""))
            .await
            .unwrap_or_else(|status| panic!("court case {number}: {status:?}"))
            .into_inner();
        assert_eq!(court_case.value, None);
        expected_values.push((court_case.name, None));
    }
    for number in 0..calls_reaching_every_connection {
        let share_lost = f64::from(number + 1) / 100.0;
        let tax_drop = court
            .record_signal(record(&code, "tax_revenue_drop", Some(share_lost), ""))
            .await
            .unwrap_or_else(|status| panic!("tax revenue drop {number}: {status:?}"))
            .into_inner();
        assert_eq!(tax_drop.value, Some(share_lost));
        expected_values.push((tax_drop.name, Some(share_lost)));
    }

    let mut listed: Vec<(String, Option<f64>)> = suite
        .risk
        .list_signals(ListSignalsRequest {
            parent: enterprise_name(&code),
            page_size: 100,
            ..ListSignalsRequest::default()
        })
        .await
        .expect("the signals")
        .into_inner()
        .signals
        .into_iter()
        .filter(|signal| signal.kind == "court_case" || signal.kind == "tax_revenue_drop")
        .map(|signal| (signal.name, signal.value))
        .collect();
    listed.sort_by(|left, right| left.0.cmp(&right.0));
    expected_values.sort_by(|left, right| left.0.cmp(&right.0));
    assert_eq!(listed, expected_values);
}

backend_tests!(
    a_system_records_a_signal_once_and_the_enterprise_is_reassessed,
    a_bad_signal_is_refused_naming_what_is_wrong,
    signals_without_a_value_and_with_one_are_recorded_in_any_order,
);
