//! The event feed over real gRPC on both databases: ordering under
//! concurrent, delayed writers, and the consumer's exactly-once cursor.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use louyu_kit::audit::RequestContext;
use louyu_kit::db::Db;
use louyu_kit::feed::{self, Consumer, EventHandler, FeedServer, FeedStatus, NewEvent};
use louyu_kit::hosting::HostBuilder;
use louyu_kit::identity::ProcessIdentity;
use louyu_kit::server::{GrpcServer, Readiness, ServerSettings, Shutdown};
use louyu_proto::common::v1::event_feed_service_client::EventFeedServiceClient;
use louyu_proto::common::v1::event_feed_service_server::EventFeedServiceServer;
use louyu_proto::common::v1::{Event, WatchEventsRequest};
use louyu_testkit::backend_tests;
use louyu_testkit::{TestBackend, TestDatabase};
use sqlx::AnyConnection;

const DEADLINE: Duration = Duration::from_secs(60);

async fn migrated(database: &TestDatabase) -> Db {
    let db = Db::connect(&database.url).await.expect("connect");
    db.migrate_kit().await.expect("migrate");
    db
}

/// Development identity: the producers here verify their callers, and the
/// consumers and clients name themselves (`x-louyu-actor: system:…`), with
/// no keys to manage.
fn identity() -> ProcessIdentity {
    ProcessIdentity::from_config(&louyu_kit::config::Config {
        dev_identity: true,
        ..louyu_kit::config::Config::default()
    })
    .expect("a development identity")
}

/// A request from the system `test`, in development identity.
fn as_test_system<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-louyu-actor", "system:test".parse().unwrap());
    request
}

fn settings() -> ServerSettings {
    ServerSettings {
        request_timeout: Duration::from_secs(10),
        concurrency_limit: 64,
        drain_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(5),
    }
}

async fn serve_feed(
    db: &Db,
    server: GrpcServer,
    shutdown: &Shutdown,
) -> tokio::task::JoinHandle<()> {
    let feed = FeedServer::new(db.clone(), shutdown.subscribe(), Duration::from_millis(200));
    let host = HostBuilder::new("producer", server, settings(), shutdown, &identity())
        .add_service(EventFeedServiceServer::new(feed))
        .build();
    tokio::spawn(async move {
        host.run(Readiness::ready()).await.expect("serve");
    })
}

fn marker(index: usize) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: index as i64,
        nanos: 0,
    }
}

async fn concurrent_delayed_writers_are_seen_in_order_exactly_once(backend: TestBackend) {
    louyu_kit::telemetry::init_for_tests();
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = migrated(&database).await;
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = serve_feed(&db, server, &shutdown).await;

    // The watcher starts before any writer, so it reads while transactions
    // are still open: the case where a naive feed would skip.
    let mut client = EventFeedServiceClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let mut stream = client
        .watch_events(as_test_system(WatchEventsRequest {
            after_sequence: 0,
            max_batch_size: 3,
            ..WatchEventsRequest::default()
        }))
        .await
        .unwrap()
        .into_inner();

    const WRITERS: usize = 40;
    let mut writers = Vec::new();
    for index in 0..WRITERS {
        let db = db.clone();
        writers.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis((index as u64 * 7) % 23)).await;
            let mut transaction = db.begin_write().await.unwrap();
            feed::append(
                &mut transaction,
                &RequestContext::system("test"),
                NewEvent::new(format!("things/{index}"), &marker(index)),
            )
            .await
            .unwrap();
            // Hold the transaction open for a while after appending.
            tokio::time::sleep(Duration::from_millis((index as u64 * 13) % 31)).await;
            if index % 5 == 4 {
                transaction.rollback().await.unwrap();
                None
            } else {
                db.commit_with_events(transaction).await.unwrap();
                Some(format!("things/{index}"))
            }
        }));
    }
    let mut committed = HashSet::new();
    for writer in writers {
        if let Some(resource) = writer.await.unwrap() {
            committed.insert(resource);
        }
    }

    let mut seen = Vec::new();
    let collect = async {
        while seen.len() < committed.len() {
            let batch = stream
                .next()
                .await
                .expect("the stream stays open")
                .expect("a batch");
            assert!(batch.events.len() <= 3, "max_batch_size is honoured");
            seen.extend(batch.events);
        }
    };
    tokio::time::timeout(DEADLINE, collect)
        .await
        .expect("every committed event arrives");

    let sequences: Vec<i64> = seen.iter().map(|event| event.sequence).collect();
    let expected: Vec<i64> = (1..=committed.len() as i64).collect();
    assert_eq!(
        sequences, expected,
        "gapless and in order, rolled-back numbers reused"
    );
    let resources: HashSet<String> = seen.iter().map(|event| event.resource.clone()).collect();
    assert_eq!(
        resources, committed,
        "each committed event exactly once, no rolled-back one"
    );
    let unique_ids: HashSet<&str> = seen.iter().map(|event| event.event_id.as_str()).collect();
    assert_eq!(unique_ids.len(), seen.len());
    assert!(
        seen.iter()
            .all(|event| event.payload.as_ref().unwrap().type_url
                == "type.googleapis.com/google.protobuf.Timestamp")
    );

    // Nothing more arrives: the stream waits for new commits.
    let extra = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(extra.is_err(), "no event beyond the committed ones");

    shutdown.trigger();
    tokio::time::timeout(DEADLINE, serving)
        .await
        .expect("the server drains")
        .unwrap();
}

/// Records each event's resource in the consumer's database.
struct RecordResource;

impl EventHandler for RecordResource {
    fn handle<'a>(
        &'a self,
        connection: &'a mut AnyConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query("INSERT INTO applied (sequence, resource) VALUES ($1, $2) ON CONFLICT (sequence) DO NOTHING")
                .bind(event.sequence)
                .bind(&event.resource)
                .execute(&mut *connection)
                .await?;
            Ok(())
        })
    }
}

async fn append_committed(db: &Db, range: std::ops::Range<usize>) {
    for index in range {
        let mut transaction = db.begin_write().await.unwrap();
        feed::append(
            &mut transaction,
            &RequestContext::system("test"),
            NewEvent::new(format!("things/{index}"), &marker(index)),
        )
        .await
        .unwrap();
        db.commit_with_events(transaction).await.unwrap();
    }
}

async fn wait_until_applied(consumer_db: &Db, count: i64) {
    let wait = async {
        loop {
            let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applied")
                .fetch_one(consumer_db.pool())
                .await
                .unwrap();
            let cursor = feed::cursor_of(consumer_db, "producer").await.unwrap();
            if applied == count && cursor == count {
                return;
            }
            assert!(
                applied <= count && cursor <= count,
                "applied {applied}, cursor {cursor}, expected {count}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(DEADLINE, wait)
        .await
        .expect("the consumer catches up");
}

/// A producer's database and a consumer's, migrated, the consumer's with the
/// `applied` table [`RecordResource`] fills.
struct ProducerAndConsumer {
    producer_db: Db,
    consumer_db: Db,
    _databases: (TestDatabase, TestDatabase),
}

impl ProducerAndConsumer {
    async fn create(backend: TestBackend) -> Option<Self> {
        let producer_database = TestDatabase::create(backend).await?;
        let consumer_database = TestDatabase::create(backend).await?;
        let producer_db = migrated(&producer_database).await;
        let consumer_db = migrated(&consumer_database).await;
        sqlx::query("CREATE TABLE applied (sequence BIGINT PRIMARY KEY, resource TEXT NOT NULL)")
            .execute(consumer_db.pool())
            .await
            .unwrap();
        Some(Self {
            producer_db,
            consumer_db,
            _databases: (producer_database, consumer_database),
        })
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn consumer_waits_for_its_producer_and_applies_each_event_once(backend: TestBackend) {
    louyu_kit::telemetry::init_for_tests();
    let Some(pair) = ProducerAndConsumer::create(backend).await else {
        return;
    };
    let (producer_db, consumer_db) = (pair.producer_db.clone(), pair.consumer_db.clone());
    append_committed(&producer_db, 0..10).await;

    // The consumer starts while its producer is down, and retries.
    let address = free_port();
    let consumer_stop = Shutdown::new();
    let consumer = Consumer::new(
        "producer",
        &format!("http://{address}"),
        consumer_db.clone(),
        RecordResource,
    )
    .presenting(identity().credentials("consumer"))
    .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let consuming = tokio::spawn(consumer.run(consumer_stop.subscribe()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(feed::cursor_of(&consumer_db, "producer").await.unwrap(), 0);

    let producer_stop = Shutdown::new();
    let server = GrpcServer::bind(&address.to_string()).await.unwrap();
    let serving = serve_feed(&producer_db, server, &producer_stop).await;
    wait_until_applied(&consumer_db, 10).await;

    // Events committed while the consumer follows arrive too.
    append_committed(&producer_db, 10..15).await;
    wait_until_applied(&consumer_db, 15).await;

    // A restarted consumer resumes from its cursor: nothing applied twice.
    consumer_stop.trigger();
    consuming.await.unwrap();
    append_committed(&producer_db, 15..18).await;
    let restarted_stop = Shutdown::new();
    let restarted = Consumer::new(
        "producer",
        &format!("http://{address}"),
        consumer_db.clone(),
        RecordResource,
    )
    .presenting(identity().credentials("consumer"))
    .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let consuming = tokio::spawn(restarted.run(restarted_stop.subscribe()));
    wait_until_applied(&consumer_db, 18).await;
    let resources: Vec<String> =
        sqlx::query_scalar("SELECT resource FROM applied ORDER BY sequence")
            .fetch_all(consumer_db.pool())
            .await
            .unwrap();
    let expected: Vec<String> = (0..18).map(|index| format!("things/{index}")).collect();
    assert_eq!(resources, expected);

    restarted_stop.trigger();
    consuming.await.unwrap();
    producer_stop.trigger();
    serving.await.unwrap();
}

/// Records like [`RecordResource`], but panics the first time it meets
/// event 3: a handler's bug that a restart gets past.
struct PanicsOnceOnEventThree {
    panicked: Arc<AtomicBool>,
}

impl EventHandler for PanicsOnceOnEventThree {
    fn handle<'a>(
        &'a self,
        connection: &'a mut AnyConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            if event.sequence == 3 && !self.panicked.swap(true, Ordering::SeqCst) {
                panic!("a handler bug on event 3");
            }
            RecordResource.handle(connection, event).await
        })
    }
}

async fn a_consumer_whose_handler_panics_is_restarted_and_applies_every_event_once(
    backend: TestBackend,
) {
    louyu_kit::telemetry::init_for_tests();
    let Some(pair) = ProducerAndConsumer::create(backend).await else {
        return;
    };
    let (producer_db, consumer_db) = (pair.producer_db.clone(), pair.consumer_db.clone());
    append_committed(&producer_db, 0..6).await;
    let producer_server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let producer_address = producer_server.local_addr();
    let producer_stop = Shutdown::new();
    let serving = serve_feed(&producer_db, producer_server, &producer_stop).await;

    let panicked = Arc::new(AtomicBool::new(false));
    let consumer = Consumer::new(
        "producer",
        &format!("http://{producer_address}"),
        consumer_db.clone(),
        PanicsOnceOnEventThree {
            panicked: panicked.clone(),
        },
    )
    .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let consumer_stop = Shutdown::new();
    let host = HostBuilder::new(
        "consumer",
        GrpcServer::bind("127.0.0.1:0").await.unwrap(),
        settings(),
        &consumer_stop,
        &identity(),
    )
    .follow(consumer)
    .build();
    let running = tokio::spawn(host.run(Readiness::ready()));

    // Event 3's transaction rolled back with the panic; the restarted
    // consumer applies it, and everything after, exactly once.
    wait_until_applied(&consumer_db, 6).await;
    assert!(panicked.load(Ordering::SeqCst), "the handler panicked once");
    append_committed(&producer_db, 6..8).await;
    wait_until_applied(&consumer_db, 8).await;

    consumer_stop.trigger();
    tokio::time::timeout(DEADLINE, running)
        .await
        .expect("the consumer's server stops")
        .expect("its task")
        .expect("a consumer that recovered leaves the server to end cleanly");
    producer_stop.trigger();
    serving.await.unwrap();
}

async fn events_carry_the_trace_of_the_request_that_caused_them(backend: TestBackend) {
    louyu_kit::telemetry::init_for_tests();
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = migrated(&database).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let span = tracing::info_span!("incoming request");
    louyu_kit::telemetry::set_parent_from_traceparent(
        &span,
        &format!("00-{trace_id}-00f067aa0ba902b7-01"),
    );
    let context = span.in_scope(|| RequestContext::system("test"));
    let mut transaction = db.begin_write().await.unwrap();
    feed::append(
        &mut transaction,
        &context,
        NewEvent::new("things/1", &marker(1)),
    )
    .await
    .unwrap();
    db.commit_with_events(transaction).await.unwrap();
    let events = feed::read_after(&db, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .traceparent
            .starts_with(&format!("00-{trace_id}-")),
        "traceparent {:?} continues trace {trace_id}",
        events[0].traceparent
    );
}

/// Records each event by its id, so that events the consumer sees again
/// (after it resumes from the start of a feed) change nothing.
struct RecordEventId;

impl EventHandler for RecordEventId {
    fn handle<'a>(
        &'a self,
        connection: &'a mut AnyConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO applied_ids (event_id, resource) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&event.event_id)
            .bind(&event.resource)
            .execute(&mut *connection)
            .await?;
            Ok(())
        })
    }
}

/// A consumer of the feed at `address`, on a fresh database, under a cursor
/// name of its own (`feed`), so tests in parallel keep their metrics apart.
struct Following {
    feed: String,
    db: Db,
    status: tokio::sync::watch::Receiver<FeedStatus>,
    stop: Shutdown,
    task: tokio::task::JoinHandle<()>,
    health: tonic_health::pb::health_client::HealthClient<tonic::transport::Channel>,
    _database: TestDatabase,
}

/// Gauges recorded through the `metrics` facade, by `name{label=value}`.
#[derive(Default)]
struct GaugeRecorder {
    gauges: std::sync::Mutex<std::collections::HashMap<String, Arc<AtomicU64>>>,
}

impl metrics::Recorder for GaugeRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::noop()
    }

    fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        let labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let gauge = self.gauges.lock().unwrap().entry(name).or_default().clone();
        metrics::Gauge::from_arc(gauge)
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

static RECORDER: std::sync::OnceLock<&'static GaugeRecorder> = std::sync::OnceLock::new();

fn recorder() -> &'static GaugeRecorder {
    RECORDER.get_or_init(|| {
        let recorder: &'static GaugeRecorder = Box::leak(Box::default());
        metrics::set_global_recorder(recorder).expect("one recorder per test binary");
        recorder
    })
}

fn recorded_gauge(name: &str) -> Option<f64> {
    let gauges = recorder().gauges.lock().unwrap();
    gauges
        .get(name)
        .map(|gauge| f64::from_bits(gauge.load(std::sync::atomic::Ordering::SeqCst)))
}

async fn follow(backend: TestBackend, address: SocketAddr, feed: &str) -> Option<Following> {
    recorder();
    let feed = format!("{feed}-{backend:?}");
    let database = TestDatabase::create(backend).await?;
    let db = migrated(&database).await;
    sqlx::query("CREATE TABLE applied_ids (event_id TEXT PRIMARY KEY, resource TEXT NOT NULL)")
        .execute(db.pool())
        .await
        .unwrap();
    let consumer = Consumer::new(
        &feed,
        &format!("http://{address}"),
        db.clone(),
        RecordEventId,
    )
    .with_backoff(Duration::from_millis(20), Duration::from_millis(200));
    let status = consumer.status();
    let stop = Shutdown::new();
    // The consumer's own server reports the consumer in its health.
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let health_address = server.local_addr();
    let host = HostBuilder::new("consumer", server, settings(), &stop, &identity())
        .add_service(EventFeedServiceServer::new(FeedServer::new(
            db.clone(),
            stop.subscribe(),
            Duration::from_millis(200),
        )))
        .follow(consumer)
        .build();
    let task = tokio::spawn(async move {
        host.run(Readiness::ready())
            .await
            .expect("serve and follow");
    });
    let health = tonic_health::pb::health_client::HealthClient::new(
        tonic::transport::Channel::from_shared(format!("http://{health_address}"))
            .unwrap()
            .connect_lazy(),
    );
    Some(Following {
        feed,
        db,
        status,
        stop,
        task,
        health,
        _database: database,
    })
}

impl Following {
    async fn wait_for_cursor(&self, sequence: i64) {
        let db = self.db.clone();
        let name = self.feed.clone();
        louyu_testkit::eventually(&format!("the cursor reaches {sequence}"), || {
            let db = db.clone();
            let name = name.clone();
            async move { feed::cursor_of(&db, &name).await.unwrap() == sequence }
        })
        .await;
    }

    async fn wait_until_halted(&mut self) -> String {
        let halted = tokio::time::timeout(
            DEADLINE,
            self.status
                .wait_for(|status| matches!(status, FeedStatus::Halted { .. })),
        )
        .await
        .expect("the consumer halts")
        .expect("the consumer reports its status")
        .clone();
        match halted {
            FeedStatus::Halted { reason } => reason,
            FeedStatus::Following => unreachable!(),
        }
    }

    /// Waits until the consumer's health, as its server reports it, is
    /// `expected`.
    async fn wait_for_health(&self, expected: tonic_health::ServingStatus) {
        let health = self.health.clone();
        let service = louyu_kit::server::feed_health_name(&self.feed);
        louyu_testkit::eventually(&format!("the feed's health is {expected:?}"), || {
            let mut health = health.clone();
            let service = service.clone();
            async move {
                let response = health
                    .check(tonic_health::pb::HealthCheckRequest { service })
                    .await;
                response.is_ok_and(|response| response.into_inner().status == expected as i32)
            }
        })
        .await;
    }

    /// The `louyu_feed_consumer_halted` gauge of this consumer.
    fn halted_gauge(&self) -> Option<f64> {
        recorded_gauge(&format!("{}{{feed={}}}", feed::HALTED_METRIC, self.feed))
    }

    async fn applied(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM applied_ids")
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.stop.trigger();
        self.task.await.unwrap();
    }
}

/// What a restore from a backup taken at `sequence` leaves: the outbox up to
/// it, the sequence counter at it, and the same epoch.
async fn restore_backup(from: &Db, to: &Db, sequence: i64) {
    for event in feed::read_after(from, 0, sequence).await.unwrap() {
        sqlx::query(
            "INSERT INTO outbox (sequence, event_id, event_type, resource, payload, traceparent, occurred_at) \
             VALUES ($1, $2, $3, $4, $5, '', 0)",
        )
        .bind(event.sequence)
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(&event.resource)
        .bind(event.payload.unwrap().value)
        .execute(to.pool())
        .await
        .unwrap();
    }
    sqlx::query("UPDATE event_sequence SET last_sequence = $1")
        .bind(sequence)
        .execute(to.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE feed_epoch SET epoch = $1")
        .bind(feed::current_epoch(from).await.unwrap())
        .execute(to.pool())
        .await
        .unwrap();
}

async fn a_consumer_halts_when_its_producer_is_restored_from_a_backup(backend: TestBackend) {
    louyu_kit::telemetry::init_for_tests();
    let Some(live_database) = TestDatabase::create(backend).await else {
        return;
    };
    let Some(backup_database) = TestDatabase::create(backend).await else {
        return;
    };
    let live = migrated(&live_database).await;
    let restored = migrated(&backup_database).await;
    append_committed(&live, 0..10).await;
    let address = free_port();
    let producer_stop = Shutdown::new();
    let serving = serve_feed(
        &live,
        GrpcServer::bind(&address.to_string()).await.unwrap(),
        &producer_stop,
    )
    .await;
    let Some(mut following) = follow(backend, address, "restored").await else {
        return;
    };
    following.wait_for_cursor(10).await;
    following
        .wait_for_health(tonic_health::ServingStatus::Serving)
        .await;

    // The producer comes back on a backup taken at event 5, and writes on:
    // its events 6 to 12 are new events under numbers the cursor passed.
    producer_stop.trigger();
    serving.await.unwrap();
    restore_backup(&live, &restored, 5).await;
    append_committed(&restored, 100..107).await;
    let producer_stop = Shutdown::new();
    let serving = serve_feed(
        &restored,
        GrpcServer::bind(&address.to_string()).await.unwrap(),
        &producer_stop,
    )
    .await;

    let reason = following.wait_until_halted().await;
    assert!(reason.contains("event 10"), "{reason}");
    following
        .wait_for_health(tonic_health::ServingStatus::NotServing)
        .await;
    assert_eq!(
        following.halted_gauge(),
        Some(1.0),
        "the halt is a metric too"
    );
    assert_eq!(
        feed::cursor_of(&following.db, &following.feed)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        following.applied().await,
        10,
        "nothing read past the restore"
    );
    assert_eq!(
        feed::halted_reason(&following.db, &following.feed)
            .await
            .unwrap(),
        Some(reason),
        "the halt outlives a restart"
    );

    // The operator resumes it from the start of the restored feed: the
    // events it had applied change nothing, the new ones are applied.
    assert_eq!(
        feed::resume_from_start(&following.db, &following.feed)
            .await
            .unwrap(),
        feed::Resumed::FromStart
    );
    following.wait_for_cursor(12).await;
    assert_eq!(following.applied().await, 10 + 7);
    assert_eq!(*following.status.borrow(), FeedStatus::Following);
    assert_eq!(following.halted_gauge(), Some(0.0));
    following
        .wait_for_health(tonic_health::ServingStatus::Serving)
        .await;

    following.stop().await;
    producer_stop.trigger();
    serving.await.unwrap();
}

async fn a_consumer_halts_when_the_feed_starts_a_new_epoch_under_it(backend: TestBackend) {
    louyu_kit::telemetry::init_for_tests();
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = migrated(&database).await;
    append_committed(&db, 0..3).await;
    let address = free_port();
    let producer_stop = Shutdown::new();
    let serving = serve_feed(
        &db,
        GrpcServer::bind(&address.to_string()).await.unwrap(),
        &producer_stop,
    )
    .await;
    let Some(mut following) = follow(backend, address, "renewed").await else {
        return;
    };
    following.wait_for_cursor(3).await;
    let old_epoch = feed::current_epoch(&db).await.unwrap();

    // A restore that followed the documented steps renews the epoch while
    // the consumer's stream is open.
    let new_epoch = feed::renew_epoch(&db).await.unwrap();
    assert_ne!(new_epoch, old_epoch);
    append_committed(&db, 3..4).await;
    let reason = following.wait_until_halted().await;
    assert!(reason.contains(&new_epoch), "{reason}");
    assert_eq!(following.applied().await, 3);

    // A client that names the old epoch is refused, and told why.
    let mut client = EventFeedServiceClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let refused = client
        .watch_events(as_test_system(WatchEventsRequest {
            after_sequence: 3,
            epoch: old_epoch,
            ..WatchEventsRequest::default()
        }))
        .await
        .expect_err("a cursor of another epoch is refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let info = tonic_types::StatusExt::get_details_error_info(&refused).expect("ErrorInfo");
    assert_eq!(info.reason, feed::EPOCH_CHANGED);
    assert_eq!(info.metadata["feed_epoch"], new_epoch);

    following.stop().await;
    producer_stop.trigger();
    serving.await.unwrap();
}

/// Many events appended at once (more than one statement holds) take the
/// next numbers in order, with no gap before or after them.
async fn events_appended_together_take_consecutive_numbers_in_order(backend: TestBackend) {
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = migrated(&database).await;
    let context = louyu_kit::audit::RequestContext::system("test");
    let event = |index: usize| {
        louyu_kit::feed::NewEvent::new(
            format!("things/{index}"),
            &WatchEventsRequest {
                after_sequence: index as i64,
                ..WatchEventsRequest::default()
            },
        )
    };
    let together = 5_000;
    let mut transaction = db.begin_write().await.expect("begin");
    louyu_kit::feed::append(&mut transaction, &context, event(0))
        .await
        .expect("one event");
    louyu_kit::feed::append_all(
        &mut transaction,
        &context,
        (1..=together).map(event).collect(),
    )
    .await
    .expect("many events");
    louyu_kit::feed::append_all(&mut transaction, &context, Vec::new())
        .await
        .expect("no events");
    louyu_kit::feed::append(&mut transaction, &context, event(together + 1))
        .await
        .expect("one more");
    db.commit_with_events(transaction).await.expect("commit");

    let events = louyu_kit::feed::read_after(&db, 0, 10_000)
        .await
        .expect("read the outbox");
    assert_eq!(events.len(), together + 2);
    for (index, event) in events.iter().enumerate() {
        assert_eq!(event.sequence, index as i64 + 1);
        assert_eq!(event.resource, format!("things/{index}"));
    }
    let ids: std::collections::HashSet<&str> =
        events.iter().map(|event| event.event_id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
}

async fn a_watcher_from_the_end_gets_only_what_commits_after_and_learns_where_it_starts(
    backend: TestBackend,
) {
    louyu_kit::telemetry::init_for_tests();
    let Some(database) = TestDatabase::create(backend).await else {
        return;
    };
    let db = migrated(&database).await;
    append_committed(&db, 0..3).await;
    let server = GrpcServer::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr();
    let shutdown = Shutdown::new();
    let serving = serve_feed(&db, server, &shutdown).await;
    let mut client = EventFeedServiceClient::connect(format!("http://{address}"))
        .await
        .unwrap();
    let opened = client
        .watch_events(as_test_system(WatchEventsRequest {
            // Ignored: the stream starts at the end.
            after_sequence: 1,
            from_end: true,
            ..WatchEventsRequest::default()
        }))
        .await
        .unwrap();
    assert_eq!(opened.metadata().get(feed::START_HEADER).unwrap(), "3");
    let mut stream = opened.into_inner();
    append_committed(&db, 3..4).await;
    let batch = tokio::time::timeout(DEADLINE, stream.next())
        .await
        .expect("the new event in time")
        .expect("a batch")
        .expect("not an error");
    let sequences: Vec<i64> = batch.events.iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, [4]);
    assert_eq!(batch.events[0].resource, "things/3");

    // From the end of an epoch that is not the feed's: refused as a cursor
    // of another epoch is.
    let refused = client
        .watch_events(as_test_system(WatchEventsRequest {
            from_end: true,
            epoch: "another-epoch".to_owned(),
            ..WatchEventsRequest::default()
        }))
        .await
        .expect_err("another epoch is refused");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    drop(stream);
    shutdown.trigger();
    serving.await.unwrap();
}

backend_tests!(
    a_watcher_from_the_end_gets_only_what_commits_after_and_learns_where_it_starts,
    events_appended_together_take_consecutive_numbers_in_order,
    a_consumer_halts_when_its_producer_is_restored_from_a_backup,
    a_consumer_whose_handler_panics_is_restarted_and_applies_every_event_once,
    a_consumer_halts_when_the_feed_starts_a_new_epoch_under_it,
    concurrent_delayed_writers_are_seen_in_order_exactly_once,
    consumer_waits_for_its_producer_and_applies_each_event_once,
    events_carry_the_trace_of_the_request_that_caused_them,
);
