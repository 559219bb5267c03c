//! Login at the gateway, end to end: a development OpenID Connect issuer on
//! a port of its own, the gateway configured with it as the district's
//! provider, and a browser played by hand (cookies and redirects followed
//! one by one); calls made with the session cookie reach the registry as
//! the person who logged in.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use louyu_gateway::login::dev_issuer::DevIssuer;
use louyu_gateway::login::{CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE};
use louyu_kit::config::ServiceName;
use louyu_kit::identity::{JwkSet, KeyAlgorithm, SigningKey, generate_development_keys};
use louyu_proto::common::v1::ListAuditRecordsRequest;
use louyu_proto::common::v1::audit_service_client::AuditServiceClient;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::{Building, GetBuildingRequest, UpdateBuildingRequest};
use louyu_testkit::identity::auditor;
use louyu_testkit::sandbox::Sandbox;
use louyu_testkit::{TestBackend, backend_tests};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::*;

const BUILDING: &str = "districts/jingan/buildings/b-1";
const CLIENT_SECRET: &str = "hotline-secret-7f3a";
/// The client that signs tokens of its own, with keys in a JWKS file.
const OWN_KEYS_CLIENT: &str = "stats-bureau";

/// The gateway, a registry and a visits service, with a development
/// issuer as the gateway's provider, one client with a secret and one with
/// keys of its own.
struct LoginSuite {
    sandbox: Sandbox,
    issuer: DevIssuer,
    _issuer_task: tokio::task::JoinHandle<()>,
    _clients: tempfile::TempDir,
    /// The private key of [`OWN_KEYS_CLIENT`], whose public half the
    /// gateway's clients file lists.
    client_key: SigningKey,
    browser: Browser,
}

async fn spawn_login_suite(
    backend: TestBackend,
    configure: impl Fn(&mut louyu_kit::config::Config),
) -> Option<LoginSuite> {
    let (issuer, _, issuer_task) = DevIssuer::start_on_loopback("jingan").await;
    let clients = tempfile::tempdir().unwrap();
    let clients_file = clients.path().join("clients.toml");
    let secret_hash: String = Sha256::digest(CLIENT_SECRET.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let client_key = a_new_key();
    let client_jwks = clients.path().join("stats-bureau.jwks.json");
    std::fs::write(
        &client_jwks,
        JwkSet {
            keys: vec![client_key.public_jwk().clone()],
        }
        .to_json(),
    )
    .unwrap();
    std::fs::write(
        &clients_file,
        format!(
            "[[client]]\nclient_id = \"hotline-12345\"\nsystem = \"hotline-12345\"\nsecret_sha256 = \"{secret_hash}\"\n\n\
             [[client]]\nclient_id = \"{OWN_KEYS_CLIENT}\"\nsystem = \"{OWN_KEYS_CLIENT}\"\njwks_file = \"{}\"\n",
            client_jwks.display()
        ),
    )
    .unwrap();
    let issuer_url = issuer.issuer().to_owned();
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
        ],
        |service, config| {
            if service == ServiceName::Gateway {
                config.oidc_issuer = Some(issuer_url.clone());
                config.gateway_clients_file = Some(clients_file.clone());
                configure(config);
            }
        },
    )
    .await?;
    let mut registry = RegistryServiceClient::new(sandbox.client(ServiceName::Gateway).await);
    louyu_testkit::fixtures::one_building(&mut registry).await;
    let browser = Browser::new(format!("http://{}", sandbox.address(ServiceName::Gateway)));
    Some(LoginSuite {
        sandbox,
        issuer,
        _issuer_task: issuer_task,
        _clients: clients,
        client_key,
        browser,
    })
}

fn a_new_key() -> SigningKey {
    generate_development_keys(KeyAlgorithm::EdDsa)
        .expect("a key pair")
        .signing_key
}

/// An answer, as a test reads it.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("{}: not JSON: {:?}", self.status, self.body))
    }

    fn location(&self) -> String {
        self.headers[http::header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The value `Set-Cookie` gives cookie `name`.
    fn set_cookie(&self, name: &str) -> Option<(String, String)> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .find(|cookie| cookie.starts_with(&format!("{name}=")))
            .map(|cookie| {
                let value = cookie[name.len() + 1..]
                    .split(';')
                    .next()
                    .unwrap()
                    .to_owned();
                (value, cookie)
            })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A browser, played by hand: no redirect is followed by itself.
struct Browser {
    client: Client<HttpConnector, Full<Bytes>>,
    gateway: String,
}

impl Browser {
    fn new(gateway: String) -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            gateway,
        }
    }

    /// `method url` (a path is the gateway's) with `headers` and `body`.
    async fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.gateway)
        } else {
            url.to_owned()
        };
        let mut request = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .client
            .request(
                request
                    .body(Full::new(Bytes::from(body.to_owned())))
                    .unwrap(),
            )
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The whole login as `staff_id`, the demo person picked on the
    /// issuer's page: the session cookie's value.
    async fn log_in_as(&self, staff_id: &str) -> String {
        let (callback, login_cookie) = self.start_login_as(staff_id).await;
        let finished = self.finish_login(&callback, &login_cookie).await;
        assert_eq!(finished.status, 303, "{}", finished.text());
        assert_eq!(finished.location(), "/");
        let (session, set_cookie) = finished
            .set_cookie(SESSION_COOKIE)
            .expect("a session cookie");
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        session
    }

    /// The provider's `callback`, in the browser holding `login_cookie`.
    async fn finish_login(&self, callback: &str, login_cookie: &str) -> Answer {
        self.send(
            "GET",
            callback,
            &[("cookie", &format!("{LOGIN_COOKIE}={login_cookie}"))],
            "",
        )
        .await
    }

    /// `/login`, then the issuer's authorize page with `staff_id` picked:
    /// the callback URL the issuer sends the browser to, and the login
    /// cookie.
    async fn start_login_as(&self, staff_id: &str) -> (String, String) {
        let started = self.send("GET", "/login", &[], "").await;
        assert_eq!(started.status, 303, "{}", started.text());
        let (login_cookie, _) = started.set_cookie(LOGIN_COOKIE).expect("a login cookie");
        let authorize = started.location();
        assert!(
            authorize.contains("code_challenge_method=S256"),
            "{authorize}"
        );
        assert!(authorize.contains("nonce="), "{authorize}");
        let page = self.send("GET", &authorize, &[], "").await;
        assert_eq!(page.status, 200);
        assert!(page.text().contains("not for production"));
        let picked = self
            .send("GET", &format!("{authorize}&login_as={staff_id}"), &[], "")
            .await;
        assert_eq!(picked.status, 303, "{}", picked.text());
        (picked.location(), login_cookie)
    }

    async fn session(&self, session: &str) -> Answer {
        self.send(
            "GET",
            "/session",
            &[("cookie", &session_cookie(session))],
            "",
        )
        .await
    }

    /// The session's CSRF token, from `/session`.
    async fn csrf_token(&self, session: &str) -> String {
        let answer = self.session(session).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()["csrfToken"].as_str().unwrap().to_owned()
    }
}

fn session_cookie(session: &str) -> String {
    format!("{SESSION_COOKIE}={session}")
}

/// A registry client at the gateway whose calls carry the session cookie
/// (and the CSRF token, which every gRPC call needs: it is a POST).
async fn registry_with_cookie(
    suite: &LoginSuite,
    session: &str,
    csrf: Option<&str>,
) -> RegistryServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        impl tonic::service::Interceptor,
    >,
> {
    let cookie: tonic::metadata::MetadataValue<_> = session_cookie(session).parse().unwrap();
    let csrf: Option<tonic::metadata::MetadataValue<_>> = csrf.map(|csrf| csrf.parse().unwrap());
    let channel = suite.sandbox.channel(ServiceName::Gateway).await;
    RegistryServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request.metadata_mut().insert("cookie", cookie.clone());
        if let Some(csrf) = &csrf {
            request.metadata_mut().insert(CSRF_HEADER, csrf.clone());
        }
        Ok(request)
    })
}

async fn audit_actors_of_updates(suite: &LoginSuite) -> Vec<String> {
    let mut audit = AuditServiceClient::new(
        suite
            .sandbox
            .client_as(ServiceName::Registry, &auditor())
            .await,
    );
    audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: format!("resource = \"{BUILDING}\""),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .audit_records
        .into_iter()
        .filter(|record| record.method.ends_with("UpdateBuilding"))
        .map(|record| record.actor)
        .collect()
}

fn patch_path() -> String {
    format!("/v1/{BUILDING}?updateMask=displayName")
}

async fn a_person_logs_in_and_calls_rest_and_grpc_as_themselves(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let session = browser.log_in_as("district-admin-1").await;
    let who = browser.session(&session).await;
    assert_eq!(who.status, 200, "{}", who.text());
    let who = who.json();
    assert_eq!(who["staffId"], "district-admin-1");
    assert_eq!(who["roles"], json!(["district-admin"]));
    let csrf = who["csrfToken"].as_str().unwrap().to_owned();

    // A REST read and write with the cookie.
    let cookie = session_cookie(&session);
    let read = browser
        .send(
            "GET",
            &format!("/v1/{BUILDING}"),
            &[("cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["displayName"], "静安大厦");
    let write = browser
        .send(
            "PATCH",
            &patch_path(),
            &[
                ("cookie", &cookie),
                (CSRF_HEADER, &csrf),
                ("content-type", "application/json"),
            ],
            r#"{"displayName": "静安大厦 REST"}"#,
        )
        .await;
    assert_eq!(write.status, 200, "{}", write.text());

    // A gRPC read and write with the cookie.
    let mut registry = registry_with_cookie(&suite, &session, Some(&csrf)).await;
    let building = registry
        .get_building(GetBuildingRequest {
            name: BUILDING.to_owned(),
            ..Default::default()
        })
        .await
        .expect("the building, by cookie over gRPC")
        .into_inner();
    assert_eq!(building.display_name, "静安大厦 REST");
    registry
        .update_building(renaming_the_building("静安大厦 gRPC"))
        .await
        .expect("an update, by cookie over gRPC");

    // Both writes reached the registry as the person who logged in.
    assert_eq!(
        audit_actors_of_updates(&suite).await,
        ["staff:district-admin-1", "staff:district-admin-1"]
    );
}

async fn a_session_past_its_expiry_is_refused(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |config| {
        config.session_absolute_timeout = Duration::from_secs(2);
    })
    .await
    else {
        return;
    };
    let browser = &suite.browser;
    let session = browser.log_in_as("auditor-1").await;
    let cookie = session_cookie(&session);
    let read = browser
        .send(
            "GET",
            &format!("/v1/{BUILDING}"),
            &[("cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text());
    louyu_testkit::eventually("the session to expire", || async {
        browser.session(&session).await.status == 401
    })
    .await;
    let refused = browser
        .send(
            "GET",
            &format!("/v1/{BUILDING}"),
            &[("cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["status"], "UNAUTHENTICATED");
}

async fn the_cookie_replayed_after_logout_is_refused_over_rest_and_grpc(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let session = browser.log_in_as("district-admin-1").await;
    let csrf = browser.csrf_token(&session).await;
    let cookie = session_cookie(&session);
    let without_csrf = browser
        .send("POST", "/logout", &[("cookie", &cookie)], "")
        .await;
    assert_eq!(without_csrf.status, 403, "{}", without_csrf.text());
    let logged_out = browser
        .send(
            "POST",
            "/logout",
            &[("cookie", &cookie), (CSRF_HEADER, &csrf)],
            "",
        )
        .await;
    assert_eq!(logged_out.status, 200, "{}", logged_out.text());
    let (cleared, _) = logged_out
        .set_cookie(SESSION_COOKIE)
        .map(|(value, cookie)| (value.is_empty(), cookie))
        .expect("the cookie cleared");
    assert!(cleared);

    let replayed = browser
        .send(
            "GET",
            &format!("/v1/{BUILDING}"),
            &[("cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(replayed.status, 401, "{}", replayed.text());
    let error = replayed.json();
    assert_eq!(error["error"]["code"], 401);
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");
    let mut registry = registry_with_cookie(&suite, &session, Some(&csrf)).await;
    assert_code(
        registry
            .get_building(GetBuildingRequest {
                name: BUILDING.to_owned(),
                ..Default::default()
            })
            .await,
        Code::Unauthenticated,
    );
}

async fn a_cookie_write_needs_the_csrf_token_and_the_gateways_own_origin(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let session = browser.log_in_as("district-admin-1").await;
    let csrf = browser.csrf_token(&session).await;
    let cookie = session_cookie(&session);
    let json_type = ("content-type", "application/json");
    let body = r#"{"displayName": "改过了"}"#;
    for (what, headers) in [
        ("no token", vec![("cookie", cookie.as_str()), json_type]),
        (
            "a wrong token",
            vec![
                ("cookie", cookie.as_str()),
                (CSRF_HEADER, "guess"),
                json_type,
            ],
        ),
        (
            "another site's origin",
            vec![
                ("cookie", cookie.as_str()),
                (CSRF_HEADER, csrf.as_str()),
                ("origin", "https://evil.example"),
                json_type,
            ],
        ),
        (
            "a cross-site fetch",
            vec![
                ("cookie", cookie.as_str()),
                (CSRF_HEADER, csrf.as_str()),
                ("sec-fetch-site", "cross-site"),
                json_type,
            ],
        ),
    ] {
        let refused = browser.send("PATCH", &patch_path(), &headers, body).await;
        assert_eq!(refused.status, 403, "{what}: {}", refused.text());
        assert_eq!(
            refused.json()["error"]["status"],
            "PERMISSION_DENIED",
            "{what}"
        );
    }
    assert!(audit_actors_of_updates(&suite).await.is_empty());
    let origin = browser.gateway.clone();
    let accepted = browser
        .send(
            "PATCH",
            &patch_path(),
            &[
                ("cookie", &cookie),
                (CSRF_HEADER, &csrf),
                ("origin", &origin),
                ("sec-fetch-site", "same-origin"),
                json_type,
            ],
            body,
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    assert_eq!(accepted.json()["displayName"], "改过了");

    // gRPC by cookie: refused without the token.
    let mut registry = registry_with_cookie(&suite, &session, None).await;
    assert_code(
        registry
            .get_building(GetBuildingRequest {
                name: BUILDING.to_owned(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
}

async fn a_callback_with_a_wrong_state_or_from_another_browser_is_refused(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let (callback, login_cookie) = browser.start_login_as("district-admin-1").await;
    let with_cookie = [("cookie", format!("{LOGIN_COOKIE}={login_cookie}"))];
    let headers: Vec<(&str, &str)> = with_cookie
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(callback.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let code = &query.iter().find(|(key, _)| key == "code").unwrap().1;
    let wrong_state = browser
        .send(
            "GET",
            &format!("/login/callback?code={code}&state=not-the-state"),
            &headers,
            "",
        )
        .await;
    assert_eq!(wrong_state.status, 400, "{}", wrong_state.text());
    assert!(wrong_state.text().contains("invalid login state"));
    assert!(wrong_state.set_cookie(SESSION_COOKIE).is_none());
    // The right state, from a browser without the login cookie: refused,
    // and the state is spent.
    let other_browser = browser.send("GET", &callback, &[], "").await;
    assert_eq!(other_browser.status, 400, "{}", other_browser.text());
    let spent = browser.send("GET", &callback, &headers, "").await;
    assert_eq!(spent.status, 400, "{}", spent.text());
    assert!(spent.set_cookie(SESSION_COOKIE).is_none());
}

async fn the_providers_keys_are_fetched_once_for_many_logins_and_again_for_an_unknown_kid(
    backend: TestBackend,
) {
    let Some(suite) = spawn_login_suite(backend, |config| {
        config.oidc_keys_min_refetch = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let browser = &suite.browser;
    for staff in ["teacher-1", "auditor-1", "district-admin-1"] {
        browser.log_in_as(staff).await;
    }
    assert_eq!(suite.issuer.jwks_fetches(), 1);
    suite.issuer.rotate_key();
    // Signed with a kid the gateway has not seen: it fetches the keys again
    // (once the minimum interval since the last fetch has passed).
    louyu_testkit::eventually("a login under the new key", || async {
        let (callback, login_cookie) = browser.start_login_as("auditor-1").await;
        let finished = browser
            .send(
                "GET",
                &callback,
                &[("cookie", &format!("{LOGIN_COOKIE}={login_cookie}"))],
                "",
            )
            .await;
        finished.status == 303
    })
    .await;
    assert_eq!(suite.issuer.jwks_fetches(), 2);
    browser.log_in_as("teacher-1").await;
    assert_eq!(suite.issuer.jwks_fetches(), 2);
}

async fn a_system_with_the_right_secret_gets_a_token_that_works_and_a_wrong_secret_none(
    backend: TestBackend,
) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let form = ("content-type", "application/x-www-form-urlencoded");
    let wrong = browser
        .send(
            "POST",
            "/oauth/token",
            &[form],
            "grant_type=client_credentials&client_id=hotline-12345&client_secret=guess",
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text());
    assert_eq!(wrong.json()["error"], "invalid_client");
    assert!(wrong.json().get("access_token").is_none());

    use base64::Engine;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("hotline-12345:{CLIENT_SECRET}"));
    let granted = browser
        .send(
            "POST",
            "/oauth/token",
            &[form, ("authorization", &format!("Basic {basic}"))],
            "grant_type=client_credentials",
        )
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text());
    let granted = granted.json();
    assert_eq!(granted["token_type"], "Bearer");
    assert!(granted["expires_in"].as_u64().unwrap() <= 300);
    let token = granted["access_token"].as_str().unwrap();
    let district = browser
        .send(
            "GET",
            "/v1/districts/jingan",
            &[("authorization", &format!("Bearer {token}"))],
            "",
        )
        .await;
    assert_eq!(district.status, 200, "{}", district.text());
    let without = browser.send("GET", "/v1/districts/jingan", &[], "").await;
    assert_eq!(without.status, 401, "{}", without.text());
}

/// The seconds since the epoch, now.
fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a token [`OWN_KEYS_CLIENT`] signs itself for this
/// gateway, good for five minutes.
fn own_token_claims(suite: &LoginSuite) -> Json {
    json!({
        "iss": OWN_KEYS_CLIENT,
        "sub": OWN_KEYS_CLIENT,
        "aud": suite.browser.gateway,
        "iat": now_seconds(),
        "exp": now_seconds() + 300,
    })
}

/// `claims` with `changes` set over them.
fn with(mut claims: Json, changes: Json) -> Json {
    let (Json::Object(claims_map), Json::Object(changes)) = (&mut claims, changes) else {
        panic!("claims are objects");
    };
    claims_map.extend(changes);
    claims
}

/// A registry client at the gateway whose calls carry `token` as bearer.
async fn registry_with_bearer(
    suite: &LoginSuite,
    token: &str,
) -> RegistryServiceClient<
    tonic::service::interceptor::InterceptedService<
        tonic::transport::Channel,
        impl tonic::service::Interceptor,
    >,
> {
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
    let channel = suite.sandbox.channel(ServiceName::Gateway).await;
    RegistryServiceClient::with_interceptor(channel, move |mut request: tonic::Request<()>| {
        request
            .metadata_mut()
            .insert("authorization", bearer.clone());
        Ok(request)
    })
}

fn get_building() -> GetBuildingRequest {
    GetBuildingRequest {
        name: BUILDING.to_owned(),
        ..Default::default()
    }
}

async fn a_system_signing_its_own_token_calls_rest_and_grpc_as_that_system(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let token = suite.client_key.sign(&own_token_claims(&suite)).unwrap();
    let bearer = format!("Bearer {token}");
    let district = browser
        .send(
            "GET",
            "/v1/districts/jingan",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(district.status, 200, "{}", district.text());
    let mut registry = registry_with_bearer(&suite, &token).await;
    let building = registry
        .get_building(get_building())
        .await
        .expect("the building, by the client's own token over gRPC")
        .into_inner();
    assert_eq!(building.display_name, "静安大厦");
    // The call reached the registry as a system: a system may read
    // buildings but not rename them.
    assert_code(
        registry
            .update_building(renaming_the_building("改名"))
            .await,
        Code::PermissionDenied,
    );
    // The token is the client's credential until its `exp`, used on every
    // call (the design exchanges it per call, as a bearer token): the same
    // token again is accepted.
    let again = browser
        .send(
            "GET",
            "/v1/districts/jingan",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
}

async fn a_systems_own_token_is_refused_naming_what_is_wrong(backend: TestBackend) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    let claims = own_token_claims(&suite);
    let configured = &suite.client_key;
    let kid = configured.kid().to_owned();
    let refusals = [
        (
            "signed by a key not configured",
            a_new_key().sign(&claims).unwrap(),
            "not signed by a key configured for this client",
        ),
        (
            "signed by another key under the configured kid",
            a_new_key().with_kid(kid).sign(&claims).unwrap(),
            "not signed by a key configured for this client",
        ),
        (
            "expired",
            configured
                .sign(&with(claims.clone(), json!({"exp": now_seconds() - 120})))
                .unwrap(),
            "the token has expired",
        ),
        (
            "for another audience",
            configured
                .sign(&with(
                    claims.clone(),
                    json!({"aud": "https://other-gateway.example"}),
                ))
                .unwrap(),
            "audience (aud) is not this gateway's public URL",
        ),
        (
            "with another subject",
            configured
                .sign(&with(claims.clone(), json!({"sub": "hotline-12345"})))
                .unwrap(),
            "subject (sub) is not its client id",
        ),
        (
            "from a client id not configured",
            configured
                .sign(&with(
                    claims.clone(),
                    json!({"iss": "unknown-system", "sub": "unknown-system"}),
                ))
                .unwrap(),
            "issuer (iss) is not a client configured at this gateway",
        ),
        (
            "from a client that has a secret, not keys",
            configured
                .sign(&with(
                    claims.clone(),
                    json!({"iss": "hotline-12345", "sub": "hotline-12345"}),
                ))
                .unwrap(),
            "get its tokens at POST /oauth/token",
        ),
    ];
    for (what, token, reason) in &refusals {
        let refused = browser
            .send(
                "GET",
                "/v1/districts/jingan",
                &[("authorization", &format!("Bearer {token}"))],
                "",
            )
            .await;
        assert_eq!(refused.status, 401, "{what}: {}", refused.text());
        let error = refused.json();
        assert_eq!(error["error"]["status"], "UNAUTHENTICATED", "{what}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{what}: {message}");

        let mut registry = registry_with_bearer(&suite, token).await;
        let status = assert_code(
            registry.get_building(get_building()).await,
            Code::Unauthenticated,
        );
        assert!(status.message().contains(reason), "{what}: {status:?}");
    }
}

/// The rows of the gateway's sessions table.
async fn stored_sessions(suite: &LoginSuite) -> i64 {
    use sqlx::Row;
    let url =
        secrecy::SecretString::from(suite.sandbox.database_url(ServiceName::Gateway).to_owned());
    let db = louyu_kit::db::Db::connect(&url)
        .await
        .expect("the gateway's database");
    sqlx::query("SELECT COUNT(*) AS sessions FROM gateway_sessions")
        .fetch_one(db.pool())
        .await
        .expect("the sessions counted")
        .try_get("sessions")
        .unwrap()
}

async fn a_person_with_an_unknown_role_the_system_role_or_another_district_gets_no_session(
    backend: TestBackend,
) {
    let Some(suite) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let browser = &suite.browser;
    for (what, claims, reason) in [
        (
            "an unknown role",
            json!({"louyu_roles": ["field-worker", "mayor"]}),
            "未知角色 unknown role &quot;mayor&quot; in the louyu_roles claim",
        ),
        (
            "the system role",
            json!({"louyu_roles": ["system"]}),
            "系统角色不能登录 a person cannot hold the system role",
        ),
        (
            "the system role beside a person's",
            json!({"louyu_roles": "field-worker system"}),
            "a person cannot hold the system role",
        ),
        (
            "another district",
            json!({"louyu_district": "pudong"}),
            "不属于本区 the account belongs to another district, not jingan",
        ),
        (
            "no role",
            json!({"louyu_roles": []}),
            "the account has no Louyu role",
        ),
    ] {
        let Json::Object(claims) = claims else {
            unreachable!()
        };
        suite.issuer.set_claims_of("teacher-1", claims);
        let (callback, login_cookie) = browser.start_login_as("teacher-1").await;
        let refused = browser.finish_login(&callback, &login_cookie).await;
        assert_eq!(refused.status, 403, "{what}: {}", refused.text());
        assert!(
            refused.headers[http::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{what}"
        );
        assert!(refused.text().contains("登录失败 Login failed"), "{what}");
        assert!(
            refused.text().contains(reason),
            "{what}: {}",
            refused.text()
        );
        assert!(refused.set_cookie(SESSION_COOKIE).is_none(), "{what}");
        assert_eq!(stored_sessions(&suite).await, 0, "{what}");
    }
    // The same person, as the provider names them: a session, and a row.
    suite
        .issuer
        .set_claims_of("teacher-1", serde_json::Map::new());
    let session = browser.log_in_as("teacher-1").await;
    assert_eq!(browser.session(&session).await.status, 200);
    assert_eq!(stored_sessions(&suite).await, 1);
}

async fn a_session_idle_past_its_idle_timeout_is_refused_and_an_active_one_lives_on(
    backend: TestBackend,
) {
    let idle_timeout = Duration::from_secs(3);
    let Some(suite) = spawn_login_suite(backend, |config| {
        config.session_idle_timeout = idle_timeout;
    })
    .await
    else {
        return;
    };
    let browser = &suite.browser;
    let session = browser.log_in_as("auditor-1").await;
    let cookie = session_cookie(&session);
    let read = || async {
        browser
            .send(
                "GET",
                &format!("/v1/{BUILDING}"),
                &[("cookie", &cookie)],
                "",
            )
            .await
    };
    // In use for more than twice the idle timeout: each request keeps it
    // alive.
    let active_until = std::time::Instant::now() + idle_timeout * 2 + Duration::from_secs(1);
    let mut reads = 0;
    while std::time::Instant::now() < active_until {
        let answer = read().await;
        assert_eq!(answer.status, 200, "read {reads}: {}", answer.text());
        reads += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(reads >= 8, "{reads} reads");
    // Then left alone past its idle timeout (the time passing is what is
    // tested: any request in between would keep it alive).
    tokio::time::sleep(idle_timeout + Duration::from_millis(500)).await;
    let refused = read().await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(refused.json()["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(browser.session(&session).await.status, 401);
    assert_eq!(stored_sessions(&suite).await, 0);
}

async fn the_session_cookie_is_secure_behind_an_https_public_url_and_not_on_loopback_http(
    backend: TestBackend,
) {
    const PUBLIC_URL: &str = "https://louyu.jingan.example";
    let Some(https) = spawn_login_suite(backend, |config| {
        config.gateway_public_url = Some(PUBLIC_URL.to_owned());
    })
    .await
    else {
        return;
    };
    let started = https.browser.send("GET", "/login", &[], "").await;
    let (_, login_cookie) = started.set_cookie(LOGIN_COOKIE).expect("a login cookie");
    assert!(login_cookie.contains("; Secure"), "{login_cookie}");
    // The provider sends the browser to the public URL; the test reaches
    // the same gateway at its loopback address.
    let (callback, login_cookie) = https.browser.start_login_as("auditor-1").await;
    assert!(callback.starts_with(PUBLIC_URL), "{callback}");
    let callback = callback.replacen(PUBLIC_URL, &https.browser.gateway, 1);
    let finished = https.browser.finish_login(&callback, &login_cookie).await;
    assert_eq!(finished.status, 303, "{}", finished.text());
    let (_, set_cookie) = finished.set_cookie(SESSION_COOKIE).expect("a session");
    assert!(set_cookie.contains("; Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");

    let Some(loopback) = spawn_login_suite(backend, |_| {}).await else {
        return;
    };
    let started = loopback.browser.send("GET", "/login", &[], "").await;
    let (_, login_cookie) = started.set_cookie(LOGIN_COOKIE).expect("a login cookie");
    assert!(!login_cookie.contains("Secure"), "{login_cookie}");
    let (callback, login_cookie) = loopback.browser.start_login_as("auditor-1").await;
    let finished = loopback
        .browser
        .finish_login(&callback, &login_cookie)
        .await;
    assert_eq!(finished.status, 303, "{}", finished.text());
    let (_, set_cookie) = finished.set_cookie(SESSION_COOKIE).expect("a session");
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
}

backend_tests!(
    a_person_logs_in_and_calls_rest_and_grpc_as_themselves,
    a_session_past_its_expiry_is_refused,
    the_cookie_replayed_after_logout_is_refused_over_rest_and_grpc,
    a_cookie_write_needs_the_csrf_token_and_the_gateways_own_origin,
    a_callback_with_a_wrong_state_or_from_another_browser_is_refused,
    the_providers_keys_are_fetched_once_for_many_logins_and_again_for_an_unknown_kid,
    a_system_with_the_right_secret_gets_a_token_that_works_and_a_wrong_secret_none,
    a_system_signing_its_own_token_calls_rest_and_grpc_as_that_system,
    a_systems_own_token_is_refused_naming_what_is_wrong,
    a_person_with_an_unknown_role_the_system_role_or_another_district_gets_no_session,
    a_session_idle_past_its_idle_timeout_is_refused_and_an_active_one_lives_on,
    the_session_cookie_is_secure_behind_an_https_public_url_and_not_on_loopback_http,
);

/// A new display name for [`BUILDING`], and nothing else.
fn renaming_the_building(display_name: &str) -> UpdateBuildingRequest {
    UpdateBuildingRequest {
        building: Some(Building {
            name: BUILDING.to_owned(),
            display_name: display_name.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["display_name".to_owned()],
        }),
        ..Default::default()
    }
}
