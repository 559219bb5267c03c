//! Rule activation resumes where it stopped: an operation whose progress
//! says the first enterprises are done re-assesses only the rest, and one
//! replica at a time holds it.

use std::time::Duration;

use louyu_kit::operations::Operations;
use louyu_proto::google::longrunning::operation::Result as OperationResult;
use louyu_proto::risk::v1::{ActivateRulesMetadata, ActivateRulesRequest, ActivateRulesResponse};
use louyu_risk::activation;
use louyu_risk::domain::Rules;
use louyu_testkit::TestBackend;
use prost::Message;
use sqlx::Row;

use crate::helpers::*;

const ENTERPRISES: usize = 30;
const DONE_BEFORE: usize = 10;

async fn an_interrupted_activation_resumes_after_its_last_enterprise(backend: TestBackend) {
    let Some((_database, store)) = fresh_store(backend).await else {
        return;
    };
    seed_district(&store, ENTERPRISES).await;
    let document = Rules::default_rules()
        .to_toml()
        .replace("2026-11-default-1", "2026-12-resumed-1");
    let rules = Rules::parse(&document).expect("rules");
    let operations = Operations::new(store.db().clone());

    // What a replica that stopped after ten enterprises left behind: the
    // rules in force, and the operation's progress.
    let mut transaction = store.db().begin_write().await.expect("begin");
    store
        .put_rules_in_force(&mut transaction, &rules, &document, "staff:admin-1")
        .await
        .expect("in force");
    let progress = ActivateRulesMetadata {
        version: rules.version().to_owned(),
        total: ENTERPRISES as i64,
        done: DONE_BEFORE as i64,
        changed: 0,
        start_time: None,
        last_enterprise: uscc_of(DONE_BEFORE - 1),
    };
    let id = operations
        .start(
            &mut transaction,
            activation::KIND,
            &ActivateRulesRequest {
                name: "districts/jingan/rules".to_owned(),
                document: document.clone(),
                request_id: String::new(),
            },
            &progress,
            "staff:admin-1",
        )
        .await
        .expect("an operation");
    transaction.commit().await.expect("commit");

    // One replica holds it at a time.
    let held = operations
        .claim(activation::KIND, "replica-a", Duration::from_secs(60))
        .await
        .expect("claim")
        .expect("an operation to run");
    assert_eq!(held.id, id);
    assert!(
        operations
            .claim(activation::KIND, "replica-b", Duration::from_secs(60))
            .await
            .expect("claim")
            .is_none(),
        "another replica waits for the lease"
    );
    // The first replica stops without saving more; its lease runs out.
    sqlx::query("UPDATE operations SET lease_until = 0 WHERE id = $1")
        .bind(&id)
        .execute(store.db().pool())
        .await
        .expect("the lease ran out");

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(activation::run(
        store.clone(),
        operations.clone(),
        "replica-b".to_owned(),
        stopped,
        Duration::from_millis(50),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let done = loop {
        let operation = operations.get(&id).await.expect("read").expect("exists");
        if operation.done {
            break operation;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the activation ends"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    stop.send_replace(true);
    runner.await.expect("the job stops");

    let Some(OperationResult::Response(response)) = done.result else {
        panic!("succeeded: {done:?}");
    };
    let response = ActivateRulesResponse::decode(response.value.as_slice()).expect("a response");
    assert_eq!(response.assessed, ENTERPRISES as i64);
    // Only the enterprises after the saved one were re-assessed by it.
    let versions: Vec<(String, String)> =
        sqlx::query("SELECT uscc, rules_version FROM assessments ORDER BY uscc")
            .fetch_all(store.db().pool())
            .await
            .expect("versions")
            .iter()
            .map(|row| (row.get("uscc"), row.get("rules_version")))
            .collect();
    for (index, (uscc, version)) in versions.iter().enumerate() {
        assert_eq!(uscc, &uscc_of(index));
        if index < DONE_BEFORE {
            assert_ne!(version, "2026-12-resumed-1", "{uscc} was done before");
        } else {
            assert_eq!(version, "2026-12-resumed-1", "{uscc} is done now");
        }
    }
}

#[tokio::test]
async fn an_interrupted_activation_resumes_after_its_last_enterprise_on_sqlite() {
    an_interrupted_activation_resumes_after_its_last_enterprise(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn an_interrupted_activation_resumes_after_its_last_enterprise_on_postgres() {
    an_interrupted_activation_resumes_after_its_last_enterprise(TestBackend::Postgres).await;
}
