//! A building's page, composed by the gateway from the registry, visits,
//! risk and referral, each called with the caller's own token: what the
//! caller may see of each, in one JSON document, over real HTTP.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_testkit::fixtures::{date_in, enterprise_name, uscc};
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::{Value as Json, json};

use crate::helpers::*;

const BUILDING: &str = "districts/jingan/buildings/b-1";
const PAGE: &str = "/v1/districts/jingan/buildings/b-1/page";

/// The names of `page[key]`'s items.
fn names<'a>(page: &'a Json, key: &str, field: &str) -> Vec<&'a str> {
    page[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {page}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// `b-1` with a tenant, an open demand of the tenant (referred by the
/// referral service) and a council member; the demand's name.
pub(crate) async fn a_building_with_a_tenant_a_demand_and_a_council_member(
    suite: &Suite,
) -> String {
    let mut registry = suite.registry_through_gateway().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    louyu_testkit::fixtures::referral_departments(&mut registry).await;
    let code = uscc(1);
    louyu_testkit::fixtures::tenant(&mut registry, &code, "101", 400).await;
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
                "termStart": {"year": term_start.year, "month": term_start.month, "day": term_start.day},
            })),
        )
        .await;
    assert_eq!(status, 200, "{member}");
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
    created["demand"]["name"].as_str().unwrap().to_owned()
}

async fn a_buildings_page_composes_every_service_as_the_caller_may_see_it(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demand = a_building_with_a_tenant_a_demand_and_a_council_member(&suite).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    // The assessment and the referral follow the registry's and visits'
    // events.
    let admin_ref = &admin;
    eventually(
        "the page has the assessment and the referral",
        || async move {
            let (status, page) = admin_ref.call("GET", PAGE, None).await;
            status == 200
                && page["assessments"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
                && page["referrals"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
        },
    )
    .await;
    let (status, page) = admin.call("GET", PAGE, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["building"]["name"], BUILDING);
    assert_eq!(page["building"]["displayName"], "静安大厦");
    let members = page["councilMembers"].as_array().expect("council members");
    assert_eq!(members.len(), 1, "{page}");
    assert_eq!(members[0]["contact"]["personName"], "王芳");
    assert_eq!(members[0]["contact"]["phone"], "13812345678");
    assert_eq!(names(&page, "demands", "name"), [demand.as_str()]);
    assert_eq!(
        names(&page, "assessments", "enterprise"),
        [enterprise_name(&uscc(1)).as_str()]
    );
    assert_eq!(names(&page, "referrals", "demand"), [demand.as_str()]);
    for key in [
        "chiefAppointments",
        "projects",
        "resources",
        "retentionCases",
    ] {
        assert_eq!(page[key], json!([]), "{key}: {page}");
    }
    assert_eq!(page["omitted"], json!([]), "{page}");
    assert_eq!(page["unavailable"], json!([]), "{page}");
    assert_eq!(page["truncated"], json!([]), "{page}");
    assert_eq!(page["pageSize"], 100);

    // An auditor reads it all, the council member's contact masked.
    let auditor = suite.rest_as(Some(&person("audit-1", &[Role::Auditor])));
    let (status, page) = auditor.call("GET", PAGE, None).await;
    assert_eq!(status, 200, "{page}");
    let contact = &page["councilMembers"][0]["contact"];
    assert_eq!(contact["phone"], "138****5678", "{page}");
    assert_ne!(contact["personName"], "王芳", "{page}");
    assert_eq!(contact["title"], "站长");

    // A field worker of another sub-district may not see the building: the
    // page is not found, and says nothing of its parts.
    let stranger = suite.rest_as(Some(&person_in(
        "s-9",
        &[Role::FieldWorker],
        Some("caojiadu"),
        None,
    )));
    let (status, error) = stranger.call("GET", PAGE, None).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    assert!(error.get("demands").is_none(), "{error}");

    // A building that does not exist: 404 too.
    let (status, error) = admin
        .call("GET", "/v1/districts/jingan/buildings/nowhere/page", None)
        .await;
    assert_eq!(status, 404, "{error}");
}

async fn a_service_that_is_down_leaves_its_part_unavailable(backend: TestBackend) {
    let Some(mut suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demand = a_building_with_a_tenant_a_demand_and_a_council_member(&suite).await;
    suite.sandbox.stop(ServiceName::Risk).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let (status, page) = admin.call("GET", PAGE, None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["building"]["name"], BUILDING);
    assert_eq!(names(&page, "demands", "name"), [demand.as_str()]);
    assert_eq!(
        page["unavailable"],
        json!([{"part": "assessments", "service": "risk", "code": "UNAVAILABLE"}]),
        "{page}"
    );
    assert!(page.get("assessments").is_none(), "{page}");
    assert_eq!(page["omitted"], json!([]), "{page}");
}

async fn the_page_is_in_openapi_json(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let (status, document) = suite.rest_as(None).call("GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let operation =
        &document["paths"]["/v1/districts/{districtsId}/buildings/{buildingsId}/page"]["get"];
    assert_eq!(operation["operationId"], "Gateway.GetBuildingPage");
    let properties =
        &operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"];
    assert_eq!(
        properties["demands"]["items"]["$ref"],
        "#/components/schemas/louyu.visits.v1.Demand"
    );
    assert!(
        document["components"]["schemas"]["louyu.visits.v1.Demand"].is_object(),
        "the schemas the page refers to are in the document"
    );
}

backend_tests!(
    a_buildings_page_composes_every_service_as_the_caller_may_see_it,
    a_service_that_is_down_leaves_its_part_unavailable,
    the_page_is_in_openapi_json,
);
