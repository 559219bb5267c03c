//! REST/JSON on the gateway's listener, transcoded to the gRPC of the
//! services it fronts: the routes are the `google.api.http` options of
//! their methods ([`routes`]), the JSON is the canonical proto3 mapping
//! (prost-reflect's serde support over Louyu's one descriptor pool), and
//! `/openapi.json` is generated from the same routes ([`openapi`]), so none
//! of the three can drift from the protos.
//!
//! A request that is not gRPC comes here (kit's `HttpFront`). Its path
//! variables, body and query parameters make one request message, which
//! goes as a unary gRPC call to the owner through the same [`Forwarder`] as
//! gRPC calls, with the caller's `authorization`, trace context and
//! `x-request-id`, under the configured REST deadline. The owner
//! authenticates and authorizes it as it does any call; its answer comes
//! back as JSON, or its status as the HTTP status of kit's
//! [`ServiceErrorCode`] with a `google.rpc.Status`-shaped body.

pub mod enterprise_page;
pub mod export;
pub mod openapi;
pub mod page;
pub mod routes;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Limited};
use louyu_kit::error::ServiceErrorCode;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor,
    SerializeOptions,
};
use serde_json::{Map, Value as Json, json};
use tonic::body::Body;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tower::ServiceExt;

use crate::forward::{FORWARDED_SERVICES, Forwarder};
use routes::{RequestBody, Route, percent_decode};

/// The largest REST request body the gateway reads unless configured
/// otherwise ([`Rest::with_max_body_bytes`]); a larger one is 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where the OpenAPI document of the routes is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The headers of a REST request that go on to the owner.
const PASSED_ON_HEADERS: [&str; 4] = ["authorization", "traceparent", "tracestate", "x-request-id"];

/// Why a REST request was refused before it reached an owner.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("未找到 not found: no REST route is {method} {path}")]
    UnknownRoute { method: http::Method, path: String },
    #[error("请求体无效 bad request body: {0}")]
    BadBody(String),
    #[error("查询参数无效 bad query parameter {parameter:?}: {reason}")]
    BadQuery { parameter: String, reason: String },
    #[error("请求体超过 {limit} 字节 the request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
}

impl RestError {
    fn error_code(&self) -> ServiceErrorCode {
        match self {
            RestError::UnknownRoute { .. } => ServiceErrorCode::NotFound,
            RestError::BadBody(_) | RestError::BadQuery { .. } => ServiceErrorCode::InvalidArgument,
            RestError::BodyTooLarge { .. } => ServiceErrorCode::ResourceExhausted,
        }
    }

    pub(crate) fn into_response(self) -> http::Response<Body> {
        let code = self.error_code();
        // A body over the limit is HTTP's own 413, not a rate limit's 429.
        let http_status = match self {
            RestError::BodyTooLarge { .. } => http::StatusCode::PAYLOAD_TOO_LARGE,
            _ => code.http_status(),
        };
        error_response(http_status, code.grpc_code(), &self.to_string(), Vec::new())
    }
}

/// The gateway's REST side: a tower service for kit's `HttpFront`.
#[derive(Clone)]
pub struct Rest {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    routes: Vec<Route>,
    page: page::BuildingPage,
    enterprise_page: enterprise_page::EnterprisePage,
    exports: export::Exports,
    openapi: Bytes,
    forwarder: Forwarder,
    timeout: Duration,
    /// The live screen's event stream, when the gateway serves it.
    streams: Option<Arc<crate::stream::Streams>>,
    max_body_bytes: usize,
}

impl Rest {
    /// The routes of every fronted service, from Louyu's descriptor pool,
    /// answered through `forwarder` under `timeout`.
    pub fn new(forwarder: Forwarder, timeout: Duration) -> anyhow::Result<Self> {
        let pool = louyu_pool()?;
        let services: Vec<&str> = FORWARDED_SERVICES.iter().map(|(name, _)| *name).collect();
        let routes = routes::routes_of(&pool, &services)?;
        let page = page::BuildingPage::new(&pool, &routes)?;
        let enterprise_page = enterprise_page::EnterprisePage::new(&pool, &routes)?;
        let mut document = openapi::document(&routes);
        page.add_to_openapi(&mut document);
        enterprise_page.add_to_openapi(&mut document);
        let exports = export::Exports::new(&pool)?;
        export::add_to_openapi(&mut document);
        let openapi = serde_json::to_vec_pretty(&document)?;
        Ok(Self {
            inner: Arc::new(Inner {
                routes,
                page,
                enterprise_page,
                exports,
                openapi: Bytes::from(openapi),
                forwarder,
                timeout,
                streams: None,
                max_body_bytes: MAX_BODY_BYTES,
            }),
        })
    }

    /// Serves the event stream ([`crate::stream`]) at
    /// [`crate::stream::STREAM_PATH`] too.
    pub fn with_streams(mut self, streams: crate::stream::Streams) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("streams are added before the REST side is shared")
            .streams = Some(Arc::new(streams));
        self
    }

    /// Reads bodies of at most `limit` bytes (the gateway's
    /// `LOUYU_GATEWAY_MAX_BODY_BYTES`).
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        Arc::get_mut(&mut self.inner)
            .expect("set before the REST side is shared")
            .max_body_bytes = limit;
        self
    }
}

/// Louyu's descriptor pool, with the options `prost-types` would drop.
pub fn louyu_pool() -> anyhow::Result<DescriptorPool> {
    Ok(DescriptorPool::decode(louyu_proto::FILE_DESCRIPTOR_SET)?)
}

impl tower::Service<http::Request<Body>> for Rest {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        if let Some(streams) = inner.streams.clone()
            && request.method() == http::Method::GET
            && request.uri().path() == crate::stream::STREAM_PATH
        {
            return Box::pin(async move { Ok(streams.answer(inner, request).await) });
        }
        Box::pin(async move { Ok(inner.answer(request).await) })
    }
}

impl Inner {
    async fn answer(&self, request: http::Request<Body>) -> http::Response<Body> {
        let path = request.uri().path().to_owned();
        if path == OPENAPI_PATH && request.method() == http::Method::GET {
            return json_response(http::StatusCode::OK, self.openapi.clone());
        }
        if request.method() == http::Method::GET && crate::screen::is_screen_path(&path) {
            return crate::screen::answer(&path);
        }
        if request.method() == http::Method::GET
            && let Some(export) = export::export_of_path(&path)
        {
            return export::answer(self, export, request.uri().query(), request.headers()).await;
        }
        if request.method() == http::Method::GET
            && let Some(building) = page::building_of_page_path(&path)
        {
            return self.page.answer(self, &building, request.headers()).await;
        }
        if request.method() == http::Method::GET
            && let Some(enterprise) = enterprise_page::enterprise_of_page_path(&path)
        {
            return self
                .enterprise_page
                .answer(self, &enterprise, request.headers())
                .await;
        }
        let found = self.routes.iter().find_map(|route| {
            if route.http_method != request.method() {
                return None;
            }
            route
                .template
                .match_path(&path)
                .map(|values| (route, values))
        });
        let Some((route, path_values)) = found else {
            return RestError::UnknownRoute {
                method: request.method().clone(),
                path,
            }
            .into_response();
        };
        match self.transcode(route, path_values, request).await {
            Ok(response) => response,
            Err(refused) => refused.into_response(),
        }
    }

    async fn transcode(
        &self,
        route: &Route,
        path_values: Vec<(Vec<String>, String)>,
        request: http::Request<Body>,
    ) -> Result<http::Response<Body>, RestError> {
        let (parts, body) = request.into_parts();
        let body = read_body(&parts.headers, body, self.max_body_bytes).await?;
        let input = request_message(route, path_values, parts.uri.query(), &body)?;
        Ok(match self.call(&route.rpc, &parts.headers, &input).await {
            Ok(output) => match to_json(&output) {
                Ok(json) => json_response(http::StatusCode::OK, Bytes::from(json)),
                Err(status) => status_response(&status),
            },
            Err(status) => status_response(&status),
        })
    }

    /// The unary gRPC call `rpc` with `input`, through the forwarder, with
    /// the caller's headers that go on and the REST deadline: its answer,
    /// or the owner's (or the forwarder's) status.
    pub(crate) async fn call(
        &self,
        rpc: &MethodDescriptor,
        headers: &http::HeaderMap,
        input: &DynamicMessage,
    ) -> Result<DynamicMessage, Status> {
        let grpc_request = self.grpc_request(rpc, headers, input);
        let response = match self.forwarder.clone().oneshot(grpc_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        unary_answer(rpc, response).await
    }

    /// The unary gRPC call of `rpc` with `input`, the caller's headers
    /// that go on, and the REST deadline.
    fn grpc_request(
        &self,
        rpc: &MethodDescriptor,
        headers: &http::HeaderMap,
        input: &DynamicMessage,
    ) -> http::Request<Body> {
        let mut frame = Vec::with_capacity(5 + input.encoded_len());
        frame.push(0);
        frame.extend_from_slice(&(input.encoded_len() as u32).to_be_bytes());
        input
            .encode(&mut frame)
            .expect("a Vec grows to any message");
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(routes::grpc_path(rpc))
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
            .header("grpc-timeout", format!("{}m", self.timeout.as_millis()))
            .body(Body::new(http_body_util::Full::new(Bytes::from(frame))))
            .expect("a valid gRPC request");
        for name in PASSED_ON_HEADERS {
            if let Some(value) = headers.get(name) {
                request.headers_mut().insert(name, value.clone());
            }
        }
        request
    }
}

/// The body, at most `limit` bytes.
async fn read_body(
    headers: &http::HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, RestError> {
    let too_large = RestError::BodyTooLarge { limit };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large),
        Err(error) => Err(RestError::BadBody(format!("cannot be read: {error}"))),
    }
}

/// The request message of `route`: the body (all of it, one field of it,
/// or none), then the query parameters, then the path's values, which win.
fn request_message(
    route: &Route,
    path_values: Vec<(Vec<String>, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, RestError> {
    let input = route.rpc.input();
    let parsed_body = || -> Result<Json, RestError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Object(Map::new()));
        }
        serde_json::from_slice(body).map_err(|error| RestError::BadBody(error.to_string()))
    };
    let mut request = match &route.body {
        RequestBody::None => Json::Object(Map::new()),
        RequestBody::Whole => {
            let whole = parsed_body()?;
            if !whole.is_object() {
                return Err(RestError::BadBody("the body must be a JSON object".into()));
            }
            whole
        }
        RequestBody::Field(field) => {
            let mut request = Map::new();
            request.insert(field.clone(), parsed_body()?);
            Json::Object(request)
        }
    };
    if route.body != RequestBody::Whole {
        for (key, value) in query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    percent_decode(&key.replace('+', " ")),
                    percent_decode(&value.replace('+', " ")),
                )
            })
        {
            set_query_parameter(&mut request, &input, &key, value)?;
        }
    }
    for (field_path, value) in path_values {
        let slot = slot_at(&mut request, &field_path);
        *slot = Json::String(value);
    }
    DynamicMessage::deserialize_with_options(input, request, &DeserializeOptions::new())
        .map_err(|error| RestError::BadBody(error.to_string()))
}

/// The JSON value at `path` (proto field names) in `request`, made objects
/// along the way.
fn slot_at<'a>(request: &'a mut Json, path: &[String]) -> &'a mut Json {
    let mut slot = request;
    for name in path {
        if !slot.is_object() {
            *slot = Json::Object(Map::new());
        }
        slot = slot
            .as_object_mut()
            .expect("made an object")
            .entry(name.clone())
            .or_insert(Json::Null);
    }
    slot
}

/// Puts query parameter `key` (a field path, proto or JSON names, dotted
/// into messages) into `request`, as the JSON its field's kind reads.
fn set_query_parameter(
    request: &mut Json,
    input: &MessageDescriptor,
    key: &str,
    value: String,
) -> Result<(), RestError> {
    let bad = |reason: &str| RestError::BadQuery {
        parameter: key.to_owned(),
        reason: reason.to_owned(),
    };
    let mut message = input.clone();
    let mut path = Vec::new();
    let mut field = None;
    for name in key.split('.') {
        if let Some(Kind::Message(inner)) = field.as_ref().map(prost_reflect::FieldDescriptor::kind)
        {
            message = inner;
        } else if field.is_some() {
            return Err(bad("not a field of a message"));
        }
        let found = message
            .get_field_by_name(name)
            .or_else(|| message.get_field_by_json_name(name))
            .ok_or_else(|| bad("no such field"))?;
        path.push(found.name().to_owned());
        field = Some(found);
    }
    let field = field.ok_or_else(|| bad("empty"))?;
    let item = match field.kind() {
        Kind::Bool => match value.as_str() {
            "true" => Json::Bool(true),
            "false" => Json::Bool(false),
            _ => return Err(bad("not true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
            let number: i64 = value.parse().map_err(|_| bad("not an integer"))?;
            Json::from(number)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
            value.parse::<i128>().map_err(|_| bad("not an integer"))?;
            Json::String(value)
        }
        Kind::Double | Kind::Float => match value.parse::<f64>() {
            Ok(number) if number.is_finite() => Json::from(number),
            _ => return Err(bad("not a finite number")),
        },
        Kind::Message(message) if !is_json_string(&message) => {
            return Err(bad("a message is set field by field"));
        }
        _ => Json::String(value),
    };
    let slot = slot_at(request, &path);
    if field.is_list() {
        match slot {
            Json::Array(items) => items.push(item),
            _ => *slot = Json::Array(vec![item]),
        }
    } else {
        *slot = item;
    }
    Ok(())
}

/// Messages whose proto3 JSON is one string (so a query parameter can hold
/// one).
pub(crate) fn is_json_string(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask"
            | "google.protobuf.StringValue"
            | "google.protobuf.BytesValue"
            | "google.protobuf.Int64Value"
            | "google.protobuf.UInt64Value"
    )
}

/// The owner's answer to a unary call of `rpc`: its message, or its
/// status.
async fn unary_answer(
    rpc: &MethodDescriptor,
    response: http::Response<Body>,
) -> Result<DynamicMessage, Status> {
    let method = routes::grpc_path(rpc);
    let (parts, body) = response.into_parts();
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(error) => {
            tracing::warn!(%method, %error, "a transcoded call's answer broke off");
            return Err(Status::unavailable(
                "服务答复中断 unavailable: the answer broke off",
            ));
        }
    };
    let trailers = collected.trailers().cloned();
    let status = Status::from_header_map(&parts.headers)
        .or_else(|| trailers.as_ref().and_then(Status::from_header_map))
        .unwrap_or_else(|| Status::internal("no grpc-status"));
    if status.code() != Code::Ok {
        return Err(status);
    }
    let mut message = collected.to_bytes();
    if message.len() < 5 || message[0] != 0 {
        return Err(Status::internal("an unreadable answer"));
    }
    message.advance(5);
    DynamicMessage::decode(rpc.output(), message).map_err(|error| {
        tracing::error!(%method, %error, "a transcoded call's answer does not decode");
        Status::internal("内部错误 internal error")
    })
}

/// `message` as proto3 JSON, prost-reflect's canonical mapping.
pub(crate) fn to_json(message: &DynamicMessage) -> Result<Vec<u8>, Status> {
    let mut json = Vec::new();
    let mut serializer = serde_json::Serializer::new(&mut json);
    message
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|error| {
            tracing::error!(message = %prost_reflect::ReflectMessage::descriptor(message).full_name(), %error, "an answer does not serialize");
            Status::internal("内部错误 internal error")
        })?;
    Ok(json)
}

/// A gRPC status as a REST error, with the HTTP status kit gives its code
/// and its field violations.
pub(crate) fn status_response(status: &Status) -> http::Response<Body> {
    let code = ServiceErrorCode::of_grpc(status.code());
    let mut details = Vec::new();
    if let Some(bad_request) = status.get_error_details().bad_request() {
        let violations: Vec<Json> = bad_request
            .field_violations
            .iter()
            .map(
                |violation| json!({"field": violation.field, "description": violation.description}),
            )
            .collect();
        details.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    error_response(code.http_status(), status.code(), status.message(), details)
}

/// A refusal of the gateway's own, as [`error_response`] writes it.
pub(crate) fn refusal(
    http_status: http::StatusCode,
    code: Code,
    message: &str,
) -> http::Response<Body> {
    error_response(http_status, code, message, Vec::new())
}

/// `{"error": {"code", "status", "message", "details"}}`, the JSON of
/// `google.rpc.Status` as Google's REST APIs answer it.
pub(crate) fn error_response(
    http_status: http::StatusCode,
    code: Code,
    message: &str,
    details: Vec<Json>,
) -> http::Response<Body> {
    let body = json!({
        "error": {
            "code": http_status.as_u16(),
            "status": code_name(code),
            "message": message,
            "details": details,
        }
    });
    json_response(
        http_status,
        Bytes::from(serde_json::to_vec(&body).expect("JSON serializes")),
    )
}

/// `INVALID_ARGUMENT` for `Code::InvalidArgument`: the name `google.rpc.Code`
/// gives it.
pub fn code_name(code: Code) -> String {
    let mut name = String::new();
    for (index, character) in format!("{code:?}").char_indices() {
        if character.is_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(character.to_ascii_uppercase());
    }
    name
}

pub(crate) fn json_response(status: http::StatusCode, body: Bytes) -> http::Response<Body> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::new(http_body_util::Full::new(body)))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(grpc_method: &str) -> Route {
        let pool = louyu_pool().unwrap();
        routes::routes_of(&pool, &["louyu.registry.v1.RegistryService"])
            .unwrap()
            .into_iter()
            .find(|route| route.rpc.name() == grpc_method)
            .unwrap()
    }

    #[test]
    fn every_method_of_every_fronted_louyu_service_has_one_route() {
        let pool = louyu_pool().unwrap();
        let services: Vec<&str> = FORWARDED_SERVICES.iter().map(|(name, _)| *name).collect();
        // Unambiguous as a whole, across services.
        let routes = routes::routes_of(&pool, &services).unwrap();
        for service_name in services.iter().filter(|name| name.starts_with("louyu.")) {
            let service = pool.get_service_by_name(service_name).unwrap();
            for method in service.methods() {
                let bound = routes.iter().filter(|route| route.rpc == method).count();
                assert_eq!(bound, 1, "{}", method.full_name());
            }
        }
    }

    #[test]
    fn path_query_and_body_fill_one_request() {
        let update = route("UpdateBuilding");
        let path = "/v1/districts/jingan/buildings/b-1";
        let values = update.template.match_path(path).unwrap();
        let message = request_message(
            &update,
            values,
            Some("updateMask=displayName%2CfloorsAboveGround"),
            br#"{"displayName": "Jing An", "floorsAboveGround": 30}"#,
        )
        .unwrap();
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["building"]["name"], "districts/jingan/buildings/b-1");
        assert_eq!(json["building"]["displayName"], "Jing An");
        assert_eq!(json["updateMask"], "displayName,floorsAboveGround");
    }

    #[test]
    fn a_query_parameter_or_body_that_does_not_fit_is_named() {
        let list = route("ListBuildings");
        let values = list
            .template
            .match_path("/v1/districts/jingan/buildings")
            .unwrap();
        let refused =
            request_message(&list, values.clone(), Some("pageSize=ten"), b"").unwrap_err();
        assert!(refused.to_string().contains("page"), "{refused}");
        let refused = request_message(&list, values, Some("colour=red"), b"").unwrap_err();
        assert!(refused.to_string().contains("colour"), "{refused}");
        let create = route("CreateBuilding");
        let values = create
            .template
            .match_path("/v1/districts/jingan/buildings")
            .unwrap();
        let refused = request_message(&create, values, None, b"{\"displayName\": ").unwrap_err();
        assert!(matches!(refused, RestError::BadBody(_)), "{refused}");
    }

    #[test]
    fn int64_is_a_string_and_an_enum_its_name_in_proto3_json() {
        let pool = louyu_pool().unwrap();
        let descriptor = pool
            .all_messages()
            .find(|message| {
                message
                    .fields()
                    .any(|field| field.kind() == Kind::Int64 && !field.is_list())
            })
            .expect("a message with an int64");
        let field = descriptor
            .fields()
            .find(|field| field.kind() == Kind::Int64)
            .unwrap();
        let mut message = DynamicMessage::new(descriptor);
        message.set_field(&field, prost_reflect::Value::I64(9_007_199_254_740_993));
        let mut json = Vec::new();
        message
            .serialize_with_options(
                &mut serde_json::Serializer::new(&mut json),
                &SerializeOptions::new(),
            )
            .unwrap();
        let json: Json = serde_json::from_slice(&json).unwrap();
        assert_eq!(json[field.json_name()], "9007199254740993");
    }

    #[tokio::test]
    async fn the_grpc_call_carries_the_callers_token_and_the_rest_deadline() {
        let inner = Inner {
            routes: Vec::new(),
            page: page::BuildingPage::new(&louyu_pool().unwrap(), &[]).unwrap(),
            enterprise_page: enterprise_page::EnterprisePage::new(&louyu_pool().unwrap(), &[])
                .unwrap(),
            exports: export::Exports::new(&louyu_pool().unwrap()).unwrap(),
            openapi: Bytes::new(),
            forwarder: Forwarder::with_owners(|_| {
                tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy()
            }),
            timeout: Duration::from_secs(7),
            streams: None,
            max_body_bytes: MAX_BODY_BYTES,
        };
        let get = route("GetBuilding");
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Bearer t".parse().unwrap());
        headers.insert("cookie", "session=s".parse().unwrap());
        let input = DynamicMessage::new(get.rpc.input());
        let request = inner.grpc_request(&get.rpc, &headers, &input);
        assert_eq!(
            request.uri().path(),
            "/louyu.registry.v1.RegistryService/GetBuilding"
        );
        assert_eq!(request.headers()["authorization"], "Bearer t");
        assert_eq!(request.headers()["grpc-timeout"], "7000m");
        assert_eq!(request.headers()["content-type"], "application/grpc");
        assert!(!request.headers().contains_key("cookie"));
    }

    #[test]
    fn code_names_are_those_of_google_rpc_code() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::NotFound), "NOT_FOUND");
        assert_eq!(code_name(Code::Ok), "OK");
    }
}
