//! Calling a peer service while serving: a lazily connected channel that
//! fails fast (so an unreachable peer turns into UNAVAILABLE, not a hang),
//! carrying the calling service's own identity and, where it acts for a
//! person, that person ([`PeerInterceptor`]).

use std::time::Duration;

use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::identity::{PeerInterceptor, ServiceCredentials};
use crate::observe::ClientObserver;

/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one call to a peer may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to a peer at `url`, connected on first use: the calling
/// service starts even when the peer is down.
pub fn lazy_channel(url: &str) -> anyhow::Result<Channel> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .connect_lazy())
}

/// A channel to a peer at `url` whose every call from the service
/// `caller` has its client span ([`ClientObserver`]).
pub fn observed_channel(url: &str, caller: &str) -> anyhow::Result<ClientObserver<Channel>> {
    Ok(ClientObserver::new(lazy_channel(url)?, caller, url))
}

/// The registry as a peer service sees it.
pub type RegistryClient =
    RegistryServiceClient<InterceptedService<ClientObserver<Channel>, PeerInterceptor>>;

/// A client of the registry at `url` presenting `credentials`.
pub fn registry_client(
    url: &str,
    credentials: ServiceCredentials,
) -> anyhow::Result<RegistryClient> {
    Ok(RegistryServiceClient::with_interceptor(
        observed_channel(url, credentials.system_name())?,
        PeerInterceptor::new(credentials),
    ))
}
