//! One database URL picks the backend: `sqlite:` (the embedded default) or
//! `postgres:` (production). Queries are written once in SQL both accept and
//! run through sqlx's `Any` driver; where the schema must differ, each backend
//! keeps its own migrations.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor};
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

impl Db {
    pub async fn connect(url: &SecretString) -> anyhow::Result<Self> {
        install_default_drivers();
        let url = url.expose_secret();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = match backend {
            // SQLite allows one writer at a time; write transactions begin
            // IMMEDIATE and wait their turn under the busy timeout.
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|connection, _| {
                        Box::pin(async move {
                            connection
                                .execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000;",
                                )
                                .await?;
                            Ok(())
                        })
                    })
            }
            Backend::Postgres => AnyPoolOptions::new().max_connections(16),
        };
        let pool = options
            .acquire_timeout(Duration::from_secs(30))
            .connect(&url)
            .await
            .context("cannot connect to the database")?;
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
    pub async fn migrate(&self, mut service_migrations: Migrator) -> anyhow::Result<()> {
        self.migrate_kit().await?;
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

/// Creates the folder of a SQLite file and asks for the file to be created
/// when missing, so the default `sqlite://data/registry.db` works on a fresh
/// checkout.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    if !path.is_empty()
        && path != ":memory:"
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
    }
    Ok(match query {
        Some(query) if query.contains("mode=") => url.to_owned(),
        Some(_) => format!("{url}&mode=rwc"),
        None => format!("{url}?mode=rwc"),
    })
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
        let folder = std::env::temp_dir().join(format!("louyu-db-test-{}", std::process::id()));
        let url = format!("sqlite://{}/nested/x.db", folder.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(folder.join("nested").is_dir());
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:?cache=shared").unwrap(),
            "sqlite::memory:?cache=shared&mode=rwc"
        );
        std::fs::remove_dir_all(folder).unwrap();
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
