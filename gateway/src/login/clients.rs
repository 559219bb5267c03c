//! Other government systems: the clients in `LOUYU_GATEWAY_CLIENTS_FILE`.
//! A client with a secret gets a short-lived system token at
//! `POST /oauth/token` (OAuth 2.0 client credentials, RFC 6749 §4.4); a
//! client with keys of its own (a JWKS file) signs its own tokens, which
//! the gateway verifies and exchanges for a system token on each call.
//!
//! ```toml
//! [[client]]
//! client_id = "hotline-12345"
//! system = "hotline-12345"         # the name in its Louyu tokens
//! secret_sha256 = "9f86d08…"       # hex SHA-256 of its secret
//!
//! [[client]]
//! client_id = "stats-bureau"
//! system = "stats-bureau"
//! jwks_file = "/etc/louyu/clients/stats-bureau.jwks.json"
//! ```

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use jsonwebtoken::{DecodingKey, Validation};
use louyu_kit::identity::SystemIdentity;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::body::Body;

use super::{Login, LoginError, MINTED_TOKEN_TTL};
use crate::rest::json_response;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsFile {
    #[serde(default)]
    client: Vec<ClientEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientEntry {
    client_id: String,
    system: String,
    secret_sha256: Option<String>,
    jwks_file: Option<PathBuf>,
}

/// How a client proves who it is.
enum Credential {
    /// The SHA-256 of its secret.
    Secret([u8; 32]),
    /// Its own signing keys, each with its `kid`.
    Keys(Vec<(Option<String>, DecodingKey)>),
}

/// One configured client.
pub struct Client {
    client_id: String,
    system: String,
    credential: Credential,
}

/// Every configured client.
#[derive(Default)]
pub struct Clients {
    clients: Vec<Client>,
}

impl Clients {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let setting = "LOUYU_GATEWAY_CLIENTS_FILE";
        let text = std::fs::read_to_string(path).map_err(|error| {
            anyhow::anyhow!("{setting}: cannot read {}: {error}", path.display())
        })?;
        let file: ClientsFile = toml::from_str(&text).map_err(|error| {
            anyhow::anyhow!("{setting}: {} is invalid: {error}", path.display())
        })?;
        let mut clients: Vec<Client> = Vec::new();
        for entry in file.client {
            let id = entry.client_id.clone();
            louyu_kit::names::parse_resource_id("client_id", &id)
                .map_err(|error| anyhow::anyhow!("{setting}: client_id {id:?}: {error}"))?;
            louyu_kit::names::parse_resource_id("system", &entry.system)
                .map_err(|error| anyhow::anyhow!("{setting}: client {id}: system: {error}"))?;
            anyhow::ensure!(
                clients.iter().all(|client| client.client_id != id),
                "{setting}: client {id} is listed twice"
            );
            let credential = match (entry.secret_sha256, entry.jwks_file) {
                (Some(hash), None) => {
                    let bytes = decode_hex(hash.trim())
                        .filter(|bytes| bytes.len() == 32)
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "{setting}: client {id}: secret_sha256 must be 64 hex digits"
                            )
                        })?;
                    let mut hash = [0u8; 32];
                    hash.copy_from_slice(&bytes);
                    Credential::Secret(hash)
                }
                (None, Some(jwks_file)) => {
                    let text = std::fs::read_to_string(&jwks_file).map_err(|error| {
                        anyhow::anyhow!(
                            "{setting}: client {id}: cannot read {}: {error}",
                            jwks_file.display()
                        )
                    })?;
                    let set: jsonwebtoken::jwk::JwkSet =
                        serde_json::from_str(&text).map_err(|error| {
                            anyhow::anyhow!(
                                "{setting}: client {id}: {} is not a JWKS: {error}",
                                jwks_file.display()
                            )
                        })?;
                    let mut keys = Vec::new();
                    for jwk in &set.keys {
                        let key = DecodingKey::from_jwk(jwk).map_err(|error| {
                            anyhow::anyhow!(
                                "{setting}: client {id}: a key of {} is unusable: {error}",
                                jwks_file.display()
                            )
                        })?;
                        keys.push((jwk.common.key_id.clone(), key));
                    }
                    anyhow::ensure!(
                        !keys.is_empty(),
                        "{setting}: client {id}: {} has no key",
                        jwks_file.display()
                    );
                    Credential::Keys(keys)
                }
                _ => anyhow::bail!(
                    "{setting}: client {id} needs exactly one of secret_sha256 and jwks_file"
                ),
            };
            clients.push(Client {
                client_id: id,
                system: entry.system,
                credential,
            });
        }
        Ok(Self { clients })
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    fn by_id(&self, client_id: &str) -> Option<&Client> {
        self.clients
            .iter()
            .find(|client| client.client_id == client_id)
    }

    /// Who `token` claims (unverified, by its `iss`) to be issued by, for
    /// a gateway whose own tokens carry `deployment_issuer`.
    pub fn issuer_of(&self, token: &str, deployment_issuer: &str) -> TokenIssuer<'_> {
        /// Only `iss`, read without building the other claims: this runs
        /// on every call with a bearer token.
        #[derive(serde::Deserialize)]
        struct Issuer<'a> {
            #[serde(borrow)]
            iss: Option<std::borrow::Cow<'a, str>>,
        }
        let Some(payload) = token
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload).ok())
        else {
            return TokenIssuer::Deployment;
        };
        let Some(issuer) = serde_json::from_slice::<Issuer>(&payload)
            .ok()
            .and_then(|claims| claims.iss)
        else {
            return TokenIssuer::Deployment;
        };
        if issuer == deployment_issuer {
            return TokenIssuer::Deployment;
        }
        match self.by_id(&issuer) {
            Some(client) => TokenIssuer::Client(client),
            None => TokenIssuer::Unknown,
        }
    }
}

/// Who a bearer token says issued it.
pub enum TokenIssuer<'a> {
    /// This deployment (or the token cannot be read: the owner that
    /// verifies it says what is wrong).
    Deployment,
    /// A configured client: the gateway verifies the token itself.
    Client(&'a Client),
    /// Neither: no service would accept it.
    Unknown,
}

impl Client {
    /// The system behind a token the client signed itself: `iss` and `sub`
    /// its client id, `aud` the gateway's public URL, unexpired, signed by
    /// one of its keys.
    pub fn verify_own_token(
        &self,
        token: &str,
        audience: &str,
        district: &str,
    ) -> Result<SystemIdentity, LoginError> {
        let Credential::Keys(keys) = &self.credential else {
            return Err(LoginError::BadClientToken(
                "this client has a secret, not keys of its own: get its tokens at POST /oauth/token",
            ));
        };
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| LoginError::BadClientToken("not a JWT"))?;
        if matches!(
            header.alg,
            jsonwebtoken::Algorithm::HS256
                | jsonwebtoken::Algorithm::HS384
                | jsonwebtoken::Algorithm::HS512
        ) {
            return Err(LoginError::BadClientToken(
                "signed with an algorithm not accepted",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.client_id]);
        validation.set_audience(&[audience]);
        validation.sub = Some(self.client_id.clone());
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        // jsonwebtoken checks the signature before the claims: a claim's
        // error means one of the client's keys signed the token.
        let mut claim_error = None;
        for (_, key) in keys
            .iter()
            .filter(|(kid, _)| header.kid.is_none() || kid == &header.kid)
        {
            match jsonwebtoken::decode::<Json>(token, key, &validation) {
                Ok(_) => {
                    return Ok(SystemIdentity {
                        name: self.system.clone(),
                        district: district.to_owned(),
                    });
                }
                Err(error) => {
                    if let Some(problem) = claim_problem(error.kind()) {
                        claim_error = Some(problem);
                    }
                }
            }
        }
        let problem = claim_error.unwrap_or(
            "the token is not signed by a key configured for this client (its jwks_file)",
        );
        tracing::info!(client = %self.client_id, problem, "a client's own token was refused");
        Err(LoginError::BadClientToken(problem))
    }
    /// Whether `secret` is the client's, compared in constant time.
    fn secret_matches(&self, secret: &str) -> bool {
        let Credential::Secret(expected) = &self.credential else {
            return false;
        };
        let presented = Sha256::digest(secret.as_bytes());
        bool::from(presented.as_slice().ct_eq(expected.as_slice()))
    }
}

/// What is wrong with the claims of a token whose signature checked out;
/// `None` for a signature or algorithm that does not.
fn claim_problem(kind: &jsonwebtoken::errors::ErrorKind) -> Option<&'static str> {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::ExpiredSignature => Some("the token has expired (exp)"),
        ErrorKind::ImmatureSignature => Some("the token is not yet valid (nbf)"),
        ErrorKind::InvalidAudience => {
            Some("the token's audience (aud) is not this gateway's public URL")
        }
        ErrorKind::InvalidSubject => Some("the token's subject (sub) is not its client id"),
        ErrorKind::MissingRequiredClaim(_) => {
            Some("a required claim (exp, iss, aud, sub) is missing")
        }
        _ => None,
    }
}

/// `POST /oauth/token`, `grant_type=client_credentials`, the client's id
/// and secret in HTTP Basic or the form: a system token, or an RFC 6749
/// error.
pub fn token_endpoint(
    login: &Login,
    headers: &http::HeaderMap,
    body: &Bytes,
) -> http::Response<Body> {
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "仅支持 client_credentials only grant_type=client_credentials is accepted",
        );
    }
    let basic = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded.trim()).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |text: &str| {
                form_urlencoded::parse(format!("x={text}").as_bytes())
                    .next()
                    .map(|(_, value)| value.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let credentials = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let refused = || {
        oauth_error(
            http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            "客户端认证失败 client authentication failed: unknown client id or wrong secret",
        )
    };
    let Some((client_id, secret)) = credentials else {
        return refused();
    };
    let Some(client) = login.clients().by_id(&client_id) else {
        tracing::info!("a token was asked for an unknown client");
        return refused();
    };
    if !client.secret_matches(&secret) {
        tracing::info!(client = %client.client_id, "a client presented a wrong secret");
        return refused();
    }
    let system = SystemIdentity {
        name: client.system.clone(),
        district: login.district().to_owned(),
    };
    match login.mint_system_token(system) {
        Ok(token) => {
            tracing::info!(client = %client.client_id, "issued a system token");
            let body = json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": MINTED_TOKEN_TTL.as_secs(),
            });
            let mut response = json_response(http::StatusCode::OK, Bytes::from(body.to_string()));
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(_) => oauth_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "内部错误 internal error",
        ),
    }
}

fn oauth_error(status: http::StatusCode, error: &str, description: &str) -> http::Response<Body> {
    let body = json!({"error": error, "error_description": description});
    let mut response = json_response(status, Bytes::from(body.to_string()));
    if status == http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Basic realm=\"louyu\""),
        );
    }
    response
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}
