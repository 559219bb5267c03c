//! Login at the gateway: people through the district's OpenID Connect
//! provider, into server-side sessions; other government systems through
//! client credentials. Behind the gateway nothing changes: every call
//! reaches its owner with a Louyu token in `authorization`, which the
//! gateway mints for a session's person or a client's system, with the
//! process's signing key.
//!
//! Every request passes through [`Login::admit`] (kit's `Admission`, in
//! front of authentication), which
//! - answers the login routes itself ([`LOGIN_PATHS`]);
//! - leaves a request with `authorization` as it is (a Louyu bearer token,
//!   verified by the owner as before), except a token of a configured
//!   client's own, which it verifies and exchanges for a system token; the
//!   session cookie of such a request is not read: **a bearer token wins**;
//! - for a request with the session cookie and no `authorization`: refuses
//!   it (401) unless the session is live, refuses a non-safe method (every
//!   gRPC call is a POST) without the session's CSRF token or from another
//!   site, and otherwise puts the person's minted token in `authorization`.
//!
//! See docs/gateway-login.md.

pub mod clients;
pub mod dev_issuer;
pub mod http_client;
pub mod oidc;
pub mod sessions;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Limited};
use louyu_kit::config::Config;
use louyu_kit::error::ServiceErrorCode;
use louyu_kit::identity::{Person, Principal, Role, SigningKey, TokenOptions, mint_token};
use louyu_kit::server::{Admission, is_grpc};
use secrecy::SecretString;
use serde_json::{Map, Value as Json, json};
use subtle::ConstantTimeEq;
use tonic::body::Body;

use crate::rest::{error_response, json_response};
use clients::{Clients, TokenIssuer};
use dev_issuer::DevIssuer;
use oidc::Provider;
use sessions::{PendingLogin, Sessions, csrf_token_of, hash_of, random_secret};

/// The session cookie.
pub const SESSION_COOKIE: &str = "louyu_session";
/// The cookie that binds a login under way to the browser that started it.
pub const LOGIN_COOKIE: &str = "louyu_login";
/// The header a cookie-authenticated non-safe request carries the
/// session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a minted token lives (and is cached per session or client).
pub const MINTED_TOKEN_TTL: Duration = Duration::from_secs(5 * 60);
/// A cached minted token is minted again once less than this is left.
const MINTED_TOKEN_RENEWAL: Duration = Duration::from_secs(60);

/// The paths the login answers itself.
pub const LOGIN_PATHS: [&str; 5] = [
    "/login",
    "/login/callback",
    "/logout",
    "/session",
    "/oauth/token",
];

/// Why a login or a request was refused at the gateway.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("未登录 unauthenticated: no live session; log in again at /login")]
    NoSession,
    #[error(
        "缺少 CSRF 令牌 permission denied: a request authenticated by the session cookie must carry the session's CSRF token in x-csrf-token"
    )]
    MissingCsrf,
    #[error(
        "跨站请求被拒绝 permission denied: a cross-site request may not use the session cookie"
    )]
    CrossSite,
    #[error("登录未配置 not found: no OpenID Connect provider is configured at this gateway")]
    NotConfigured,
    #[error(
        "身份提供方不可用 unavailable: the identity provider cannot be reached; try again later"
    )]
    ProviderUnavailable,
    #[error(
        "登录状态无效 invalid login state: this login was not started in this browser, was already used, or has expired; start again at /login"
    )]
    BadState,
    #[error(
        "授权码被拒绝 the identity provider refused the authorization code; start again at /login"
    )]
    CodeRefused,
    #[error("身份令牌无效 invalid ID token: {0}")]
    BadIdToken(&'static str),
    #[error("登录被拒绝 login refused: {0}")]
    Refused(String),
    #[error("身份提供方返回错误 the identity provider answered an error: {0}")]
    ProviderError(String),
    #[error("令牌无效 unauthenticated: {0}")]
    BadClientToken(&'static str),
    #[error("内部错误 internal error")]
    Internal,
}

impl LoginError {
    fn error_code(&self) -> ServiceErrorCode {
        match self {
            LoginError::NoSession | LoginError::BadClientToken(_) => {
                ServiceErrorCode::Unauthenticated
            }
            LoginError::MissingCsrf | LoginError::CrossSite | LoginError::Refused(_) => {
                ServiceErrorCode::PermissionDenied
            }
            LoginError::NotConfigured => ServiceErrorCode::NotFound,
            LoginError::ProviderUnavailable => ServiceErrorCode::Unavailable,
            LoginError::BadState
            | LoginError::CodeRefused
            | LoginError::BadIdToken(_)
            | LoginError::ProviderError(_) => ServiceErrorCode::InvalidArgument,
            LoginError::Internal => ServiceErrorCode::Internal,
        }
    }

    /// As a gRPC status for a gRPC request, or REST's JSON error.
    fn answer_to(&self, grpc: bool) -> http::Response<Body> {
        let code = self.error_code();
        if grpc {
            return tonic::Status::new(code.grpc_code(), self.to_string()).into_http();
        }
        error_response(
            code.http_status(),
            code.grpc_code(),
            &self.to_string(),
            Vec::new(),
        )
    }

    /// As the page a person sees at the end of a failed login.
    fn page(&self) -> http::Response<Body> {
        let status = self.error_code().http_status();
        html_response(
            status,
            &format!(
                "<h1>登录失败 Login failed</h1><p>{}</p><p><a href=\"/login\">重新登录 Log in again</a></p>",
                html_escape(&self.to_string())
            ),
        )
    }
}

/// How the login reads a person out of an ID token.
#[derive(Debug, Clone)]
pub struct ClaimNames {
    pub roles: String,
    pub sub_district: String,
    pub department: String,
    pub district: String,
}

/// Everything the gateway's login holds.
#[derive(Clone)]
pub struct Login {
    inner: Arc<Inner>,
}

struct Inner {
    district: String,
    public_url: String,
    /// The origin of the public URL (`scheme://host[:port]`), which a
    /// cookie-authenticated request's `Origin` must be.
    public_origin: String,
    secure_cookies: bool,
    sessions: Sessions,
    provider: Option<Provider>,
    claims: ClaimNames,
    clients: Clients,
    dev_issuer: Option<DevIssuer>,
    signing_key: Option<Arc<SigningKey>>,
    token_options: TokenOptions,
    absolute_timeout: Duration,
    /// Minted tokens by session id hash (or `system:<name>`), with when to
    /// mint again.
    minted: Mutex<HashMap<String, (String, SystemTime)>>,
}

impl Login {
    /// From the gateway's settings; `public_url` is the configured one or
    /// the gateway's own address.
    pub fn from_config(
        config: &Config,
        db: louyu_kit::db::Db,
        public_url: String,
        signing_key: Option<Arc<SigningKey>>,
        token_options: TokenOptions,
    ) -> anyhow::Result<Self> {
        let public_url = public_url.trim_end_matches('/').to_owned();
        // Plain http only on a loopback host: elsewhere the session cookie
        // would travel in clear.
        let public_uri = http_client::check_url("LOUYU_GATEWAY_PUBLIC_URL", &public_url)?;
        let secure_cookies = public_uri.scheme_str() == Some("https");
        let public_origin = format!(
            "{}://{}",
            public_uri.scheme_str().unwrap_or("https"),
            public_uri
                .authority()
                .map(|authority| authority.as_str())
                .unwrap_or_default()
        );
        let redirect_uri = format!("{public_url}/login/callback");
        let client_secret = match &config.oidc_client_secret_file {
            Some(path) => Some(read_secret_file("LOUYU_OIDC_CLIENT_SECRET_FILE", path)?),
            None => None,
        };
        let http = http_client::ProviderClient::new();
        let dev_issuer = if config.dev_issuer {
            anyhow::ensure!(
                config.dev_identity,
                "LOUYU_DEV_ISSUER=1 lets anyone log in as anyone: it needs development mode, LOUYU_DEV_IDENTITY=1"
            );
            anyhow::ensure!(
                config.oidc_issuer.is_none(),
                "LOUYU_DEV_ISSUER=1 and LOUYU_OIDC_ISSUER are exclusive: the development issuer is the gateway's provider"
            );
            tracing::warn!(
                issuer = %format!("{public_url}{}", dev_issuer::PATH_PREFIX),
                "the development OpenID Connect issuer is on: anyone can log in as any demo person; never in production"
            );
            Some(DevIssuer::new(
                format!("{public_url}{}", dev_issuer::PATH_PREFIX),
                &config.district,
            ))
        } else {
            None
        };
        let issuer = match (&config.oidc_issuer, &dev_issuer) {
            (Some(issuer), _) => {
                http_client::check_url("LOUYU_OIDC_ISSUER", issuer)?;
                Some(issuer.clone())
            }
            (None, Some(dev_issuer)) => Some(dev_issuer.issuer().to_owned()),
            (None, None) => None,
        };
        let provider = issuer.map(|issuer| {
            Provider::new(
                issuer,
                config.oidc_client_id.clone(),
                client_secret,
                redirect_uri,
                http,
                config.oidc_keys_min_refetch,
            )
        });
        let clients = match &config.gateway_clients_file {
            Some(path) => Clients::from_file(path)?,
            None => Clients::default(),
        };
        if provider.is_some() || !clients.is_empty() {
            anyhow::ensure!(
                signing_key.is_some(),
                "the gateway's login mints tokens: set LOUYU_SIGNING_KEY_FILE"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                district: config.district.clone(),
                public_url,
                public_origin,
                secure_cookies,
                sessions: Sessions::new(
                    db,
                    config.session_idle_timeout,
                    config.session_absolute_timeout,
                ),
                provider,
                claims: ClaimNames {
                    roles: config.oidc_roles_claim.clone(),
                    sub_district: config.oidc_sub_district_claim.clone(),
                    department: config.oidc_department_claim.clone(),
                    district: config.oidc_district_claim.clone(),
                },
                clients,
                dev_issuer,
                signing_key,
                token_options,
                absolute_timeout: config.session_absolute_timeout,
                minted: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The provider, when people log in here.
    pub fn provider(&self) -> Option<&Provider> {
        self.inner.provider.as_ref()
    }

    pub fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// As kit's admission, in front of everything the gateway serves.
    pub fn admission(&self) -> Admission {
        let login = self.clone();
        Arc::new(move |request| {
            let login = login.clone();
            Box::pin(async move { login.admit(request).await })
                as BoxFuture<'static, Result<http::Request<Body>, http::Response<Body>>>
        })
    }

    /// See the module's documentation.
    pub async fn admit(
        &self,
        mut request: http::Request<Body>,
    ) -> Result<http::Request<Body>, http::Response<Body>> {
        let grpc = is_grpc(&request);
        let path = request.uri().path().to_owned();
        if !grpc {
            if LOGIN_PATHS.contains(&path.as_str()) {
                return Err(self.answer_login_route(request).await);
            }
            if let Some(dev_issuer) = &self.inner.dev_issuer
                && path.starts_with(dev_issuer::PATH_PREFIX)
            {
                return Err(dev_issuer.answer(request).await);
            }
        }
        let session_id = cookie(request.headers(), SESSION_COOKIE);
        // The owners never see the browser's cookies.
        request.headers_mut().remove(http::header::COOKIE);
        if request.headers().contains_key(http::header::AUTHORIZATION) {
            return match self.exchange_client_token(request.headers_mut()) {
                Ok(()) => Ok(request),
                Err(refused) => Err(refused.answer_to(grpc)),
            };
        }
        let Some(session_id) = session_id else {
            return Ok(request);
        };
        let method = request.method().clone();
        match self
            .authorize_session(&method, request.headers(), &session_id, grpc)
            .await
        {
            Ok(token) => {
                let bearer = http::HeaderValue::try_from(format!("Bearer {token}"))
                    .map_err(|_| LoginError::Internal.answer_to(grpc))?;
                request
                    .headers_mut()
                    .insert(http::header::AUTHORIZATION, bearer);
                Ok(request)
            }
            Err(refused) => Err(refused.answer_to(grpc)),
        }
    }

    /// The minted token of the live session `session_id`, after the CSRF
    /// checks a non-safe request must pass.
    async fn authorize_session(
        &self,
        method: &http::Method,
        headers: &http::HeaderMap,
        session_id: &str,
        grpc: bool,
    ) -> Result<String, LoginError> {
        let session = self
            .inner
            .sessions
            .find(session_id, &self.inner.district)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot read a session");
                LoginError::Internal
            })?
            .ok_or(LoginError::NoSession)?;
        let safe = !grpc
            && matches!(
                *method,
                http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
            );
        if !safe {
            self.check_csrf(headers, session_id)?;
        }
        self.minted_token(&session.id_hash, &Principal::Person(session.person))
    }

    /// A non-safe request by cookie: not from another site (by
    /// `Sec-Fetch-Site` and `Origin`, when the browser sends them), and
    /// carrying the session's CSRF token.
    fn check_csrf(&self, headers: &http::HeaderMap, session_id: &str) -> Result<(), LoginError> {
        let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        if header("sec-fetch-site").is_some_and(|site| site == "cross-site") {
            return Err(LoginError::CrossSite);
        }
        if let Some(origin) = header("origin")
            && origin != self.inner.public_origin
        {
            return Err(LoginError::CrossSite);
        }
        let expected = csrf_token_of(session_id);
        let presented = header(CSRF_HEADER).ok_or(LoginError::MissingCsrf)?;
        if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(LoginError::MissingCsrf)
        }
    }

    /// A token for `principal`, cached under `cache_key` until a minute
    /// before it ends.
    fn minted_token(&self, cache_key: &str, principal: &Principal) -> Result<String, LoginError> {
        let now = SystemTime::now();
        let mut minted = self
            .inner
            .minted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, renew_at)) = minted.get(cache_key)
            && now < *renew_at
        {
            return Ok(token.clone());
        }
        let key = self.inner.signing_key.as_ref().ok_or_else(|| {
            tracing::error!("the gateway has no signing key to mint with");
            LoginError::Internal
        })?;
        let options = TokenOptions {
            ttl: MINTED_TOKEN_TTL,
            ..self.inner.token_options.clone()
        };
        let token = mint_token(key, principal, &options).map_err(|error| {
            tracing::error!(%error, "cannot mint a token");
            LoginError::Internal
        })?;
        // Sessions that ended leave their entries behind; they are dropped
        // when the cache grows.
        if minted.len() > 10_000 {
            minted.retain(|_, (_, renew_at)| now < *renew_at);
        }
        minted.insert(
            cache_key.to_owned(),
            (
                token.clone(),
                now + (MINTED_TOKEN_TTL - MINTED_TOKEN_RENEWAL),
            ),
        );
        Ok(token)
    }

    fn forget_minted(&self, cache_key: &str) {
        self.inner
            .minted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(cache_key);
    }

    /// A bearer token whose `iss` is a configured client is verified and
    /// replaced by that client's system token; one whose `iss` is neither
    /// a client nor this deployment is refused here, naming why; any other
    /// bearer token goes on as it is, for the owner to verify.
    fn exchange_client_token(&self, headers: &mut http::HeaderMap) -> Result<(), LoginError> {
        let Some(token) = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return Ok(());
        };
        let client = match self
            .inner
            .clients
            .issuer_of(token, &self.inner.token_options.issuer)
        {
            TokenIssuer::Deployment => return Ok(()),
            TokenIssuer::Client(client) => client,
            TokenIssuer::Unknown => {
                return Err(LoginError::BadClientToken(
                    "the token's issuer (iss) is not a client configured at this gateway",
                ));
            }
        };
        let system =
            client.verify_own_token(token, &self.inner.public_url, &self.inner.district)?;
        let minted = self.minted_token(
            &format!("system:{}", system.name),
            &Principal::System(system),
        )?;
        let bearer = http::HeaderValue::try_from(format!("Bearer {minted}"))
            .map_err(|_| LoginError::Internal)?;
        headers.insert(http::header::AUTHORIZATION, bearer);
        Ok(())
    }

    async fn answer_login_route(&self, request: http::Request<Body>) -> http::Response<Body> {
        let (parts, body) = request.into_parts();
        let request = &parts;
        match (request.method.clone(), request.uri.path()) {
            (http::Method::GET, "/login") => match self.start_login().await {
                Ok(response) => response,
                Err(refused) => refused.page(),
            },
            (http::Method::GET, "/login/callback") => match self.finish_login(request).await {
                Ok(response) => response,
                Err(refused) => refused.page(),
            },
            (http::Method::POST, "/logout") => match self.logout(request).await {
                Ok(response) => response,
                Err(refused) => refused.answer_to(false),
            },
            (http::Method::GET, "/session") => match self.session_json(request).await {
                Ok(response) => response,
                Err(refused) => refused.answer_to(false),
            },
            (http::Method::POST, "/oauth/token") => {
                let body = match Limited::new(body, 64 * 1024).collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(_) => Bytes::new(),
                };
                clients::token_endpoint(self, &parts.headers, &body)
            }
            (method, path) => error_response(
                http::StatusCode::METHOD_NOT_ALLOWED,
                tonic::Code::Unimplemented,
                &format!("方法不允许 method not allowed: {path} does not answer {method}"),
                Vec::new(),
            ),
        }
    }

    /// `GET /login`: a new login, and the redirect to the provider.
    async fn start_login(&self) -> Result<http::Response<Body>, LoginError> {
        let provider = self.provider().ok_or(LoginError::NotConfigured)?;
        let state = random_secret();
        let nonce = random_secret();
        let code_verifier = random_secret();
        let browser = random_secret();
        let location = provider
            .authorization_url(&state, &nonce, &code_verifier)
            .await?;
        self.inner
            .sessions
            .begin_login(
                &state,
                &PendingLogin {
                    browser_hash: hash_of(&browser),
                    code_verifier,
                    nonce,
                },
            )
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot save a login");
                LoginError::Internal
            })?;
        let cookie = self.cookie(
            LOGIN_COOKIE,
            &browser,
            "/login",
            sessions::LOGIN_LIFETIME.as_secs(),
        );
        Ok(redirect(&location, &[cookie]))
    }

    /// `GET /login/callback?code=…&state=…`: the provider's answer, checked,
    /// and a session.
    async fn finish_login(
        &self,
        request: &http::request::Parts,
    ) -> Result<http::Response<Body>, LoginError> {
        let provider = self.provider().ok_or(LoginError::NotConfigured)?;
        let query: HashMap<String, String> =
            form_urlencoded::parse(request.uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let state = query.get("state").ok_or(LoginError::BadState)?;
        let pending = self
            .inner
            .sessions
            .take_login(state)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot read a login");
                LoginError::Internal
            })?
            .ok_or(LoginError::BadState)?;
        let browser = cookie(&request.headers, LOGIN_COOKIE).ok_or(LoginError::BadState)?;
        if !bool::from(
            hash_of(&browser)
                .as_bytes()
                .ct_eq(pending.browser_hash.as_bytes()),
        ) {
            return Err(LoginError::BadState);
        }
        if let Some(error) = query.get("error") {
            return Err(LoginError::ProviderError(
                error
                    .chars()
                    .filter(char::is_ascii_graphic)
                    .take(64)
                    .collect(),
            ));
        }
        let code = query.get("code").ok_or(LoginError::CodeRefused)?;
        let claims = provider
            .exchange(code, &pending.code_verifier, &pending.nonce)
            .await?;
        let person = person_of(&claims, &self.inner.claims, &self.inner.district)?;
        let (session_id, _) = self.inner.sessions.open(&person).await.map_err(|error| {
            tracing::error!(%error, "cannot open a session");
            LoginError::Internal
        })?;
        tracing::info!(staff = %person.staff_id, "a person logged in");
        let session_cookie = self.cookie(
            SESSION_COOKIE,
            &session_id,
            "/",
            self.inner.absolute_timeout.as_secs(),
        );
        let clear_login = self.cookie(LOGIN_COOKIE, "", "/login", 0);
        Ok(redirect("/", &[session_cookie, clear_login]))
    }

    /// `POST /logout`: the session ends; its cookie is refused from now on.
    async fn logout(
        &self,
        request: &http::request::Parts,
    ) -> Result<http::Response<Body>, LoginError> {
        let session_id = cookie(&request.headers, SESSION_COOKIE).ok_or(LoginError::NoSession)?;
        let session = self
            .inner
            .sessions
            .find(&session_id, &self.inner.district)
            .await
            .map_err(|_| LoginError::Internal)?
            .ok_or(LoginError::NoSession)?;
        self.check_csrf(&request.headers, &session_id)?;
        self.inner
            .sessions
            .close(&session_id)
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot close a session");
                LoginError::Internal
            })?;
        self.forget_minted(&session.id_hash);
        let mut response = json_response(http::StatusCode::OK, Bytes::from_static(b"{}"));
        if let Ok(value) = http::HeaderValue::try_from(self.cookie(SESSION_COOKIE, "", "/", 0)) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value);
        }
        Ok(response)
    }

    /// `GET /session`: who is logged in, and the CSRF token.
    async fn session_json(
        &self,
        request: &http::request::Parts,
    ) -> Result<http::Response<Body>, LoginError> {
        let session_id = cookie(&request.headers, SESSION_COOKIE).ok_or(LoginError::NoSession)?;
        let session = self
            .inner
            .sessions
            .find(&session_id, &self.inner.district)
            .await
            .map_err(|_| LoginError::Internal)?
            .ok_or(LoginError::NoSession)?;
        let person = &session.person;
        let expires_at = session
            .expires_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        let body = json!({
            "staffId": person.staff_id,
            "name": format!("districts/{}/staff/{}", person.district, person.staff_id),
            "roles": person.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
            "subDistrict": person.sub_district,
            "department": person.department,
            "csrfToken": csrf_token_of(&session_id),
            "expiresAt": expires_at,
        });
        Ok(json_response(
            http::StatusCode::OK,
            Bytes::from(body.to_string()),
        ))
    }

    /// A `Set-Cookie` value: `HttpOnly; SameSite=Lax`, and `Secure` unless
    /// the public URL is a loopback `http://` one (development).
    fn cookie(&self, name: &str, value: &str, path: &str, max_age: u64) -> String {
        let secure = if self.inner.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }

    pub(crate) fn clients(&self) -> &Clients {
        &self.inner.clients
    }

    pub(crate) fn district(&self) -> &str {
        &self.inner.district
    }

    /// A system's token from the token endpoint: minted afresh.
    pub(crate) fn mint_system_token(
        &self,
        system: louyu_kit::identity::SystemIdentity,
    ) -> Result<String, LoginError> {
        let key = self
            .inner
            .signing_key
            .as_ref()
            .ok_or(LoginError::Internal)?;
        let options = TokenOptions {
            ttl: MINTED_TOKEN_TTL,
            ..self.inner.token_options.clone()
        };
        mint_token(key, &Principal::System(system), &options).map_err(|error| {
            tracing::error!(%error, "cannot mint a system token");
            LoginError::Internal
        })
    }

    /// Fetches the provider's keys again every [`oidc::SCHEDULED_REFRESH`],
    /// and sweeps ended sessions, until `stop` turns true.
    pub async fn run_schedule(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut refresh = tokio::time::interval(oidc::SCHEDULED_REFRESH);
        refresh.tick().await;
        let mut sweep = tokio::time::interval(Duration::from_secs(5 * 60));
        loop {
            tokio::select! {
                _ = refresh.tick() => {
                    if let Some(provider) = self.provider() {
                        // Failures are logged inside, and tried again at the
                        // next tick or unknown kid.
                        let _ = provider.refresh_keys().await;
                    }
                }
                _ = sweep.tick() => {
                    if let Err(error) = self.inner.sessions.sweep().await {
                        tracing::warn!(%error, "cannot sweep ended sessions");
                    }
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }
}

/// The person an ID token names, by the configured claims: `sub` is the
/// staff id; unknown roles, `system`, no role, or another district refuse
/// the login.
pub fn person_of(
    claims: &Map<String, Json>,
    names: &ClaimNames,
    district: &str,
) -> Result<Person, LoginError> {
    let staff_id = claims
        .get("sub")
        .and_then(Json::as_str)
        .filter(|sub| louyu_kit::names::parse_resource_id("sub", sub).is_ok())
        .ok_or_else(|| {
            LoginError::Refused(
                "ID 令牌的 sub 不是有效的工号 the ID token's sub is not a staff id".into(),
            )
        })?
        .to_owned();
    if let Some(claimed) = claims.get(&names.district).and_then(Json::as_str)
        && claimed != district
    {
        return Err(LoginError::Refused(format!(
            "不属于本区 the account belongs to another district, not {district}"
        )));
    }
    let role_names: Vec<String> = match claims.get(&names.roles) {
        Some(Json::Array(items)) => items
            .iter()
            .filter_map(Json::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Json::String(text)) => text
            .split([' ', ','])
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let mut roles = Vec::new();
    for name in &role_names {
        let role: Role = name.parse().map_err(|_| {
            LoginError::Refused(format!(
                "未知角色 unknown role {:?} in the {} claim",
                name.chars().take(40).collect::<String>(),
                names.roles
            ))
        })?;
        if role == Role::System {
            return Err(LoginError::Refused(
                "系统角色不能登录 a person cannot hold the system role".into(),
            ));
        }
        roles.push(role);
    }
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(LoginError::Refused(format!(
            "没有角色 the account has no Louyu role (claim {})",
            names.roles
        )));
    }
    let text = |claim: &str| {
        claims
            .get(claim)
            .and_then(Json::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    Ok(Person {
        staff_id,
        roles,
        district: district.to_owned(),
        sub_district: text(&names.sub_district),
        department: text(&names.department),
    })
}

/// The value of cookie `name`.
pub fn cookie(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

fn redirect(location: &str, cookies: &[String]) -> http::Response<Body> {
    let mut response = http::Response::builder()
        .status(http::StatusCode::SEE_OTHER)
        .header(http::header::LOCATION, location)
        .header(http::header::CACHE_CONTROL, "no-store");
    for cookie in cookies {
        response = response.header(http::header::SET_COOKIE, cookie);
    }
    response.body(Body::empty()).expect("a valid redirect")
}

pub(crate) fn html_response(status: http::StatusCode, body: &str) -> http::Response<Body> {
    let page = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>楼宇 Louyu</title></head><body>{body}</body></html>"
    );
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::new(http_body_util::Full::new(Bytes::from(page))))
        .expect("a valid page")
}

pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn read_secret_file(setting: &str, path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow::anyhow!("{setting}: cannot read {}: {error}", path.display()))?;
    let secret = text.trim();
    anyhow::ensure!(!secret.is_empty(), "{setting}: {} is empty", path.display());
    Ok(SecretString::from(secret.to_owned()))
}
