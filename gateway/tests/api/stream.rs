//! The live screen's event stream over real HTTP: what each viewer
//! receives, resuming with `Last-Event-ID`, and its end.

use std::time::Duration;

use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, Role, TokenOptions};
use louyu_proto::registry::v1::*;
use louyu_testkit::fixtures::{District, enterprise_name, uscc};
use louyu_testkit::identity::{person, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::{Value as Json, json};

use crate::helpers::*;

const DEMANDS_ONLY: &str = "?types=DemandRaised";
const SOON: Duration = Duration::from_secs(30);
/// How many events' reads a stream runs at once (gateway/src/stream).
const READS_AT_ONCE: usize = 16;

fn admin() -> Principal {
    person("admin-7", &[Role::DistrictAdmin])
}

/// Raises an office-space demand of the enterprise with `code` as the
/// district admin, through the gateway: its name.
async fn raise_demand(suite: &Suite, code: &str) -> String {
    raise_demand_of(suite, code, "DEMAND_CATEGORY_OFFICE_SPACE").await
}

/// Raises a demand of `category` of the enterprise with `code` as the
/// district admin, through the gateway: its name.
async fn raise_demand_of(suite: &Suite, code: &str, category: &str) -> String {
    let (status, created) = suite
        .rest_as(Some(&admin()))
        .call(
            "POST",
            "/v1/districts/jingan/demands",
            Some(json!({
                "enterprise": enterprise_name(code),
                "category": category,
                "description": "需要更大的办公空间",
                "urgency": "URGENCY_HIGH",
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created["demand"]["name"].as_str().unwrap().to_owned()
}

/// The shared district, and besides it a second street, `caojiadu`, with a
/// building `b-9` whose unit 101 enterprise F (`uscc(9)`) rents.
async fn two_streets(suite: &Suite) -> District {
    let mut registry = suite.registry_through_gateway().await;
    let district = louyu_testkit::fixtures::district(&mut registry).await;
    registry
        .create_sub_district(CreateSubDistrictRequest {
            parent: DISTRICT.to_owned(),
            sub_district: Some(SubDistrict {
                display_name: "曹家渡街道".to_owned(),
                kind: SubDistrictKind::Street as i32,
                ..SubDistrict::default()
            }),
            sub_district_id: "caojiadu".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("a second street");
    registry
        .create_building(CreateBuildingRequest {
            parent: DISTRICT.to_owned(),
            building: Some(Building {
                display_name: "曹家渡大厦".to_owned(),
                address: "长寿路".to_owned(),
                managing_sub_district: format!("{DISTRICT}/subDistricts/caojiadu"),
                ..Building::default()
            }),
            building_id: "b-9".to_owned(),
            ..Default::default()
        })
        .await
        .expect("a building on it");
    registry
        .create_unit(CreateUnitRequest {
            parent: format!("{DISTRICT}/buildings/b-9"),
            unit: Some(Unit {
                display_name: "101".to_owned(),
                floor: 1,
                area_square_meters: 100.0,
                ..Unit::default()
            }),
            unit_id: "101".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("a unit");
    registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(Enterprise {
                uscc: uscc(9),
                display_name: "曹家渡企业".to_owned(),
                ..Enterprise::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("an enterprise");
    registry
        .create_tenancy(CreateTenancyRequest {
            parent: DISTRICT.to_owned(),
            tenancy: Some(Tenancy {
                enterprise: enterprise_name(&uscc(9)),
                unit: format!("{DISTRICT}/buildings/b-9/units/101"),
                lease_start: Some(louyu_testkit::fixtures::date_in(-10)),
                lease_end: Some(louyu_testkit::fixtures::date_in(400)),
                ..Tenancy::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("its tenancy");
    district
}

fn field_worker_s1() -> Principal {
    person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None)
}

/// Waits until the visits service knows `s-1`'s assignments (from the
/// registry's feed), so it judges their reads by them.
async fn wait_until_s1_reaches(suite: &Suite, code: &str) {
    let worker = suite.rest_as(Some(&field_worker_s1()));
    let worker = &worker;
    let path = format!("/v1/districts/jingan/visitPlans/{code}");
    let path = &path;
    eventually("s-1's assignments reach visits", || async move {
        worker.call("GET", path, None).await.0 == 200
    })
    .await;
}

async fn a_new_demand_reaches_the_viewers_in_scope_and_no_one_else(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let district = two_streets(&suite).await;
    wait_until_s1_reaches(&suite, &district.a).await;
    let other_street = person_in("s-9", &[Role::SubDistrictAdmin], Some("caojiadu"), None);
    let mut worker = suite
        .open_stream(&field_worker_s1(), DEMANDS_ONLY, None)
        .await;
    let mut stranger = suite.open_stream(&other_street, DEMANDS_ONLY, None).await;
    let mut admin_stream = suite.open_stream(&admin(), "", None).await;
    assert_eq!(worker.retry, Some(3000));

    // s-1 records a visit to b-1 and the need they heard there.
    let (status, submitted) = suite
        .rest_as(Some(&field_worker_s1()))
        .call(
            "POST",
            "/v1/districts/jingan/visits",
            Some(json!({
                "visit": {
                    "building": format!("{DISTRICT}/buildings/b-1"),
                    "staff": [format!("{DISTRICT}/staff/s-1")],
                    "visitTime": "2025-06-01T10:00:00+08:00",
                    "kind": "VISIT_KIND_ROUTINE",
                    "observations": [{"enterprise": enterprise_name(&district.a)}],
                },
                "demands": [{
                    "enterprise": enterprise_name(&district.a),
                    "category": "DEMAND_CATEGORY_OFFICE_SPACE",
                    "description": "需要更大的办公空间",
                    "urgency": "URGENCY_HIGH",
                }],
            })),
        )
        .await;
    assert_eq!(status, 200, "{submitted}");
    let demand = submitted["demands"][0]["name"].as_str().unwrap().to_owned();

    let event = worker
        .next_domain_event(SOON)
        .await
        .expect("the demand's event");
    assert_eq!(event.data["eventType"], "louyu.visits.v1.DemandRaised");
    assert_eq!(event.data["service"], "visits");
    assert_eq!(event.data["resourceName"], demand.as_str());
    assert_eq!(event.data["resource"]["name"], demand.as_str());
    assert_eq!(
        event.data["resource"]["enterprise"],
        enterprise_name(&district.a).as_str()
    );
    assert!(
        event.data["occurTime"]
            .as_str()
            .is_some_and(|time| time.ends_with('Z'))
    );
    assert!(event.id.as_deref().is_some_and(|id| !id.is_empty()));

    // Without a type filter the district admin gets the visit too.
    let mut types = Vec::new();
    for _ in 0..2 {
        let event = admin_stream
            .next_domain_event(SOON)
            .await
            .expect("an event");
        types.push(event.data["eventType"].as_str().unwrap().to_owned());
    }
    types.sort();
    assert_eq!(
        types,
        [
            "louyu.visits.v1.DemandRaised",
            "louyu.visits.v1.VisitRecorded"
        ]
    );

    // A demand on the other street: the first demand its admin receives,
    // so the one on nanjingxilu, earlier in the feed, was never sent.
    let theirs = raise_demand(&suite, &uscc(9)).await;
    let event = stranger
        .next_domain_event(SOON)
        .await
        .expect("their demand");
    assert_eq!(event.data["resourceName"], theirs.as_str(), "{event:?}");
    // And s-1 does not receive the other street's demand.
    assert!(
        worker
            .next_domain_event(Duration::from_secs(2))
            .await
            .is_none(),
        "s-1 sees nothing of caojiadu"
    );
}

async fn a_viewer_resumes_after_the_last_event_with_nothing_lost_or_repeated(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let district = two_streets(&suite).await;
    let mut stream = suite.open_stream(&admin(), DEMANDS_ONLY, None).await;
    let first = raise_demand(&suite, &district.a).await;
    let event = stream
        .next_domain_event(SOON)
        .await
        .expect("the first demand");
    assert_eq!(event.data["resourceName"], first.as_str());
    let last_id = event.id.expect("an id");
    drop(stream);

    // Raised while the viewer is away, one of them across a restart of the
    // gateway.
    let second = raise_demand(&suite, &district.b).await;
    suite.sandbox.restart(ServiceName::Gateway).await;
    let third = raise_demand(&suite, &district.c).await;

    let mut resumed = suite
        .open_stream(&admin(), DEMANDS_ONLY, Some(&last_id))
        .await;
    let mut received = Vec::new();
    for _ in 0..2 {
        let event = resumed
            .next_domain_event(SOON)
            .await
            .expect("a missed demand");
        received.push(event.data["resourceName"].as_str().unwrap().to_owned());
    }
    assert_eq!(received, [second.clone(), third.clone()]);
    // The next is a new one: nothing repeated.
    let fourth = raise_demand(&suite, &district.d).await;
    let event = resumed
        .next_domain_event(SOON)
        .await
        .expect("the new demand");
    assert_eq!(event.data["resourceName"], fourth.as_str());
}

/// A backlog longer than the reads a stream makes at once comes in the
/// order it was raised, without what the viewer may not read.
async fn a_backlog_comes_in_order_without_what_the_viewer_may_not_see(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let district = two_streets(&suite).await;
    wait_until_s1_reaches(&suite, &district.a).await;
    let mut stream = suite
        .open_stream(&field_worker_s1(), DEMANDS_ONLY, None)
        .await;
    let first = raise_demand(&suite, &district.a).await;
    let event = stream
        .next_domain_event(SOON)
        .await
        .expect("the first demand");
    assert_eq!(event.data["resourceName"], first.as_str());
    let last_id = event.id.expect("an id");
    drop(stream);

    let other_street = uscc(9);
    let worker = suite.rest_as(Some(&field_worker_s1()));
    let mut raised = Vec::new();
    let mut visible = Vec::new();
    for category in [
        "DEMAND_CATEGORY_REGISTRATION_LICENSING",
        "DEMAND_CATEGORY_TAX",
        "DEMAND_CATEGORY_FINANCING",
        "DEMAND_CATEGORY_TALENT_HOUSEHOLD",
        "DEMAND_CATEGORY_POLICY_CONSULTATION",
        "DEMAND_CATEGORY_PROPERTY_FACILITIES",
    ] {
        for code in [&district.b, &other_street, &district.c, &district.d] {
            let demand = raise_demand_of(&suite, code, category).await;
            // What s-1 may read is what they should be sent.
            if worker.call("GET", &format!("/v1/{demand}"), None).await.0 == 200 {
                visible.push(demand.clone());
            }
            raised.push(demand);
        }
    }
    assert!(
        raised.len() > READS_AT_ONCE,
        "more than a stream reads at once"
    );
    assert!(
        visible.len() > 1 && visible.len() < raised.len(),
        "s-1 reads {} of the {} demands: the test needs some of each",
        visible.len(),
        raised.len()
    );

    let mut resumed = suite
        .open_stream(&field_worker_s1(), DEMANDS_ONLY, Some(&last_id))
        .await;
    let mut received = Vec::new();
    for _ in 0..visible.len() {
        let event = resumed
            .next_domain_event(SOON)
            .await
            .expect("a demand of the backlog");
        received.push(event.data["resourceName"].as_str().unwrap().to_owned());
    }
    assert_eq!(received, visible);
    // Nothing hidden follows: the next is a new one.
    let last = raise_demand_of(&suite, &district.e, "DEMAND_CATEGORY_LEGAL").await;
    let event = resumed
        .next_domain_event(SOON)
        .await
        .expect("the new demand");
    assert_eq!(event.data["resourceName"], last.as_str());
}

async fn a_malformed_or_foreign_last_event_id_is_refused_clearly(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let token = suite.sandbox.keys().token(&admin());
    for id in [
        "garbage",
        "rg:abcdef12:42",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let Err((status, error)) = suite
            .open_stream_with_token(Some(&token), "", Some(id))
            .await
        else {
            panic!("{id} is refused");
        };
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["status"], "INVALID_ARGUMENT");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains("Last-Event-ID"), "{message}");
    }
    // Unknown filters are named too.
    let Err((status, error)) = suite
        .open_stream_with_token(Some(&token), "?services=billing", None)
        .await
    else {
        panic!("an unknown service is refused");
    };
    assert_eq!(status, 400, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("billing")
    );
    // Without a token there is no stream.
    let Err((status, error)) = suite.open_stream_with_token(None, "", None).await else {
        panic!("no token, no stream");
    };
    assert_eq!(status, 401, "{error}");
}

async fn the_stream_ends_when_the_viewers_token_expires(backend: TestBackend) {
    let Some(suite) = spawn_suite(backend).await else {
        return;
    };
    let token = louyu_kit::identity::mint_token(
        &suite.sandbox.keys().keys.signing_key,
        &admin(),
        &TokenOptions {
            ttl: Duration::from_secs(3),
            ..TokenOptions::default()
        },
    )
    .unwrap();
    let mut stream = suite
        .open_stream_with_token(Some(&token), "", None)
        .await
        .unwrap_or_else(|(status, error)| panic!("{status} {error}"));
    let mut kinds = Vec::new();
    let mut last: Option<Json> = None;
    while let Some(event) = stream.next_event(SOON).await {
        kinds.push(event.kind.clone());
        last = Some(event.data);
    }
    assert_eq!(kinds.first(), Some(&Some("open".to_owned())), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&Some("end".to_owned())), "{kinds:?}");
    assert_eq!(last.unwrap()["reason"], "token_expired");
}

backend_tests!(
    a_new_demand_reaches_the_viewers_in_scope_and_no_one_else,
    a_viewer_resumes_after_the_last_event_with_nothing_lost_or_repeated,
    a_backlog_comes_in_order_without_what_the_viewer_may_not_see,
    a_malformed_or_foreign_last_event_id_is_refused_clearly,
    the_stream_ends_when_the_viewers_token_expires,
);
