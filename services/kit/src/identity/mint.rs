//! Making tokens: what `louyu token` will call, and what tests use to make
//! every kind of good and bad token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::keys::SigningKey;
use super::verify::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use super::{Principal, Role};

/// The longest life a token may be given. Tokens are short-lived: a system
/// that calls for longer is given a new one before its old one expires.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a token says besides who it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOptions {
    /// `iss`: who issued it; the verifier expects its own setting.
    pub issuer: String,
    /// `aud`: whom it is for.
    pub audience: String,
    /// How long from now it is valid.
    pub ttl: Duration,
}

impl Default for TokenOptions {
    fn default() -> Self {
        Self {
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            ttl: Duration::from_secs(60 * 60),
        }
    }
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("a token's time to live must be between 1 second and 7 days")]
    Ttl,
    #[error("a person needs at least one role, and not `system`")]
    PersonRoles,
    #[error("cannot sign the token")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

/// `kind` in the claims: whom `sub` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SubjectKind {
    Person,
    System,
}

/// The claims of a Louyu token. `sub` is the staff id of a person, or the
/// name of a system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) aud: String,
    pub(crate) sub: String,
    pub(crate) iat: u64,
    pub(crate) nbf: u64,
    pub(crate) exp: u64,
    pub(crate) kind: SubjectKind,
    pub(crate) district: String,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub_district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) department: Option<String>,
}

/// Signs a token for `principal`, valid from now for `options.ttl`, with
/// the key's `kid` in its header.
pub fn mint_token(
    key: &SigningKey,
    principal: &Principal,
    options: &TokenOptions,
) -> Result<String, MintError> {
    mint_token_at(key, principal, options, SystemTime::now())
}

/// [`mint_token`] as if it were `issued_at`: tests make expired and
/// not-yet-valid tokens with it.
pub fn mint_token_at(
    key: &SigningKey,
    principal: &Principal,
    options: &TokenOptions,
    issued_at: SystemTime,
) -> Result<String, MintError> {
    if options.ttl < Duration::from_secs(1) || options.ttl > MAX_TOKEN_TTL {
        return Err(MintError::Ttl);
    }
    let issued_at = issued_at
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let (kind, subject, roles, sub_district, department) = match principal {
        Principal::Person(person) => {
            if person.roles.is_empty() || person.roles.contains(&Role::System) {
                return Err(MintError::PersonRoles);
            }
            (
                SubjectKind::Person,
                person.staff_id.clone(),
                person
                    .roles
                    .iter()
                    .map(|role| role.as_str().to_owned())
                    .collect(),
                person.sub_district.clone(),
                person.department.clone(),
            )
        }
        Principal::System(system) => (
            SubjectKind::System,
            system.name.clone(),
            vec![Role::System.as_str().to_owned()],
            None,
            None,
        ),
    };
    let claims = Claims {
        iss: options.issuer.clone(),
        aud: options.audience.clone(),
        sub: subject,
        iat: issued_at,
        nbf: issued_at,
        exp: issued_at + options.ttl.as_secs(),
        kind,
        district: principal.district().to_owned(),
        roles,
        sub_district,
        department,
    };
    let mut header = jsonwebtoken::Header::new(key.algorithm().jsonwebtoken());
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &claims, key.encoding_key()).map_err(MintError::Sign)
}
