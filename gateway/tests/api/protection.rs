//! The gateway's protection over real sockets: size limits, per-caller
//! rate limits, load shedding, the unary deadline, CORS and the security
//! headers, each with small configured bounds.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_proto::registry::v1::{Building, CreateBuildingRequest, GetDistrictRequest};
use louyu_proto::visits::v1::ListDemandsRequest;
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_testkit::identity::person;
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::{Value as Json, json};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::*;

const ALLOWED_ORIGIN: &str = "https://screen.jingan.gov.cn";

fn get_district() -> GetDistrictRequest {
    GetDistrictRequest {
        name: DISTRICT.to_owned(),
    }
}

fn request(method: &str, path: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(path)
}

fn empty() -> Full<Bytes> {
    Full::new(Bytes::new())
}

/// A peer that accepts connections and never answers: calls to it hang
/// until a deadline ends them.
async fn paused_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        while let Ok((connection, _)) = listener.accept().await {
            held.lock().unwrap().push(connection);
        }
    });
    address
}

async fn a_rest_body_or_a_grpc_message_over_the_limit_is_refused_naming_the_limit(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite_configured(backend, |_, config| {
        config.gateway_protection.max_body_bytes = 1024;
    })
    .await
    else {
        return;
    };
    let rest = suite.rest_as(Some(&louyu_testkit::identity::district_admin()));
    let long_name = "楼".repeat(700);
    let (status, answer) = rest
        .call(
            "POST",
            "/v1/districts/jingan/buildings?buildingId=b-9",
            Some(json!({"displayName": long_name})),
        )
        .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024"),
        "{answer}"
    );
    // Within the limit, the same request goes on (and is refused by the
    // registry for its own reasons, or made).
    let (status, answer) = rest
        .call(
            "POST",
            "/v1/districts/jingan/buildings?buildingId=b-9",
            Some(json!({"displayName": "楼"})),
        )
        .await;
    assert_ne!(status, 413, "{answer}");

    let mut registry = suite.registry_through_gateway().await;
    let status = assert_code(
        registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building_id: "b-9".to_owned(),
                building: Some(Building {
                    display_name: long_name,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await,
        Code::ResourceExhausted,
    );
    assert!(status.message().contains("1024"), "{status:?}");
    registry
        .get_district(get_district())
        .await
        .expect("a small message passes on the same connection");
}

async fn a_caller_over_its_rate_is_refused_with_retry_after_while_another_caller_passes(
    backend: TestBackend,
) {
    // Three at once, then one every 20 s: the fourth is refused however
    // slow the machine.
    let Some(suite) = spawn_suite_configured(backend, |_, config| {
        config.gateway_protection.rate_per_second = 0.05;
        config.gateway_protection.rate_burst = 3;
    })
    .await
    else {
        return;
    };
    let first = person("admin-1", &[Role::DistrictAdmin]);
    let second = person("admin-2", &[Role::DistrictAdmin]);
    let mut registry = suite.registry_as(ServiceName::Gateway, &first).await;
    for _ in 0..3 {
        registry
            .get_district(get_district())
            .await
            .expect("within the burst");
    }
    let started = Instant::now();
    let status = assert_code(
        registry.get_district(get_district()).await,
        Code::ResourceExhausted,
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let retry = status
        .get_details_retry_info()
        .expect("a google.rpc.RetryInfo");
    let delay = retry.retry_delay.expect("a delay");
    assert!(
        delay > Duration::from_secs(5) && delay <= Duration::from_secs(20),
        "{delay:?}"
    );
    let mut other = suite.registry_as(ServiceName::Gateway, &second).await;
    other
        .get_district(get_district())
        .await
        .expect("another caller has its own bucket");

    // REST: a caller of its own (one token), 429 with Retry-After once
    // its burst is spent, while the second caller still passes.
    let third = person("admin-3", &[Role::DistrictAdmin]);
    let rest = suite.rest_as(Some(&third));
    for _ in 0..3 {
        let (status, answer) = rest.call("GET", "/v1/districts/jingan", None).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (head, body) = rest
        .send(
            request("GET", "/v1/districts/jingan")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, 429, "{body:?}");
    let seconds: u64 = head.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((5..=20).contains(&seconds), "{seconds}");
    let answer: Json = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(
        answer["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.RetryInfo"
    );
    let (status, _) = suite
        .rest_as(Some(&second))
        .call("GET", "/v1/districts/jingan", None)
        .await;
    assert_eq!(status, 200);
}

async fn a_full_gateway_refuses_the_next_request_at_once_and_serves_again_when_calls_end(
    backend: TestBackend,
) {
    let paused = paused_backend().await;
    let Some(suite) = spawn_suite_configured(backend, |service, config| {
        config.gateway_protection.max_in_flight = 2;
        config.gateway_protection.max_streams = 1;
        if service == ServiceName::Gateway {
            config.registry_url = format!("http://{paused}");
        }
    })
    .await
    else {
        return;
    };
    // Two calls to the paused registry hold both permits. A call that
    // ends at once (shed while something else briefly held a permit, as
    // the suite settles on a loaded machine) is replaced, until two stay.
    let mut held = Vec::new();
    let settled = Instant::now();
    while held.len() < 2 {
        assert!(
            settled.elapsed() < Duration::from_secs(20),
            "two calls stay held"
        );
        let mut registry = suite.registry_through_gateway().await;
        held.push(tokio::spawn(async move {
            registry.get_district(get_district()).await
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
        held.retain(|call| !call.is_finished());
    }
    let mut visits = VisitsServiceClient::new(suite.sandbox.client(ServiceName::Gateway).await);
    let list_demands = || ListDemandsRequest {
        parent: DISTRICT.to_owned(),
        ..Default::default()
    };
    let refused_in = Arc::new(Mutex::new(None));
    eventually(
        "the full gateway refuses a call to the visits service",
        || {
            let mut visits = visits.clone();
            let refused_in = refused_in.clone();
            async move {
                let started = Instant::now();
                match visits.list_demands(list_demands()).await {
                    Ok(_) => false,
                    Err(status) => {
                        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                        assert!(status.message().contains("overloaded"), "{status:?}");
                        *refused_in.lock().unwrap() = Some(started.elapsed());
                        true
                    }
                }
            }
        },
    )
    .await;
    let refused_in = refused_in.lock().unwrap().expect("refused");
    assert!(refused_in < Duration::from_secs(1), "{refused_in:?}");
    let (head, body) = suite
        .rest_as(Some(&louyu_testkit::identity::district_admin()))
        .send(
            request("GET", "/v1/districts/jingan/demands")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, 429, "{body:?}");
    assert!(head.headers.contains_key("retry-after"));
    assert!(held.iter().all(|call| !call.is_finished()), "still held");

    // A stream has its own bound: reflection (a stream) is served while
    // the requests' bound is full.
    let mut reflection =
        tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient::new(
            suite.sandbox.channel(ServiceName::Gateway).await,
        );
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    sender
        .send(tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                tonic_reflection::pb::v1::server_reflection_request::MessageRequest::ListServices(
                    String::new(),
                ),
            ),
        })
        .await
        .unwrap();
    let mut open_stream = reflection
        .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(receiver))
        .await
        .expect("a stream beside full requests")
        .into_inner();
    open_stream
        .message()
        .await
        .expect("a listing")
        .expect("one message");
    // The one stream permit is taken while that stream stays open.
    let (_other_sender, other_receiver) = tokio::sync::mpsc::channel(1);
    let status = assert_code(
        reflection
            .server_reflection_info(tokio_stream::wrappers::ReceiverStream::new(other_receiver))
            .await,
        Code::ResourceExhausted,
    );
    assert!(status.message().contains("overloaded"), "{status:?}");
    drop(sender);

    // The held calls end (their callers give up): permits come back.
    for call in &held {
        call.abort();
    }
    eventually("the gateway serves again", || {
        let mut visits = visits.clone();
        async move { visits.list_demands(list_demands()).await.is_ok() }
    })
    .await;
    visits
        .list_demands(list_demands())
        .await
        .expect("served again");
}

async fn a_unary_call_without_a_deadline_ends_at_the_gateways_and_a_shorter_one_wins(
    backend: TestBackend,
) {
    let paused = paused_backend().await;
    let Some(suite) = spawn_suite_configured(backend, |service, config| {
        config.gateway_protection.unary_timeout = Duration::from_millis(1500);
        if service == ServiceName::Gateway {
            config.registry_url = format!("http://{paused}");
        }
    })
    .await
    else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    let started = Instant::now();
    let status = registry
        .get_district(get_district())
        .await
        .expect_err("the paused registry never answers");
    let waited = started.elapsed();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    let mut short = tonic::Request::new(get_district());
    short.set_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let status = registry.get_district(short).await.expect_err("past 200 ms");
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1400));
}

async fn only_a_configured_origin_gets_cors_headers_with_credentials(backend: TestBackend) {
    let Some(suite) = spawn_suite_configured(backend, |_, config| {
        config.gateway_protection.cors_origins = vec![ALLOWED_ORIGIN.to_owned()];
    })
    .await
    else {
        return;
    };
    let rest = suite.rest_as(Some(&louyu_testkit::identity::district_admin()));
    let (head, _) = rest
        .send(
            request("GET", "/v1/districts/jingan")
                .header("origin", ALLOWED_ORIGIN)
                .body(empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert_eq!(head.headers["access-control-allow-credentials"], "true");
    let (head, _) = rest
        .send(
            request("GET", "/v1/districts/jingan")
                .header("origin", "https://evil.example.com")
                .body(empty())
                .unwrap(),
        )
        .await;
    assert!(
        !head.headers.contains_key("access-control-allow-origin"),
        "{head:?}"
    );
    assert!(
        !head
            .headers
            .contains_key("access-control-allow-credentials")
    );

    // A preflight is answered by the gateway for the allowed origin only.
    let preflight = |origin: &str| {
        request("OPTIONS", "/v1/districts/jingan/buildings")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(empty())
            .unwrap()
    };
    let (head, _) = suite.rest_as(None).send(preflight(ALLOWED_ORIGIN)).await;
    assert!(head.status.is_success(), "{head:?}");
    assert_eq!(head.headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    let methods = head.headers["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let (head, _) = suite
        .rest_as(None)
        .send(preflight("https://evil.example.com"))
        .await;
    assert!(
        !head.headers.contains_key("access-control-allow-origin"),
        "{head:?}"
    );
}

async fn every_http_answer_carries_the_security_headers_and_no_cors_by_default(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let admin = louyu_testkit::identity::district_admin();
    for (client, path, status) in [
        (suite.rest_as(None), "/openapi.json", 200),
        (suite.rest_as(Some(&admin)), "/v1/districts/jingan", 200),
        (suite.rest_as(None), "/v1/districts/jingan", 401),
        (suite.rest_as(Some(&admin)), "/no/such/route", 404),
    ] {
        let (head, _) = client
            .send(
                request("GET", path)
                    .header("origin", ALLOWED_ORIGIN)
                    .body(empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(head.status, status, "{path}");
        let headers = &head.headers;
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert!(
            !headers.contains_key("strict-transport-security"),
            "not reached over https"
        );
        assert!(
            !headers.contains_key("access-control-allow-origin"),
            "no origin is allowed by default"
        );
    }
}

async fn an_https_gateway_tells_browsers_to_keep_to_https(backend: TestBackend) {
    let Some(suite) = spawn_suite_configured(backend, |_, config| {
        config.gateway_public_url = Some("https://louyu.jingan.gov.cn".to_owned());
    })
    .await
    else {
        return;
    };
    let (head, _) = suite
        .rest_as(None)
        .send(request("GET", "/openapi.json").body(empty()).unwrap())
        .await;
    assert_eq!(
        head.headers["strict-transport-security"],
        "max-age=31536000"
    );
}

backend_tests!(
    a_rest_body_or_a_grpc_message_over_the_limit_is_refused_naming_the_limit,
    a_caller_over_its_rate_is_refused_with_retry_after_while_another_caller_passes,
    a_full_gateway_refuses_the_next_request_at_once_and_serves_again_when_calls_end,
    a_unary_call_without_a_deadline_ends_at_the_gateways_and_a_shorter_one_wins,
    only_a_configured_origin_gets_cors_headers_with_credentials,
    every_http_answer_carries_the_security_headers_and_no_cors_by_default,
    an_https_gateway_tells_browsers_to_keep_to_https,
);
