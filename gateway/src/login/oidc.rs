//! The district's OpenID Connect provider, as the gateway's login uses it:
//! discovery, the authorization request (code flow, PKCE S256, `state` and
//! `nonce`), the code's exchange and the ID token's verification.
//!
//! The provider's signing keys are fetched from its `jwks_uri` and kept by
//! `kid`: fetched again when a token names a `kid` not among them (at most
//! once per `oidc_keys_min_refetch`, 30 s by default, so a flood of made-up `kid`s cannot
//! make the gateway hammer the provider) and on a schedule
//! ([`SCHEDULED_REFRESH`], by the gateway's job), never per login.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::LoginError;
use super::http_client::{ProviderCallError, ProviderClient};

/// How often the keys are fetched again whatever happens.
pub const SCHEDULED_REFRESH: Duration = Duration::from_secs(60 * 60);

/// The algorithms an ID token may be signed with: no `none`, no HMAC.
const ACCEPTED_ALGORITHMS: [Algorithm; 5] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What the gateway needs of the provider's discovery document.
#[derive(Debug, Clone)]
struct Discovered {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The provider, as configured.
pub struct Provider {
    issuer: String,
    client_id: String,
    client_secret: Option<SecretString>,
    redirect_uri: String,
    http: ProviderClient,
    /// Discovered on first use, so the gateway starts while the provider
    /// is down; a failed discovery is tried again at the next login.
    discovered: OnceCell<Discovered>,
    keys: Mutex<KeyCache>,
    key_fetches: AtomicU64,
    min_refetch_interval: Duration,
}

#[derive(Default)]
struct KeyCache {
    by_kid: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

impl Provider {
    pub fn new(
        issuer: String,
        client_id: String,
        client_secret: Option<SecretString>,
        redirect_uri: String,
        http: ProviderClient,
        min_refetch_interval: Duration,
    ) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            redirect_uri,
            http,
            discovered: OnceCell::new(),
            keys: Mutex::new(KeyCache::default()),
            key_fetches: AtomicU64::new(0),
            min_refetch_interval,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How many times the keys were fetched (for tests and the logs).
    pub fn key_fetches(&self) -> u64 {
        self.key_fetches.load(Ordering::Relaxed)
    }

    async fn discovered(&self) -> Result<&Discovered, LoginError> {
        self.discovered
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let document = self.http.get_json(&url).await.map_err(|error| {
                    tracing::warn!(issuer = %self.issuer, %error, "openid connect discovery failed");
                    LoginError::ProviderUnavailable
                })?;
                let text = |key: &str| -> Result<String, LoginError> {
                    document[key].as_str().map(str::to_owned).ok_or_else(|| {
                        tracing::warn!(issuer = %self.issuer, key, "the discovery document lacks a field");
                        LoginError::ProviderUnavailable
                    })
                };
                if text("issuer")?.trim_end_matches('/') != self.issuer {
                    tracing::warn!(issuer = %self.issuer, "the discovery document names another issuer");
                    return Err(LoginError::ProviderUnavailable);
                }
                Ok(Discovered {
                    authorization_endpoint: text("authorization_endpoint")?,
                    token_endpoint: text("token_endpoint")?,
                    jwks_uri: text("jwks_uri")?,
                })
            })
            .await
    }

    /// Where the browser goes to log in.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        code_verifier: &str,
    ) -> Result<String, LoginError> {
        let discovered = self.discovered().await?;
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", "openid profile")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        let separator = if discovered.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!(
            "{}{separator}{query}",
            discovered.authorization_endpoint
        ))
    }

    /// Exchanges `code` at the token endpoint and verifies the ID token
    /// it answers: its claims.
    pub async fn exchange(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<Map<String, Json>, LoginError> {
        let discovered = self.discovered().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", code_verifier),
        ];
        // A confidential client authenticates with HTTP Basic
        // (client_secret_basic); a public one names itself in the form.
        let basic = self.client_secret.as_ref().map(|secret| {
            let encode =
                |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
            STANDARD.encode(format!(
                "{}:{}",
                encode(&self.client_id),
                encode(secret.expose_secret())
            ))
        });
        if basic.is_none() {
            form.push(("client_id", self.client_id.as_str()));
        }
        let answer = self
            .http
            .post_form(&discovered.token_endpoint, &form, basic)
            .await
            .map_err(|error| match error {
                ProviderCallError::Status { status, body } => {
                    tracing::info!(
                        status,
                        error = %body["error"].as_str().unwrap_or(""),
                        "the provider refused the authorization code"
                    );
                    LoginError::CodeRefused
                }
                other => {
                    tracing::warn!(error = %other, "the provider's token endpoint failed");
                    LoginError::ProviderUnavailable
                }
            })?;
        let id_token = answer["id_token"].as_str().ok_or_else(|| {
            tracing::warn!("the provider answered no id_token");
            LoginError::BadIdToken("no id_token")
        })?;
        self.verify_id_token(id_token, nonce).await
    }

    /// The claims of `id_token`, checked: signed by a key of the provider
    /// with an accepted algorithm, issued by it for this client, unexpired,
    /// and carrying this login's `nonce`.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        nonce: &str,
    ) -> Result<Map<String, Json>, LoginError> {
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| LoginError::BadIdToken("not a JWT"))?;
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(LoginError::BadIdToken(
                "signed with an algorithm not accepted",
            ));
        }
        let kid = header.kid.unwrap_or_default();
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Map<String, Json>>(id_token, &key, &validation)
            .map_err(|error| {
                tracing::info!(%error, "an id token was refused");
                LoginError::BadIdToken("its signature, issuer, audience or expiry is wrong")
            })?
            .claims;
        if claims.get("nonce").and_then(Json::as_str) != Some(nonce) {
            return Err(LoginError::BadIdToken("its nonce is not this login's"));
        }
        Ok(claims)
    }

    /// The key of `kid`, fetching the keys again when it is unknown and
    /// the last fetch is old enough.
    async fn key(&self, kid: &str) -> Result<DecodingKey, LoginError> {
        let stale = {
            let cache = self
                .keys
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(key) = cache.by_kid.get(kid) {
                return Ok(key.clone());
            }
            cache
                .fetched_at
                .is_none_or(|fetched_at| fetched_at.elapsed() >= self.min_refetch_interval)
        };
        if stale {
            self.refresh_keys().await?;
        }
        let cache = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.by_kid.get(kid).cloned().ok_or(LoginError::BadIdToken(
            "signed with a key the provider does not list",
        ))
    }

    /// Fetches the provider's keys; the schedule calls it, and a login
    /// meeting an unknown `kid`.
    pub async fn refresh_keys(&self) -> Result<(), LoginError> {
        let discovered = self.discovered().await?;
        // Counted as an attempt before it is made, so a provider that fails
        // is not asked again at once either.
        self.key_fetches.fetch_add(1, Ordering::Relaxed);
        {
            let mut cache = self
                .keys
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            cache.fetched_at = Some(Instant::now());
        }
        let document = self
            .http
            .get_json(&discovered.jwks_uri)
            .await
            .map_err(|error| {
                tracing::warn!(issuer = %self.issuer, %error, "the provider's keys could not be fetched");
                LoginError::ProviderUnavailable
            })?;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(document).map_err(|error| {
            tracing::warn!(issuer = %self.issuer, %error, "the provider's JWKS does not parse");
            LoginError::ProviderUnavailable
        })?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    by_kid.insert(kid, key);
                }
                Err(error) => {
                    tracing::warn!(issuer = %self.issuer, kid, %error, "a key of the provider is skipped")
                }
            }
        }
        tracing::info!(issuer = %self.issuer, keys = by_kid.len(), "fetched the provider's keys");
        let mut cache = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.by_kid = by_kid;
        Ok(())
    }
}
