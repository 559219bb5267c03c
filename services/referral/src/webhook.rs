//! The webhook the notifications are POSTed to: plain HTTP/1.1 through
//! hyper-util's pooled client (TLS to the outside is the district's egress
//! proxy's), each body signed with HMAC-SHA256 under the shared secret, with
//! a connect timeout and a timeout on the whole attempt.
//!
//! Headers of every attempt:
//! - `X-Louyu-Delivery`: the notification's id, the same on every attempt;
//! - `X-Louyu-Signature`: `sha256=` and the lower-case hex HMAC-SHA256 of
//!   the exact body bytes;
//! - `X-Louyu-Timestamp`: when this attempt was made, in Unix seconds.

use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use louyu_kit::config::WebhookSettings;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

pub const DELIVERY_HEADER: &str = "x-louyu-delivery";
pub const SIGNATURE_HEADER: &str = "x-louyu-signature";
pub const TIMESTAMP_HEADER: &str = "x-louyu-timestamp";

/// How long an idle connection to the webhook is kept for the next
/// notification.
const IDLE_CONNECTION: Duration = Duration::from_secs(30);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The webhook answered 2xx.
    Delivered,
    /// It did not; a short status line for admins (`HTTP 503`, `connection
    /// refused`, `timed out after 10s`), with no address or internal detail.
    Failed(String),
}

/// A configured webhook.
#[derive(Clone)]
pub struct Webhook {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    secret: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Webhook")
            .field("uri", &self.uri)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// The settings are checked already ([`louyu_kit::config::Config::referral_webhook`]).
    pub fn new(settings: &WebhookSettings) -> anyhow::Result<Self> {
        let uri: Uri = settings.url.parse()?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_CONNECTION)
            .build(connector);
        Ok(Self {
            client,
            uri,
            secret: settings.secret.clone(),
            timeout: settings.timeout,
        })
    }

    /// POSTs `body` as notification `delivery_id`, signed.
    pub async fn post(&self, delivery_id: &str, body: &str) -> Outcome {
        let request = match self.request(delivery_id, body) {
            Ok(request) => request,
            Err(error) => {
                tracing::error!(notification = %delivery_id, error = %error, "cannot build a webhook request");
                return Outcome::Failed("request could not be built".to_owned());
            }
        };
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Outcome::Failed(format!("timed out after {}", describe(self.timeout))),
            Ok(Err(error)) if error.is_connect() => {
                tracing::debug!(notification = %delivery_id, error = %louyu_kit::error::ErrorChain(&error), "cannot connect to the webhook");
                Outcome::Failed("cannot connect".to_owned())
            }
            Ok(Err(error)) => {
                tracing::debug!(notification = %delivery_id, error = %louyu_kit::error::ErrorChain(&error), "the webhook request failed");
                Outcome::Failed("request failed".to_owned())
            }
            Ok(Ok(response)) if response.status().is_success() => Outcome::Delivered,
            Ok(Ok(response)) => Outcome::Failed(format!("HTTP {}", response.status().as_u16())),
        }
    }

    fn request(&self, delivery_id: &str, body: &str) -> Result<Request<Full<Bytes>>, http::Error> {
        let timestamp = louyu_kit::time::now_micros() / 1_000_000;
        Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )
            .header(
                USER_AGENT,
                concat!("louyu-referral/", env!("CARGO_PKG_VERSION")),
            )
            .header(DELIVERY_HEADER, delivery_id)
            .header(
                SIGNATURE_HEADER,
                signature(self.secret.expose_secret().as_bytes(), body.as_bytes()),
            )
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
    }
}

/// `sha256=` and the lower-case hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut text = String::with_capacity(7 + digest.len() * 2);
    text.push_str("sha256=");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

fn describe(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
