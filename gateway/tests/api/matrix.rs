//! The permission table through the gateway: every role against every
//! method of every fronted service, over gRPC and over REST, refused
//! exactly where `louyu_kit::permissions::RULES` grants the role nothing,
//! and answered as the owner answers directly.

use louyu_gateway::forward::FORWARDED_SERVICES;
use louyu_gateway::rest::routes::{Route, Segment, routes_of};
use louyu_kit::config::ServiceName;
use louyu_kit::permissions::{RULES, Rule};
use louyu_testkit::permissions::{call_empty, one_caller_per_role};
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

/// Every gRPC service the gateway fronts.
fn fronted_services() -> Vec<&'static str> {
    FORWARDED_SERVICES.iter().map(|(name, _)| *name).collect()
}

/// The service that owns `rpc_service` behind the gateway.
fn owner_of(rpc_service: &str) -> ServiceName {
    FORWARDED_SERVICES
        .iter()
        .find(|(name, _)| *name == rpc_service)
        .map(|(_, owner)| *owner)
        .unwrap_or_else(|| panic!("{rpc_service} is fronted"))
}

/// The rule of the gRPC method a route is bound to.
fn rule_of(route: &Route) -> &'static Rule {
    let service = route.rpc.parent_service().full_name().to_owned();
    RULES
        .iter()
        .find(|rule| rule.service == service && rule.method == route.rpc.name())
        .unwrap_or_else(|| panic!("a rule for {}", route.grpc_path()))
}

/// A concrete path the route's template matches: the district's id after
/// `districts`, `none` for every other wildcard (nothing by that id exists,
/// so a granted call is refused as not found or invalid, never as
/// forbidden).
fn concrete_path(route: &Route) -> String {
    let mut path = String::new();
    let mut previous = "";
    for segment in &route.template.segments {
        let piece = match segment {
            Segment::Literal(literal) => literal.as_str(),
            Segment::One if previous == "districts" => "jingan",
            Segment::One | Segment::Rest => "none",
        };
        path.push('/');
        path.push_str(piece);
        previous = piece;
    }
    if let Some(verb) = &route.template.verb {
        path.push(':');
        path.push_str(verb);
    }
    path
}

/// Each role calls each method of every fronted service with an empty
/// message, through the gateway and straight to the owner: the same code
/// both ways, PERMISSION_DENIED exactly where the table grants nothing.
async fn every_role_is_refused_through_grpc_exactly_as_the_table_and_the_owner_say(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite_with_every_service_unthrottled(backend).await else {
        return;
    };
    let services = fronted_services();
    let rules: Vec<&Rule> = RULES
        .iter()
        .filter(|rule| services.contains(&rule.service))
        .collect();
    let mut refused = 0;
    for (role, who) in one_caller_per_role() {
        let through_gateway = suite.sandbox.client_as(ServiceName::Gateway, &who).await;
        for rule in &rules {
            let direct = suite.sandbox.client_as(owner_of(rule.service), &who).await;
            let path = rule.path();
            let direct_code = call_empty(direct, &path).await;
            let gateway_code = call_empty(through_gateway.clone(), &path).await;
            assert_eq!(
                gateway_code, direct_code,
                "{role} calling {path}: the gateway answers as the owner"
            );
            if rule.scope_of(role).is_some() {
                assert!(
                    !matches!(
                        gateway_code,
                        Some(Code::PermissionDenied | Code::Unauthenticated)
                    ),
                    "{role} may call {path}: {gateway_code:?}"
                );
            } else {
                assert_eq!(
                    gateway_code,
                    Some(Code::PermissionDenied),
                    "{role} may not call {path}"
                );
                refused += 1;
            }
        }
    }
    assert!(rules.len() > 100, "every fronted method: {}", rules.len());
    assert!(refused > 100, "the matrix refuses somewhere: {refused}");
}

/// Each role calls every REST route of the descriptor pool: 403 with a
/// `google.rpc.Status` body exactly where the table grants the role
/// nothing; elsewhere neither 401 nor 403, and never an internal error
/// (501 is an answer: operations are never deleted).
async fn every_role_is_refused_over_rest_exactly_where_the_table_grants_nothing(
    backend: TestBackend,
) {
    let Some(suite) = spawn_suite_with_every_service_unthrottled(backend).await else {
        return;
    };
    let pool = louyu_gateway::rest::louyu_pool().unwrap();
    let routes = routes_of(&pool, &fronted_services()).unwrap();
    assert!(routes.len() > 100, "every route: {}", routes.len());
    let mut refused = 0;
    for (role, who) in one_caller_per_role() {
        let rest = suite.rest_as(Some(&who));
        for route in &routes {
            let rule = rule_of(route);
            let path = concrete_path(route);
            assert!(
                route.template.match_path(&path).is_some(),
                "{path} matches {}",
                route.template.text
            );
            let method = route.http_method.as_str();
            let (status, answer) = rest.call_raw(method, &path, "").await;
            if rule.scope_of(role).is_some() {
                assert!(
                    !matches!(status, 401 | 403 | 500),
                    "{role} may call {method} {path} ({}): {status} {answer}",
                    rule.method
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{role} may not call {method} {path} ({}): {answer}",
                    rule.method
                );
                let error = &answer["error"];
                assert_eq!(error["code"], 403, "{answer}");
                assert_eq!(error["status"], "PERMISSION_DENIED", "{answer}");
                assert!(
                    error["message"]
                        .as_str()
                        .is_some_and(|text| !text.is_empty()),
                    "{answer}"
                );
                assert!(error["details"].is_array(), "{answer}");
                refused += 1;
            }
        }
    }
    assert!(refused > 100, "the matrix refuses somewhere: {refused}");
}

backend_tests!(
    every_role_is_refused_through_grpc_exactly_as_the_table_and_the_owner_say,
    every_role_is_refused_over_rest_exactly_where_the_table_grants_nothing,
);
