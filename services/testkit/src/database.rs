//! A fresh, empty database for each test on either backend, and the
//! assertions and waits the suites share.
//!
//! SQLite databases are files in a temporary folder. PostgreSQL databases are
//! created on the server `LOUYU_TEST_POSTGRES_URL` names and dropped when the
//! test ends. Without that variable PostgreSQL tests are skipped, except under
//! `CI=true`, where they must run and fail loudly instead.

use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;

pub const POSTGRES_URL_VARIABLE: &str = "LOUYU_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// An empty database that lives as long as this value.
pub struct TestDatabase {
    pub url: SecretString,
    postgres: Option<(String, String)>,
    _folder: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh database, or `None` when PostgreSQL is not configured outside
    /// CI (the caller skips the test).
    pub async fn create(backend: TestBackend) -> Option<Self> {
        match backend {
            TestBackend::Sqlite => {
                let folder = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}/test.db", folder.path().display());
                Some(Self {
                    url: SecretString::from(url),
                    postgres: None,
                    _folder: Some(folder),
                })
            }
            TestBackend::Postgres => {
                let Some(server_url) = postgres_server_url() else {
                    eprintln!("skipping a PostgreSQL test: {POSTGRES_URL_VARIABLE} is not set");
                    return None;
                };
                let name = format!("louyu_test_{}", uuid::Uuid::new_v4().simple());
                let mut connection = sqlx::PgConnection::connect(&server_url)
                    .await
                    .unwrap_or_else(|error| {
                        panic!("cannot reach {POSTGRES_URL_VARIABLE}: {error}")
                    });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut connection)
                    .await
                    .expect("create the test database");
                let _ = connection.close().await;
                Some(Self {
                    url: SecretString::from(database_url(&server_url, &name)),
                    postgres: Some((server_url, name)),
                    _folder: None,
                })
            }
        }
    }

    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on its own
        // futures: the database is dropped from a thread with a runtime of its
        // own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&server_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut connection)
                .await?;
                connection.close().await?;
                Ok::<_, anyhow::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop a test database; it is left on the server");
        }
    }
}

/// The server `LOUYU_TEST_POSTGRES_URL` names; `None` outside CI when unset.
pub fn postgres_server_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|value| value == "true") => {
            panic!(
                "{POSTGRES_URL_VARIABLE} must be set under CI=true: PostgreSQL tests never skip in CI"
            )
        }
        _ => None,
    }
}

/// The server URL with its database path replaced by `name`.
fn database_url(server_url: &str, name: &str) -> String {
    let (without_query, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let scheme_end = without_query.find("://").map_or(0, |index| index + 3);
    let base = match without_query[scheme_end..].find('/') {
        Some(slash) => &without_query[..scheme_end + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Declares one test per backend from an async function taking the backend:
/// `backend_tests!(creates_a_building);` makes
/// `creates_a_building::on_sqlite` and `creates_a_building::on_postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_sqlite() {
                    super::$name($crate::TestBackend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn on_postgres() {
                    super::$name($crate::TestBackend::Postgres).await;
                }
            }
        )*
    };
}

/// What the current thread logs at `WARN` and above while this value lives,
/// for tests that check a service warns. Logs of other threads, such as
/// spawned tasks on other workers, are not captured.
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl CapturedLogs {
    pub fn start() -> Self {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer_buffer = Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || CapturedWriter(Arc::clone(&writer_buffer)))
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything captured so far, as the fmt layer wrote it.
    pub fn text(&self) -> String {
        let bytes = self.buffer.lock().expect("the log buffer").clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

struct CapturedWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Asserts an INVALID_ARGUMENT whose `BadRequest` names `field`.
pub fn assert_invalid_field(result: Result<impl std::fmt::Debug, tonic::Status>, field: &str) {
    use tonic_types::StatusExt;
    let status = result.expect_err(&format!("expected INVALID_ARGUMENT naming {field}"));
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad_request = details
        .bad_request()
        .unwrap_or_else(|| panic!("BadRequest details in {status:?}"));
    assert!(
        bad_request
            .field_violations
            .iter()
            .any(|violation| violation.field == field),
        "expected a violation of {field}, got {:?}",
        bad_request.field_violations
    );
}

/// Asserts an error status with `code`, and returns it.
pub fn assert_code(
    result: Result<impl std::fmt::Debug, tonic::Status>,
    code: tonic::Code,
) -> tonic::Status {
    let status = result.expect_err(&format!("expected {code:?}"));
    assert_eq!(status.code(), code, "{status:?}");
    status
}

/// Runs `count` calls at the same moment: each on its own task, all released
/// together from a barrier, so that on PostgreSQL their transactions overlap.
/// `call(i)` builds the i-th call. Returns the results in call order.
pub async fn race<T, F, Fut>(count: usize, mut call: F) -> Vec<Result<T, tonic::Status>>
where
    T: Send + 'static,
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|index| {
            let barrier = barrier.clone();
            let future = call(index);
            tokio::spawn(async move {
                barrier.wait().await;
                future.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.expect("a racing call panicked"));
    }
    results
}

/// How many of `results` succeeded, and the codes of the others; panics on
/// any code not in `allowed`, naming it.
pub fn tally<T>(results: &[Result<T, tonic::Status>], allowed: &[tonic::Code]) -> usize {
    let mut succeeded = 0;
    for result in results {
        match result {
            Ok(_) => succeeded += 1,
            Err(status) => assert!(
                allowed.contains(&status.code()),
                "a racing call ended in {:?}, expected success or one of {allowed:?}: {status:?}",
                status.code()
            ),
        }
    }
    succeeded
}

/// Asserts that every racing call succeeded with the same response, byte
/// for byte (a repeated `request_id`), and returns it.
pub fn the_one_response<T: PartialEq + std::fmt::Debug>(
    results: &[Result<T, tonic::Status>],
) -> &T {
    assert_eq!(
        tally(results, &[]),
        results.len(),
        "every caller gets the response"
    );
    let first = results[0].as_ref().expect("counted");
    for result in results {
        assert_eq!(
            result.as_ref().expect("counted"),
            first,
            "byte for byte the same"
        );
    }
    first
}

/// Polls `condition` until it holds; panics naming `what` after 30 seconds.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let wait = async {
        while !condition().await {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_the_path_and_keeps_the_query() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(database_url("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            database_url("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
