//! `Store::rescore_district`: every enterprise re-assessed in chunks, as
//! `Store::rescore` would one by one, with each change in the history and
//! the outbox once.

use std::collections::BTreeMap;

use louyu_kit::audit::RequestContext;
use louyu_risk::domain::{Signal, SignalKind};
use louyu_risk::store::{Cause, Store};
use louyu_testkit::TestBackend;
use prost::Message;

use crate::helpers::*;

const ENTERPRISES: usize = 300;
/// Small, so that the enterprises span many chunks.
const CHUNK: usize = 37;

/// Re-assesses every enterprise one by one with `rescore`, each in its own
/// transaction, its event appended as the scheduler does.
async fn rescore_one_by_one(store: &Store, cause: &Cause) {
    for index in 0..ENTERPRISES {
        let mut transaction = store.db().begin_write().await.expect("begin");
        let event = store
            .rescore(&mut transaction, &uscc_of(index), NOW, cause)
            .await
            .expect("rescore");
        if let Some(event) = event {
            louyu_kit::feed::append(&mut transaction, &RequestContext::system("test"), event)
                .await
                .expect("append");
        }
        transaction.commit().await.expect("commit");
    }
}

/// Each event's resource and decoded payload, by resource.
fn events_by_enterprise(
    outbox: &[(i64, String, String, Vec<u8>)],
) -> BTreeMap<String, Vec<louyu_proto::risk::v1::AssessmentChanged>> {
    let mut events: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for (_, event_type, resource, payload) in outbox {
        assert_eq!(event_type, "louyu.risk.v1.AssessmentChanged");
        events.entry(resource.clone()).or_default().push(
            louyu_proto::risk::v1::AssessmentChanged::decode(payload.as_slice())
                .expect("a payload"),
        );
    }
    events
}

async fn rescore_district_gives_what_rescore_gives_one_by_one(backend: TestBackend) {
    let Some((_bulk_database, bulk)) = fresh_store(backend).await else {
        return;
    };
    let Some((_single_database, single)) = fresh_store(backend).await else {
        return;
    };
    seed_district(&bulk, ENTERPRISES).await;
    seed_district(&single, ENTERPRISES).await;
    let rules = (*bulk.current_rules().await.expect("the rules in force")).clone();
    let mut reported = Vec::new();
    let summary = bulk
        .rescore_district_in_chunks(&rules, NOW, CHUNK, |done, total| {
            reported.push((done, total))
        })
        .await
        .expect("the district re-assessed");
    rescore_one_by_one(&single, &Cause::district_rescored(rules.version())).await;

    assert_eq!(summary.enterprises, ENTERPRISES as u64);
    assert_eq!(reported.len(), ENTERPRISES.div_ceil(CHUNK));
    assert_eq!(
        reported.last(),
        Some(&(ENTERPRISES as u64, ENTERPRISES as u64))
    );
    let bulk_rows = assessments(&bulk).await;
    assert_eq!(bulk_rows, assessments(&single).await);
    // The seed is varied enough to mean something: colours changed and
    // stayed, overrides lasted and ended, signals were many and none.
    let colours_after: Vec<i64> = sqlx::query_scalar("SELECT colour FROM assessments")
        .fetch_all(bulk.db().pool())
        .await
        .unwrap();
    for colour in 1..=5 {
        assert!(
            colours_after.contains(&colour),
            "no enterprise is colour {colour}"
        );
    }
    let lasting: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM assessments WHERE override_colour IS NOT NULL")
            .fetch_one(bulk.db().pool())
            .await
            .unwrap();
    assert!(lasting > 0 && lasting < (ENTERPRISES / 7) as i64 * 2);

    let bulk_history = history(&bulk).await;
    assert_eq!(bulk_history, history(&single).await);
    assert!(
        bulk_history
            .iter()
            .any(|change| change.5 == "the colour set by hand expired")
    );
    // Each enterprise's change is recorded once.
    let mut changed_enterprises: Vec<&String> =
        bulk_history.iter().map(|change| &change.0).collect();
    changed_enterprises.dedup();
    assert_eq!(changed_enterprises.len(), bulk_history.len());

    let bulk_outbox = outbox(&bulk).await;
    let bulk_events = events_by_enterprise(&bulk_outbox);
    assert_eq!(bulk_events, events_by_enterprise(&outbox(&single).await));
    assert_eq!(summary.changed, bulk_outbox.len() as u64);
    assert!(bulk_events.values().all(|events| events.len() == 1));
    assert!(summary.changed > 0 && summary.changed < ENTERPRISES as u64);
    // Sequence numbers stay gapless across chunks.
    for (position, (sequence, ..)) in bulk_outbox.iter().enumerate() {
        assert_eq!(*sequence, position as i64 + 1);
    }
}

#[tokio::test]
async fn rescore_district_gives_what_rescore_gives_one_by_one_on_sqlite() {
    rescore_district_gives_what_rescore_gives_one_by_one(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn rescore_district_gives_what_rescore_gives_one_by_one_on_postgres() {
    rescore_district_gives_what_rescore_gives_one_by_one(TestBackend::Postgres).await;
}

async fn rescore_district_twice_changes_nothing_the_second_time(backend: TestBackend) {
    let Some((_database, store)) = fresh_store(backend).await else {
        return;
    };
    seed_district(&store, ENTERPRISES).await;
    let rules = (*store.current_rules().await.expect("the rules in force")).clone();
    let first = store
        .rescore_district_in_chunks(&rules, NOW, CHUNK, |_, _| {})
        .await
        .expect("a first run");
    assert!(first.changed > 0);
    let rows = assessments(&store).await;
    let changes = history(&store).await;
    let events = outbox(&store).await;

    let second = store
        .rescore_district(&rules, NOW, |_, _| {})
        .await
        .expect("a second run");

    assert_eq!(second.enterprises, ENTERPRISES as u64);
    assert_eq!(second.changed, 0);
    assert_eq!(assessments(&store).await, rows);
    assert_eq!(history(&store).await, changes);
    assert_eq!(outbox(&store).await, events);
}

#[tokio::test]
async fn rescore_district_twice_changes_nothing_the_second_time_on_sqlite() {
    rescore_district_twice_changes_nothing_the_second_time(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn rescore_district_twice_changes_nothing_the_second_time_on_postgres() {
    rescore_district_twice_changes_nothing_the_second_time(TestBackend::Postgres).await;
}

/// An event-driven re-assessment holds an enterprise's row while the
/// district's chunk reaches it: the chunk waits, then sees the new signal,
/// and the colour it raised is not written over with one from before it.
#[tokio::test]
async fn rescore_district_keeps_a_signal_recorded_while_its_chunk_runs_on_postgres() {
    let Some((_database, store)) = fresh_store(TestBackend::Postgres).await else {
        return;
    };
    seed_district(&store, ENTERPRISES).await;
    let target = uscc_of(10);
    sqlx::query("DELETE FROM signals WHERE uscc = $1")
        .bind(&target)
        .execute(store.db().pool())
        .await
        .unwrap();
    let moved_out = Signal {
        id: "moved-out".to_owned(),
        kind: SignalKind::MovedOut,
        source: "registry".to_owned(),
        observed_at: NOW,
        value: None,
        expires_at: None,
        due_at: None,
        subject: String::new(),
    };
    let mut event_driven = store.db().begin_write().await.unwrap();
    store
        .put_signal(&mut event_driven, &target, "registry/moved-out", &moved_out)
        .await
        .unwrap();
    store
        .rescore(&mut event_driven, &target, NOW, &Cause::signal(&moved_out))
        .await
        .unwrap();

    let district = tokio::spawn({
        let store = store.clone();
        async move {
            let rules = (*store.current_rules().await.expect("the rules in force")).clone();
            store
                .rescore_district_in_chunks(&rules, NOW, CHUNK, |_, _| {})
                .await
        }
    });
    // The district's chunk waits on the row lock.
    let pool = store.db().pool().clone();
    louyu_testkit::eventually("the district waits on the enterprise's row", || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .is_ok_and(|waiting| waiting > 0)
        }
    })
    .await;
    event_driven.commit().await.unwrap();
    district.await.unwrap().expect("the district re-assessed");

    let (colour, score): (i64, i64) =
        sqlx::query_as("SELECT colour, score FROM assessments WHERE uscc = $1")
            .bind(&target)
            .fetch_one(store.db().pool())
            .await
            .unwrap();
    assert_eq!((colour, score), (5, 100), "moved out: red, 100 points");
}
