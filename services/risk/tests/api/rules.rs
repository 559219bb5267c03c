//! The district's rules: read by staff, tried in a dry run, put in force
//! by a district admin as a long-running operation that re-assesses the
//! whole district.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::google::longrunning::operation::Result as OperationResult;
use louyu_proto::google::longrunning::operations_client::OperationsClient;
use louyu_proto::google::longrunning::{GetOperationRequest, Operation, WaitOperationRequest};
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::*;
use louyu_testkit::identity::{auditor, person_in};
use louyu_testkit::{TestBackend, assert_invalid_field, backend_tests};
use prost::Message;
use tonic::Code;

use crate::helpers::*;

fn rules_name() -> String {
    format!("{DISTRICT}/rules")
}

/// The shipped rules with a new version and orange from 30 points: a lease
/// ending within three months (30) alone turns an enterprise orange.
fn stricter(document: &str) -> String {
    document
        .replace(
            "version = \"2026-11-default-1\"",
            "version = \"2026-12-stricter-1\"",
        )
        .replace("orange = 50", "orange = 30")
}

async fn new_rules_are_tried_then_put_in_force_and_the_district_reassessed(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let (near, far) = (uscc(1), uscc(2));
    suite.tenant(&near, "101", 60).await;
    suite.tenant(&far, "201", 5 * 365).await;
    suite.assessment_once(&near, RiskColour::Yellow).await;
    suite.assessment_once(&far, RiskColour::Green).await;

    let shipped = suite
        .risk
        .get_rules(GetRulesRequest { name: rules_name() })
        .await
        .expect("the rules in force")
        .into_inner();
    assert_eq!(shipped.version, "2026-11-default-1");
    let document = stricter(&shipped.document);

    // A dry run says what would change, and changes nothing.
    let dry = RiskServiceClient::new(
        suite
            .sandbox()
            .client_as(ServiceName::Risk, &auditor())
            .await,
    )
    .dry_run_rules(DryRunRulesRequest {
        name: rules_name(),
        document: document.clone(),
    })
    .await
    .expect("an auditor may try rules")
    .into_inner();
    assert_eq!(dry.version, "2026-12-stricter-1");
    assert_eq!(dry.assessed, 2);
    assert_eq!(dry.changed, 1);
    assert_eq!(
        dry.changes,
        [ColourChange {
            enterprise: enterprise_name(&near),
            from_colour: RiskColour::Yellow as i32,
            to_colour: RiskColour::Orange as i32,
        }]
    );
    let still = suite.assessment_once(&near, RiskColour::Yellow).await;
    assert_eq!(still.rules_version, "2026-11-default-1");

    // Bad rules are refused naming what is wrong; only the district activates.
    assert_invalid_field(
        suite
            .risk
            .dry_run_rules(DryRunRulesRequest {
                name: rules_name(),
                document: document.replace("orange = 30", "orange = 5"),
            })
            .await,
        "document.thresholds.orange",
    );
    let street = person_in(
        "admin-n",
        &[Role::SubDistrictAdmin],
        Some("nanjingxilu"),
        None,
    );
    assert_code(
        RiskServiceClient::new(suite.sandbox().client_as(ServiceName::Risk, &street).await)
            .activate_rules(ActivateRulesRequest {
                name: rules_name(),
                document: document.clone(),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );

    // Activation: an operation, done once the district is re-assessed.
    let request = ActivateRulesRequest {
        name: rules_name(),
        document: document.clone(),
        request_id: "0b7c7a52-6a1f-4e55-9a55-3c3f3b2d1e01".to_owned(),
    };
    let started = suite
        .risk
        .activate_rules(request.clone())
        .await
        .expect("activation starts")
        .into_inner();
    assert!(started.name.starts_with("operations/"), "{started:?}");
    let again = suite
        .risk
        .activate_rules(request)
        .await
        .expect("a retry")
        .into_inner();
    assert_eq!(again.name, started.name);
    let mut operations = OperationsClient::new(suite.sandbox().client(ServiceName::Risk).await);
    let (done, response) = succeeded(&mut operations, &started.name).await;
    assert_eq!(response.version, "2026-12-stricter-1");
    assert_eq!(response.assessed, 2);
    assert_eq!(response.changed, 1);
    let metadata = ActivateRulesMetadata::decode(done.metadata.expect("progress").value.as_slice())
        .expect("metadata");
    assert_eq!((metadata.total, metadata.done), (2, 2));

    let orange = suite.assessment_once(&near, RiskColour::Orange).await;
    assert_eq!(orange.rules_version, "2026-12-stricter-1");
    let in_force = suite
        .risk
        .get_rules(GetRulesRequest { name: rules_name() })
        .await
        .expect("the rules in force")
        .into_inner();
    assert_eq!(in_force.version, "2026-12-stricter-1");

    // A version is written once.
    assert_invalid_field(
        suite
            .risk
            .activate_rules(ActivateRulesRequest {
                name: rules_name(),
                document: document.replace("orange = 30", "orange = 40"),
                request_id: String::new(),
            })
            .await,
        "document",
    );
}

/// Waits for the operation (`WaitOperation`, which answers within 20 s)
/// and returns it with its response; panics unless it succeeded.
async fn succeeded(
    operations: &mut OperationsClient<louyu_testkit::identity::AuthorizedChannel>,
    name: &str,
) -> (Operation, ActivateRulesResponse) {
    for _ in 0..15 {
        let operation = operations
            .wait_operation(WaitOperationRequest {
                name: name.to_owned(),
                timeout: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
            })
            .await
            .expect("the operation")
            .into_inner();
        if !operation.done {
            continue;
        }
        let Some(OperationResult::Response(response)) = operation.result.clone() else {
            panic!("the activation succeeded: {operation:?}");
        };
        let response =
            ActivateRulesResponse::decode(response.value.as_slice()).expect("a response");
        return (operation, response);
    }
    panic!("the activation ends within five minutes");
}

backend_tests!(new_rules_are_tried_then_put_in_force_and_the_district_reassessed);

/// Enterprises seeded straight into the risk database for the restart
/// test: enough for many chunks of an activation.
const SEEDED: i64 = 40_000;

async fn an_activation_stopped_by_a_restart_resumes_where_it_stopped(backend: TestBackend) {
    let risk_database = std::sync::Mutex::new(None);
    let Some(mut sandbox) = louyu_testkit::sandbox::Sandbox::start_with(
        backend,
        &[
            &louyu_risk::startup::Risk,
            &louyu_visits::startup::Visits,
            &louyu_registry::startup::Registry,
        ],
        |name, config| {
            if name == ServiceName::Risk {
                *risk_database.lock().expect("not poisoned") = config.database_url.clone();
            }
        },
    )
    .await
    else {
        return;
    };
    let url = risk_database
        .into_inner()
        .expect("not poisoned")
        .expect("the risk service has a database");
    let db = louyu_kit::db::Db::connect(&url)
        .await
        .expect("the risk database");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {SEEDED}) \
         INSERT INTO assessments (uscc, colour, effective_colour, score, rules_version, explanation, \
         building_id, assessed_at, next_change_at) \
         SELECT 'e' || CAST(i AS TEXT), 1, 1, 0, '2026-11-default-1', '{{\"factors\":[]}}', NULL, 0, NULL FROM n"
    )))
    .execute(db.pool())
    .await
    .expect("seed the district");

    let mut risk = RiskServiceClient::new(sandbox.client(ServiceName::Risk).await);
    let shipped = risk
        .get_rules(GetRulesRequest { name: rules_name() })
        .await
        .expect("the rules in force")
        .into_inner();
    let started = risk
        .activate_rules(ActivateRulesRequest {
            name: rules_name(),
            document: stricter(&shipped.document),
            request_id: String::new(),
        })
        .await
        .expect("activation starts")
        .into_inner();
    let progress = |operation: louyu_proto::google::longrunning::Operation| {
        ActivateRulesMetadata::decode(operation.metadata.expect("progress").value.as_slice())
            .expect("metadata")
    };
    let operations = OperationsClient::new(sandbox.client(ServiceName::Risk).await);
    let name = started.name.clone();
    eventually("the activation is under way", || {
        let mut operations = operations.clone();
        let name = name.clone();
        async move {
            operations
                .get_operation(GetOperationRequest { name })
                .await
                .is_ok_and(|operation| progress(operation.into_inner()).done > 0)
        }
    })
    .await;

    // The process stops part-way: the operation is saved unfinished.
    sandbox.stop(ServiceName::Risk).await;
    let id = started.name.trim_start_matches("operations/").to_owned();
    let saved = louyu_kit::operations::Operations::new(db.clone())
        .get(&id)
        .await
        .expect("read the operation")
        .expect("the operation is kept");
    assert!(!saved.done, "stopped part-way: {saved:?}");
    let paused = progress(saved);
    assert!(paused.done > 0 && paused.done < SEEDED, "{paused:?}");

    sandbox.start_again(ServiceName::Risk).await;
    let mut operations = OperationsClient::new(sandbox.client(ServiceName::Risk).await);
    let (_, response) = succeeded(&mut operations, &started.name).await;
    // Resumed, not begun again: every enterprise counted exactly once.
    assert_eq!(response.assessed, SEEDED, "paused at {paused:?}");
    let stale: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM assessments WHERE rules_version <> '2026-12-stricter-1'",
    )
    .fetch_one(db.pool())
    .await
    .expect("a count");
    assert_eq!(stale, 0);
}

backend_tests!(an_activation_stopped_by_a_restart_resumes_where_it_stopped);
