//! A webhook receiver of the test's own, a small hyper server on port 0,
//! that does what a district's receiver should: checks each body's
//! signature with the shared secret, and keeps the delivery ids it
//! accepted. The test says how it answers: a status, or hanging up before
//! answering (a receiver that is down).

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The secret the tests share with the referral service.
pub const SECRET: &str = "test-webhook-secret";

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// With this status; 2xx accepts.
    Status(u16),
    /// It closes the connection without answering, as a receiver that is
    /// down or restarting.
    HangUp,
}

/// A notification the receiver accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// `X-Louyu-Delivery`.
    pub delivery_id: String,
    pub body: serde_json::Value,
    /// `X-Louyu-Timestamp`.
    pub timestamp: i64,
}

#[derive(Debug, Default)]
struct Seen {
    accepted: Vec<Accepted>,
    /// Every request, accepted or not: its delivery id, and when it came
    /// (microseconds since the epoch).
    attempts: Vec<(String, i64)>,
    /// Requests whose signature, delivery id or body was wrong.
    refused: Vec<String>,
    /// Delivery ids being answered now.
    in_flight: HashSet<String>,
    /// Delivery ids that arrived while the same id was being answered.
    overlapping: Vec<String>,
}

struct Shared {
    answer: Mutex<Answer>,
    delay: Mutex<Duration>,
    seen: Mutex<Seen>,
}

pub struct Receiver {
    address: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts answering `answer`.
    pub async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the receiver");
        let address = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            answer: Mutex::new(answer),
            delay: Mutex::new(Duration::ZERO),
            seen: Mutex::new(Seen::default()),
        });
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = serving.clone();
                tokio::spawn(async move {
                    if *shared.answer.lock().expect("not poisoned") == Answer::HangUp {
                        drop(stream);
                        return;
                    }
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            shared,
            task,
        }
    }

    /// The URL to configure.
    pub fn url(&self) -> String {
        format!("http://{}/louyu/notifications", self.address)
    }

    pub fn answer(&self, answer: Answer) {
        *self.shared.answer.lock().expect("not poisoned") = answer;
    }

    /// How long each request takes to answer, so that two senders of one
    /// notification would overlap.
    pub fn take(&self, delay: Duration) {
        *self.shared.delay.lock().expect("not poisoned") = delay;
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.shared
            .seen
            .lock()
            .expect("not poisoned")
            .accepted
            .clone()
    }

    /// Requests for `delivery_id`, accepted or not.
    pub fn attempts_of(&self, delivery_id: &str) -> usize {
        self.shared
            .seen
            .lock()
            .expect("not poisoned")
            .attempts
            .iter()
            .filter(|(id, _)| id == delivery_id)
            .count()
    }

    /// When each request for `delivery_id` came, in order.
    pub fn arrivals_of(&self, delivery_id: &str) -> Vec<i64> {
        self.shared
            .seen
            .lock()
            .expect("not poisoned")
            .attempts
            .iter()
            .filter(|(id, _)| id == delivery_id)
            .map(|(_, at)| *at)
            .collect()
    }

    pub fn attempts(&self) -> usize {
        self.shared
            .seen
            .lock()
            .expect("not poisoned")
            .attempts
            .len()
    }

    /// Every request was signed right, none arrived while the same
    /// notification was being answered, and each delivery id was accepted
    /// exactly once; the ids accepted.
    pub fn assert_each_accepted_once(&self) -> Vec<String> {
        let seen = self.shared.seen.lock().expect("not poisoned");
        assert!(seen.refused.is_empty(), "refused: {:?}", seen.refused);
        assert!(
            seen.overlapping.is_empty(),
            "sent twice at once: {:?}",
            seen.overlapping
        );
        let ids: Vec<String> = seen
            .accepted
            .iter()
            .map(|accepted| accepted.delivery_id.clone())
            .collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "accepted more than once: {ids:?}");
        ids
    }
}

impl Shared {
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let delivery_id = header("x-louyu-delivery");
        let signature = header("x-louyu-signature");
        let timestamp = header("x-louyu-timestamp");
        let content_type = header("content-type");
        let body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return respond(StatusCode::BAD_REQUEST),
        };
        {
            let mut seen = self.seen.lock().expect("not poisoned");
            seen.attempts
                .push((delivery_id.clone(), louyu_kit::time::now_micros()));
            if !seen.in_flight.insert(delivery_id.clone()) {
                seen.overlapping.push(delivery_id.clone());
            }
        }
        let delay = *self.delay.lock().expect("not poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let checked = check(&delivery_id, &signature, &timestamp, &content_type, &body);
        let answer = *self.answer.lock().expect("not poisoned");
        let mut seen = self.seen.lock().expect("not poisoned");
        seen.in_flight.remove(&delivery_id);
        let accepted = match checked {
            Ok(accepted) => accepted,
            Err(reason) => {
                seen.refused.push(format!("{delivery_id}: {reason}"));
                return respond(StatusCode::UNAUTHORIZED);
            }
        };
        let status = match answer {
            Answer::Status(code) => StatusCode::from_u16(code).expect("a status"),
            Answer::HangUp => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status.is_success() {
            seen.accepted.push(accepted);
        }
        respond(status)
    }
}

fn respond(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// What a receiver checks: the signature over the exact bytes, with the
/// shared secret, in constant time; the delivery id is the body's.
fn check(
    delivery_id: &str,
    signature: &str,
    timestamp: &str,
    content_type: &str,
    body: &[u8],
) -> Result<Accepted, String> {
    let hex = signature
        .strip_prefix("sha256=")
        .ok_or("no sha256= signature")?;
    let expected = decode_hex(hex).ok_or("a signature that is not hex")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| "a wrong signature".to_owned())?;
    if !content_type.starts_with("application/json") {
        return Err(format!("content type {content_type}"));
    }
    let body: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    if body["id"] != delivery_id {
        return Err(format!("the body's id is {}", body["id"]));
    }
    let timestamp = timestamp
        .parse()
        .map_err(|_| format!("timestamp {timestamp:?}"))?;
    Ok(Accepted {
        delivery_id: delivery_id.to_owned(),
        body,
        timestamp,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(text.get(index..index + 2)?, 16).ok())
        .collect()
}
