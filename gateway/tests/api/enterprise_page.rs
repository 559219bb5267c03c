//! An enterprise's page, composed by the gateway from the registry,
//! visits, risk and referral with the caller's own token, over real HTTP.

use louyu_kit::config::ServiceName;
use louyu_kit::identity::Role;
use louyu_testkit::fixtures::{enterprise_name, uscc};
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::{Value as Json, json};

use crate::helpers::*;
use crate::page::a_building_with_a_tenant_a_demand_and_a_council_member;

fn page_path() -> String {
    format!("/v1/{}/page", enterprise_name(&uscc(1)))
}

fn names<'a>(page: &'a Json, key: &str, field: &str) -> Vec<&'a str> {
    page[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {page}"))
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

async fn an_enterprises_page_composes_every_service_as_the_caller_may_see_it(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demand = a_building_with_a_tenant_a_demand_and_a_council_member(&suite).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let path = page_path();
    let (admin_ref, path_ref) = (&admin, &path);
    eventually(
        "the page has the assessment and the referral",
        || async move {
            let (status, page) = admin_ref.call("GET", path_ref, None).await;
            status == 200
                && page["assessment"].is_object()
                && page["referrals"]
                    .as_array()
                    .is_some_and(|items| !items.is_empty())
        },
    )
    .await;
    let (status, page) = admin.call("GET", &path, None).await;
    assert_eq!(status, 200, "{page}");
    let enterprise = enterprise_name(&uscc(1));
    assert_eq!(page["enterprise"]["name"], enterprise.as_str());
    assert_eq!(
        names(&page, "tenancies", "enterprise"),
        [enterprise.as_str()]
    );
    assert_eq!(
        names(&page, "buildings", "name"),
        ["districts/jingan/buildings/b-1"]
    );
    assert_eq!(names(&page, "demands", "name"), [demand.as_str()]);
    assert_eq!(page["assessment"]["enterprise"], enterprise.as_str());
    assert!(page["assessment"]["factors"].is_array(), "{page}");
    assert_eq!(names(&page, "referrals", "demand"), [demand.as_str()]);
    assert_eq!(page["visits"], json!([]), "{page}");
    assert_eq!(page["retentionCases"], json!([]), "{page}");
    assert_eq!(page["omitted"], json!([]), "{page}");
    assert_eq!(page["unavailable"], json!([]), "{page}");
    assert_eq!(page["truncated"], json!([]), "{page}");

    // A field worker of another sub-district may not see the enterprise:
    // the page answers as the registry does, and says nothing of its parts.
    let stranger = suite.rest_as(Some(&person_in(
        "s-9",
        &[Role::FieldWorker],
        Some("caojiadu"),
        None,
    )));
    let (status, error) = stranger.call("GET", &path, None).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(error["error"]["status"], "NOT_FOUND");
    assert!(error.get("demands").is_none(), "{error}");

    // An enterprise that does not exist: 404 too.
    let (status, _) = admin
        .call(
            "GET",
            &format!("/v1/{}/page", enterprise_name(&uscc(77))),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

async fn with_the_risk_service_down_the_assessment_is_unavailable(backend: TestBackend) {
    let Some(mut suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demand = a_building_with_a_tenant_a_demand_and_a_council_member(&suite).await;
    suite.sandbox.stop(ServiceName::Risk).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let (status, page) = admin.call("GET", &page_path(), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["enterprise"]["name"],
        enterprise_name(&uscc(1)).as_str()
    );
    assert_eq!(names(&page, "demands", "name"), [demand.as_str()]);
    assert_eq!(
        page["unavailable"],
        json!([{"part": "assessment", "service": "risk", "code": "UNAVAILABLE"}]),
        "{page}"
    );
    assert!(page.get("assessment").is_none(), "{page}");
    assert_eq!(page["omitted"], json!([]), "{page}");
}

async fn the_enterprise_page_is_in_openapi_json(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let (status, document) = suite.rest_as(None).call("GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let operation =
        &document["paths"]["/v1/districts/{districtsId}/enterprises/{enterprisesId}/page"]["get"];
    assert_eq!(operation["operationId"], "Gateway.GetEnterprisePage");
    let properties =
        &operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"];
    assert_eq!(
        properties["assessment"]["$ref"],
        "#/components/schemas/louyu.risk.v1.Assessment"
    );
    assert_eq!(
        properties["tenancies"]["items"]["$ref"],
        "#/components/schemas/louyu.registry.v1.Tenancy"
    );
    assert!(
        document["components"]["schemas"]["louyu.risk.v1.Assessment"].is_object(),
        "the schemas the page refers to are in the document"
    );
}

backend_tests!(
    an_enterprises_page_composes_every_service_as_the_caller_may_see_it,
    with_the_risk_service_down_the_assessment_is_unavailable,
    the_enterprise_page_is_in_openapi_json,
);
