//! How fast the outbox takes events, and how fast a watcher reads them.
//!
//! `cargo bench -p louyu-kit --bench feed` prints events per second for
//! concurrent writers, each committing one event per transaction, on SQLite
//! and (when `LOUYU_TEST_POSTGRES_URL` is set) on PostgreSQL. Appends are
//! serialised from the append to the commit by design (see feed.rs), so this
//! is the ceiling on event-producing transactions per second per service.

use std::time::{Duration, Instant};

use louyu_kit::audit::RequestContext;
use louyu_kit::db::Db;
use louyu_kit::feed::{self, NewEvent};
use louyu_testkit::{TestBackend, TestDatabase};

const EVENTS_PER_WRITER: usize = 250;

async fn append_concurrently(db: &Db, writers: usize) -> Duration {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..EVENTS_PER_WRITER {
                let mut transaction = db.begin_write().await.expect("begin");
                let payload = prost_types::Timestamp {
                    seconds: index as i64,
                    nanos: 0,
                };
                feed::append(
                    &mut transaction,
                    &RequestContext::system("bench"),
                    NewEvent::new(format!("things/{writer}-{index}"), &payload),
                )
                .await
                .expect("append");
                db.commit_with_events(transaction).await.expect("commit");
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    started.elapsed()
}

async fn bench(backend: TestBackend) {
    let Some(database) = TestDatabase::create(backend).await else {
        println!("{backend:?}: skipped (set LOUYU_TEST_POSTGRES_URL)");
        return;
    };
    let db = Db::connect(&database.url).await.expect("connect");
    db.migrate_kit().await.expect("migrate");
    let mut total = 0;
    for writers in [1, 4, 16] {
        let elapsed = append_concurrently(&db, writers).await;
        let events = writers * EVENTS_PER_WRITER;
        total += events;
        println!(
            "{backend:?}: {writers:>2} writers appended {events:>5} events in {:>7.1} ms: {:>7.0} events/s",
            elapsed.as_secs_f64() * 1000.0,
            events as f64 / elapsed.as_secs_f64()
        );
    }
    let started = Instant::now();
    let mut cursor = 0;
    while cursor < total as i64 {
        let batch = feed::read_after(&db, cursor, 1000).await.expect("read");
        cursor = batch.last().map_or(cursor, |event| event.sequence);
    }
    let elapsed = started.elapsed();
    println!(
        "{backend:?}: read {total} events back in order in {:>7.1} ms: {:>7.0} events/s",
        elapsed.as_secs_f64() * 1000.0,
        total as f64 / elapsed.as_secs_f64()
    );
    db.close().await;
}

#[tokio::main]
async fn main() {
    bench(TestBackend::Sqlite).await;
    bench(TestBackend::Postgres).await;
}
