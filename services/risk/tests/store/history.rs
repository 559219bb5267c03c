//! An enterprise's history stays in the order of its changes when a
//! re-assessment read its clock before another one, with a later clock,
//! committed: it waited on the enterprise's row, and comes after it (a
//! registry event and a visit applied at once by the two feeds).

use louyu_risk::domain::{Signal, SignalKind};
use louyu_risk::store::{Cause, Store};
use louyu_testkit::TestBackend;

use crate::helpers::*;

const MINUTE: i64 = 60_000_000;

fn signal(id: &str, kind: SignalKind) -> Signal {
    Signal {
        id: id.to_owned(),
        kind,
        source: "visits".to_owned(),
        observed_at: NOW - MINUTE,
        value: None,
        expires_at: None,
        due_at: None,
        subject: String::new(),
    }
}

async fn put(store: &Store, uscc: &str, signal: &Signal) {
    let mut transaction = store.db().begin_write().await.expect("begin");
    store
        .put_signal(&mut transaction, uscc, signal.kind.as_str(), signal)
        .await
        .expect("the signal");
    transaction.commit().await.expect("commit");
}

async fn rescore(store: &Store, uscc: &str, now: i64, cause: &Cause) {
    let mut transaction = store.db().begin_write().await.expect("begin");
    store
        .rescore(&mut transaction, uscc, now, cause)
        .await
        .expect("rescore");
    transaction.commit().await.expect("commit");
}

async fn the_history_keeps_the_order_of_the_changes_whatever_clock_each_read(backend: TestBackend) {
    let Some((_database, store)) = fresh_store(backend).await else {
        return;
    };
    let code = uscc_of(1);
    rescore(&store, &code, NOW, &Cause::registered()).await;
    // Its clock read a minute before the first assessment committed.
    let considering = signal("considering", SignalKind::RelocationConsidering);
    put(&store, &code, &considering).await;
    rescore(&store, &code, NOW - MINUTE, &Cause::signal(&considering)).await;
    // The district's re-assessment, its clock read earlier still.
    let moved_out = signal("moved-out", SignalKind::MovedOut);
    put(&store, &code, &moved_out).await;
    let rules = (*store.current_rules().await.expect("the rules in force")).clone();
    store
        .rescore_district_in_chunks(&rules, NOW - 2 * MINUTE, 10, |_, _| {})
        .await
        .expect("the district re-assessed");

    let history: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT previous_colour, colour, changed_at FROM assessment_changes WHERE uscc = $1 ORDER BY id",
    )
    .bind(&code)
    .fetch_all(store.db().pool())
    .await
    .expect("the history");
    assert_eq!(history.len(), 3, "three changes of colour: {history:?}");
    assert_eq!(history[0].0, 0, "the first assessment first: {history:?}");
    assert_eq!(history[2].1, 5, "moved out: red, last: {history:?}");
    for pair in history.windows(2) {
        assert_eq!(
            pair[1].0, pair[0].1,
            "each change from the one before: {history:?}"
        );
        assert!(pair[1].2 > pair[0].2, "each change later: {history:?}");
    }
    let assessed_at: i64 =
        sqlx::query_scalar("SELECT assessed_at FROM assessments WHERE uscc = $1")
            .bind(&code)
            .fetch_one(store.db().pool())
            .await
            .expect("the assessment");
    assert_eq!(assessed_at, history[2].2);
}

#[tokio::test]
async fn the_history_keeps_the_order_of_the_changes_whatever_clock_each_read_on_sqlite() {
    the_history_keeps_the_order_of_the_changes_whatever_clock_each_read(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn the_history_keeps_the_order_of_the_changes_whatever_clock_each_read_on_postgres() {
    the_history_keeps_the_order_of_the_changes_whatever_clock_each_read(TestBackend::Postgres)
        .await;
}
