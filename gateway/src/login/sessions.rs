//! The gateway's own table: login sessions, and the logins under way
//! between the redirect to the provider and its callback. A session id and
//! a login state are random secrets held by the browser; the table keeps
//! their SHA-256 hashes only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use louyu_kit::db::Db;
use louyu_kit::identity::{Person, Role};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// A fresh random secret: 32 bytes, base64url.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hex SHA-256 of a secret, as the table keeps it.
pub fn hash_of(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The CSRF token of a session: derived from its id, so nothing more is
/// stored, and the id cannot be read back from it.
pub fn csrf_token_of(session_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"louyu-csrf:");
    hasher.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

fn micros(instant: SystemTime) -> i64 {
    instant
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as i64)
        .unwrap_or(0)
}

fn instant_of(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(micros.max(0) as u64)
}

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub person: Person,
    /// When it ends whatever happens (the absolute expiry).
    pub expires_at: SystemTime,
}

/// A login under way, taken back by its callback.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub browser_hash: String,
    pub code_verifier: String,
    pub nonce: String,
}

/// How long a login may take between the redirect and the callback.
pub const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// The sessions of one deployment's gateway.
#[derive(Clone)]
pub struct Sessions {
    db: Db,
    idle_timeout: Duration,
    absolute_timeout: Duration,
}

impl Sessions {
    pub fn new(db: Db, idle_timeout: Duration, absolute_timeout: Duration) -> Self {
        Self {
            db,
            idle_timeout,
            absolute_timeout,
        }
    }

    /// Opens a session for `person`: its id, for the cookie, and the
    /// session.
    pub async fn open(&self, person: &Person) -> sqlx::Result<(String, Session)> {
        let id = random_secret();
        let now = SystemTime::now();
        let expires_at = now + self.absolute_timeout;
        let id_hash = hash_of(&id);
        let roles: Vec<&str> = person.roles.iter().map(|role| role.as_str()).collect();
        sqlx::query(
            "INSERT INTO gateway_sessions (id_hash, staff_id, roles, sub_district, department, \
             created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id_hash)
        .bind(&person.staff_id)
        .bind(roles.join(","))
        .bind(person.sub_district.clone().unwrap_or_default())
        .bind(person.department.clone().unwrap_or_default())
        .bind(micros(now))
        .bind(micros(now))
        .bind(micros(expires_at))
        .execute(self.db.pool())
        .await?;
        Ok((
            id,
            Session {
                id_hash,
                person: person.clone(),
                expires_at,
            },
        ))
    }

    /// The live session of `id`: `None` when there is none, or it has
    /// been idle too long, or its absolute expiry has passed (then it is
    /// deleted). A request keeps it alive: its last use is written at most
    /// once per tenth of the idle timeout, not on every request.
    pub async fn find(&self, id: &str, district: &str) -> sqlx::Result<Option<Session>> {
        let id_hash = hash_of(id);
        let row = sqlx::query(
            "SELECT staff_id, roles, sub_district, department, last_seen_at, expires_at \
             FROM gateway_sessions WHERE id_hash = $1",
        )
        .bind(&id_hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now = SystemTime::now();
        let last_seen_at = instant_of(row.try_get("last_seen_at")?);
        let expires_at = instant_of(row.try_get("expires_at")?);
        let idle = now.duration_since(last_seen_at).unwrap_or_default();
        if now >= expires_at || idle >= self.idle_timeout {
            self.delete_hash(&id_hash).await?;
            return Ok(None);
        }
        if idle >= self.idle_timeout / 10 {
            sqlx::query("UPDATE gateway_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(micros(now))
                .bind(&id_hash)
                .execute(self.db.pool())
                .await?;
        }
        let text = |column: &str| -> sqlx::Result<Option<String>> {
            let value: String = row.try_get(column)?;
            Ok(Some(value).filter(|value| !value.is_empty()))
        };
        let roles: String = row.try_get("roles")?;
        let roles: Vec<Role> = roles
            .split(',')
            .filter_map(|role| role.parse().ok())
            .collect();
        Ok(Some(Session {
            id_hash,
            person: Person {
                staff_id: row.try_get("staff_id")?,
                roles,
                district: district.to_owned(),
                sub_district: text("sub_district")?,
                department: text("department")?,
            },
            expires_at,
        }))
    }

    /// Ends the session of `id`: its cookie is refused from now on.
    pub async fn close(&self, id: &str) -> sqlx::Result<()> {
        self.delete_hash(&hash_of(id)).await
    }

    async fn delete_hash(&self, id_hash: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM gateway_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes the sessions and logins that have ended: the gateway's
    /// sweeper runs it now and then.
    pub async fn sweep(&self) -> sqlx::Result<()> {
        let now = SystemTime::now();
        sqlx::query("DELETE FROM gateway_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(micros(now))
            .bind(micros(now - self.idle_timeout))
            .execute(self.db.pool())
            .await?;
        sqlx::query("DELETE FROM gateway_logins WHERE created_at <= $1")
            .bind(micros(now - LOGIN_LIFETIME))
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Remembers a login under way, by its state.
    pub async fn begin_login(&self, state: &str, login: &PendingLogin) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO gateway_logins (state_hash, browser_hash, code_verifier, nonce, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_of(state))
        .bind(&login.browser_hash)
        .bind(&login.code_verifier)
        .bind(&login.nonce)
        .bind(micros(SystemTime::now()))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Takes the login of `state` back, once: a second callback with the
    /// same state finds nothing. `None` too when it is older than
    /// [`LOGIN_LIFETIME`].
    pub async fn take_login(&self, state: &str) -> sqlx::Result<Option<PendingLogin>> {
        let row = sqlx::query(
            "DELETE FROM gateway_logins WHERE state_hash = $1 \
             RETURNING browser_hash, code_verifier, nonce, created_at",
        )
        .bind(hash_of(state))
        .fetch_optional(self.db.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let created_at = instant_of(row.try_get("created_at")?);
        if SystemTime::now()
            .duration_since(created_at)
            .unwrap_or_default()
            > LOGIN_LIFETIME
        {
            return Ok(None);
        }
        Ok(Some(PendingLogin {
            browser_hash: row.try_get("browser_hash")?,
            code_verifier: row.try_get("code_verifier")?,
            nonce: row.try_get("nonce")?,
        }))
    }
}
