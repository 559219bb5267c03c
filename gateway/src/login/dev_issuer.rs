//! A small OpenID Connect provider for development (`louyu up --demo`,
//! `LOUYU_DEV_ISSUER=1` with `LOUYU_DEV_IDENTITY=1`), served by the gateway
//! under [`PATH_PREFIX`]: discovery, an authorize page listing one demo
//! person per role (whoever opens it picks one: no password), the token
//! endpoint (authorization code with PKCE S256 only) and its JWKS. Its key
//! is generated at each start and kept in memory. The tests serve it on a
//! port of its own ([`DevIssuer::serve`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use louyu_kit::identity::{JwkSet, KeyAlgorithm, Person, Role, SigningKey};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tonic::body::Body;

use super::{html_escape, html_response};
use crate::rest::json_response;

/// Where the gateway serves the development issuer.
pub const PATH_PREFIX: &str = "/dev-issuer";

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// The demo's people, one per role, on the demo district's street
/// (`nanjingxilu`) and department (`tax`): `louyu up` prints a token for
/// each too.
pub fn development_people(district: &str) -> Vec<Person> {
    let person =
        |staff_id: &str, role: Role, sub_district: Option<&str>, department: Option<&str>| Person {
            staff_id: staff_id.to_owned(),
            roles: vec![role],
            district: district.to_owned(),
            sub_district: sub_district.map(str::to_owned),
            department: department.map(str::to_owned),
        };
    vec![
        person("teacher-1", Role::FieldWorker, Some("nanjingxilu"), None),
        person(
            "street-admin-1",
            Role::SubDistrictAdmin,
            Some("nanjingxilu"),
            None,
        ),
        person("district-admin-1", Role::DistrictAdmin, None, None),
        person("tax-officer-1", Role::DepartmentOfficer, None, Some("tax")),
        person("auditor-1", Role::Auditor, None, None),
    ]
}

/// A code handed to the browser, waiting for its exchange.
struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: String,
    person: Person,
    issued_at: SystemTime,
}

/// The development issuer.
#[derive(Clone)]
pub struct DevIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    district: String,
    people: Vec<Person>,
    /// The signing key, and the public halves of the keys it replaced.
    keys: Mutex<(Arc<SigningKey>, Vec<louyu_kit::identity::Jwk>)>,
    grants: Mutex<HashMap<String, Grant>>,
    /// Claims set over a person's own in their ID tokens, by staff id.
    claims_over: Mutex<HashMap<String, serde_json::Map<String, Json>>>,
    jwks_fetches: AtomicU64,
}

fn new_key() -> SigningKey {
    louyu_kit::identity::generate_development_keys(KeyAlgorithm::EdDsa)
        .expect("a development key pair")
        .signing_key
}

impl DevIssuer {
    /// An issuer whose identifier (and base URL) is `issuer`.
    pub fn new(issuer: String, district: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                issuer: issuer.trim_end_matches('/').to_owned(),
                district: district.to_owned(),
                people: development_people(district),
                keys: Mutex::new((Arc::new(new_key()), Vec::new())),
                grants: Mutex::new(HashMap::new()),
                claims_over: Mutex::new(HashMap::new()),
                jwks_fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// How often its JWKS was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.jwks_fetches.load(Ordering::Relaxed)
    }

    /// From now on the ID tokens of `staff_id` carry `claims` over the
    /// person's own (tests: a provider that names a role Louyu does not
    /// know, or another district).
    pub fn set_claims_of(&self, staff_id: &str, claims: serde_json::Map<String, Json>) {
        self.inner
            .claims_over
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(staff_id.to_owned(), claims);
    }

    /// Signs with a new key from now on (with a new `kid`), still listing
    /// the old one: as a provider rotating its keys does.
    pub fn rotate_key(&self) {
        let mut keys = self
            .inner
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = keys.0.public_jwk().clone();
        keys.1.push(old);
        keys.0 = Arc::new(new_key());
    }

    fn signing_key(&self) -> Arc<SigningKey> {
        self.inner
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0
            .clone()
    }

    /// Serves the issuer alone on `listener` (tests; its issuer URL must
    /// then be `http://<address>` + [`PATH_PREFIX`]) until the task is
    /// dropped.
    pub async fn serve(self, listener: tokio::net::TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let issuer = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: http::Request<hyper::body::Incoming>| {
                        let issuer = issuer.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                issuer.answer(request.map(Body::new)).await,
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Binds a loopback port and serves an issuer there: the issuer and
    /// its address.
    pub async fn start_on_loopback(
        district: &str,
    ) -> (Self, SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let issuer = Self::new(format!("http://{address}{PATH_PREFIX}"), district);
        let task = tokio::spawn(issuer.clone().serve(listener));
        (issuer, address, task)
    }

    /// Answers a request under [`PATH_PREFIX`].
    pub async fn answer(&self, request: http::Request<Body>) -> http::Response<Body> {
        let path = request
            .uri()
            .path()
            .strip_prefix(PATH_PREFIX)
            .unwrap_or_default()
            .to_owned();
        match (request.method().clone(), path.as_str()) {
            (http::Method::GET, "/.well-known/openid-configuration") => self.discovery(),
            (http::Method::GET, "/jwks") => self.jwks(),
            (http::Method::GET, "/authorize") => {
                self.authorize(request.uri().query().unwrap_or_default())
            }
            (http::Method::POST, "/token") => {
                let body = match Limited::new(request.into_body(), 64 * 1024).collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(_) => Bytes::new(),
                };
                self.token(&body)
            }
            _ => oauth_error("invalid_request", "no such endpoint"),
        }
    }

    fn discovery(&self) -> http::Response<Body> {
        let issuer = &self.inner.issuer;
        let document = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        });
        json_response(http::StatusCode::OK, Bytes::from(document.to_string()))
    }

    fn jwks(&self) -> http::Response<Body> {
        self.inner.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let keys = self
            .inner
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut set = JwkSet {
            keys: vec![keys.0.public_jwk().clone()],
        };
        set.keys.extend(keys.1.iter().cloned());
        json_response(http::StatusCode::OK, Bytes::from(set.to_json()))
    }

    /// The page listing the demo people; with `login_as`, the chosen
    /// person's code, sent back to the client's redirect URI.
    fn authorize(&self, query: &str) -> http::Response<Body> {
        let parameters: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |key: &str| parameters.get(key).map(String::as_str).unwrap_or_default();
        if get("response_type") != "code" || get("client_id").is_empty() || get("state").is_empty()
        {
            return html_response(
                http::StatusCode::BAD_REQUEST,
                "<p>无效的授权请求 invalid authorization request: response_type=code, client_id and state are required</p>",
            );
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
            return html_response(
                http::StatusCode::BAD_REQUEST,
                "<p>需要 PKCE S256 PKCE with code_challenge_method=S256 is required</p>",
            );
        }
        let redirect_uri = get("redirect_uri");
        if !redirect_uri.starts_with("http://") && !redirect_uri.starts_with("https://") {
            return html_response(
                http::StatusCode::BAD_REQUEST,
                "<p>无效的 redirect_uri invalid redirect_uri</p>",
            );
        }
        let chosen = get("login_as");
        if chosen.is_empty() {
            return self.people_page(query);
        }
        let Some(person) = self
            .inner
            .people
            .iter()
            .find(|person| person.staff_id == chosen)
        else {
            return html_response(
                http::StatusCode::BAD_REQUEST,
                "<p>未知的演示人员 unknown demo person</p>",
            );
        };
        let code = super::sessions::random_secret();
        self.inner
            .grants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(
                code.clone(),
                Grant {
                    client_id: get("client_id").to_owned(),
                    redirect_uri: redirect_uri.to_owned(),
                    code_challenge: get("code_challenge").to_owned(),
                    nonce: get("nonce").to_owned(),
                    person: person.clone(),
                    issued_at: SystemTime::now(),
                },
            );
        let answer = form_urlencoded::Serializer::new(String::new())
            .append_pair("code", &code)
            .append_pair("state", get("state"))
            .finish();
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        http::Response::builder()
            .status(http::StatusCode::SEE_OTHER)
            .header(
                http::header::LOCATION,
                format!("{redirect_uri}{separator}{answer}"),
            )
            .body(Body::empty())
            .expect("a valid redirect")
    }

    fn people_page(&self, query: &str) -> http::Response<Body> {
        let mut rows = String::new();
        for person in &self.inner.people {
            let role = person.roles[0];
            let link = format!(
                "{PATH_PREFIX}/authorize?{query}&{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("login_as", &person.staff_id)
                    .finish()
            );
            let place = person
                .sub_district
                .as_deref()
                .or(person.department.as_deref())
                .unwrap_or(&self.inner.district);
            rows.push_str(&format!(
                "<li><a href=\"{}\">{} {} — {} ({})</a></li>",
                html_escape(&link),
                html_escape(role.chinese_name()),
                html_escape(role.as_str()),
                html_escape(&person.staff_id),
                html_escape(place),
            ));
        }
        html_response(
            http::StatusCode::OK,
            &format!(
                "<p style=\"background:#b00;color:#fff;padding:1em;font-weight:bold\">开发用登录 development login, not for production: anyone can log in as anyone here</p>\
                 <h1>选择演示人员 Choose a demo person</h1><ul>{rows}</ul>"
            ),
        )
    }

    /// The code's exchange: PKCE checked, an ID token for the person.
    fn token(&self, body: &[u8]) -> http::Response<Body> {
        let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let get = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
        if get("grant_type") != "authorization_code" {
            return oauth_error("unsupported_grant_type", "only authorization_code");
        }
        let Some(grant) = self
            .inner
            .grants
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(get("code"))
        else {
            return oauth_error("invalid_grant", "unknown or used code");
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
        let expired = grant.issued_at.elapsed().unwrap_or_default() > CODE_LIFETIME;
        if expired
            || challenge != grant.code_challenge
            || get("redirect_uri") != grant.redirect_uri
            || (!get("client_id").is_empty() && get("client_id") != grant.client_id)
        {
            return oauth_error(
                "invalid_grant",
                "the code, verifier or redirect_uri does not match",
            );
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let person = &grant.person;
        let mut claims = json!({
            "iss": self.inner.issuer,
            "aud": grant.client_id,
            "sub": person.staff_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "louyu_roles": person.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
            "louyu_district": person.district,
            "louyu_sub_district": person.sub_district,
            "louyu_department": person.department,
        });
        if let (Json::Object(claims), Some(over)) = (
            &mut claims,
            self.inner
                .claims_over
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&person.staff_id),
        ) {
            claims.extend(over.clone());
        }
        let id_token = match self.signing_key().sign(&claims) {
            Ok(token) => token,
            Err(error) => {
                tracing::error!(%error, "the development issuer cannot sign");
                return oauth_error("server_error", "cannot sign");
            }
        };
        let answer = json!({
            "access_token": super::sessions::random_secret(),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        });
        json_response(http::StatusCode::OK, Bytes::from(answer.to_string()))
    }

    /// An ID token for `claims`, signed with the issuer's key: tests make
    /// tokens the login must refuse with it.
    pub fn sign(&self, claims: &Json) -> String {
        self.signing_key().sign(claims).expect("a signed token")
    }
}

fn oauth_error(error: &str, description: &str) -> http::Response<Body> {
    let body = json!({"error": error, "error_description": description});
    json_response(http::StatusCode::BAD_REQUEST, Bytes::from(body.to_string()))
}
