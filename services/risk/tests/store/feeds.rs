//! An event delivered twice changes nothing the second time: the signals,
//! the assessment, its history and the outbox stay as the first delivery
//! left them (a feed consumer re-reads events after a crash between applying
//! and storing its cursor).

use louyu_kit::feed::EventHandler;
use louyu_proto::common::v1::Event;
use louyu_proto::registry::v1::{Tenancy, TenancyStarted};
use louyu_proto::visits::v1::{ExpansionFit, Observation, RelocationIntent, Visit, VisitRecorded};
use louyu_risk::feeds::{RegistryEvents, VisitsEvents};
use louyu_risk::store::Store;
use louyu_testkit::TestBackend;
use prost::{Message, Name};

use crate::helpers::*;

fn event<M: Message + Name>(id: &str, payload: &M) -> Event {
    Event {
        event_id: id.to_owned(),
        event_type: M::full_name(),
        payload: Some(prost_types::Any {
            type_url: M::type_url(),
            value: payload.encode_to_vec(),
        }),
        occur_time: Some(louyu_kit::time::timestamp_from_micros(
            louyu_kit::time::now_micros(),
        )),
        ..Event::default()
    }
}

async fn apply(handler: &dyn EventHandler, store: &Store, event: &Event) {
    let mut transaction = store.db().begin_write().await.expect("begin");
    handler
        .handle(&mut transaction, event)
        .await
        .expect("the event applies");
    transaction.commit().await.expect("commit");
}

/// Signals, history rows and outbox events, as counts.
async fn counts(store: &Store) -> (i64, i64, i64) {
    let count = |table: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(store.db().pool())
            .await
            .expect("a count")
    };
    (
        count("signals").await,
        count("assessment_changes").await,
        count("outbox").await,
    )
}

async fn an_event_delivered_twice_changes_nothing_the_second_time(backend: TestBackend) {
    let Some((_database, store)) = fresh_store(backend).await else {
        return;
    };
    let code = uscc_of(1);
    let enterprise = format!("districts/jingan/enterprises/{code}");
    let lease = event(
        "e-lease",
        &TenancyStarted {
            tenancy: Some(Tenancy {
                name: "districts/jingan/tenancies/t-1".to_owned(),
                enterprise: enterprise.clone(),
                unit: "districts/jingan/buildings/b-1/units/101".to_owned(),
                lease_end: Some(louyu_testkit::fixtures::date_in(60)),
                ..Tenancy::default()
            }),
            building: "districts/jingan/buildings/b-1".to_owned(),
        },
    );
    let visit = event(
        "e-visit",
        &VisitRecorded {
            visit: Some(Visit {
                name: "districts/jingan/visits/v-1".to_owned(),
                observations: vec![Observation {
                    enterprise: enterprise.clone(),
                    relocation_intent: RelocationIntent::Considering as i32,
                    expansion_need: true,
                    expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
                    ..Observation::default()
                }],
                ..Visit::default()
            }),
        },
    );
    let registry = RegistryEvents::new(store.clone());
    let visits = VisitsEvents::new(store.clone());
    apply(&registry, &store, &lease).await;
    apply(&visits, &store, &visit).await;
    let once = counts(&store).await;
    assert_eq!(once.0, 3, "a lease, an intent to relocate, unmet expansion");
    assert!(
        once.1 >= 1 && once.2 >= 1,
        "assessed and announced: {once:?}"
    );
    let assessed: (i64, i64) =
        sqlx::query_as("SELECT colour, score FROM assessments WHERE uscc = $1")
            .bind(&code)
            .fetch_one(store.db().pool())
            .await
            .expect("assessed");

    apply(&registry, &store, &lease).await;
    apply(&visits, &store, &visit).await;
    assert_eq!(counts(&store).await, once);
    let again: (i64, i64) = sqlx::query_as("SELECT colour, score FROM assessments WHERE uscc = $1")
        .bind(&code)
        .fetch_one(store.db().pool())
        .await
        .expect("assessed");
    assert_eq!(again, assessed);
}

#[tokio::test]
async fn an_event_delivered_twice_changes_nothing_the_second_time_on_sqlite() {
    an_event_delivered_twice_changes_nothing_the_second_time(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn an_event_delivered_twice_changes_nothing_the_second_time_on_postgres() {
    an_event_delivered_twice_changes_nothing_the_second_time(TestBackend::Postgres).await;
}
