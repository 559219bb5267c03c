//! Prometheus metrics: one recorder per process (the `metrics` facade's,
//! rendered by `metrics-exporter-prometheus`), served as plain text on
//! `GET /metrics` at `LOUYU_METRICS_LISTEN` (off when unset). Several
//! services in one process (`louyu up`) share it; every metric about a
//! service carries its `service` label.
//!
//! What is recorded (docs/operations.md says what each means and what to
//! alert on):
//! - `louyu_rpc_requests_total{service,rpc_method,grpc_code}` and
//!   `louyu_rpc_duration_seconds{service,rpc_method}`: every gRPC call a
//!   service answered ([`crate::observe`]);
//! - `louyu_feed_lag_events{consumer,feed}`: events the producer had that
//!   the consumer had not yet applied, as of its last batch
//!   ([`crate::feed`]);
//! - `louyu_feed_consumer_halted{feed}`;
//! - `louyu_db_pool_connections{service,state}` (`idle`, `in_use`) and
//!   `louyu_db_pool_max{service}`, read at each scrape;
//! - the services' own, counted in their databases every
//!   `metrics_refresh_interval` (and at start) with [`set_counts`]:
//!   `louyu_referrals_overdue{service,department}` by the referral
//!   service's deadline scanner, `louyu_enterprises_by_colour{service,colour}`
//!   by the risk service's re-assessment scheduler. Each replica counts the
//!   same rows, so each reports the district's whole count.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::Code;
use tonic::codegen::{Bytes, http};

use crate::db::Db;

pub const RPC_REQUESTS: &str = "louyu_rpc_requests_total";
pub const RPC_DURATION: &str = "louyu_rpc_duration_seconds";
pub const FEED_LAG: &str = "louyu_feed_lag_events";
pub const DB_POOL_CONNECTIONS: &str = "louyu_db_pool_connections";
pub const DB_POOL_MAX: &str = "louyu_db_pool_max";
pub const REFERRALS_OVERDUE: &str = "louyu_referrals_overdue";
pub const ENTERPRISES_BY_COLOUR: &str = "louyu_enterprises_by_colour";

/// The buckets of `louyu_rpc_duration_seconds`: 1 ms to 10 s.
const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static ENABLED: AtomicBool = AtomicBool::new(false);
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Whether this process records metrics: per-call metrics cost a label
/// string and a lookup, spent only when someone scrapes them.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the process's Prometheus recorder, once; later calls return the
/// same handle.
pub fn install() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(RPC_DURATION.to_owned()), &DURATION_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    // Another thread may have won the race; its recorder is the one used.
    if metrics::set_global_recorder(recorder).is_err() {
        return HANDLE
            .get()
            .context("another metrics recorder is installed in this process");
    }
    let handle = HANDLE.get_or_init(|| handle);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(handle)
}

/// The `rpc_method` of calls to a method no Louyu server has.
pub(crate) const UNKNOWN_METHOD: &str = "unknown";

/// The handles of the metrics of one service's calls, by method, each made
/// at the method's first call: finding a metric by its name and labels in
/// the recorder costs more than recording it.
#[derive(Debug)]
pub(crate) struct RpcMetrics {
    service: &'static str,
    methods: RwLock<HashMap<String, Arc<MethodMetrics>, foldhash::fast::RandomState>>,
}

#[derive(Debug)]
struct MethodMetrics {
    method: String,
    duration: metrics::Histogram,
    /// By gRPC code (0 to 16).
    requests: [OnceLock<metrics::Counter>; 17],
}

impl RpcMetrics {
    fn kept(&self, method: &str) -> Option<Arc<MethodMetrics>> {
        self.methods
            .read()
            .expect("the method handles are never poisoned")
            .get(method)
            .cloned()
    }

    pub(crate) fn new(service: &'static str) -> Self {
        Self {
            service,
            methods: RwLock::default(),
        }
    }

    /// Counts one answered call and its duration. A method no Louyu server
    /// has (`permissions::is_known`) is counted as `unknown`, so the handles
    /// kept, like the series, are bounded by the methods served.
    pub(crate) fn record(&self, method: &str, code: Code, elapsed: Duration) {
        let metrics = self.of(method);
        metrics.requests[code as usize]
            .get_or_init(|| {
                metrics::counter!(
                    RPC_REQUESTS,
                    "service" => self.service,
                    "rpc_method" => metrics.method.clone(),
                    "grpc_code" => crate::observe::code_name(code),
                )
            })
            .increment(1);
        metrics.duration.record(elapsed.as_secs_f64());
    }

    fn of(&self, method: &str) -> Arc<MethodMetrics> {
        if let Some(found) = self.kept(method) {
            return found;
        }
        // Checked at a method's first call only: a known method is then
        // found above.
        let method = if crate::permissions::is_known(method) {
            method
        } else {
            UNKNOWN_METHOD
        };
        if let Some(found) = self.kept(method) {
            return found;
        }
        self.methods
            .write()
            .expect("the method handles are never poisoned")
            .entry(method.to_owned())
            .or_insert_with_key(|method| {
                Arc::new(MethodMetrics {
                    duration: metrics::histogram!(
                        RPC_DURATION,
                        "service" => self.service,
                        "rpc_method" => method.clone(),
                    ),
                    method: method.clone(),
                    requests: Default::default(),
                })
            })
            .clone()
    }
}

/// The databases whose pools are reported at each scrape, by service.
fn pools() -> &'static Mutex<HashMap<&'static str, Db>> {
    static POOLS: OnceLock<Mutex<HashMap<&'static str, Db>>> = OnceLock::new();
    POOLS.get_or_init(Mutex::default)
}

/// Reports `db`'s pool as `service`'s (replacing the one it had: a service
/// started again in the same process).
pub fn report_pool(service: &'static str, db: &Db) {
    pools()
        .lock()
        .expect("the pool registry is never poisoned")
        .insert(service, db.clone());
}

fn refresh_pools() {
    let pools = pools().lock().expect("the pool registry is never poisoned");
    for (service, db) in pools.iter() {
        let pool = db.pool();
        let size = f64::from(pool.size());
        let idle = pool.num_idle() as f64;
        metrics::gauge!(DB_POOL_CONNECTIONS, "service" => *service, "state" => "idle").set(idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "service" => *service, "state" => "in_use")
            .set((size - idle).max(0.0));
        metrics::gauge!(DB_POOL_MAX, "service" => *service)
            .set(f64::from(pool.options().get_max_connections()));
    }
}

/// The values of its label each counted gauge was given, by metric and
/// service, so that a value gone from the latest count reads 0.
type Counted = HashMap<(&'static str, &'static str), BTreeSet<String>>;

fn counted() -> &'static Mutex<Counted> {
    static COUNTED: OnceLock<Mutex<Counted>> = OnceLock::new();
    COUNTED.get_or_init(Mutex::default)
}

/// Sets the gauge `name` of `service`, one series per value of `label`,
/// to `counts`. A value this process counted before and `counts` no longer
/// holds reads 0: a department with nothing overdue any more is seen to
/// fall to 0, not left at its last count. The count is the caller's query:
/// run it only when [`enabled`].
pub fn set_counts(
    name: &'static str,
    service: &'static str,
    label: &'static str,
    counts: &[(String, u64)],
) {
    let mut counted = counted()
        .lock()
        .expect("the counted gauges are never poisoned");
    let known = counted.entry((name, service)).or_default();
    for gone in known.iter() {
        if !counts.iter().any(|(value, _)| value == gone) {
            metrics::gauge!(name, "service" => service, label => gone.clone()).set(0.0);
        }
    }
    for (value, count) in counts {
        metrics::gauge!(name, "service" => service, label => value.clone()).set(*count as f64);
        known.insert(value.clone());
    }
}

/// When a background job next counts its gauge: at its first turn, then
/// once `every` has passed, and never while metrics are off (the count is
/// a query nobody would read).
#[derive(Debug)]
pub struct Refresh {
    every: Duration,
    last: Option<Instant>,
}

impl Refresh {
    pub fn every(every: Duration) -> Self {
        Refresh { every, last: None }
    }

    /// Whether to count now; if so, the next count is `every` from now.
    pub fn due(&mut self) -> bool {
        if !enabled() {
            return false;
        }
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < self.every)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

/// The text a scrape gets: every metric in Prometheus's text format.
pub fn render() -> String {
    let Some(handle) = HANDLE.get() else {
        return String::new();
    };
    refresh_pools();
    handle.run_upkeep();
    handle.render()
}

/// Serves `GET /metrics` at `address` until `shutdown` turns true; other
/// paths are 404. Installs the recorder. Returns the address bound (for
/// `:0`).
pub async fn serve(
    address: &str,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    install()?;
    let listener = TcpListener::bind(address).await.with_context(|| {
        format!("cannot listen for metrics on {address} (LOUYU_METRICS_LISTEN)")
    })?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "metrics at /metrics");
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = shutdown.wait_for(|stopped| *stopped) => return,
            };
            let Ok((stream, _)) = accepted else {
                continue;
            };
            tokio::spawn(async move {
                let served = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
                if let Err(error) = served {
                    tracing::debug!(error = %error, "a metrics scrape failed");
                }
            });
        }
    });
    Ok((local, task))
}

async fn answer(
    request: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let response = if request.method() == http::Method::GET && request.uri().path() == "/metrics" {
        http::Response::builder()
            .header(
                http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(Full::new(Bytes::from(render())))
    } else {
        http::Response::builder()
            .status(http::StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found: GET /metrics\n")))
    };
    Ok(response.expect("a valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line of `name`'s series for the service `unit-test` with every
    /// one of `labels`.
    fn series(text: &str, name: &str, labels: &[&str]) -> String {
        text.lines()
            .find(|line| {
                line.starts_with(name)
                    && line.contains("service=\"unit-test\"")
                    && labels.iter().all(|label| line.contains(label))
            })
            .unwrap_or_else(|| panic!("{name} with {labels:?}:\n{text}"))
            .to_owned()
    }

    /// The handles a method's first call makes count its later calls, by
    /// code, and a server started again in the process counts on the same
    /// series; a path no server has is counted as `unknown`.
    #[test]
    fn a_methods_calls_are_counted_by_code_on_the_handles_of_its_first_call() {
        let handle = install().expect("the recorder");
        let metrics = RpcMetrics::new("unit-test");
        let method = "louyu.registry.v1.RegistryService/GetEnterprise";
        metrics.record(method, Code::Ok, Duration::from_millis(2));
        metrics.record(method, Code::NotFound, Duration::from_millis(3));
        metrics.record(method, Code::Ok, Duration::from_millis(4));
        RpcMetrics::new("unit-test").record(method, Code::Ok, Duration::from_millis(5));
        // A path the caller made up, refused before any method ran.
        metrics.record(
            "louyu.registry.v1.RegistryService/MadeUp",
            Code::ResourceExhausted,
            Duration::from_millis(1),
        );

        let text = handle.render();
        let ok = series(&text, RPC_REQUESTS, &[method, "grpc_code=\"OK\""]);
        assert!(ok.ends_with(" 3"), "{ok}");
        let not_found = series(&text, RPC_REQUESTS, &[method, "grpc_code=\"NOT_FOUND\""]);
        assert!(not_found.ends_with(" 1"), "{not_found}");
        let count = series(&text, &format!("{RPC_DURATION}_count"), &[method]);
        assert!(count.ends_with(" 4"), "{count}");
        assert!(!text.contains("MadeUp"), "{text}");
        let unknown = series(
            &text,
            RPC_REQUESTS,
            &["rpc_method=\"unknown\"", "grpc_code=\"RESOURCE_EXHAUSTED\""],
        );
        assert!(unknown.ends_with(" 1"), "{unknown}");
    }
}
