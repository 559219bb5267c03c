//! A registry, a visits service and the gateway for each test, each on a
//! fresh database of the chosen backend, on port 0, called over TCP; the
//! gateway's peer URLs point at the two (the risk and referral services only
//! where a test asks for them: otherwise their URLs are closed ports).

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Principal;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_testkit::TestBackend;
use louyu_testkit::identity::AuthorizedChannel;
use louyu_testkit::sandbox::Sandbox;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value as Json;

pub use louyu_testkit::assert_code;
pub use louyu_testkit::fixtures::DISTRICT;

pub struct Suite {
    pub sandbox: Sandbox,
}

pub async fn spawn_suite(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
        ],
    )
    .await?;
    Some(Suite { sandbox })
}

/// [`spawn_suite`] with the risk service too, whose operations the gateway
/// forwards.
pub async fn spawn_suite_with_risk(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
        ],
    )
    .await?;
    Some(Suite { sandbox })
}

/// [`spawn_suite`] with every service the gateway fronts: risk and
/// referral too.
pub async fn spawn_suite_with_every_service(backend: TestBackend) -> Option<Suite> {
    let sandbox = Sandbox::start(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
            &louyu_referral::startup::Referral,
        ],
    )
    .await?;
    Some(Suite { sandbox })
}

impl Suite {
    /// A district admin's registry client, through the gateway.
    pub async fn registry_through_gateway(&self) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client(ServiceName::Gateway).await)
    }

    /// `principal`'s registry client at `service` (the gateway or the
    /// registry itself).
    pub async fn registry_as(
        &self,
        service: ServiceName,
        principal: &Principal,
    ) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client_as(service, principal).await)
    }
}

/// A REST client of the gateway, over HTTP/1.1, with a caller's bearer
/// token or none.
pub struct RestClient {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

impl Suite {
    /// `principal`'s REST client of the gateway (no token for `None`).
    pub fn rest_as(&self, principal: Option<&Principal>) -> RestClient {
        RestClient {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://{}", self.sandbox.address(ServiceName::Gateway)),
            token: principal.map(|principal| self.sandbox.keys().token(principal)),
        }
    }
}

impl RestClient {
    /// `method path` with `body` as JSON; the status and the JSON answer.
    pub async fn call(&self, method: &str, path: &str, body: Option<Json>) -> (u16, Json) {
        let body = body.map(|body| body.to_string()).unwrap_or_default();
        self.call_raw(method, path, &body).await
    }

    /// `method path` with `body` as it is.
    pub async fn call_raw(&self, method: &str, path: &str, body: &str) -> (u16, Json) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a request");
        let response = self.client.request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{status}: {bytes:?}"
        );
        let json = serde_json::from_slice(&bytes).expect("a JSON answer");
        (status, json)
    }
}

/// `text` for a query string: every byte but the unreserved ones escaped.
pub fn percent_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

impl RestClient {
    /// `GET path` as it comes: the status, the headers and the bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, http::HeaderMap, Bytes) {
        let mut request = http::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::new())).expect("a request");
        let response = self.client.request(request).await.expect("an answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, bytes)
    }
}
