//! REST/JSON through the gateway, over real HTTP/1.1 on its one port, in
//! front of a real registry: the routes of the protos' `google.api.http`
//! options, proto3 JSON both ways, the owner's refusals as HTTP statuses
//! with their field violations, and `/openapi.json` of the same routes.

use louyu_kit::identity::Role;
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests};
use serde_json::json;

use crate::helpers::*;

const BUILDING: &str = "districts/jingan/buildings/b-1";

async fn a_building_is_made_read_listed_and_changed_as_json(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let rest = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let (status, street) = rest
        .call(
            "POST",
            "/v1/districts/jingan/subDistricts?subDistrictId=nanjingxilu",
            Some(json!({"displayName": "南京西路街道", "kind": "SUB_DISTRICT_KIND_STREET"})),
        )
        .await;
    assert_eq!(status, 200, "{street}");
    assert_eq!(street["name"], "districts/jingan/subDistricts/nanjingxilu");
    // Enums by name, timestamps as RFC 3339 strings.
    assert_eq!(street["kind"], "SUB_DISTRICT_KIND_STREET");
    let created = street["createTime"].as_str().expect("a timestamp string");
    assert!(created.contains('T') && created.ends_with('Z'), "{created}");

    let (status, building) = rest
        .call(
            "POST",
            "/v1/districts/jingan/buildings?buildingId=b-1",
            Some(json!({
                "displayName": "静安大厦",
                "address": "南京西路1号",
                "managingSubDistrict": "districts/jingan/subDistricts/nanjingxilu",
                "floorsAboveGround": 30,
            })),
        )
        .await;
    assert_eq!(status, 200, "{building}");
    assert_eq!(building["name"], BUILDING);

    let (status, read) = rest
        .call("GET", "/v1/districts/jingan/buildings/b-1", None)
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["displayName"], "静安大厦");
    assert_eq!(read["floorsAboveGround"], 30);

    rest.call(
        "POST",
        "/v1/districts/jingan/buildings?buildingId=b-2",
        Some(json!({
            "displayName": "恒隆广场",
            "address": "南京西路1266号",
            "managingSubDistrict": "districts/jingan/subDistricts/nanjingxilu",
        })),
    )
    .await;
    let filter = percent_encode("display_name = \"静安大厦\"");
    let (status, listed) = rest
        .call(
            "GET",
            &format!("/v1/districts/jingan/buildings?pageSize=5&filter={filter}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed["buildings"]
        .as_array()
        .expect("buildings")
        .iter()
        .map(|building| building["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [BUILDING]);
    let (status, first_page) = rest
        .call("GET", "/v1/districts/jingan/buildings?page_size=1", None)
        .await;
    assert_eq!(status, 200, "{first_page}");
    assert_eq!(first_page["buildings"].as_array().unwrap().len(), 1);
    assert!(first_page["nextPageToken"].is_string(), "{first_page}");

    let (status, changed) = rest
        .call(
            "PATCH",
            "/v1/districts/jingan/buildings/b-1?updateMask=floorsAboveGround",
            Some(json!({"floorsAboveGround": 31, "displayName": "not in the mask"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["floorsAboveGround"], 31);
    assert_eq!(changed["displayName"], "静安大厦");
}

async fn refusals_are_json_errors_with_the_status_of_their_code(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));

    // A missing required field: 400, naming the field.
    let (status, error) = admin
        .call(
            "POST",
            "/v1/districts/jingan/subDistricts?subDistrictId=nanjingxilu",
            Some(json!({"kind": "SUB_DISTRICT_KIND_STREET"})),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], 400);
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    let details = &error["error"]["details"][0];
    assert_eq!(
        details["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    let fields: Vec<&str> = details["fieldViolations"]
        .as_array()
        .expect("field violations")
        .iter()
        .map(|violation| violation["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|field| field.contains("display_name")),
        "{error}"
    );

    // JSON that does not parse, or does not fit the message: 400, saying what.
    let (status, error) = admin
        .call_raw(
            "POST",
            "/v1/districts/jingan/subDistricts",
            "{\"displayName\": ",
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
    let (status, error) = admin
        .call(
            "POST",
            "/v1/districts/jingan/subDistricts",
            Some(json!({"colour": "red"})),
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour"),
        "{error}"
    );

    // A body over the limit: 413.
    let huge = format!(
        "{{\"displayName\": \"{}\"}}",
        "x".repeat(louyu_gateway::rest::MAX_BODY_BYTES + 1)
    );
    let (status, _) = admin
        .call_raw("POST", "/v1/districts/jingan/subDistricts", &huge)
        .await;
    assert_eq!(status, 413);

    // No token: 401, from the registry.
    let (status, error) = suite
        .rest_as(None)
        .call("GET", "/v1/districts/jingan/buildings/b-1", None)
        .await;
    assert_eq!(status, 401, "{error}");
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");

    // A field worker may not add a sub-district: 403, from the registry.
    let field_worker = person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let (status, error) = suite
        .rest_as(Some(&field_worker))
        .call(
            "POST",
            "/v1/districts/jingan/subDistricts?subDistrictId=nanjingxilu",
            Some(json!({"displayName": "南京西路街道", "kind": "SUB_DISTRICT_KIND_STREET"})),
        )
        .await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["error"]["status"], "PERMISSION_DENIED");

    // Not found, as a resource and as a route.
    let (status, error) = admin
        .call("GET", "/v1/districts/jingan/buildings/nowhere", None)
        .await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    for (method, path) in [
        ("GET", "/v1/nothing/here"),
        ("DELETE", "/v1/districts/jingan/buildings/b-1"),
        ("GET", "/"),
    ] {
        let (status, error) = admin.call(method, path, None).await;
        assert_eq!(status, 404, "{method} {path}: {error}");
        assert_eq!(error["error"]["status"], "NOT_FOUND");
    }
}

async fn openapi_json_describes_every_route_in_proto3_json(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let (status, document) = suite.rest_as(None).call("GET", "/openapi.json", None).await;
    assert_eq!(status, 200, "{document}");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.0"),
        "{}",
        document["openapi"]
    );
    // Every RegistryService method has its route (and
    // google.longrunning.Operations has the routes googleapis declares).
    let operations = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter(|operation| operation["tags"][0] == "louyu.registry.v1.RegistryService")
        .count();
    let pool = louyu_gateway::rest::louyu_pool().unwrap();
    let registry = pool
        .get_service_by_name("louyu.registry.v1.RegistryService")
        .unwrap();
    assert_eq!(operations, registry.methods().len());
    let schemas = &document["components"]["schemas"];
    let sub_district = &schemas["louyu.registry.v1.SubDistrict"]["properties"];
    assert_eq!(sub_district["kind"]["type"], "string");
    assert!(
        sub_district["kind"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("SUB_DISTRICT_KIND_STREET"))
    );
    assert_eq!(sub_district["createTime"]["format"], "date-time");
    // The same document each time: generated once, sorted.
    let (_, again) = suite.rest_as(None).call("GET", "/openapi.json", None).await;
    assert_eq!(document, again);
}

/// gRPC still works on the port that now answers REST too.
async fn grpc_and_rest_share_the_gateways_port(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    let (status, building) = suite
        .rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])))
        .call("GET", "/v1/districts/jingan/buildings/b-1", None)
        .await;
    assert_eq!(status, 200, "{building}");
    assert_eq!(building["displayName"], "静安大厦");
}

backend_tests!(
    a_building_is_made_read_listed_and_changed_as_json,
    refusals_are_json_errors_with_the_status_of_their_code,
    openapi_json_describes_every_route_in_proto3_json,
    grpc_and_rest_share_the_gateways_port,
);
