//! Exports of the screen's lists, CSV and XLSX, over real HTTP: the rows are
//! the owner's List rows for the caller, no more; an XLSX file opens, with
//! Chinese headers.

use std::io::Read;

use louyu_kit::identity::Role;
use louyu_testkit::fixtures::{enterprise_name, uscc};
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::{Value as Json, json};

use crate::helpers::*;

/// `b-1` with two tenants, each with an open demand; the demands' names.
async fn two_tenants_with_a_demand_each(suite: &Suite) -> Vec<String> {
    let mut registry = suite.registry_through_gateway().await;
    louyu_testkit::fixtures::one_building(&mut registry).await;
    louyu_testkit::fixtures::referral_departments(&mut registry).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let mut demands = Vec::new();
    for (index, (unit, category, description)) in [
        (
            "101",
            "DEMAND_CATEGORY_OFFICE_SPACE",
            "需要更大的办公空间, 两层",
        ),
        ("201", "DEMAND_CATEGORY_TAX", "税务咨询"),
    ]
    .into_iter()
    .enumerate()
    {
        let code = uscc(index as u32 + 1);
        louyu_testkit::fixtures::tenant(&mut registry, &code, unit, 400).await;
        let (status, created) = admin
            .call(
                "POST",
                "/v1/districts/jingan/demands",
                Some(json!({
                    "enterprise": enterprise_name(&code),
                    "category": category,
                    "description": description,
                    "urgency": "URGENCY_HIGH",
                })),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        demands.push(created["demand"]["name"].as_str().unwrap().to_owned());
    }
    demands
}

/// The records of a CSV export, after its byte order mark.
fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("a byte order mark");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

async fn list_names(client: &RestClient, path: &str, field: &str, key: &str) -> Vec<String> {
    let (status, list) = client.call("GET", path, None).await;
    assert_eq!(status, 200, "{list}");
    list[field]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item[key].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn an_export_holds_the_callers_list_rows_and_no_more(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demands = two_tenants_with_a_demand_each(&suite).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));

    let (status, headers, bytes) = admin
        .get_bytes("/v1/exports/demands.csv?parent=districts/jingan")
        .await;
    assert_eq!(status, 200, "{bytes:?}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let records = csv_records(&bytes);
    assert_eq!(records[0][..5], ["诉求", "企业", "楼宇", "街道", "类别"]);
    let exported: Vec<&str> = records[1..].iter().map(|row| row[0].as_str()).collect();
    let listed = list_names(&admin, "/v1/districts/jingan/demands", "demands", "name").await;
    assert_eq!(exported, listed);
    assert_eq!(listed, demands);
    assert_eq!(records[1][4], "办公空间 OFFICE_SPACE");
    assert_eq!(records[1][5], "需要更大的办公空间, 两层");

    // The filter is the list's own.
    let (status, _, bytes) = admin
        .get_bytes(&format!(
            "/v1/exports/demands.csv?parent=districts/jingan&filter={}&lang=en",
            percent_encode("category = TAX")
        ))
        .await;
    assert_eq!(status, 200);
    let records = csv_records(&bytes);
    assert_eq!(records[0][0], "Demand");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1][0], demands[1]);

    // Colours follow the registry's and visits' events into risk.
    let admin_ref = &admin;
    eventually("both tenants are assessed", || async move {
        list_names(
            admin_ref,
            "/v1/districts/jingan/assessments",
            "assessments",
            "enterprise",
        )
        .await
        .len()
            == 2
    })
    .await;
    let (status, _, bytes) = admin
        .get_bytes("/v1/exports/enterprise-colours.csv?parent=districts/jingan")
        .await;
    assert_eq!(status, 200);
    let records = csv_records(&bytes);
    assert_eq!(records[0][..3], ["企业", "楼宇", "颜色"]);
    let exported: Vec<&str> = records[1..].iter().map(|row| row[0].as_str()).collect();
    let listed = list_names(
        &admin,
        "/v1/districts/jingan/assessments",
        "assessments",
        "enterprise",
    )
    .await;
    assert_eq!(exported, listed);

    // A field worker of another street sees none of b-1's demands, in the
    // list or the export.
    let stranger = suite.rest_as(Some(&person_in(
        "s-9",
        &[Role::FieldWorker],
        Some("caojiadu"),
        None,
    )));
    let (status, _, bytes) = stranger
        .get_bytes("/v1/exports/demands.csv?parent=districts/jingan")
        .await;
    assert_eq!(status, 200, "{bytes:?}");
    let records = csv_records(&bytes);
    assert_eq!(records.len(), 1, "only the header: {records:?}");
    assert!(
        list_names(&stranger, "/v1/districts/jingan/demands", "demands", "name")
            .await
            .is_empty()
    );

    // No token: the owner's refusal, as JSON.
    let (status, _, bytes) = suite
        .rest_as(None)
        .get_bytes("/v1/exports/demands.csv?parent=districts/jingan")
        .await;
    assert_eq!(status, 401, "{bytes:?}");
}

async fn an_xlsx_export_opens_with_chinese_headers(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let demands = two_tenants_with_a_demand_each(&suite).await;
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let (status, headers, bytes) = admin
        .get_bytes("/v1/exports/demands.xlsx?parent=districts/jingan")
        .await;
    assert_eq!(status, 200, "{bytes:?}");
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut read = |name: &str| {
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the workbook"))
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    let workbook = read("xl/workbook.xml");
    assert!(workbook.contains("name=\"诉求\""), "{workbook}");
    let strings = read("xl/sharedStrings.xml");
    for expected in [
        "诉求",
        "企业",
        "类别",
        "办公空间 OFFICE_SPACE",
        demands[0].as_str(),
    ] {
        assert!(strings.contains(expected), "{expected} in {strings}");
    }
    let sheet = read("xl/worksheets/sheet1.xml");
    assert_eq!(sheet.matches("<row ").count(), 3, "a header and two rows");
}

async fn a_bad_export_is_refused_clearly_and_exports_are_in_openapi(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let admin = suite.rest_as(Some(&person("admin-7", &[Role::DistrictAdmin])));
    let (status, error) = admin.call("GET", "/v1/exports/demands.csv", None).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("parent"),
        "{error}"
    );
    let (status, error) = admin
        .call(
            "GET",
            "/v1/exports/demands.csv?parent=districts/jingan&colour=red",
            None,
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let (status, document) = admin.call("GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    for path in [
        "/v1/exports/demands.csv",
        "/v1/exports/enterprise-colours.xlsx",
        "/v1/exports/overdue-referrals.csv",
        "/v1/exports/scorecard.xlsx",
    ] {
        assert!(document["paths"][path]["get"].is_object(), "{path}");
    }
    let _: &Json = &document;
}

backend_tests!(
    an_export_holds_the_callers_list_rows_and_no_more,
    an_xlsx_export_opens_with_chinese_headers,
    a_bad_export_is_refused_clearly_and_exports_are_in_openapi,
);
