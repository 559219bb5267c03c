//! Passing gRPC calls on to the service that owns them, unread: the request
//! goes out with its headers as they came (the caller's `authorization`,
//! which the owner verifies; `grpc-timeout`, the caller's deadline;
//! `x-request-id`) and its body frame by frame; the owner's headers, body
//! and trailers come back the same way, so its status, error details and
//! streams reach the caller untouched. Only the trace context changes: each
//! call passed on has its client span (kit's `ClientObserver`), a child of
//! the gateway's server span, and the owner's spans become its children.
//!
//! Which service owns a call is read from its path, `/<service>/<method>`,
//! in [`FORWARDED_SERVICES`]. A service the gateway does not front is
//! UNIMPLEMENTED (a method no service has is refused as UNIMPLEMENTED
//! before this, by kit's authentication, which knows every method); an
//! owner that cannot be reached is UNAVAILABLE, naming it, after at most
//! [`CONNECT_TIMEOUT`].

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::observe::ClientObserver;
use louyu_proto::google::longrunning::operations_server;
use louyu_proto::referral::v1::referral_service_server;
use louyu_proto::registry::v1::{building_council_service_server, registry_service_server};
use louyu_proto::risk::v1::risk_service_server;
use louyu_proto::visits::v1::visits_service_server;
use tonic::body::Body;
use tonic::codegen::StdError;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tower::ServiceExt;

/// Every gRPC service the gateway fronts, and the Louyu service that owns
/// it. The audit trail and the event feed (`louyu.common.v1`) are every
/// service's own, so a call to them through one door could not say whose:
/// they are not here.
///
/// `google.longrunning.Operations` goes to the risk service: an operation's
/// name (`operations/{id}`, kit's `operations.rs`) does not say which
/// service runs it, and the risk service's rule activations are the only
/// operations there are. When a second service runs operations, their names
/// must come to say whose they are, and this entry to read them.
pub const FORWARDED_SERVICES: &[(&str, ServiceName)] = &[
    (registry_service_server::SERVICE_NAME, ServiceName::Registry),
    (
        building_council_service_server::SERVICE_NAME,
        ServiceName::Registry,
    ),
    (visits_service_server::SERVICE_NAME, ServiceName::Visits),
    (risk_service_server::SERVICE_NAME, ServiceName::Risk),
    (referral_service_server::SERVICE_NAME, ServiceName::Referral),
    (operations_server::SERVICE_NAME, ServiceName::Risk),
];

/// How long the gateway tries to open a connection to an owner before the
/// call is UNAVAILABLE: a peer that is down answers at once, but one whose
/// host is gone would otherwise hold the call until the caller's deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a call could not be passed on; the owner's own failures are not
/// here, they travel back as the owner sent them.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("未知服务 {service}: unimplemented: the gateway forwards no service of this name")]
    UnknownService { service: String },
    #[error("{service} 服务不可用: unavailable: the gateway cannot reach the {service} service")]
    OwnerUnavailable { service: &'static str },
    #[error(
        "{service} 服务未在期限内答复: deadline exceeded: the {service} service did not answer in time"
    )]
    DeadlineExceeded { service: &'static str },
}

impl ForwardError {
    pub fn code(&self) -> Code {
        match self {
            ForwardError::UnknownService { .. } => Code::Unimplemented,
            ForwardError::OwnerUnavailable { .. } => Code::Unavailable,
            ForwardError::DeadlineExceeded { .. } => Code::DeadlineExceeded,
        }
    }

    pub fn into_status(self) -> Status {
        Status::new(self.code(), self.to_string())
    }

    /// What a failed call to `owner` means for the caller: its deadline
    /// passed, or the owner could not be reached (refused, reset, or no
    /// connection within [`CONNECT_TIMEOUT`]).
    fn of_upstream(owner: ServiceName, error: &(dyn std::error::Error + 'static)) -> Self {
        let service = owner.as_str();
        let mut cause = Some(error);
        while let Some(current) = cause {
            if current.is::<tonic::TimeoutExpired>() {
                return ForwardError::DeadlineExceeded { service };
            }
            cause = current.source();
        }
        ForwardError::OwnerUnavailable { service }
    }
}

/// The owners of the fronted services, each behind the connection `U` to it
/// (a tonic [`Channel`], HTTP/2, connected on first use and again after a
/// restart of the owner).
#[derive(Clone)]
pub struct Forwarder<U = Channel> {
    owners: Arc<Vec<(&'static str, ServiceName, ClientObserver<U>)>>,
}

impl Forwarder<Channel> {
    /// Owners at the URLs of `config` (`LOUYU_<SERVICE>_URL`). No
    /// connection is opened until a call needs one, so the gateway starts
    /// while its peers do not serve yet.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let mut channels: Vec<(ServiceName, Channel, String)> = Vec::new();
        for (service, url) in [
            (ServiceName::Registry, &config.registry_url),
            (ServiceName::Visits, &config.visits_url),
            (ServiceName::Risk, &config.risk_url),
            (ServiceName::Referral, &config.referral_url),
        ] {
            let endpoint = Endpoint::from_shared(url.clone()).map_err(|_| {
                anyhow::anyhow!("LOUYU_{}_URL is not a URL", service.as_str().to_uppercase())
            })?;
            let channel = endpoint
                .connect_timeout(CONNECT_TIMEOUT)
                .tcp_nodelay(true)
                .connect_lazy();
            channels.push((service, channel, url.clone()));
        }
        Ok(Self::with_owners_at(|owner| {
            channels
                .iter()
                .find(|(service, _, _)| *service == owner)
                .map(|(_, channel, url)| (channel.clone(), url.clone()))
                .expect("a channel to every owner")
        }))
    }
}

impl<U> Forwarder<U> {
    /// Owners reached through `connection_to(owner)`.
    pub fn with_owners(connection_to: impl Fn(ServiceName) -> U) -> Self {
        Self::with_owners_at(|owner| (connection_to(owner), String::new()))
    }

    /// Owners reached through the connection and at the URL
    /// `connection_to(owner)` gives (the URL names the peer in the spans).
    fn with_owners_at(connection_to: impl Fn(ServiceName) -> (U, String)) -> Self {
        let owners = FORWARDED_SERVICES
            .iter()
            .map(|(service, owner)| {
                let (connection, url) = connection_to(*owner);
                let observed = ClientObserver::new(connection, ServiceName::Gateway.as_str(), &url);
                (*service, *owner, observed)
            })
            .collect();
        Self {
            owners: Arc::new(owners),
        }
    }

    /// The owner of the call at `path` (`/<service>/<method>`).
    fn owner_of(&self, path: &str) -> Result<(ServiceName, &ClientObserver<U>), ForwardError> {
        let service = path
            .strip_prefix('/')
            .and_then(|path| path.split_once('/'))
            .map_or(path, |(service, _)| service);
        self.owners
            .iter()
            .find(|(name, _, _)| *name == service)
            .map(|(_, owner, connection)| (*owner, connection))
            .ok_or_else(|| ForwardError::UnknownService {
                service: service.to_owned(),
            })
    }
}

impl<U> tower::Service<http::Request<Body>> for Forwarder<U>
where
    U: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + Sync
        + 'static,
    U::Error: Into<StdError>,
    U::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    /// Always ready: each call waits on its own owner's connection.
    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (owner, connection) = match self.owner_of(request.uri().path()) {
            Ok((owner, connection)) => (owner, connection.clone()),
            Err(refused) => {
                let response = refused.into_status().into_http();
                return Box::pin(async move { Ok(response) });
            }
        };
        Box::pin(forward(owner, connection, request))
    }
}

/// Passes `request` on to `owner` and its answer back.
async fn forward<U>(
    owner: ServiceName,
    connection: U,
    mut request: http::Request<Body>,
) -> Result<http::Response<Body>, Infallible>
where
    U: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    U::Error: Into<StdError>,
{
    prepare_for_owner(request.headers_mut());
    match connection.oneshot(request).await {
        Ok(response) => Ok(response),
        Err(error) => {
            let error: StdError = error.into();
            let failure = ForwardError::of_upstream(owner, error.as_ref());
            tracing::warn!(
                service = owner.as_str(),
                code = ?failure.code(),
                error = %error,
                "a forwarded call failed"
            );
            Ok(failure.into_status().into_http())
        }
    }
}

/// The headers that concern only the connection the request came on; every
/// other header goes on as it came. Names, not text, so that no call parses
/// them again.
static HOP_BY_HOP_HEADERS: [http::HeaderName; 6] = [
    http::header::CONNECTION,
    http::header::HOST,
    http::HeaderName::from_static("keep-alive"),
    http::HeaderName::from_static("proxy-connection"),
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
];

/// The trace context is the client span's, set by [`ClientObserver`] as
/// the call leaves.
fn prepare_for_owner(headers: &mut http::HeaderMap) {
    for name in &HOP_BY_HOP_HEADERS {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A fake owner, in place of a channel.
    type FakeOwner =
        tower::util::BoxCloneSyncService<http::Request<Body>, http::Response<Body>, StdError>;

    /// What the fake owners were sent, and by whom.
    type Seen = Arc<Mutex<Vec<(ServiceName, http::request::Parts)>>>;

    /// A forwarder whose owners are fakes that record what they are sent
    /// and answer `answer`.
    fn forwarder_answering(
        answer: impl Fn() -> Result<http::Response<Body>, StdError> + Clone + Send + Sync + 'static,
    ) -> (Forwarder<FakeOwner>, Seen) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        let forwarder = Forwarder::with_owners(move |owner| {
            let seen = recorded.clone();
            let answer = answer.clone();
            tower::util::BoxCloneSyncService::new(tower::service_fn(
                move |request: http::Request<Body>| {
                    let (parts, _) = request.into_parts();
                    seen.lock().unwrap().push((owner, parts));
                    let answer = answer();
                    async move { answer }
                },
            ))
        });
        (forwarder, seen)
    }

    fn call_to(path: &str) -> http::Request<Body> {
        http::Request::builder()
            .uri(format!("http://gateway.example{path}"))
            .header("content-type", "application/grpc")
            .header("authorization", "Bearer caller-token")
            .header("grpc-timeout", "1500m")
            .header("x-request-id", "req-7")
            .header(
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )
            .header("connection", "keep-alive")
            .body(Body::empty())
            .unwrap()
    }

    fn grpc_status(response: &http::Response<Body>) -> Status {
        Status::from_header_map(response.headers()).expect("a grpc-status")
    }

    #[tokio::test]
    async fn a_call_goes_to_its_owner_with_the_callers_headers_and_comes_back_as_answered() {
        let (forwarder, seen) = forwarder_answering(|| {
            Ok(http::Response::builder()
                .header("grpc-status", "0")
                .header("x-owner", "registry")
                .body(Body::empty())
                .unwrap())
        });
        let response = forwarder
            .oneshot(call_to("/louyu.registry.v1.RegistryService/GetBuilding"))
            .await
            .unwrap();
        assert_eq!(response.headers()["x-owner"], "registry");
        let seen = seen.lock().unwrap();
        let (owner, parts) = &seen[0];
        assert_eq!(*owner, ServiceName::Registry);
        assert_eq!(
            parts.uri.path(),
            "/louyu.registry.v1.RegistryService/GetBuilding"
        );
        for (name, value) in [
            ("authorization", "Bearer caller-token"),
            ("grpc-timeout", "1500m"),
            ("x-request-id", "req-7"),
            ("content-type", "application/grpc"),
        ] {
            assert_eq!(parts.headers[name], value, "{name}");
        }
        // Not traced in this test, so the caller's trace context goes on.
        assert!(parts.headers.contains_key("traceparent"));
        assert!(!parts.headers.contains_key("connection"));
    }

    #[tokio::test]
    async fn every_fronted_service_goes_to_its_owner_and_operations_to_risk() {
        let (forwarder, seen) = forwarder_answering(|| Ok(http::Response::new(Body::empty())));
        for (service, _) in FORWARDED_SERVICES {
            forwarder
                .clone()
                .oneshot(call_to(&format!("/{service}/Anything")))
                .await
                .unwrap();
        }
        let owners: Vec<ServiceName> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(owner, _)| *owner)
            .collect();
        assert_eq!(
            owners,
            [
                ServiceName::Registry,
                ServiceName::Registry,
                ServiceName::Visits,
                ServiceName::Risk,
                ServiceName::Referral,
                ServiceName::Risk,
            ]
        );
    }

    #[tokio::test]
    async fn a_service_the_gateway_does_not_front_is_unimplemented_and_goes_nowhere() {
        let (forwarder, seen) = forwarder_answering(|| Ok(http::Response::new(Body::empty())));
        for path in [
            "/louyu.common.v1.AuditService/ListAuditRecords",
            "/louyu.nothing.v1.NothingService/Get",
            "garbage",
        ] {
            let response = forwarder.clone().oneshot(call_to(path)).await.unwrap();
            assert_eq!(grpc_status(&response).code(), Code::Unimplemented, "{path}");
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_owner_that_cannot_be_reached_is_unavailable_naming_it() {
        let (forwarder, _) = forwarder_answering(|| Err("connection refused".into()));
        let response = forwarder
            .oneshot(call_to("/louyu.visits.v1.VisitsService/GetDemand"))
            .await
            .unwrap();
        let status = grpc_status(&response);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("visits service"), "{status:?}");
    }

    #[tokio::test]
    async fn a_deadline_passed_on_the_way_is_deadline_exceeded() {
        let (forwarder, _) =
            forwarder_answering(|| Err(Box::new(tonic::TimeoutExpired(())) as StdError));
        let response = forwarder
            .oneshot(call_to("/louyu.risk.v1.RiskService/GetAssessment"))
            .await
            .unwrap();
        assert_eq!(grpc_status(&response).code(), Code::DeadlineExceeded);
    }
}
