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

/// [`spawn_suite`] with the test's own changes to each service's settings
/// (the gateway's protection, its peers' URLs).
pub async fn spawn_suite_configured(
    backend: TestBackend,
    configure: impl Fn(ServiceName, &mut louyu_kit::config::Config),
) -> Option<Suite> {
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
        ],
        configure,
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
    spawn_every_service_configured(backend, |_, _| {}).await
}

/// [`spawn_suite_with_every_service`] with the gateway's per-caller rate
/// out of reach: for tests that make hundreds of calls a second as one
/// caller and test something else than the rate limit (protection.rs
/// tests that).
pub async fn spawn_suite_with_every_service_unthrottled(backend: TestBackend) -> Option<Suite> {
    spawn_every_service_configured(backend, |service, config| {
        if service == ServiceName::Gateway {
            config.gateway_protection.rate_per_second = 1e9;
            config.gateway_protection.rate_burst = 1_000_000;
        }
    })
    .await
}

async fn spawn_every_service_configured(
    backend: TestBackend,
    configure: impl Fn(ServiceName, &mut louyu_kit::config::Config),
) -> Option<Suite> {
    let sandbox = Sandbox::start_with(
        backend,
        &[
            &louyu_gateway::startup::Gateway,
            &louyu_registry::startup::Registry,
            &louyu_visits::startup::Visits,
            &louyu_risk::startup::Risk,
            &louyu_referral::startup::Referral,
        ],
        configure,
    )
    .await?;
    Some(Suite { sandbox })
}

impl Suite {
    /// A district admin's registry client, through the gateway.
    pub async fn registry_through_gateway(&self) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client(ServiceName::Gateway).await)
    }

    /// A district admin's registry client, straight to the registry: how a
    /// test builds its world without going through what it tests.
    pub async fn sandbox_registry(&self) -> RegistryServiceClient<AuthorizedChannel> {
        RegistryServiceClient::new(self.sandbox.client(ServiceName::Registry).await)
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
    /// `request` (its URI a path; the caller's token added) as it is: the
    /// answer's head and body, whatever they are.
    pub async fn send(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> (http::response::Parts, Bytes) {
        let (mut parts, body) = request.into_parts();
        parts.uri = format!("{}{}", self.base, parts.uri)
            .parse()
            .expect("a URI");
        if let Some(token) = &self.token {
            parts.headers.insert(
                "authorization",
                format!("Bearer {token}").parse().expect("a header"),
            );
        }
        let response = self
            .client
            .request(http::Request::from_parts(parts, body))
            .await
            .expect("an answer");
        let (parts, body) = response.into_parts();
        (parts, body.collect().await.unwrap().to_bytes())
    }

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

/// One server-sent event: its `event:` (none for a domain event), `id:`
/// and `data:` as JSON.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub kind: Option<String>,
    pub id: Option<String>,
    pub data: Json,
}

/// An open `GET /v1/streams/events`, read frame by frame.
pub struct SseStream {
    body: hyper::body::Incoming,
    buffer: String,
    /// Comment lines seen (heartbeats).
    pub comments: usize,
    /// Whether a `retry:` was sent.
    pub retry: Option<u64>,
}

impl Suite {
    /// Opens the gateway's event stream as the holder of `token` with
    /// `query` (`?types=…`) and `Last-Event-ID`: the stream, or the status
    /// and JSON error that refused it.
    pub async fn open_stream_with_token(
        &self,
        token: Option<&str>,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseStream, (u16, Json)> {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let mut request = http::Request::builder()
            .method("GET")
            .uri(format!(
                "http://{}/v1/streams/events{query}",
                self.sandbox.address(ServiceName::Gateway)
            ))
            .header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = client
            .request(request.body(Full::new(Bytes::new())).unwrap())
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        if status != 200 {
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            return Err((
                status,
                serde_json::from_slice(&bytes).expect("a JSON error"),
            ));
        }
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "the stream's content type"
        );
        Ok(SseStream {
            body: response.into_body(),
            buffer: String::new(),
            comments: 0,
            retry: None,
        })
    }

    /// [`Suite::open_stream_with_token`] as `principal`, with an hour's
    /// token, waiting for its `open` event.
    pub async fn open_stream(
        &self,
        principal: &Principal,
        query: &str,
        last_event_id: Option<&str>,
    ) -> SseStream {
        let token = self.sandbox.keys().token(principal);
        let mut stream = self
            .open_stream_with_token(Some(&token), query, last_event_id)
            .await
            .unwrap_or_else(|(status, error)| panic!("the stream opens: {status} {error}"));
        let open = stream
            .next_event(std::time::Duration::from_secs(30))
            .await
            .expect("the open event");
        assert_eq!(open.kind.as_deref(), Some("open"), "{open:?}");
        stream
    }
}

impl SseStream {
    /// The next event within `within`; `None` when none came or the
    /// stream ended.
    pub async fn next_event(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut kind, mut id, mut data) = (None, None, None);
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(value) = line.strip_prefix("event: ") {
                        kind = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(value).expect("JSON data"));
                    } else if let Some(value) = line.strip_prefix("retry: ") {
                        self.retry = Some(value.parse().expect("retry in milliseconds"));
                    }
                }
                if let Some(data) = data {
                    return Some(SseEvent { kind, id, data });
                }
                continue;
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame()).await;
            match frame {
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer
                            .push_str(std::str::from_utf8(&data).expect("UTF-8"));
                    }
                }
                Ok(Some(Err(_)) | None) | Err(_) => return None,
            }
        }
    }

    /// The next domain event (no `event:`), skipping control events.
    pub async fn next_domain_event(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        loop {
            let event = self.next_event(within).await?;
            if event.kind.is_none() {
                return Some(event);
            }
        }
    }
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
