//! One database URL picks the backend: `sqlite:` (the embedded default) or
//! `postgres:` (production). Queries are written once in SQL both accept and
//! run through sqlx's `Any` driver; where the schema must differ, each backend
//! keeps its own migrations.

use std::path::{Component, Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyPoolOptions, AnyTypeInfo, install_default_drivers};
use sqlx::encode::{Encode, IsNull};
use sqlx::error::BoxDynError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Any, AnyPool, Connection, Database, Executor, Type};
use tokio::sync::watch;

/// A write transaction.
pub type Tx = sqlx::Transaction<'static, Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!("database url must start with sqlite: or postgres://")
        }
    }
}

impl Backend {
    /// How many bind parameters one statement may carry: PostgreSQL's wire
    /// protocol counts them in 16 bits, SQLite's default
    /// `SQLITE_MAX_VARIABLE_NUMBER` is 32766.
    pub fn max_parameters(self) -> usize {
        match self {
            Backend::Sqlite => 32_766,
            Backend::Postgres => 65_535,
        }
    }
}

/// The most parameters a statement written for either backend may carry.
pub const MAX_PARAMETERS_ON_EVERY_BACKEND: usize = 32_766;

/// The placeholders of a multi-row `VALUES` list, `($1, $2), ($3, $4)`, for
/// `rows` rows of `columns` values each, numbered from `$first`. Bulk writes
/// build their statements with it: sqlx's `Any` driver binds no arrays, so
/// a batch travels as one statement of many rows, within
/// [`Backend::max_parameters`].
pub fn values_placeholders(rows: usize, columns: usize, first: usize) -> String {
    let mut text = String::with_capacity(rows * columns * 8);
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns {
            if column > 0 {
                text.push_str(", ");
            }
            text.push('$');
            text.push_str(&(first + row * columns + column).to_string());
        }
        text.push(')');
    }
    text
}

/// A `DOUBLE PRECISION` parameter that may be NULL:
/// `.bind(NullableDouble(building.latitude))`. Bind every optional float
/// through it, never an `Option<f64>`.
///
/// sqlx 0.9.0's `Any` driver hands PostgreSQL a `None::<f64>` as a NULL
/// `real` (float4) but a `Some(f64)` as a `double precision` (float8):
/// `AnyArguments::convert_into` in sqlx-core swaps the two float types of a
/// NULL (launchbadge/sqlx#4284, fixed by #4359, in no release yet).
/// PostgreSQL fixes a prepared statement's parameter types when it is
/// prepared, and sqlx prepares a statement on a connection's first run of it
/// and keeps it, so once a connection has run a statement with a NULL there,
/// the same statement with a value fails: "incorrect binary data format in
/// bind parameter N". Here a NULL goes as the one NULL that sqlx 0.9.0 turns
/// into a float8, a `None::<f32>`, and a value as the `f64` it is. SQLite is
/// untyped and takes either.
///
/// Once sqlx ships #4359 this would send float4 NULLs again: delete it and
/// bind the `Option<f64>`. kit's `tests/db.rs` checks both ways on
/// PostgreSQL and says when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullableDouble(pub Option<f64>);

impl Type<Any> for NullableDouble {
    fn type_info() -> AnyTypeInfo {
        <f64 as Type<Any>>::type_info()
    }
}

impl Encode<'_, Any> for NullableDouble {
    fn encode_by_ref(
        &self,
        buffer: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        match self.0 {
            Some(value) => <f64 as Encode<Any>>::encode_by_ref(&value, buffer),
            None => <Option<f32> as Encode<Any>>::encode_by_ref(&None, buffer),
        }
    }
}

/// Whether a read inside a write transaction locks the rows it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// A plain read: on PostgreSQL another transaction may change the rows
    /// before this one commits.
    None,
    /// The rows stay as read until this transaction ends: the read that a
    /// decision rests on (check-then-act) under READ COMMITTED.
    ForUpdate,
}

/// A service's database: the pool, which backend it is, and the signal that
/// new events were committed to its outbox.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    events_committed: Arc<watch::Sender<u64>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Db")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// How long start-up waits for the database's first answer. A database that
/// cannot be reached fails the start within this, with its cause, instead of
/// after the pool's 30 s wait for a connection.
const FIRST_CONNECTION_DEADLINE: Duration = Duration::from_secs(5);

/// The SQLite statements every connection runs first.
const SQLITE_SETUP: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                            PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;";

/// The folder a relative SQLite path may name without it existing yet: the
/// default `sqlite://data/<service>.db` works on a fresh checkout.
const DEFAULT_SQLITE_FOLDER: &str = "data";

impl Db {
    /// Connects, after checking with one connection that the database can be
    /// reached and written. Every error is one line that names the database
    /// (host, port, database and user, or the file) and the cause, and never
    /// the password.
    pub async fn connect(url: &SecretString) -> anyhow::Result<Self> {
        install_default_drivers();
        let configured_url = url.expose_secret();
        let backend = Backend::of_url(configured_url)?;
        let pool_url = match backend {
            Backend::Sqlite => {
                let sqlite = SqliteTarget::parse(configured_url)?;
                sqlite.check_first_connection().await?;
                sqlite.url
            }
            Backend::Postgres => {
                let postgres = PostgresTarget::parse(configured_url)?;
                postgres.check_first_connection().await?;
                configured_url.to_owned()
            }
        };
        let options = match backend {
            // SQLite allows one writer at a time; write transactions begin
            // IMMEDIATE and wait their turn under the busy timeout.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection.execute(SQLITE_SETUP).await?;
                            Ok(())
                        })
                    })
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = options
            .acquire_timeout(Duration::from_secs(30))
            .connect(&pool_url)
            .await
            .map_err(|error| {
                anyhow::anyhow!(
                    "数据库连接失败 cannot open the database pool: {}",
                    describe_error(&error)
                )
            })?;
        let (events_committed, _) = watch::channel(0);
        Ok(Self {
            pool,
            backend,
            events_committed: Arc::new(events_committed),
        })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies the kit's migrations (outbox, audit, idempotency, cursors) and
    /// then the service's. Kit migrations are numbered below 100, services'
    /// from 100, and both share sqlx's migration table.
    ///
    /// On PostgreSQL the service's `postgres_only` migrations (its
    /// `migrations/postgres/` folder: the `reporting` schema of views) run
    /// too, merged with the shared ones into one sequence by version, so a
    /// fresh database and an upgraded one apply them in the same order: a
    /// shared migration numbered after a PostgreSQL-only one runs after it on
    /// both. The two folders share one numbering; a version in both is
    /// refused. SQLite never sees the PostgreSQL-only versions.
    pub async fn migrate(
        &self,
        shared: Migrator,
        postgres_only: Option<Migrator>,
    ) -> anyhow::Result<()> {
        self.migrate_kit().await?;
        let mut service_migrations = match (self.backend, postgres_only) {
            (Backend::Postgres, Some(postgres_only)) => merge_migrations(&shared, &postgres_only)?,
            _ => shared,
        };
        service_migrations.set_ignore_missing(true);
        service_migrations
            .run(&self.pool)
            .await
            .context("cannot apply the service's migrations")?;
        Ok(())
    }

    /// Applies only the kit's own migrations.
    pub async fn migrate_kit(&self) -> anyhow::Result<()> {
        let mut kit_migrations = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        kit_migrations.set_ignore_missing(true);
        kit_migrations
            .run(&self.pool)
            .await
            .context("cannot apply the kit's migrations")?;
        crate::feed::ensure_epoch(self)
            .await
            .context("cannot create the feed's epoch")?;
        Ok(())
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock
    /// at once (`BEGIN IMMEDIATE`), so two writers queue instead of failing
    /// when one upgrades a read lock.
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// The clause that ends a `SELECT` reading rows of `table` (its name or
    /// alias in the query): with [`RowLock::ForUpdate`], ` FOR UPDATE OF
    /// table` on PostgreSQL, so the rows stay as read until the transaction
    /// ends. SQLite has no row locks and needs none: its write transactions
    /// begin `IMMEDIATE` and run one at a time.
    pub fn row_lock(&self, lock: RowLock, table: &str) -> String {
        match (self.backend, lock) {
            (Backend::Postgres, RowLock::ForUpdate) => format!(" FOR UPDATE OF {table}"),
            _ => String::new(),
        }
    }

    /// Commits a transaction that appended events, and wakes the feed's
    /// watchers.
    pub async fn commit_with_events(&self, transaction: Tx) -> sqlx::Result<()> {
        transaction.commit().await?;
        self.events_committed
            .send_modify(|generation| *generation += 1);
        Ok(())
    }

    /// Changes whenever this process commits events.
    pub fn watch_events(&self) -> watch::Receiver<u64> {
        self.events_committed.subscribe()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A SQLite database named by a URL: its file (none for `:memory:`) and the
/// URL that opens it, creating the file when missing.
#[derive(Debug)]
struct SqliteTarget {
    file: Option<PathBuf>,
    url: String,
}

impl SqliteTarget {
    /// Refuses a URL without a path: SQLite would give each pooled
    /// connection its own empty temporary database. Creates the default
    /// `data` folder when missing; any other folder must exist, so that a
    /// mistyped path fails instead of starting on a new, empty database.
    fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        anyhow::ensure!(
            !path.is_empty(),
            "数据库地址缺少文件路径 the sqlite: URL names no file; give one, such as \
             sqlite://data/registry.db"
        );
        let url_creating_the_file = match query {
            Some(query) if query.contains("mode=") => url.to_owned(),
            Some(_) => format!("{url}&mode=rwc"),
            None => format!("{url}?mode=rwc"),
        };
        if path == ":memory:" {
            return Ok(Self {
                file: None,
                url: url_creating_the_file,
            });
        }
        let file = PathBuf::from(path);
        match file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            Some(folder) if is_default_sqlite_folder(folder) => {
                std::fs::create_dir_all(folder).map_err(|error| {
                    anyhow::anyhow!(
                        "无法创建数据库文件夹 cannot create the database folder {}: {error}",
                        folder.display()
                    )
                })?;
            }
            Some(folder) if !folder.is_dir() => anyhow::bail!(
                "数据库文件夹不存在 the database folder {} does not exist; create it, or fix \
                 the path (only ./{DEFAULT_SQLITE_FOLDER} is created automatically)",
                folder.display()
            ),
            _ => {}
        }
        Ok(Self {
            file: Some(file),
            url: url_creating_the_file,
        })
    }

    fn describe(&self) -> String {
        match &self.file {
            Some(file) => format!("the SQLite file {}", file.display()),
            None => "the in-memory SQLite database".to_owned(),
        }
    }

    /// Opens one connection, sets it up as the pool will, and writes in a
    /// transaction it rolls back: a file that cannot be written fails here.
    async fn check_first_connection(&self) -> anyhow::Result<()> {
        let checked = async {
            let mut connection = SqliteConnection::connect(&self.url).await?;
            connection.execute(SQLITE_SETUP).await?;
            // Rewriting the header's user version, rolled back, is the
            // smallest write; a read-only file refuses it.
            let user_version: i64 = sqlx::query_scalar("PRAGMA user_version")
                .fetch_one(&mut connection)
                .await?;
            connection.execute("BEGIN IMMEDIATE").await?;
            connection
                .execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA user_version = {user_version}"
                )))
                .await?;
            connection.execute("ROLLBACK").await?;
            connection.close().await
        };
        let cause = match tokio::time::timeout(FIRST_CONNECTION_DEADLINE, checked).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => describe_sqlite_error(&error),
            Err(_) => no_answer_within_deadline(),
        };
        anyhow::bail!("数据库无法使用 cannot use {}: {cause}", self.describe())
    }
}

/// `data` or `./data`.
fn is_default_sqlite_folder(folder: &Path) -> bool {
    let without_current_dir: PathBuf = folder
        .components()
        .filter(|component| !matches!(component, Component::CurDir))
        .collect();
    without_current_dir == Path::new(DEFAULT_SQLITE_FOLDER)
}

fn describe_sqlite_error(error: &sqlx::Error) -> String {
    let primary_code = error
        .as_database_error()
        .and_then(|database_error| database_error.code())
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff);
    match primary_code {
        Some(8) => "文件只读 it is read-only (attempt to write a readonly database)".to_owned(),
        Some(14) => "无法打开文件 the file cannot be opened".to_owned(),
        Some(5) => "被另一个进程锁定 another process holds it locked".to_owned(),
        Some(26) => "不是 SQLite 数据库 the file is not a SQLite database".to_owned(),
        _ => describe_error(error),
    }
}

/// A PostgreSQL server named by a URL, with what an error may name of it.
#[derive(Debug)]
struct PostgresTarget {
    options: PgConnectOptions,
}

impl PostgresTarget {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|error| {
            anyhow::anyhow!(
                "数据库地址无效 the PostgreSQL URL is not valid: {}",
                describe_error(&error)
            )
        })?;
        if let Some(file) = ssl_root_cert_file(url) {
            anyhow::ensure!(
                file.is_file(),
                "无法读取 sslrootcert 文件 the sslrootcert file {} cannot be read",
                file.display()
            );
        }
        Ok(Self { options })
    }

    fn describe(&self) -> String {
        let options = &self.options;
        format!(
            "PostgreSQL at {}:{} (database {}, user {})",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username()),
            options.get_username()
        )
    }

    async fn check_first_connection(&self) -> anyhow::Result<()> {
        let checked = async {
            let connection = PgConnection::connect_with(&self.options).await?;
            connection.close().await
        };
        let cause = match tokio::time::timeout(FIRST_CONNECTION_DEADLINE, checked).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(error)) => describe_postgres_error(&error),
            Err(_) => no_answer_within_deadline(),
        };
        anyhow::bail!(
            "数据库连接失败 cannot connect to {}: {cause}",
            self.describe()
        )
    }
}

/// The file a URL's `sslrootcert` names (sqlx also reads `ssl-root-cert`
/// and `ssl-ca`), unless it holds the certificate itself.
fn ssl_root_cert_file(url: &str) -> Option<PathBuf> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| matches!(*key, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
        .map(|(_, value)| value)
        .filter(|value| !value.starts_with("-----") && !value.contains('%'))
        .map(PathBuf::from)
}

fn describe_postgres_error(error: &sqlx::Error) -> String {
    if let sqlx::Error::Io(io_error) = error {
        // rustls reports a certificate it does not accept as invalid data.
        return match io_error.kind() {
            std::io::ErrorKind::ConnectionRefused => "连接被拒绝 connection refused".to_owned(),
            std::io::ErrorKind::InvalidData => format!("TLS 失败 TLS failed: {io_error}"),
            _ => format!("网络错误 network error: {io_error}"),
        };
    }
    if let sqlx::Error::Tls(tls_error) = error {
        return format!("TLS 失败 TLS failed: {tls_error}");
    }
    let Some(database_error) = error.as_database_error() else {
        return describe_error(error);
    };
    let server_says = database_error.message();
    match database_error.code().as_deref() {
        Some("28P01" | "28000") => format!("认证失败 authentication failed ({server_says})"),
        Some("3D000") => format!("数据库不存在 the database does not exist ({server_says})"),
        _ => describe_error(error),
    }
}

fn no_answer_within_deadline() -> String {
    format!(
        "{0} 秒内无应答 no answer within {0} s",
        FIRST_CONNECTION_DEADLINE.as_secs()
    )
}

fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    crate::error::ErrorChain(error).to_string()
}

/// One migrator of `shared` and `postgres_only`, in version order; refuses
/// a version the two both hold, naming it. Each migration keeps the checksum
/// of its own file, so merging changes nothing sqlx has recorded.
pub fn merge_migrations(shared: &Migrator, postgres_only: &Migrator) -> anyhow::Result<Migrator> {
    if let Some(clash) = postgres_only
        .iter()
        .find(|migration| shared.version_exists(migration.version))
    {
        anyhow::bail!(
            "迁移版本冲突 migration version {} is both a shared and a PostgreSQL-only migration; \
             give the PostgreSQL-only one a version of its own",
            clash.version
        );
    }
    Ok(Migrator::with_migrations(
        shared.iter().chain(postgres_only.iter()).cloned().collect(),
    ))
}

/// Whether a database error means that this transaction lost a race that the
/// database broke for it: PostgreSQL's `serialization_failure` (40001) or
/// `deadlock_detected` (40P01). Nothing was written; the call may be retried
/// as it is, so it leaves as `ABORTED`, never as an internal error.
pub fn is_concurrency_conflict(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|database_error| database_error.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|database_error| database_error.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_ask_for_the_file_to_be_created() {
        let folder = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/x.db", folder.path().display());
        assert_eq!(
            SqliteTarget::parse(&url).unwrap().url,
            format!("{url}?mode=rwc")
        );
        assert_eq!(
            SqliteTarget::parse("sqlite::memory:?cache=shared")
                .unwrap()
                .url,
            "sqlite::memory:?cache=shared&mode=rwc"
        );
    }

    #[test]
    fn only_the_default_data_folder_may_be_missing() {
        assert!(is_default_sqlite_folder(Path::new("data")));
        assert!(is_default_sqlite_folder(Path::new("./data")));
        assert!(!is_default_sqlite_folder(Path::new("dat")));
        assert!(!is_default_sqlite_folder(Path::new("/srv/data")));
    }

    #[test]
    fn values_placeholders_number_rows_then_columns_from_the_first() {
        assert_eq!(values_placeholders(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values_placeholders(1, 2, 4), "($4, $5)");
        assert_eq!(values_placeholders(0, 2, 1), "");
    }

    fn migrator_of(versions: &[i64]) -> Migrator {
        use sqlx::SqlSafeStr;
        Migrator::with_migrations(
            versions
                .iter()
                .map(|version| {
                    sqlx::migrate::Migration::new(
                        *version,
                        format!("m{version}").into(),
                        sqlx::migrate::MigrationType::Simple,
                        sqlx::AssertSqlSafe(format!("SELECT {version}")).into_sql_str(),
                        false,
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn postgres_only_migrations_merge_into_the_shared_sequence_by_version() {
        let shared = migrator_of(&[100, 101, 103]);
        let merged = merge_migrations(&shared, &migrator_of(&[102, 104])).unwrap();
        let versions: Vec<i64> = merged.iter().map(|migration| migration.version).collect();
        assert_eq!(versions, vec![100, 101, 102, 103, 104]);
        let checksums_kept = merged
            .iter()
            .filter(|migration| migration.version != 102 && migration.version != 104)
            .zip(shared.iter())
            .all(|(merged, shared)| merged.checksum == shared.checksum);
        assert!(checksums_kept);
    }

    #[test]
    fn a_version_in_both_folders_is_refused_naming_it() {
        let error = merge_migrations(&migrator_of(&[100, 101]), &migrator_of(&[101]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("101"), "{error}");
    }

    #[test]
    fn the_url_scheme_picks_the_backend() {
        assert_eq!(
            Backend::of_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::of_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::of_url("mysql://h/db").is_err());
    }
}
