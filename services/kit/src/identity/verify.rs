//! Checking a request's token and turning it into a [`Caller`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::keys::{KeyAlgorithm, KeyError, VerificationKey, parse_jwks};
use super::mint::{Claims, SubjectKind};
use super::{Caller, Person, Principal, Provenance, Role, SystemIdentity};
use crate::audit::ACTOR_METADATA_KEY;

/// The metadata key of the caller's token: `authorization: Bearer <jwt>`.
pub const AUTHORIZATION_METADATA_KEY: &str = "authorization";
/// Where a service acting for a person forwards that person's token (the
/// bare JWT, no `Bearer`).
pub const ON_BEHALF_OF_METADATA_KEY: &str = "x-louyu-on-behalf-of";
/// Development mode only: the roles of the `x-louyu-actor` person,
/// comma-separated (`district-admin` when absent).
pub const DEV_ROLES_METADATA_KEY: &str = "x-louyu-roles";
/// Development mode only: the `x-louyu-actor` person's sub-district.
pub const DEV_SUB_DISTRICT_METADATA_KEY: &str = "x-louyu-sub-district";
/// Development mode only: the `x-louyu-actor` person's department.
pub const DEV_DEPARTMENT_METADATA_KEY: &str = "x-louyu-department";

/// `iss` expected when `LOUYU_TOKEN_ISSUER` is unset.
pub const DEFAULT_ISSUER: &str = "louyu";
/// `aud` expected when `LOUYU_TOKEN_AUDIENCE` is unset.
pub const DEFAULT_AUDIENCE: &str = "louyu";
/// How far `exp` and `nbf` may be off, for clocks that disagree a little.
pub const LEEWAY: Duration = Duration::from_secs(30);

/// The longest token accepted; anything longer is not one of ours.
const MAX_TOKEN_LENGTH: usize = 8 * 1024;
/// How often the JWKS file is looked at, at most, while its keys serve.
const JWKS_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why a request has no verified caller. Every variant leaves as
/// `UNAUTHENTICATED`; the message says which check failed, in Chinese then
/// English, and never repeats the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "缺少身份令牌 no token: send 'authorization: Bearer <token>' (make one with 'louyu token')"
    )]
    NoToken,
    #[error(
        "x-louyu-actor 须附身份令牌 x-louyu-actor without a token is refused: send 'authorization: Bearer <token>'"
    )]
    ActorWithoutToken,
    #[error("令牌格式错误 malformed token: {0}")]
    Malformed(&'static str),
    #[error("令牌已过期 the token has expired")]
    Expired,
    #[error("令牌尚未生效 the token is not yet valid")]
    NotYetValid,
    #[error("令牌签名无效 the token's signature is wrong")]
    WrongSignature,
    #[error("未知签名密钥 the token's key (kid) is not one of this deployment's keys")]
    UnknownKey,
    #[error("令牌签发者不符 the token has the wrong issuer")]
    WrongIssuer,
    #[error("令牌受众不符 the token has the wrong audience")]
    WrongAudience,
    #[error("令牌属于其他区 the token is another district's")]
    OtherDistrict,
    #[error("签名算法不允许 the token's algorithm is not allowed: only ES256 and EdDSA")]
    AlgorithmNotAllowed,
    #[error("仅外部系统可代他人调用 only a system may act on behalf of a person")]
    ActingForNotAllowed,
    #[error("代办人令牌无效 the token of the person acted for is refused: {0}")]
    OnBehalfOf(Box<AuthError>),
}

impl AuthError {
    /// Always `Unauthenticated`: 401 on the gateway's REST side.
    pub fn error_code(&self) -> crate::error::ServiceErrorCode {
        crate::error::ServiceErrorCode::Unauthenticated
    }

    pub fn into_status(self) -> Status {
        Status::new(self.error_code().grpc_code(), self.to_string())
    }
}

impl From<AuthError> for Status {
    fn from(error: AuthError) -> Self {
        error.into_status()
    }
}

/// How a deployment checks its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySettings {
    /// The deployment's district: a token for another is refused.
    pub district: String,
    /// Expected `iss` (`LOUYU_TOKEN_ISSUER`).
    pub issuer: String,
    /// Expected `aud` (`LOUYU_TOKEN_AUDIENCE`).
    pub audience: String,
    /// The public keys (`LOUYU_JWKS_FILE`). Required unless in development
    /// mode.
    pub jwks_file: Option<PathBuf>,
    /// `LOUYU_DEV_IDENTITY=1`: accept `x-louyu-actor` without a token.
    pub development_identity: bool,
}

impl IdentitySettings {
    /// Defaults for a district: issuer and audience `louyu`, no keys, no
    /// development mode.
    pub fn new(district: impl Into<String>) -> Self {
        Self {
            district: district.into(),
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            jwks_file: None,
            development_identity: false,
        }
    }

    /// The defaults, then `LOUYU_JWKS_FILE`, `LOUYU_DEV_IDENTITY`,
    /// `LOUYU_TOKEN_ISSUER` and `LOUYU_TOKEN_AUDIENCE`.
    pub fn from_env(district: impl Into<String>) -> anyhow::Result<Self> {
        Self::new(district).apply_env(|key| std::env::var(key).ok())
    }

    /// [`IdentitySettings::from_env`] with the variables read through
    /// `lookup`, for tests. The variables are the identity settings of
    /// [`crate::config::Config`], read by its own code.
    pub fn apply_env(self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut config = crate::config::Config {
            district: self.district,
            token_issuer: self.issuer,
            token_audience: self.audience,
            jwks_file: self.jwks_file,
            dev_identity: self.development_identity,
            ..crate::config::Config::default()
        };
        config.apply_env(lookup)?;
        Ok(config.identity_settings())
    }
}

/// Checks requests' tokens against the deployment's keys. Cheap to share:
/// clone the `Arc` it lives in.
pub struct Verifier {
    settings: IdentitySettings,
    keys: Option<KeyStore>,
    checked: CheckedTokens,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Verifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Reads the JWKS file once, so a missing or broken file fails the
    /// start. Logs a warning when development mode is on.
    pub fn new(settings: IdentitySettings) -> anyhow::Result<Self> {
        let keys = match &settings.jwks_file {
            Some(path) => Some(KeyStore::open(path.clone())?),
            None if settings.development_identity => None,
            None => anyhow::bail!(
                "LOUYU_JWKS_FILE is not set: a deployment needs its public keys to check tokens \
                 (or LOUYU_DEV_IDENTITY=1 on a developer's machine)"
            ),
        };
        if settings.development_identity {
            tracing::warn!(
                district = %settings.district,
                "development identity is on: x-louyu-actor is trusted without a token; never in production"
            );
        }
        Ok(Self {
            settings,
            keys,
            checked: CheckedTokens::new(CHECKED_TOKENS_CAPACITY),
        })
    }

    /// Whether `x-louyu-actor` is trusted without a token, for a readiness
    /// check that a production deployment must fail.
    pub fn is_development_identity(&self) -> bool {
        self.settings.development_identity
    }

    pub fn settings(&self) -> &IdentitySettings {
        &self.settings
    }

    /// The caller of a request, from its metadata alone.
    pub fn verify(&self, metadata: &MetadataMap) -> Result<Caller, AuthError> {
        let authorization = metadata.get(AUTHORIZATION_METADATA_KEY);
        let Some(authorization) = authorization else {
            if metadata.get(ACTOR_METADATA_KEY).is_none() {
                return Err(AuthError::NoToken);
            }
            if !self.settings.development_identity {
                return Err(AuthError::ActorWithoutToken);
            }
            return self.development_caller(metadata);
        };
        let token =
            authorization
                .to_str()
                .ok()
                .and_then(bearer_token)
                .ok_or(AuthError::Malformed(
                    "authorization must be 'Bearer <token>'",
                ))?;
        let caller = self.verify_token(token)?;
        let on_behalf_of = metadata.get(ON_BEHALF_OF_METADATA_KEY);
        let Some(on_behalf_of) = on_behalf_of else {
            return self.development_acting_for(caller, metadata);
        };
        let Principal::System(system) = caller.principal else {
            return Err(AuthError::ActingForNotAllowed);
        };
        let person_token = on_behalf_of
            .to_str()
            .map_err(|_| AuthError::Malformed("x-louyu-on-behalf-of is not text"))
            .map_err(|error| AuthError::OnBehalfOf(Box::new(error)))?;
        let person = self
            .verify_token(person_token.trim())
            .and_then(|person_caller| match person_caller.principal {
                Principal::Person(person) => Ok(person),
                Principal::System(_) => Err(AuthError::Malformed(
                    "the token acted for is not a person's",
                )),
            })
            .map_err(|error| AuthError::OnBehalfOf(Box::new(error)))?;
        Ok(Caller::from_system(
            system,
            Some(person),
            Provenance::Verified,
        ))
    }

    /// Checks one JWT, or finds it among the tokens already checked
    /// against the current keys and not yet expired.
    fn verify_token(&self, token: &str) -> Result<Caller, AuthError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
            return Err(AuthError::Malformed("not a JWT"));
        }
        if let Some(keys) = &self.keys
            && let Some(caller) = self.checked.get(token, keys)
        {
            return Ok(caller);
        }
        let checked = self.check_token(token)?;
        let caller = checked.caller.clone();
        self.checked.insert(token, checked);
        Ok(caller)
    }

    /// Checks one JWT: its algorithm, key, signature, times, issuer,
    /// audience, district and claims, in that order.
    fn check_token(&self, token: &str) -> Result<CheckedToken, AuthError> {
        let header = parse_header(token)?;
        let algorithm =
            KeyAlgorithm::from_jws_name(&header.alg).ok_or(AuthError::AlgorithmNotAllowed)?;
        let kid = header
            .kid
            .ok_or(AuthError::Malformed("the header has no kid"))?;
        let keys = self.keys.as_ref().ok_or(AuthError::UnknownKey)?;
        let key_set = keys.lookup(&kid);
        let key = key_set.get(&kid).ok_or(AuthError::UnknownKey)?;
        if key.algorithm != algorithm {
            // An ES256 header on an Ed25519 key, or the reverse: the header
            // asks for an algorithm this key does not sign with.
            return Err(AuthError::AlgorithmNotAllowed);
        }
        let mut validation = jsonwebtoken::Validation::new(algorithm.jsonwebtoken());
        validation.leeway = LEEWAY.as_secs();
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => AuthError::WrongSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    AuthError::AlgorithmNotAllowed
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    AuthError::Malformed("a required claim (exp, nbf, iss, aud, sub) is missing")
                }
                _ => AuthError::Malformed("the token cannot be decoded"),
            })?
            .claims;
        if claims.district != self.settings.district {
            return Err(AuthError::OtherDistrict);
        }
        let expires = claims.exp;
        Ok(CheckedToken {
            caller: caller_from_claims(claims)?,
            kid: kid.into(),
            key_set,
            expires,
        })
    }

    /// Development mode: a system with a token that forwards a person named
    /// by `x-louyu-actor` (who came with no token to forward) acts for that
    /// person, unverified. Outside development mode, or for a person's own
    /// token, the caller stays as verified.
    fn development_acting_for(
        &self,
        caller: Caller,
        metadata: &MetadataMap,
    ) -> Result<Caller, AuthError> {
        if !self.settings.development_identity || metadata.get(ACTOR_METADATA_KEY).is_none() {
            return Ok(caller);
        }
        let Principal::System(system) = caller.principal else {
            return Ok(caller);
        };
        let developer = self.development_caller(metadata)?;
        let Principal::Person(person) = developer.principal else {
            return Ok(Caller::from_system(system, None, caller.provenance));
        };
        Ok(Caller::from_system(
            system,
            Some(person),
            Provenance::UnverifiedDevelopment,
        ))
    }

    /// Development mode: the caller `x-louyu-actor` names, unchecked.
    fn development_caller(&self, metadata: &MetadataMap) -> Result<Caller, AuthError> {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let actor = text(ACTOR_METADATA_KEY)
            .ok_or(AuthError::Malformed("x-louyu-actor is empty or not text"))?;
        let district = self.settings.district.clone();
        if let Some(name) = actor.strip_prefix("system:") {
            let name = valid_id(name).ok_or(AuthError::Malformed("x-louyu-actor is not an id"))?;
            return Ok(Caller::from_system(
                SystemIdentity { name, district },
                None,
                Provenance::UnverifiedDevelopment,
            ));
        }
        let staff_id = valid_id(actor).ok_or(AuthError::Malformed("x-louyu-actor is not an id"))?;
        let role_names = text(DEV_ROLES_METADATA_KEY).unwrap_or(Role::DistrictAdmin.as_str());
        let roles = person_roles(role_names.split(',').map(str::trim))?;
        let optional_id = |key: &str| match text(key) {
            Some(value) => valid_id(value).map(Some).ok_or(AuthError::Malformed(
                "a development identity header is not an id",
            )),
            None => Ok(None),
        };
        Ok(Caller::from_person(
            Person {
                staff_id,
                roles,
                district,
                sub_district: optional_id(DEV_SUB_DISTRICT_METADATA_KEY)?,
                department: optional_id(DEV_DEPARTMENT_METADATA_KEY)?,
            },
            Provenance::UnverifiedDevelopment,
        ))
    }
}

/// The token of `Bearer <token>`; the scheme is case-insensitive.
pub(super) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(token.trim())
}

#[derive(serde::Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The header, read by hand so that an algorithm jsonwebtoken does not
/// know (`none`, `HS256` under another name) is refused as not allowed
/// rather than as malformed.
fn parse_header(token: &str) -> Result<RawHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "a JWT has three parts separated by '.'",
        ));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes)
        .map_err(|_| AuthError::Malformed("the header is not a JSON object with alg"))
}

fn valid_id(value: &str) -> Option<String> {
    crate::names::parse_resource_id("id", value).ok()
}

fn person_roles<'a>(names: impl Iterator<Item = &'a str>) -> Result<Vec<Role>, AuthError> {
    let mut roles = Vec::new();
    for name in names {
        let role: Role = name
            .parse()
            .map_err(|_| AuthError::Malformed("a role is not one of Louyu's roles"))?;
        if role == Role::System {
            return Err(AuthError::Malformed("a person cannot hold the system role"));
        }
        roles.push(role);
    }
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(AuthError::Malformed("a person's token names no role"));
    }
    Ok(roles)
}

fn caller_from_claims(claims: Claims) -> Result<Caller, AuthError> {
    let subject = valid_id(&claims.sub).ok_or(AuthError::Malformed("sub is not an id"))?;
    let optional_id = |value: Option<String>| match value {
        Some(value) => valid_id(&value).map(Some).ok_or(AuthError::Malformed(
            "sub_district or department is not an id",
        )),
        None => Ok(None),
    };
    match claims.kind {
        SubjectKind::Person => Ok(Caller::from_person(
            Person {
                staff_id: subject,
                roles: person_roles(claims.roles.iter().map(String::as_str))?,
                district: claims.district,
                sub_district: optional_id(claims.sub_district)?,
                department: optional_id(claims.department)?,
            },
            Provenance::Verified,
        )),
        SubjectKind::System => {
            if claims
                .roles
                .iter()
                .any(|role| role != Role::System.as_str())
            {
                return Err(AuthError::Malformed("a system holds the system role alone"));
            }
            Ok(Caller::from_system(
                SystemIdentity {
                    name: subject,
                    district: claims.district,
                },
                None,
                Provenance::Verified,
            ))
        }
    }
}

type KeySet = Arc<HashMap<String, VerificationKey>>;

/// Tokens kept checked, at most: with a token of about 0.7 KiB, a few MiB.
const CHECKED_TOKENS_CAPACITY: usize = 4096;

/// Tokens whose signature and claims were checked, by the token, so a
/// caller's next calls with the same token skip the signature check, the
/// costliest step of a call (a person's token serves for its lifetime, a
/// gateway-minted or service token until it is renewed). An entry serves
/// only while the keys it was checked against are the current ones (a key
/// added, removed or replaced in the JWKS file has every token checked
/// again) and until the token expires, with the same leeway as the check.
/// Refusals are not kept. Bounded: when full, the expired entries go, and
/// if none had expired, all of them.
struct CheckedTokens {
    /// By the whole token: a hash of it would cost more than the lookup
    /// (a SHA-256 of the token was a third of a cached check).
    entries: RwLock<HashMap<Box<str>, CheckedToken>>,
    capacity: usize,
}

struct CheckedToken {
    caller: Caller,
    kid: Arc<str>,
    key_set: KeySet,
    /// `exp`, in seconds since the Unix epoch.
    expires: u64,
}

impl CheckedTokens {
    fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// The caller of a token checked before, while its keys are current and
    /// it has not expired.
    fn get(&self, token: &str, keys: &KeyStore) -> Option<Caller> {
        // Copied out (shared pointers but the caller), so the key store,
        // which may re-read its file, is not asked under this lock.
        let (caller, kid, key_set, expires) = {
            let entries = self
                .entries
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let entry = entries.get(token)?;
            (
                entry.caller.clone(),
                entry.kid.clone(),
                entry.key_set.clone(),
                entry.expires,
            )
        };
        (unexpired(expires, unix_seconds()) && Arc::ptr_eq(&keys.lookup(&kid), &key_set))
            .then_some(caller)
    }

    fn insert(&self, token: &str, checked: CheckedToken) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            let now = unix_seconds();
            entries.retain(|_, entry| unexpired(entry.expires, now));
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token.into(), checked);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

/// Whether a token expiring at `expires` is still accepted at `now`, with
/// the check's leeway (jsonwebtoken refuses `exp < now - leeway`).
fn unexpired(expires: u64, now: u64) -> bool {
    expires.saturating_add(LEEWAY.as_secs()) >= now
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The JWKS file's keys, re-read when the file changes: looked at no more
/// than once a second while known keys serve, and at once when a token
/// names an unknown `kid`, so a key added to the file is accepted by the
/// next request that uses it. A file that no longer parses leaves the
/// previous keys in place, with a warning.
struct KeyStore {
    path: PathBuf,
    keys: RwLock<KeySet>,
    watch: Mutex<FileWatch>,
    /// When the next routine look at the file is due, in milliseconds after
    /// `opened`: read without the lock, so the calls in between (nearly all)
    /// do not queue on `watch`.
    next_check_millis: AtomicU64,
    opened: Instant,
}

struct FileWatch {
    last_check: Instant,
    last_read: Instant,
    stamp: Option<FileStamp>,
    digest: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    length: u64,
}

impl KeyStore {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        let stamp = file_stamp(&path);
        let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Read {
            path: path.clone(),
            source,
        })?;
        let keys = parse_jwks(&text)
            .map_err(|error| anyhow::anyhow!("LOUYU_JWKS_FILE {}: {error}", path.display()))?;
        let now = Instant::now();
        Ok(Self {
            next_check_millis: AtomicU64::new(JWKS_CHECK_INTERVAL.as_millis() as u64),
            opened: now,
            keys: RwLock::new(Arc::new(keys)),
            watch: Mutex::new(FileWatch {
                last_check: now,
                last_read: now,
                stamp,
                digest: digest(&text),
            }),
            path,
        })
    }

    /// The key set to look `kid` up in: the current one, refreshed first
    /// when due, and refreshed at once when it lacks `kid`.
    fn lookup(&self, kid: &str) -> KeySet {
        self.refresh(false);
        let keys = self.current();
        if keys.contains_key(kid) {
            return keys;
        }
        self.refresh(true);
        self.current()
    }

    fn current(&self) -> KeySet {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the file when it changed. `unknown_kid` skips the
    /// once-a-second wait for the look at the file's stamp, and re-reads
    /// even an unchanged stamp once a second (a rewrite within the
    /// filesystem's timestamp granularity keeps its stamp).
    fn refresh(&self, unknown_kid: bool) {
        let now = Instant::now();
        let elapsed_millis = now.duration_since(self.opened).as_millis() as u64;
        if !unknown_kid && elapsed_millis < self.next_check_millis.load(Ordering::Relaxed) {
            return;
        }
        let mut watch = self
            .watch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !unknown_kid && now.duration_since(watch.last_check) < JWKS_CHECK_INTERVAL {
            return;
        }
        watch.last_check = now;
        self.next_check_millis.store(
            elapsed_millis + JWKS_CHECK_INTERVAL.as_millis() as u64,
            Ordering::Relaxed,
        );
        let stamp = file_stamp(&self.path);
        let stale = unknown_kid && now.duration_since(watch.last_read) >= JWKS_CHECK_INTERVAL;
        if stamp == watch.stamp && !stale {
            return;
        }
        watch.last_read = now;
        watch.stamp = stamp;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "cannot re-read the JWKS file; keeping its previous keys");
                return;
            }
        };
        let text_digest = digest(&text);
        if text_digest == watch.digest {
            return;
        }
        match parse_jwks(&text) {
            Ok(keys) => {
                let count = keys.len();
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
                watch.digest = text_digest;
                tracing::info!(path = %self.path.display(), keys = count, "reloaded the JWKS file");
            }
            Err(error) => {
                tracing::warn!(path = %self.path.display(), %error, "the JWKS file no longer parses; keeping its previous keys");
            }
        }
    }
}

fn file_stamp(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: metadata.modified().ok(),
        length: metadata.len(),
    })
}

fn digest(text: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod checked_tokens_tests {
    use super::*;

    fn entry(expires: u64) -> CheckedToken {
        CheckedToken {
            caller: Caller::from_system(
                SystemIdentity {
                    name: "visits".to_owned(),
                    district: "jingan".to_owned(),
                },
                None,
                Provenance::Verified,
            ),
            kid: "k".into(),
            key_set: KeySet::default(),
            expires,
        }
    }

    #[test]
    fn the_checked_tokens_stay_within_capacity_dropping_the_expired_first() {
        let checked = CheckedTokens::new(3);
        let now = unix_seconds();
        checked.insert("t1", entry(now - 3600));
        checked.insert("t2", entry(now + 600));
        checked.insert("t3", entry(now + 600));
        checked.insert("t2", entry(now + 600));
        assert_eq!(checked.len(), 3, "the same token again takes no new place");
        checked.insert("t4", entry(now + 600));
        let kept = |token: &str| checked.entries.read().unwrap().contains_key(token);
        assert_eq!(checked.len(), 3);
        assert!(!kept("t1"), "the expired entry made room");
        assert!(kept("t2") && kept("t3") && kept("t4"));
        checked.insert("t5", entry(now + 600));
        assert_eq!(checked.len(), 1, "full of live entries: all went");
        assert!(kept("t5"));
    }

    #[test]
    fn an_entry_is_unexpired_until_the_leeway_has_passed() {
        let now = 1_000_000;
        assert!(unexpired(now, now));
        assert!(unexpired(now - LEEWAY.as_secs(), now));
        assert!(!unexpired(now - LEEWAY.as_secs() - 1, now));
    }
}
