//! Identity on the wire, written once for every service: the layer kit's
//! server puts in front of every method, and the credentials a service
//! presents when it calls another.
//!
//! Inbound, [`AuthenticateLayer`] passes health and reflection through
//! ([`crate::permissions::is_open`]); for every other method it verifies the
//! caller ([`Verifier::verify`], UNAUTHENTICATED on failure), judges the
//! method against the permission table ([`crate::permissions::authorize`],
//! PERMISSION_DENIED when no role of the caller may call it) and puts the
//! [`Caller`] and the [`Permission`] in the request's extensions, where
//! handlers read them ([`caller_of`], [`permission_of`]). Data scope plugs in
//! there: a store takes the request's `Permission::scopes` into its query.
//!
//! Outbound, [`PeerInterceptor`] presents the calling service's own system
//! token ([`ServiceCredentials`]) and, when the request being served has a
//! person behind it, forwards that person (`x-louyu-on-behalf-of`, or in
//! development mode the person's `x-louyu-*` headers). It finds the person
//! the way [`crate::telemetry::TraceContextInterceptor`] finds the trace: the
//! layer serves each request inside a task-local scope of its caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};

use super::verify::{
    AUTHORIZATION_METADATA_KEY, DEV_DEPARTMENT_METADATA_KEY, DEV_ROLES_METADATA_KEY,
    DEV_SUB_DISTRICT_METADATA_KEY, ON_BEHALF_OF_METADATA_KEY,
};
use super::{
    Caller, Principal, Provenance, SigningKey, SystemIdentity, TokenOptions, Verifier, mint_token,
};
use crate::audit::ACTOR_METADATA_KEY;
use crate::config::Config;
use crate::permissions::{self, Permission};

/// How long a service's own token lives; it is minted again once less than
/// [`SERVICE_TOKEN_RENEWAL`] of it is left.
const SERVICE_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
const SERVICE_TOKEN_RENEWAL: Duration = Duration::from_secs(5 * 60);

/// What one process knows about identity: one [`Verifier`] (so the JWKS file
/// is watched once, however many services the process hosts) and the key it
/// signs its services' own tokens with.
#[derive(Debug, Clone)]
pub struct ProcessIdentity {
    verifier: Arc<Verifier>,
    signing_key: Option<Arc<SigningKey>>,
    token_options: TokenOptions,
}

impl ProcessIdentity {
    /// From `jwks_file`, `dev_identity`, `signing_key_file`,
    /// `signing_key_id`, `token_issuer` and `token_audience`. A missing or
    /// broken JWKS or key file fails the start.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let verifier = Verifier::new(config.identity_settings())?;
        let signing_key = match &config.signing_key_file {
            Some(path) => {
                let key = SigningKey::from_pem_file(path)?;
                let key = match &config.signing_key_id {
                    Some(kid) => key.with_kid(kid.clone()),
                    None => key,
                };
                Some(Arc::new(key))
            }
            None => None,
        };
        Ok(Self {
            verifier: Arc::new(verifier),
            signing_key,
            token_options: TokenOptions {
                issuer: config.token_issuer.clone(),
                audience: config.token_audience.clone(),
                ttl: SERVICE_TOKEN_TTL,
            },
        })
    }

    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    /// The key this process signs tokens with, when it has one: the
    /// gateway mints its logged-in people's tokens with it.
    pub fn signing_key(&self) -> Option<&Arc<SigningKey>> {
        self.signing_key.as_ref()
    }

    /// The issuer and audience of the tokens this process mints.
    pub fn token_options(&self) -> &TokenOptions {
        &self.token_options
    }

    /// The credentials `service` presents to its peers.
    pub fn credentials(&self, service: &str) -> ServiceCredentials {
        ServiceCredentials {
            system: SystemIdentity {
                name: service.to_owned(),
                district: self.verifier.settings().district.clone(),
            },
            signing_key: self.signing_key.clone(),
            development_identity: self.verifier.is_development_identity(),
            token_options: self.token_options.clone(),
            cached: Arc::new(Mutex::new(None)),
        }
    }
}

/// How a service presents itself when it calls another: a system token it
/// mints with the process's signing key, or, in development mode without a
/// key, `x-louyu-actor: system:<name>`.
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    system: SystemIdentity,
    signing_key: Option<Arc<SigningKey>>,
    development_identity: bool,
    token_options: TokenOptions,
    cached: Arc<Mutex<Option<(String, SystemTime)>>>,
}

impl ServiceCredentials {
    /// The name of the system presenting these credentials (the service).
    pub fn system_name(&self) -> &str {
        &self.system.name
    }

    /// Fails unless the service can present an identity: a service that
    /// calls others checks this at start rather than at its first call.
    pub fn ensure_presentable(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.signing_key.is_some() || self.development_identity,
            "{} calls other services and must present its own identity: set \
             LOUYU_SIGNING_KEY_FILE (or LOUYU_DEV_IDENTITY=1 on a developer's machine)",
            self.system.name
        );
        Ok(())
    }

    /// The service's system token, minted again when it nears its end.
    fn token(&self, key: &SigningKey) -> Result<String, Status> {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = SystemTime::now();
        if let Some((token, renew_at)) = cached.as_ref()
            && now < *renew_at
        {
            return Ok(token.clone());
        }
        let token = mint_token(
            key,
            &Principal::System(self.system.clone()),
            &self.token_options,
        )
        .map_err(|error| {
            tracing::error!(service = %self.system.name, %error, "cannot mint the service's token");
            Status::internal("internal error")
        })?;
        *cached = Some((
            token.clone(),
            now + (SERVICE_TOKEN_TTL - SERVICE_TOKEN_RENEWAL),
        ));
        Ok(token)
    }

    /// Writes the service's identity, and the person of the request being
    /// served if there is one, into an outgoing call's metadata.
    pub fn present(&self, metadata: &mut MetadataMap) -> Result<(), Status> {
        let forwarded = REQUEST_IDENTITY
            .try_with(|identity| identity.forwarded.clone())
            .unwrap_or(Forwarded::Nobody);
        match &self.signing_key {
            Some(key) => {
                let bearer = MetadataValue::try_from(format!("Bearer {}", self.token(key)?))
                    .map_err(|_| Status::internal("internal error"))?;
                metadata.insert(AUTHORIZATION_METADATA_KEY, bearer);
            }
            None if self.development_identity => {
                // Without a key, a development person forwarded below names
                // the caller instead of the service.
                let actor = MetadataValue::try_from(format!("system:{}", self.system.name))
                    .map_err(|_| Status::internal("internal error"))?;
                metadata.insert(ACTOR_METADATA_KEY, actor);
            }
            None => {
                tracing::error!(
                    service = %self.system.name,
                    "a call to another service has no identity to present: set LOUYU_SIGNING_KEY_FILE"
                );
                return Err(Status::internal("internal error"));
            }
        }
        match forwarded {
            Forwarded::Nobody => {}
            Forwarded::PersonToken(token) => {
                metadata.insert(ON_BEHALF_OF_METADATA_KEY, token);
            }
            Forwarded::PersonAuthorization(authorization) => {
                if let Some(token) = authorization
                    .to_str()
                    .ok()
                    .and_then(super::verify::bearer_token)
                    .and_then(|token| MetadataValue::try_from(token).ok())
                {
                    metadata.insert(ON_BEHALF_OF_METADATA_KEY, token);
                }
            }
            Forwarded::DevelopmentPerson(headers) => {
                for (key, value) in headers {
                    metadata.insert(key, value);
                }
            }
        }
        Ok(())
    }
}

/// A tonic interceptor for clients of other Louyu services: the trace
/// context of the request being served, the service's identity, and the
/// person it acts for.
#[derive(Debug, Clone)]
pub struct PeerInterceptor {
    credentials: ServiceCredentials,
}

impl PeerInterceptor {
    pub fn new(credentials: ServiceCredentials) -> Self {
        Self { credentials }
    }
}

impl Interceptor for PeerInterceptor {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut request = crate::telemetry::TraceContextInterceptor.call(request)?;
        self.credentials.present(request.metadata_mut())?;
        Ok(request)
    }
}

/// The person behind a request, as a callee needs to see them again.
#[derive(Debug, Clone)]
enum Forwarded {
    /// A system on its own behalf, or nobody.
    Nobody,
    /// The bare JWT of the person: their own bearer token, or the
    /// `x-louyu-on-behalf-of` of a system acting for them.
    PersonToken(MetadataValue<tonic::metadata::Ascii>),
    /// A person's own `authorization` header, kept as it came (a shared
    /// buffer, not a copy): the bare JWT is taken out of it only when a
    /// call is made for them, which most requests never do.
    PersonAuthorization(MetadataValue<tonic::metadata::Ascii>),
    /// Development mode: the person's unverified `x-louyu-*` headers.
    DevelopmentPerson(Vec<(&'static str, MetadataValue<tonic::metadata::Ascii>)>),
}

impl Forwarded {
    fn of(caller: &Caller, metadata: &MetadataMap) -> Self {
        if caller.person().is_none() {
            return Forwarded::Nobody;
        }
        if caller.provenance() == Provenance::UnverifiedDevelopment {
            let headers = [
                ACTOR_METADATA_KEY,
                DEV_ROLES_METADATA_KEY,
                DEV_SUB_DISTRICT_METADATA_KEY,
                DEV_DEPARTMENT_METADATA_KEY,
            ]
            .into_iter()
            .filter_map(|key| metadata.get(key).map(|value| (key, value.clone())))
            .collect();
            return Forwarded::DevelopmentPerson(headers);
        }
        let forwarded = match caller.principal() {
            Principal::Person(_) => metadata
                .get(AUTHORIZATION_METADATA_KEY)
                .cloned()
                .map(Forwarded::PersonAuthorization),
            Principal::System(_) => metadata
                .get(ON_BEHALF_OF_METADATA_KEY)
                .cloned()
                .map(Forwarded::PersonToken),
        };
        forwarded.unwrap_or(Forwarded::Nobody)
    }
}

/// Who the request being served is from, for the outgoing calls it makes.
#[derive(Debug, Clone)]
struct RequestIdentity {
    forwarded: Forwarded,
}

tokio::task_local! {
    static REQUEST_IDENTITY: RequestIdentity;
}

/// The verified caller of a request behind kit's server. A request without
/// one never reached a handler through the server, so this is a bug, and
/// it leaves as a bare `internal`.
pub fn caller_of<T>(request: &Request<T>) -> Result<&Caller, Status> {
    request.extensions().get::<Caller>().ok_or_else(|| {
        tracing::error!("a request reached a handler without a verified caller");
        Status::internal("internal error")
    })
}

/// What the caller may do with the method of `request`: where data scope
/// is applied.
pub fn permission_of<T>(request: &Request<T>) -> Result<&Permission, Status> {
    request.extensions().get::<Permission>().ok_or_else(|| {
        tracing::error!("a request reached a handler without a permission");
        Status::internal("internal error")
    })
}

/// The tower layer in front of every method of kit's server (a tonic
/// interceptor cannot see the method's path).
#[derive(Debug, Clone)]
pub struct AuthenticateLayer {
    verifier: Arc<Verifier>,
}

impl AuthenticateLayer {
    pub fn new(verifier: Arc<Verifier>) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// See [`AuthenticateLayer`].
#[derive(Debug, Clone)]
pub struct Authenticate<S> {
    inner: S,
    verifier: Arc<Verifier>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An open method's call goes on as it came, unboxed (health checks are
/// most calls a server answers); every other is checked first.
type AuthenticatedFuture<F, T> = futures::future::Either<F, BoxFuture<T>>;

impl<S, RequestBody, ResponseBody> tower::Service<http::Request<RequestBody>> for Authenticate<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = AuthenticatedFuture<S::Future, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<RequestBody>) -> Self::Future {
        use futures::future::Either;
        // The service polled ready is the one that serves; its clone waits
        // for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if permissions::is_open(request.uri().path()) {
            return Either::Left(inner.call(request));
        }
        let path = request.uri().path().to_owned();
        let metadata = MetadataMap::from_headers(only_identity_headers(request.headers()));
        let judged = self
            .verifier
            .verify(&metadata)
            .map_err(Status::from)
            .and_then(|caller| {
                let permission = permissions::authorize(&caller, &path)?;
                Ok((caller, permission))
            });
        let (caller, permission) = match judged {
            Ok(judged) => judged,
            Err(status) => {
                tracing::info!(method = %path, code = ?status.code(), reason = %status.message(), "call refused");
                let response = status.into_http::<ResponseBody>();
                return Either::Right(Box::pin(async move { Ok(response) }));
            }
        };
        let identity = RequestIdentity {
            forwarded: Forwarded::of(&caller, &metadata),
        };
        request.extensions_mut().insert(caller);
        request.extensions_mut().insert(permission);
        Either::Right(Box::pin(
            REQUEST_IDENTITY.scope(identity, inner.call(request)),
        ))
    }
}

/// The headers identity reads, as names looked up without parsing them
/// again on every call.
static IDENTITY_HEADERS: [HeaderName; 6] = [
    HeaderName::from_static(AUTHORIZATION_METADATA_KEY),
    HeaderName::from_static(ON_BEHALF_OF_METADATA_KEY),
    HeaderName::from_static(ACTOR_METADATA_KEY),
    HeaderName::from_static(DEV_ROLES_METADATA_KEY),
    HeaderName::from_static(DEV_SUB_DISTRICT_METADATA_KEY),
    HeaderName::from_static(DEV_DEPARTMENT_METADATA_KEY),
];

/// The headers identity reads, copied out so the rest of the request is not.
fn only_identity_headers(headers: &HeaderMap) -> HeaderMap {
    let mut copied = HeaderMap::new();
    for key in &IDENTITY_HEADERS {
        if let Some(value) = headers.get(key) {
            copied.insert(key.clone(), HeaderValue::clone(value));
        }
    }
    copied
}
