//! Routing: a new demand opens one referral, routed by the rules to the
//! street's office (leading) and the investment office, however often its
//! event arrives; a withdrawn demand cancels it; the district's rules are
//! read, replaced and refused when wrong.

use louyu_kit::config::ServiceName;
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::*;
use louyu_proto::visits::v1::{DemandStatus, TransitionDemandRequest};
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

async fn a_new_demand_opens_one_referral_however_often_its_event_arrives(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    assert_eq!(state(&referral), ReferralState::Requested);
    assert_eq!(referral.fhir_status, "requested");
    assert_eq!(referral.lead_department, department(STREET_OFFICE));
    let departments: Vec<(&str, bool)> = referral
        .departments
        .iter()
        .map(|department| (department.department.as_str(), department.lead))
        .collect();
    assert_eq!(
        departments,
        vec![
            (department(STREET_OFFICE).as_str(), true),
            (department(INVESTMENT_OFFICE).as_str(), false)
        ]
    );
    assert_eq!(
        referral.sub_district,
        format!("{DISTRICT}/subDistricts/nanjingxilu")
    );
    assert_eq!(referral.rules_version, "2026-11-default-1");
    let clocks = referral.clocks.as_ref().expect("clocks");
    let dispatched = clocks.dispatch_time.as_ref().expect("dispatched").seconds;
    let accept_due = clocks.accept_due_time.as_ref().expect("accept due").seconds;
    let complete_due = clocks
        .complete_due_time
        .as_ref()
        .expect("complete due")
        .seconds;
    assert!(accept_due > dispatched, "due after dispatch");
    assert!(complete_due > accept_due + 3 * 86_400, "five working days");
    // Due at 24:00 Shanghai time: midnight UTC+8.
    assert_eq!(
        (accept_due + 8 * 3600) % 86_400,
        0,
        "due at the end of a day"
    );
    assert_eq!(referral.history.len(), 1);

    // The whole visits feed arrives twice more.
    for _ in 0..2 {
        suite
            .sandbox
            .replay_feed(ServiceName::Referral, "visits")
            .await;
        // A demand raised after the replay has its referral once the feed
        // has caught up again.
        let later = suite
            .raise(DemandCategory::Tax, "发票问题 an invoice question")
            .await;
        suite.referral_of(&later.name).await;
    }
    let again = suite.referrals_of(&referral.demand).await;
    assert_eq!(again.len(), 1, "still one referral");
    assert_eq!(again[0], referral, "unchanged by the events arriving again");
}

async fn a_demand_no_department_handles_waits_to_be_routed_by_hand(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    // Tax goes to a tax bureau, and the directory has none.
    let demand = suite
        .raise(DemandCategory::Tax, "退税咨询 a tax refund")
        .await;
    let referral = suite.referral_of(&demand.name).await;
    assert_eq!(state(&referral), ReferralState::Unrouted);
    assert_eq!(referral.fhir_status, "draft");
    assert!(referral.departments.is_empty());

    // Routed by hand to a department that does not exist: refused.
    let mut admin = suite.street_admin().await;
    let unknown = admin
        .reroute_referral(RerouteReferralRequest {
            name: referral.name.clone(),
            departments: vec![department("nobody")],
            note: "转区税务局 to the tax bureau".to_owned(),
            ..RerouteReferralRequest::default()
        })
        .await;
    assert_invalid_field(unknown, "departments[0]");
    let routed = admin
        .reroute_referral(RerouteReferralRequest {
            name: referral.name.clone(),
            departments: vec![department(INVESTMENT_OFFICE)],
            note: "由投促办先行对接 the investment office takes it first".to_owned(),
            ..RerouteReferralRequest::default()
        })
        .await
        .expect("routed by hand")
        .into_inner();
    assert_eq!(state(&routed), ReferralState::Requested);
    assert_eq!(routed.lead_department, department(INVESTMENT_OFFICE));
    assert_eq!(routed.history.len(), 2);
}

async fn a_withdrawn_demand_cancels_its_referral(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    suite
        .visits
        .transition_demand(TransitionDemandRequest {
            name: referral.demand.clone(),
            to_status: DemandStatus::Withdrawn as i32,
            reason: "企业已自行解决 the enterprise solved it itself".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("withdrawn");
    eventually("the referral is cancelled", || async {
        suite
            .referrals_of(&referral.demand)
            .await
            .first()
            .is_some_and(|referral| state(referral) == ReferralState::Cancelled)
    })
    .await;
    let cancelled = suite.referrals_of(&referral.demand).await.remove(0);
    assert_eq!(cancelled.fhir_status, "cancelled");
    let last = cancelled.history.last().expect("history");
    assert_eq!(last.action, "cancel");
    assert_eq!(last.actor, "system:visits-feed");
}

async fn the_district_replaces_its_rules_and_a_wrong_document_is_refused_naming_the_mistake(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let name = format!("{DISTRICT}/routingRules");
    let shipped = suite
        .referral
        .get_routing_rules(GetRoutingRulesRequest { name: name.clone() })
        .await
        .expect("the rules")
        .into_inner();
    assert_eq!(shipped.version, "2026-11-default-1");
    assert_eq!(shipped.calendar_years, vec![2026]);
    assert!(shipped.document.contains("[calendar.2026]"));

    let wrong = shipped
        .document
        .replace("category = \"tax\"", "category = \"taxes\"");
    let refused = suite
        .referral
        .update_routing_rules(UpdateRoutingRulesRequest {
            routing_rules: Some(RoutingRules {
                name: name.clone(),
                document: wrong,
                ..RoutingRules::default()
            }),
            request_id: String::new(),
        })
        .await;
    let status = assert_code(refused, Code::InvalidArgument);
    assert!(
        status.message().contains("routes[2].category"),
        "{status:?}"
    );

    // Tax demands to the investment office, by name.
    let own = shipped
        .document
        .replace("version = \"2026-11-default-1\"", "version = \"jingan-2\"")
        .replace(
            "category = \"tax\"\ndepartments = [{ kind = \"tax\" }]",
            &format!(
                "category = \"tax\"\ndepartments = [{{ department = \"{}\" }}]",
                department(INVESTMENT_OFFICE)
            ),
        );
    let mut street = suite.street_admin().await;
    assert_code(
        street
            .update_routing_rules(UpdateRoutingRulesRequest {
                routing_rules: Some(RoutingRules {
                    name: name.clone(),
                    document: own.clone(),
                    ..RoutingRules::default()
                }),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    let updated = suite
        .referral
        .update_routing_rules(UpdateRoutingRulesRequest {
            routing_rules: Some(RoutingRules {
                name: name.clone(),
                document: own,
                ..RoutingRules::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the district's own rules")
        .into_inner();
    assert_eq!(updated.version, "jingan-2");
    let demand = suite
        .raise(DemandCategory::Tax, "发票问题 an invoice question")
        .await;
    let referral = suite.referral_of(&demand.name).await;
    assert_eq!(referral.lead_department, department(INVESTMENT_OFFICE));
    assert_eq!(referral.rules_version, "jingan-2");
}

/// Puts b-1 at 静安寺 and two more buildings of the street about 1 km and
/// 5 km away, with vacant units of several sizes.
async fn buildings_around(suite: &mut Suite) {
    use louyu_proto::google::r#type::LatLng;
    use louyu_proto::registry::v1::*;
    suite
        .registry
        .update_building(UpdateBuildingRequest {
            building: Some(Building {
                name: format!("{DISTRICT}/buildings/b-1"),
                location: Some(LatLng {
                    latitude: 31.2235,
                    longitude: 121.4455,
                }),
                ..Building::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["location".to_owned()],
            }),
            ..Default::default()
        })
        .await
        .expect("b-1 located");
    for (building, latitude, units) in [
        ("b-2", 31.2325, vec![("301", 300.0), ("302", 80.0)]),
        ("b-3", 31.2685, vec![("901", 500.0)]),
    ] {
        suite
            .registry
            .create_building(CreateBuildingRequest {
                parent: DISTRICT.to_owned(),
                building: Some(Building {
                    display_name: building.to_owned(),
                    address: "南京西路".to_owned(),
                    location: Some(LatLng {
                        latitude,
                        longitude: 121.4455,
                    }),
                    managing_sub_district: format!("{DISTRICT}/subDistricts/nanjingxilu"),
                    ..Building::default()
                }),
                building_id: building.to_owned(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("a building");
        for (unit, area) in units {
            suite
                .registry
                .create_unit(CreateUnitRequest {
                    parent: format!("{DISTRICT}/buildings/{building}"),
                    unit: Some(Unit {
                        display_name: unit.to_owned(),
                        floor: 3,
                        area_square_meters: area,
                        ..Unit::default()
                    }),
                    unit_id: unit.to_owned(),
                    request_id: String::new(),
                })
                .await
                .expect("a unit");
        }
    }
}

async fn an_office_space_referral_offers_vacant_units_with_more_room_nearest_first(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    buildings_around(&mut suite).await;
    // The tenant leases 101, 100 m².
    let referral = suite.office_space_referral().await;
    let offered: Vec<(&str, f64)> = referral
        .offered_units
        .iter()
        .map(|unit| (unit.unit.as_str(), unit.area_square_meters))
        .collect();
    let unit = |building: &str, unit: &str| format!("{DISTRICT}/buildings/{building}/units/{unit}");
    assert_eq!(
        offered,
        vec![
            (unit("b-1", "201").as_str(), 400.0),
            (unit("b-2", "301").as_str(), 300.0),
            (unit("b-3", "901").as_str(), 500.0),
        ],
        "more than 100 m², nearest first; 302 (80 m²) is too small"
    );
    let distances: Vec<f64> = referral
        .offered_units
        .iter()
        .map(|unit| unit.distance_meters)
        .collect();
    assert_eq!(distances[0], 0.0, "the same building");
    assert!((900.0..1100.0).contains(&distances[1]), "{distances:?}");
    assert!((4800.0..5200.0).contains(&distances[2]), "{distances:?}");

    // Other demands offer none.
    let tax = suite
        .raise(DemandCategory::Tax, "发票问题 an invoice question")
        .await;
    assert!(suite.referral_of(&tax.name).await.offered_units.is_empty());
}

backend_tests!(
    a_new_demand_opens_one_referral_however_often_its_event_arrives,
    an_office_space_referral_offers_vacant_units_with_more_room_nearest_first,
    a_demand_no_department_handles_waits_to_be_routed_by_hand,
    a_withdrawn_demand_cancels_its_referral,
    the_district_replaces_its_rules_and_a_wrong_document_is_refused_naming_the_mistake,
);
