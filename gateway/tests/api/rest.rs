//! REST/JSON through the gateway, over real HTTP/1.1 on its one port, in
//! front of real services: the routes of the protos' `google.api.http`
//! options, proto3 JSON both ways, the owner's refusals as HTTP statuses
//! with their field violations, and `/openapi.json` of the same routes.

use louyu_kit::identity::Role;
use louyu_testkit::fixtures::{date_in, enterprise_name, uscc};
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
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

/// The body limit, small here: a body over it is answered before it is
/// read, and a client still writing megabytes then finds the connection
/// closed.
const BODY_LIMIT: usize = 64 * 1024;

async fn refusals_are_json_errors_with_the_status_of_their_code(backend: TestBackend) {
    let Some(suite) = spawn_suite_configured(backend, |_, config| {
        config.gateway_protection.max_body_bytes = BODY_LIMIT;
    })
    .await
    else {
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

    // A body over the limit (LOUYU_GATEWAY_MAX_BODY_BYTES): 413.
    let huge = format!("{{\"displayName\": \"{}\"}}", "x".repeat(BODY_LIMIT + 1));
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
        ("GET", "/nothing-here"),
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
    // Every method of every louyu service the gateway fronts has its
    // operation (and google.longrunning.Operations has the routes
    // googleapis declares).
    let operation_ids: std::collections::BTreeSet<String> = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap().to_owned())
        .collect();
    let pool = louyu_gateway::rest::louyu_pool().unwrap();
    let mut fronted = Vec::new();
    for (service_name, _) in louyu_gateway::forward::FORWARDED_SERVICES {
        if !service_name.starts_with("louyu.") {
            continue;
        }
        let service = pool.get_service_by_name(service_name).unwrap();
        for method in service.methods() {
            let operation_id = format!("{}.{}", service.name(), method.name());
            assert!(operation_ids.contains(&operation_id), "{operation_id}");
        }
        fronted.push(service.name().to_owned());
    }
    assert_eq!(
        fronted,
        [
            "RegistryService",
            "BuildingCouncilService",
            "VisitsService",
            "RiskService",
            "ReferralService"
        ]
    );
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

async fn a_council_member_is_added_and_listed_as_json(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    let rest = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let term_start = date_in(-30);
    let (status, member) = rest
        .call(
            "POST",
            &format!("/v1/{BUILDING}/councilMembers"),
            Some(json!({
                "contact": {"personName": "王芳", "title": "站长", "phone": "13812345678"},
                "councilRole": "COUNCIL_ROLE_SERVICE_STATION_HEAD",
                "organisation": {
                    "kind": "ORGANISATION_KIND_SERVICE_STATION",
                    "displayName": "静安大厦党群服务站",
                },
                "termStart": {
                    "year": term_start.year,
                    "month": term_start.month,
                    "day": term_start.day,
                },
            })),
        )
        .await;
    assert_eq!(status, 200, "{member}");
    let name = member["name"].as_str().expect("a name").to_owned();
    assert!(
        name.starts_with(&format!("{BUILDING}/councilMembers/")),
        "{name}"
    );
    assert_eq!(member["councilRole"], "COUNCIL_ROLE_SERVICE_STATION_HEAD");
    assert_eq!(
        member["organisation"]["kind"],
        "ORGANISATION_KIND_SERVICE_STATION"
    );
    assert_eq!(member["active"], true);

    let (status, listed) = rest
        .call("GET", &format!("/v1/{BUILDING}/councilMembers"), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    let names: Vec<&str> = listed["councilMembers"]
        .as_array()
        .expect("council members")
        .iter()
        .map(|member| member["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [name.as_str()]);
    let (status, read) = rest.call("GET", &format!("/v1/{name}"), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["contact"]["personName"], "王芳");
}

/// One call or more per service behind the gateway, each through its own
/// routes: a demand raised and read in visits, the rules and an
/// enterprise's assessment read in risk, the routing rules read in
/// referral.
async fn every_service_answers_its_rest_routes_as_json(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let mut registry = suite.registry_through_gateway().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    let code = uscc(1);
    louyu_testkit::fixtures::tenant(&mut registry, &code, "101", 400).await;
    let rest = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));

    // Visits: the draft is the body, the answer wraps the demand.
    let (status, created) = rest
        .call(
            "POST",
            "/v1/districts/jingan/demands",
            Some(json!({
                "enterprise": enterprise_name(&code),
                "category": "DEMAND_CATEGORY_OFFICE_SPACE",
                "description": "需要更大的办公空间",
                "urgency": "URGENCY_HIGH",
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let demand = &created["demand"];
    let demand_name = demand["name"].as_str().expect("a demand").to_owned();
    assert!(
        demand_name.starts_with("districts/jingan/demands/"),
        "{demand_name}"
    );
    assert_eq!(demand["status"], "DEMAND_STATUS_OPEN");
    // report_count is an int32: a JSON number.
    assert_eq!(demand["reportCount"], 1);
    let (status, read) = rest.call("GET", &format!("/v1/{demand_name}"), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["category"], "DEMAND_CATEGORY_OFFICE_SPACE");
    assert_eq!(read["urgency"], "URGENCY_HIGH");
    assert_eq!(read["enterprise"], enterprise_name(&code));
    // A custom method on the collection; total and count are int64:
    // strings.
    let (status, counted) = rest
        .call("GET", "/v1/districts/jingan/demands:count", None)
        .await;
    assert_eq!(status, 200, "{counted}");
    assert_eq!(counted["total"], "1");
    assert_eq!(counted["counts"][0]["count"], "1");
    assert_eq!(
        counted["counts"][0]["category"],
        "DEMAND_CATEGORY_OFFICE_SPACE"
    );

    // Risk: the rules in force, then the tenant's assessment once the
    // registry's events have reached the risk service.
    let (status, rules) = rest.call("GET", "/v1/districts/jingan/rules", None).await;
    assert_eq!(status, 200, "{rules}");
    assert_eq!(rules["name"], "districts/jingan/rules");
    assert_eq!(rules["version"], "2026-11-default-1");
    let assessment_path = format!("/v1/{}/assessment", enterprise_name(&code));
    let (rest_ref, assessment_ref) = (&rest, assessment_path.as_str());
    eventually("the tenant is assessed", || async move {
        rest_ref.call("GET", assessment_ref, None).await.0 == 200
    })
    .await;
    let (_, assessment) = rest.call("GET", &assessment_path, None).await;
    assert_eq!(assessment["enterprise"], enterprise_name(&code));
    let colour = assessment["colour"].as_str().expect("a colour by name");
    assert!(colour.starts_with("RISK_COLOUR_"), "{colour}");
    assert_eq!(assessment["rulesVersion"], "2026-11-default-1");

    // Referral: the routing rules in force.
    let (status, routing) = rest
        .call("GET", "/v1/districts/jingan/routingRules", None)
        .await;
    assert_eq!(status, 200, "{routing}");
    assert_eq!(routing["name"], "districts/jingan/routingRules");
    assert!(routing["version"].is_string(), "{routing}");
    assert!(
        routing["calendarYears"]
            .as_array()
            .expect("calendar years")
            .iter()
            .all(|year| year.is_number()),
        "{routing}"
    );
}

backend_tests!(
    a_council_member_is_added_and_listed_as_json,
    every_service_answers_its_rest_routes_as_json,
    a_building_is_made_read_listed_and_changed_as_json,
    refusals_are_json_errors_with_the_status_of_their_code,
    openapi_json_describes_every_route_in_proto3_json,
    grpc_and_rest_share_the_gateways_port,
);
