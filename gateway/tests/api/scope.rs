//! Data scope through the gateway: a field worker, a sub-district admin and
//! a department officer see, over gRPC and REST through the gateway, exactly
//! what they see straight at the services, and nothing out of their scope:
//! in a list, a count and a building's page.
//!
//! The world is the shared `fixtures::district` (b-1 and b-2 on
//! `nanjingxilu`; s-1 covers b-1 and enterprise D of b-2) with the street
//! office and the investment office; A (b-1) has an office-space demand,
//! referred to both offices, and C (b-2) a policy question, referred to the
//! street office alone.

use std::collections::BTreeSet;

use louyu_kit::config::ServiceName;
use louyu_kit::identity::{Principal, Role};
use louyu_proto::common::v1::DemandCategory;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::{GetBuildingRequest, ListEnterprisesRequest};
use louyu_proto::visits::v1::visits_service_client::VisitsServiceClient;
use louyu_proto::visits::v1::{
    CountDemandsRequest, CreateDemandRequest, DemandDraft, ListDemandsRequest, Urgency,
};
use louyu_testkit::fixtures::enterprise_name;
use louyu_testkit::identity::{AuthorizedChannel, person_in};
use louyu_testkit::{TestBackend, backend_tests, eventually};
use serde_json::Value as Json;
use tonic::Code;

use crate::helpers::*;

/// What one caller sees: the demands and enterprises listed, and the
/// demands counted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct View {
    demands: BTreeSet<String>,
    enterprises: BTreeSet<String>,
    demands_counted: i64,
}

/// `who`'s view over gRPC at `service`: the gateway, or (`None`) the
/// visits service and the registry themselves.
async fn grpc_view(suite: &Suite, who: &Principal, service: Option<ServiceName>) -> View {
    let channel =
        |owner| async move { suite.sandbox.client_as(service.unwrap_or(owner), who).await };
    let mut visits: VisitsServiceClient<AuthorizedChannel> =
        VisitsServiceClient::new(channel(ServiceName::Visits).await);
    let mut registry: RegistryServiceClient<AuthorizedChannel> =
        RegistryServiceClient::new(channel(ServiceName::Registry).await);
    let demands = visits
        .list_demands(ListDemandsRequest {
            parent: DISTRICT.to_owned(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("the demands")
        .into_inner();
    assert!(demands.next_page_token.is_empty(), "one page holds them");
    let enterprises = registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("the enterprises")
        .into_inner();
    assert!(
        enterprises.next_page_token.is_empty(),
        "one page holds them"
    );
    let counted = visits
        .count_demands(CountDemandsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .expect("the count")
        .into_inner();
    View {
        demands: demands.demands.into_iter().map(|item| item.name).collect(),
        enterprises: enterprises
            .enterprises
            .into_iter()
            .map(|item| item.name)
            .collect(),
        demands_counted: counted.total,
    }
}

/// The `field` of each item of `answer[key]`.
fn names_in(answer: &Json, key: &str, field: &str) -> BTreeSet<String> {
    match &answer[key] {
        Json::Null => BTreeSet::new(),
        Json::Array(items) => items
            .iter()
            .map(|item| item[field].as_str().expect("a name").to_owned())
            .collect(),
        other => panic!("{key} is a list: {other}"),
    }
}

/// `who`'s view over REST through the gateway.
async fn rest_view(suite: &Suite, who: &Principal) -> View {
    let rest = suite.rest_as(Some(who));
    let (status, demands) = rest
        .call("GET", "/v1/districts/jingan/demands?pageSize=100", None)
        .await;
    assert_eq!(status, 200, "{demands}");
    let (status, enterprises) = rest
        .call("GET", "/v1/districts/jingan/enterprises?pageSize=100", None)
        .await;
    assert_eq!(status, 200, "{enterprises}");
    let (status, counted) = rest
        .call("GET", "/v1/districts/jingan/demands:count", None)
        .await;
    assert_eq!(status, 200, "{counted}");
    // An int64 is a string in proto3 JSON, and zero is left out.
    let demands_counted = match &counted["total"] {
        Json::Null => 0,
        Json::String(total) => total.parse().expect("an integer"),
        other => panic!("total is an int64 string: {other}"),
    };
    View {
        demands: names_in(&demands, "demands", "name"),
        enterprises: names_in(&enterprises, "enterprises", "name"),
        demands_counted,
    }
}

/// Raises a demand of `category` for the enterprise `code`, straight at
/// visits as a district admin; its name.
async fn raise(suite: &Suite, code: &str, category: DemandCategory) -> String {
    VisitsServiceClient::new(suite.sandbox.client(ServiceName::Visits).await)
        .create_demand(CreateDemandRequest {
            parent: DISTRICT.to_owned(),
            demand: Some(DemandDraft {
                enterprise: enterprise_name(code),
                category: category as i32,
                description: "企业诉求 a need".to_owned(),
                urgency: Urgency::Normal as i32,
            }),
            request_id: String::new(),
        })
        .await
        .expect("a demand")
        .into_inner()
        .demand
        .expect("the demand")
        .name
}

fn set(names: &[&String]) -> BTreeSet<String> {
    names.iter().map(|name| (*name).clone()).collect()
}

async fn each_role_sees_through_the_gateway_exactly_its_direct_scope(backend: TestBackend) {
    let Some(suite) = spawn_suite_with_every_service(backend).await else {
        return;
    };
    let mut registry = suite.sandbox_registry().await;
    let world = louyu_testkit::fixtures::district(&mut registry).await;
    louyu_testkit::fixtures::referral_departments(&mut registry).await;
    let a_demand = raise(&suite, &world.a, DemandCategory::OfficeSpace).await;
    let c_demand = raise(&suite, &world.c, DemandCategory::PolicyConsultation).await;
    let [a, b, c, d, e] =
        [&world.a, &world.b, &world.c, &world.d, &world.e].map(|code| enterprise_name(code));

    let field_worker = person_in("s-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let street_admin = person_in(
        "admin-nanjingxilu",
        &[Role::SubDistrictAdmin],
        Some("nanjingxilu"),
        None,
    );
    let other_street_admin = person_in(
        "admin-jingansi",
        &[Role::SubDistrictAdmin],
        Some("jingansi"),
        None,
    );
    let officer = person_in(
        "officer-investment",
        &[Role::DepartmentOfficer],
        None,
        Some("investment"),
    );
    let expected = [
        (
            &field_worker,
            View {
                demands: set(&[&a_demand]),
                enterprises: set(&[&a, &b, &d, &e]),
                demands_counted: 1,
            },
        ),
        (
            &street_admin,
            View {
                demands: set(&[&a_demand, &c_demand]),
                enterprises: set(&[&a, &b, &c, &d, &e]),
                demands_counted: 2,
            },
        ),
        (&other_street_admin, View::default()),
        (
            &officer,
            View {
                demands: set(&[&a_demand]),
                enterprises: set(&[&a]),
                demands_counted: 1,
            },
        ),
    ];
    for (who, view) in &expected {
        // Scope comes to visits and the registry from the feeds (the
        // registry's assignments, the referral service's departments):
        // wait until the services themselves show it.
        eventually(
            &format!("{} sees its scope at the services", who.audit_name()),
            || async { grpc_view(&suite, who, None).await == *view },
        )
        .await;
        assert_eq!(
            grpc_view(&suite, who, Some(ServiceName::Gateway)).await,
            *view,
            "{} over gRPC through the gateway",
            who.audit_name()
        );
        assert_eq!(
            rest_view(&suite, who).await,
            *view,
            "{} over REST through the gateway",
            who.audit_name()
        );
    }

    // A building's page: there exactly when the building may be read
    // directly, its open demands those listed directly.
    for (who, _) in &expected {
        let rest = suite.rest_as(Some(who));
        let mut registry = suite.registry_as(ServiceName::Registry, who).await;
        let mut visits =
            VisitsServiceClient::new(suite.sandbox.client_as(ServiceName::Visits, who).await);
        for building in ["b-1", "b-2"] {
            let name = format!("{DISTRICT}/buildings/{building}");
            let (status, page) = rest.call("GET", &format!("/v1/{name}/page"), None).await;
            let direct = registry
                .get_building(GetBuildingRequest {
                    name: name.clone(),
                    ..Default::default()
                })
                .await;
            match direct {
                Ok(_) => {
                    assert_eq!(status, 200, "{} reads {name}: {page}", who.audit_name());
                    let demands: BTreeSet<String> = visits
                        .list_demands(ListDemandsRequest {
                            parent: DISTRICT.to_owned(),
                            page_size: 100,
                            filter: format!("building = \"{name}\""),
                            ..Default::default()
                        })
                        .await
                        .expect("the building's demands")
                        .into_inner()
                        .demands
                        .into_iter()
                        .map(|demand| demand.name)
                        .collect();
                    assert_eq!(
                        names_in(&page, "demands", "name"),
                        demands,
                        "{} on {name}'s page",
                        who.audit_name()
                    );
                }
                Err(refused) => {
                    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
                    assert_eq!(status, 404, "{} on {name}: {page}", who.audit_name());
                    assert!(page.get("demands").is_none(), "{page}");
                }
            }
        }
    }
    // And what the pages must be, not only that they agree: the field worker
    // and the officer have b-1's page with A's demand alone; the other
    // street has neither page; the officer has no page of b-2.
    for (who, building, demands) in [
        (&field_worker, "b-1", Some(set(&[&a_demand]))),
        (&officer, "b-1", Some(set(&[&a_demand]))),
        (&officer, "b-2", None),
        (&other_street_admin, "b-1", None),
        (&other_street_admin, "b-2", None),
        (&street_admin, "b-2", Some(set(&[&c_demand]))),
    ] {
        let (status, page) = suite
            .rest_as(Some(who))
            .call(
                "GET",
                &format!("/v1/{DISTRICT}/buildings/{building}/page"),
                None,
            )
            .await;
        match demands {
            Some(demands) => {
                assert_eq!(status, 200, "{page}");
                assert_eq!(names_in(&page, "demands", "name"), demands, "{page}");
            }
            None => assert_eq!(status, 404, "{} on {building}: {page}", who.audit_name()),
        }
    }
}

backend_tests!(each_role_sees_through_the_gateway_exactly_its_direct_scope);
