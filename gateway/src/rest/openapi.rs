//! `/openapi.json`: an OpenAPI 3.0 document of the REST routes, generated
//! from the same routes and descriptors the transcoder uses, in proto3 JSON
//! (64-bit integers as strings, enums by name, timestamps as RFC 3339
//! strings, field masks as strings). Deterministic: paths, operations,
//! parameters and schemas are sorted.
//!
//! A variable whose pattern spans several segments
//! (`{name=districts/*/buildings/*}`) becomes one path parameter per `*`,
//! named after the literal before it (`/v1/districts/{districtsId}/buildings/{buildingsId}`),
//! as Google's discovery documents name them; the transcoder joins them
//! back into the field.

use std::collections::{BTreeMap, BTreeSet};

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value as Json, json};

use super::is_json_string;
use super::routes::{RequestBody, Route, Segment};

/// The OpenAPI document of `routes`.
pub fn document(routes: &[Route]) -> Json {
    let mut paths: BTreeMap<String, BTreeMap<String, Json>> = BTreeMap::new();
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut schemas: BTreeMap<String, Json> = BTreeMap::new();
    let mut pending: Vec<MessageDescriptor> = Vec::new();
    for route in routes {
        let (path, mut parameters, bound) = path_of(route);
        let input = route.rpc.input();
        if route.body != RequestBody::Whole {
            let mut query = Vec::new();
            query_parameters(&input, "", &[], &bound, route, 0, &mut query);
            parameters.extend(query);
        }
        let mut operation = serde_json::Map::new();
        operation.insert(
            "operationId".into(),
            json!(format!(
                "{}.{}",
                route.rpc.parent_service().name(),
                route.rpc.name()
            )),
        );
        operation.insert(
            "tags".into(),
            json!([route.rpc.parent_service().full_name()]),
        );
        operation.insert("parameters".into(), Json::Array(parameters));
        let body_schema = match &route.body {
            RequestBody::None => None,
            RequestBody::Whole => Some(message_schema(&input, &mut pending)),
            RequestBody::Field(name) => input
                .get_field_by_name(name)
                .map(|field| field_schema(&field, &mut pending)),
        };
        if let Some(schema) = body_schema {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let output = message_schema(&route.rpc.output(), &mut pending);
        operation.insert(
            "responses".into(),
            json!({
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": output}},
                },
                "default": {
                    "description": "An error: the HTTP status of its gRPC code",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            }),
        );
        paths.entry(path).or_default().insert(
            route.http_method.as_str().to_lowercase(),
            Json::Object(operation),
        );
    }
    while let Some(message) = pending.pop() {
        if !wanted.insert(message.full_name().to_owned()) {
            continue;
        }
        let mut properties = BTreeMap::new();
        for field in message.fields() {
            properties.insert(
                field.json_name().to_owned(),
                field_schema(&field, &mut pending),
            );
        }
        schemas.insert(
            message.full_name().to_owned(),
            json!({"type": "object", "properties": properties}),
        );
    }
    schemas.insert("Error".to_owned(), error_schema());
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Louyu",
            "version": "v1",
            "description": "REST/JSON of Louyu's gRPC services, transcoded by the gateway from the protos' google.api.http options. JSON is proto3's canonical mapping.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearer": []}],
    })
}

/// The OpenAPI path of `route`, its path parameters, and the request fields
/// the path fills (proto names, dotted).
fn path_of(route: &Route) -> (String, Vec<Json>, Vec<String>) {
    let template = &route.template;
    let mut path = String::new();
    let mut parameters = Vec::new();
    let mut previous_literal = "";
    for (index, segment) in template.segments.iter().enumerate() {
        path.push('/');
        let variable = template
            .variables
            .iter()
            .find(|variable| (variable.start..variable.end).contains(&index));
        match segment {
            Segment::Literal(literal) => {
                path.push_str(literal);
                previous_literal = literal;
            }
            Segment::One | Segment::Rest => {
                let field = variable
                    .map(|variable| variable.field_path.join("."))
                    .unwrap_or_default();
                let name = if previous_literal.is_empty() {
                    field.replace('.', "_")
                } else {
                    format!("{previous_literal}Id")
                };
                path.push('{');
                path.push_str(&name);
                path.push('}');
                parameters.push(json!({
                    "name": name,
                    "in": "path",
                    "required": true,
                    "schema": {"type": "string"},
                    "description": format!("A segment of `{field}`."),
                }));
            }
        }
    }
    if let Some(verb) = &template.verb {
        path.push(':');
        path.push_str(verb);
    }
    let bound = template
        .variables
        .iter()
        .map(|variable| variable.field_path.join("."))
        .collect();
    (path, parameters, bound)
}

/// The query parameters of `message`'s fields under `prefix` (JSON names,
/// dotted), less those the path fills or the body holds; messages are
/// flattened a few levels deep.
fn query_parameters(
    message: &MessageDescriptor,
    json_prefix: &str,
    proto_prefix: &[String],
    bound: &[String],
    route: &Route,
    depth: usize,
    parameters: &mut Vec<Json>,
) {
    for field in message.fields() {
        let mut proto_path = proto_prefix.to_vec();
        proto_path.push(field.name().to_owned());
        let dotted = proto_path.join(".");
        if bound.contains(&dotted)
            || matches!(&route.body, RequestBody::Field(body) if *body == dotted)
        {
            continue;
        }
        let name = format!("{json_prefix}{}", field.json_name());
        match field.kind() {
            Kind::Message(inner) if !is_json_string(&inner) => {
                if depth < 2 && !field.is_list() && !field.is_map() {
                    query_parameters(
                        &inner,
                        &format!("{name}."),
                        &proto_path,
                        bound,
                        route,
                        depth + 1,
                        parameters,
                    );
                }
            }
            _ => {
                let mut ignored = Vec::new();
                parameters.push(json!({
                    "name": name,
                    "in": "query",
                    "required": false,
                    "schema": field_schema(&field, &mut ignored),
                }));
            }
        }
    }
}

/// A field's schema in proto3 JSON.
fn field_schema(field: &FieldDescriptor, pending: &mut Vec<MessageDescriptor>) -> Json {
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return json!({"type": "object"});
        };
        let value = entry.map_entry_value_field();
        return json!({"type": "object", "additionalProperties": field_schema(&value, pending)});
    }
    let item = kind_schema(&field.kind(), pending);
    if field.is_list() {
        json!({"type": "array", "items": item})
    } else {
        item
    }
}

fn kind_schema(kind: &Kind, pending: &mut Vec<MessageDescriptor>) -> Json {
    match kind {
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::Float => json!({"type": "number", "format": "float"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::String => json!({"type": "string"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(enumeration) => {
            let names: Vec<String> = enumeration
                .values()
                .map(|value| value.name().to_owned())
                .collect();
            json!({"type": "string", "enum": names})
        }
        Kind::Message(message) => message_schema(message, pending),
    }
}

/// A message's schema: a well-known type's JSON form, or a reference to its
/// component (queued in `pending`).
fn message_schema(message: &MessageDescriptor, pending: &mut Vec<MessageDescriptor>) -> Json {
    match message.full_name() {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => json!({"type": "string", "example": "1.5s"}),
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "example": "displayName,floorsAboveGround"})
        }
        "google.protobuf.Int64Value" => json!({"type": "string", "format": "int64"}),
        "google.protobuf.UInt64Value" => json!({"type": "string", "format": "uint64"}),
        "google.protobuf.Int32Value" | "google.protobuf.UInt32Value" => json!({"type": "integer"}),
        "google.protobuf.DoubleValue" | "google.protobuf.FloatValue" => json!({"type": "number"}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BytesValue" => json!({"type": "string", "format": "byte"}),
        "google.protobuf.Struct" | "google.protobuf.Any" | "google.protobuf.Empty" => {
            json!({"type": "object"})
        }
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
        full_name => {
            pending.push(message.clone());
            json!({"$ref": format!("#/components/schemas/{full_name}")})
        }
    }
}

/// The error body every route may answer with.
fn error_schema() -> Json {
    json!({
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer", "description": "The HTTP status."},
                    "status": {"type": "string", "description": "The google.rpc.Code name, e.g. INVALID_ARGUMENT."},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::{louyu_pool, routes::routes_of};

    fn registry_document() -> Json {
        let pool = louyu_pool().unwrap();
        document(&routes_of(&pool, &["louyu.registry.v1.RegistryService"]).unwrap())
    }

    #[test]
    fn paths_name_each_segment_and_list_the_query_fields() {
        let document = registry_document();
        let get = &document["paths"]["/v1/districts/{districtsId}/buildings/{buildingsId}"]["get"];
        assert_eq!(get["operationId"], "RegistryService.GetBuilding");
        let list = &document["paths"]["/v1/districts/{districtsId}/buildings"]["get"];
        let names: Vec<&str> = list["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        for expected in ["districtsId", "pageSize", "pageToken", "filter"] {
            assert!(names.contains(&expected), "{names:?}");
        }
        assert!(!names.contains(&"parent"), "{names:?}");
    }

    #[test]
    fn sixty_four_bit_integers_are_strings_and_timestamps_date_times() {
        let mut pending = Vec::new();
        assert_eq!(kind_schema(&Kind::Int64, &mut pending)["type"], "string");
        assert_eq!(kind_schema(&Kind::Uint64, &mut pending)["type"], "string");
        assert_eq!(kind_schema(&Kind::Int32, &mut pending)["type"], "integer");
        let document = registry_document();
        let building = &document["components"]["schemas"]["louyu.registry.v1.Building"];
        assert_eq!(building["properties"]["createTime"]["format"], "date-time");
        assert!(pending.is_empty());
    }

    #[test]
    fn schemas_follow_proto3_json() {
        let document = registry_document();
        let schemas = &document["components"]["schemas"];
        let building = &schemas["louyu.registry.v1.Building"]["properties"];
        assert_eq!(building["floorsAboveGround"]["type"], "integer");
        let update =
            &document["paths"]["/v1/districts/{districtsId}/buildings/{buildingsId}"]["patch"];
        let names: Vec<&str> = update["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|parameter| parameter["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"updateMask"), "{names:?}");
        let text = serde_json::to_string(&document).unwrap();
        assert_eq!(text, serde_json::to_string(&registry_document()).unwrap());
    }
}
