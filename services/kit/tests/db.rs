//! Start-up against a database that cannot be used fails within seconds, in
//! one line naming the database and the cause, and never the password. And
//! what is bound reaches either database as it was meant.

use std::time::{Duration, Instant};

use louyu_kit::db::{Db, NullableDouble};
use louyu_testkit::{TestBackend, TestDatabase, backend_tests, postgres_server_url};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Any, Encode, Type};

/// Well under the pool's 30 s wait for a connection.
const FAIL_FAST: Duration = Duration::from_secs(10);
const PASSWORD: &str = "hunter2-secret";

/// Connects, expecting a failure within `FAIL_FAST`; returns its one line.
async fn connect_error(url: &str) -> String {
    let started = Instant::now();
    let error = Db::connect(&SecretString::from(url.to_owned()))
        .await
        .expect_err("the database cannot be used");
    assert!(
        started.elapsed() < FAIL_FAST,
        "failed after {:?}, not fast",
        started.elapsed()
    );
    let line = format!("{error:#}");
    assert!(!line.contains('\n'), "one line: {line}");
    assert!(!line.contains(PASSWORD), "no password: {line}");
    line
}

/// The host and port of the test server, with a user, password and database
/// of the test's choosing.
fn postgres_url(user: &str, database: &str, query: &str) -> Option<String> {
    let server: PgConnectOptions = postgres_server_url()?.parse().expect("a PostgreSQL URL");
    Some(format!(
        "postgres://{user}:{PASSWORD}@{}:{}/{database}{query}",
        server.get_host(),
        server.get_port()
    ))
}

fn server_user() -> Option<String> {
    let server: PgConnectOptions = postgres_server_url()?.parse().expect("a PostgreSQL URL");
    Some(server.get_username().to_owned())
}

#[tokio::test]
async fn an_empty_sqlite_path_is_refused() {
    for url in ["sqlite:", "sqlite://", "sqlite://?mode=rwc"] {
        let line = connect_error(url).await;
        assert!(line.contains("names no file"), "{url}: {line}");
    }
}

#[tokio::test]
async fn a_sqlite_path_in_a_missing_folder_fails_and_names_the_folder() {
    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("mistyped");
    let line = connect_error(&format!("sqlite://{}/registry.db", missing.display())).await;
    assert!(line.contains(&missing.display().to_string()), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    assert!(!missing.exists(), "no folder was created");
}

#[tokio::test]
async fn a_read_only_sqlite_file_fails_fast_naming_the_file() {
    let database = TestDatabase::create(TestBackend::Sqlite).await.unwrap();
    let db = Db::connect(&database.url).await.unwrap();
    db.migrate_kit().await.unwrap();
    db.close().await;
    let file = database.url().trim_start_matches("sqlite://").to_owned();
    // Opened read-only as a file without write permission would be (the
    // tests may run as root, who writes to any file).
    let line = connect_error(&format!("{}?mode=ro", database.url())).await;
    assert!(line.contains(&file), "{line}");
    assert!(line.contains("read-only"), "{line}");
}

#[tokio::test]
async fn a_postgres_port_that_refuses_fails_fast_naming_host_port_and_cause() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let line = connect_error(&format!(
        "postgres://louyu:{PASSWORD}@127.0.0.1:{closed_port}/louyu"
    ))
    .await;
    assert!(line.contains(&format!("127.0.0.1:{closed_port}")), "{line}");
    assert!(line.contains("connection refused"), "{line}");
}

#[tokio::test]
async fn a_postgres_user_that_cannot_log_in_fails_fast_saying_so() {
    let Some(url) = postgres_url("louyu_no_such_role", "postgres", "") else {
        return;
    };
    let line = connect_error(&url).await;
    assert!(line.contains("authentication failed"), "{line}");
    assert!(line.contains("louyu_no_such_role"), "{line}");
}

#[tokio::test]
async fn a_postgres_database_that_does_not_exist_fails_fast_saying_so() {
    let Some(user) = server_user() else {
        return;
    };
    let url = postgres_url(&user, "louyu_no_such_database", "").unwrap();
    let line = connect_error(&url).await;
    assert!(line.contains("database does not exist"), "{line}");
    assert!(line.contains("louyu_no_such_database"), "{line}");
}

/// A self-signed certificate for `localhost` that did not sign the test
/// server's certificate.
const UNRELATED_CERTIFICATE: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIDITCCAgmgAwIBAgIUFIppPmFiiI6XzXKlea8aDeKkdDQwDQYJKoZIhvcNAQEL\n\
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzA5NTkxMVoYDzIxMjYx\n\
MTAzMDk1OTExWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB\n\
AQUAA4IBDwAwggEKAoIBAQCXPW627z0vsZ7RqXr12DONCLX3ssLpT8vb/R7Z1bZ1\n\
4DydbxeBzXI28wdMjuKX3q5qg526S9e70RJYJXPU4UO6wJkHv3/ZE3+bw4YVjg/P\n\
upt2BCn79h6DQW36KFIKVk8vtTj3umU4SKbn27a+S5FGRD691DMty8pO5wAFroyD\n\
bMFBHEjni1kf8EkPw1V9ZzeT/GVqg855SoL1hMslPMSDjouf1ORWA8SENqyaKWIl\n\
9Mbz7yz+agdKw+kgxsiRLWIKHJdE1VZun/+gd5Y96vbFdu/9x5rB1JearVXPuAU1\n\
6648NSg42R5hdM7KyuL7FcWFHqd//tTKguU6LMIBWhTpAgMBAAGjaTBnMB0GA1Ud\n\
DgQWBBSvELh+pic4Nqty/im/ynvxikv0qTAfBgNVHSMEGDAWgBSvELh+pic4Nqty\n\
/im/ynvxikv0qTAPBgNVHRMBAf8EBTADAQH/MBQGA1UdEQQNMAuCCWxvY2FsaG9z\n\
dDANBgkqhkiG9w0BAQsFAAOCAQEAIKPIKG14fyGl3M7A3ChxU8AfoAJ0B1Vcc/Qe\n\
aW0GSWIK94HghDSOZECEbpvqd+xOTSO9k/Am9cEw9SY0HQ9c7FyX2D24nuTh1aqh\n\
iDgl9nxtIgwaHxlzbhHr+iBVvDczJTTkqrD0d+D2gy4sIJkbf28q9dzk2uwJM+mB\n\
HwWjAGIUF3KyFgf41hp98FBqpCqpctrv2vXLVgQHA8uatZu2IQN0dI4A50E3j9b8\n\
r5vB3RNWZfZFJsBVCHZ9gNG0r8KtWUsPghi7ejm3mdBBXreuM5hcTefMVdqdhnr8\n\
Uw2+ppJB8RKoiSD2eZPdTxfVg4vqT/lVV4bRvEnUpfM4t3WdMA==\n\
-----END CERTIFICATE-----\n";

#[tokio::test]
async fn postgres_over_tls_verifies_the_server_certificate() {
    let Some(server_url) = postgres_server_url() else {
        return;
    };
    let Some(user) = server_user() else { return };
    let server: PgConnectOptions = server_url.parse().unwrap();
    let port = server.get_port();
    let url_to =
        |host: &str, query: &str| format!("postgres://{user}@{host}:{port}/postgres{query}");
    let db = Db::connect(&SecretString::from(server_url.clone()))
        .await
        .unwrap();
    let ssl: String = sqlx::query_scalar("SELECT current_setting('ssl')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    let certificate_file: String = sqlx::query_scalar("SELECT current_setting('ssl_cert_file')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    db.close().await;
    if ssl != "on" {
        // Without TLS on the server, asking for it must fail and say so.
        let line = connect_error(&url_to("127.0.0.1", "?sslmode=require")).await;
        assert!(line.contains("TLS"), "{line}");
        eprintln!("the test server has TLS off; verify-full is not tested");
        return;
    }
    let uses_tls = |url: String| async move {
        let db = Db::connect(&SecretString::from(url.clone()))
            .await
            .unwrap_or_else(|error| panic!("{url}: {error:#}"));
        let over_tls: bool =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(db.pool())
                .await
                .unwrap();
        db.close().await;
        over_tls
    };
    assert!(uses_tls(url_to("127.0.0.1", "?sslmode=require")).await);

    // The server's certificate is self-signed, so it is its own root; the
    // server must run on this machine for the test to read it.
    if !std::path::Path::new(&certificate_file).is_file() {
        eprintln!(
            "the server's certificate {certificate_file} is not readable here; verify-full is not tested"
        );
        return;
    }
    let verify_full = format!("?sslmode=verify-full&sslrootcert={certificate_file}");
    assert!(uses_tls(url_to("localhost", &verify_full)).await);

    let line = connect_error(&url_to("127.0.0.1", &verify_full)).await;
    assert!(line.contains("TLS failed"), "{line}");
    assert!(
        line.contains("127.0.0.1"),
        "the name the certificate lacks: {line}"
    );

    let folder = tempfile::tempdir().unwrap();
    let unrelated = folder.path().join("unrelated.pem");
    std::fs::write(&unrelated, UNRELATED_CERTIFICATE).unwrap();
    let line = connect_error(&url_to(
        "localhost",
        &format!("?sslmode=verify-full&sslrootcert={}", unrelated.display()),
    ))
    .await;
    assert!(line.contains("TLS failed"), "{line}");

    let missing = folder.path().join("missing.pem");
    let line = connect_error(&url_to(
        "localhost",
        &format!("?sslmode=verify-ca&sslrootcert={}", missing.display()),
    ))
    .await;
    assert!(line.contains(&missing.display().to_string()), "{line}");
}

/// A fresh database with one table of optional doubles.
async fn database_with_a_double_column(backend: TestBackend) -> Option<(TestDatabase, Db)> {
    let database = TestDatabase::create(backend).await?;
    let db = Db::connect(&database.url).await.unwrap();
    sqlx::query("CREATE TABLE readings (id BIGINT PRIMARY KEY, value DOUBLE PRECISION)")
        .execute(db.pool())
        .await
        .unwrap();
    Some((database, db))
}

/// Inserts each of `values` in turn with the same statement on one
/// connection, so that the statement is prepared once, by the first; then
/// reads them back in order.
async fn insert_on_one_connection<T>(db: &Db, values: Vec<T>) -> sqlx::Result<Vec<Option<f64>>>
where
    T: for<'q> Encode<'q, Any> + Type<Any> + Send + 'static,
{
    let mut connection = db.pool().acquire().await?;
    for (id, value) in (0_i64..).zip(values) {
        sqlx::query("INSERT INTO readings (id, value) VALUES ($1, $2)")
            .bind(id)
            .bind(value)
            .execute(&mut *connection)
            .await?;
    }
    sqlx::query_scalar("SELECT value FROM readings ORDER BY id")
        .fetch_all(&mut *connection)
        .await
}

async fn a_nullable_double_binds_nulls_and_values_in_any_order_on_one_connection(
    backend: TestBackend,
) {
    let Some((_database, db)) = database_with_a_double_column(backend).await else {
        return;
    };
    let values = vec![None, Some(31.2292), None, Some(-0.5), Some(f64::MAX), None];
    let bound = values.iter().copied().map(NullableDouble).collect();
    assert_eq!(insert_on_one_connection(&db, bound).await.unwrap(), values);
    db.close().await;
}

backend_tests!(a_nullable_double_binds_nulls_and_values_in_any_order_on_one_connection);

/// The reason for `NullableDouble`, still there in sqlx (launchbadge/sqlx#4284):
/// a NULL `Option<f64>` prepares the statement with a float4 parameter, and
/// the value after it fails as 22P03 `invalid_binary_representation`. When
/// this test fails, sqlx has fixed it: delete `NullableDouble`, bind the
/// `Option<f64>` everywhere instead, and delete this test.
#[tokio::test]
async fn an_option_f64_still_fails_on_postgres_after_a_null_on_the_same_connection() {
    let Some((_database, db)) = database_with_a_double_column(TestBackend::Postgres).await else {
        return;
    };
    let error = insert_on_one_connection(&db, vec![None, Some(31.2292_f64)])
        .await
        .expect_err(
            "sqlx now binds a NULL f64 as float8 (launchbadge/sqlx#4284 is fixed): \
             delete louyu_kit::db::NullableDouble and bind Option<f64>",
        );
    let code = error
        .as_database_error()
        .and_then(|database_error| database_error.code());
    assert_eq!(code.as_deref(), Some("22P03"), "{error}");
    db.close().await;
}
