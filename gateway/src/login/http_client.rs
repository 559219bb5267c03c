//! The gateway's calls to the OpenID Connect provider: hyper-util's pooled
//! client over rustls (ring, with Mozilla's root certificates), so a
//! production issuer is reached over `https://` directly. Plain `http://`
//! is accepted only for a loopback issuer (a development provider on the
//! same machine, and the tests).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value as Json;

/// The longest one call to the provider may take, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from the provider.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Why a call to the provider failed; logged, never shown to a person.
#[derive(Debug, thiserror::Error)]
pub enum ProviderCallError {
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the provider answered HTTP {status}")]
    Status { status: u16, body: Json },
    #[error("the provider's answer is not JSON: {0}")]
    NotJson(String),
}

/// Whether `url` may be called: `https://`, or `http://` to a loopback
/// host.
pub fn check_url(setting: &str, url: &str) -> anyhow::Result<http::Uri> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| anyhow::anyhow!("{setting} is not a URL: {url}"))?;
    let host = uri
        .host()
        .ok_or_else(|| anyhow::anyhow!("{setting} has no host: {url}"))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if is_loopback(host) => Ok(uri),
        _ => anyhow::bail!(
            "{setting} must be an https:// URL (http:// only for a loopback host in development): {url}"
        ),
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// A client of the provider.
#[derive(Clone)]
pub struct ProviderClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl ProviderClient {
    pub fn new() -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// `GET url`, its JSON.
    pub async fn get_json(&self, url: &str) -> Result<Json, ProviderCallError> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|error| ProviderCallError::Unreachable(error.to_string()))?;
        self.call(request).await
    }

    /// `POST url` with a form body, and HTTP Basic credentials when given;
    /// the JSON answer.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<String>,
    ) -> Result<Json, ProviderCallError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = http::Request::post(url)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(basic) = basic {
            request = request.header(http::header::AUTHORIZATION, format!("Basic {basic}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| ProviderCallError::Unreachable(error.to_string()))?;
        self.call(request).await
    }

    async fn call(&self, request: http::Request<Full<Bytes>>) -> Result<Json, ProviderCallError> {
        let answer = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| ProviderCallError::Unreachable(error.to_string()))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| ProviderCallError::Unreachable(error.to_string()))?
                .to_bytes();
            let body: Json = serde_json::from_slice(&bytes)
                .map_err(|error| ProviderCallError::NotJson(error.to_string()))?;
            if !status.is_success() {
                return Err(ProviderCallError::Status {
                    status: status.as_u16(),
                    body,
                });
            }
            Ok(body)
        };
        tokio::time::timeout(CALL_TIMEOUT, answer)
            .await
            .map_err(|_| ProviderCallError::Timeout(CALL_TIMEOUT))?
    }
}

impl Default for ProviderClient {
    fn default() -> Self {
        Self::new()
    }
}
