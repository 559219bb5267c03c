//! A building's page, composed by the gateway from several services so that
//! no service calls another to build it: `GET
//! /v1/{name=districts/*/buildings/*}/page`, REST only (no RPC declares it).
//!
//! The building (registry `GetBuilding`) and every part are asked for at
//! once, each as a unary gRPC call through the same [`Forwarder`] as REST
//! calls, with the caller's own `authorization`: each owner applies the
//! caller's scope and masking, so the page shows nothing the caller could
//! not read part by part. Each list is its first page only ([`PAGE_SIZE`]),
//! and a part with more is named in `truncated`.
//!
//! The building's own refusal is the page's (NOT_FOUND is 404). A part the
//! caller may not read (PERMISSION_DENIED, NOT_FOUND, or any other refusal)
//! is left out and named in `omitted` with its code; a part whose owner is
//! down or too slow (UNAVAILABLE, DEADLINE_EXCEEDED) is left out and named
//! in `unavailable`, so one service down never fails the page.
//!
//! [`Forwarder`]: crate::forward::Forwarder

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use serde_json::{Map, Value as Json, json};
use tonic::{Code, Status};

use super::routes::Route;
use super::{Inner, code_name, json_response, status_response, to_json};
use crate::forward::FORWARDED_SERVICES;

/// How many items of each list the page shows: the first page of each.
pub const PAGE_SIZE: i32 = 100;

/// The suffix of a building's name that makes the path of its page.
pub const PAGE_SUFFIX: &str = "/page";

/// Which request field names what the list is of.
#[derive(Debug, Clone, Copy)]
enum Parent {
    /// `parent` is the building.
    Building,
    /// `parent` is the district, and the filter names the building.
    District,
}

/// The filter of a part's list.
#[derive(Debug, Clone, Copy)]
enum Filter {
    None,
    Fixed(&'static str),
    /// `building = "<name>"`, and this too when not empty.
    Building(&'static str),
}

/// One part of the page: its key, the list that fills it, and the field of
/// the answer that holds the items.
struct PartSpec {
    key: &'static str,
    service: &'static str,
    method: &'static str,
    items: &'static str,
    parent: Parent,
    filter: Filter,
}

/// Open demands: not resolved, confirmed or withdrawn (open, referred or
/// in progress). Visits' `status` filter takes `=` and `!=` only, so this is
/// three `!=`, in one call.
pub(super) const OPEN_DEMANDS: &str =
    "status != RESOLVED AND status != CONFIRMED AND status != WITHDRAWN";

const PARTS: &[PartSpec] = &[
    PartSpec {
        key: "councilMembers",
        service: "louyu.registry.v1.BuildingCouncilService",
        method: "ListCouncilMembers",
        items: "council_members",
        parent: Parent::Building,
        filter: Filter::Fixed("active = true"),
    },
    PartSpec {
        key: "chiefAppointments",
        service: "louyu.registry.v1.BuildingCouncilService",
        method: "ListChiefAppointments",
        items: "chief_appointments",
        parent: Parent::Building,
        filter: Filter::None,
    },
    PartSpec {
        key: "projects",
        service: "louyu.registry.v1.BuildingCouncilService",
        method: "ListProjects",
        items: "projects",
        parent: Parent::Building,
        filter: Filter::None,
    },
    PartSpec {
        key: "resources",
        service: "louyu.registry.v1.RegistryService",
        method: "ListBuildingResources",
        items: "building_resources",
        parent: Parent::District,
        filter: Filter::Building(""),
    },
    PartSpec {
        key: "demands",
        service: "louyu.visits.v1.VisitsService",
        method: "ListDemands",
        items: "demands",
        parent: Parent::District,
        filter: Filter::Building(OPEN_DEMANDS),
    },
    PartSpec {
        key: "assessments",
        service: "louyu.risk.v1.RiskService",
        method: "ListAssessments",
        items: "assessments",
        parent: Parent::District,
        filter: Filter::Building(""),
    },
    PartSpec {
        key: "referrals",
        service: "louyu.referral.v1.ReferralService",
        method: "ListReferrals",
        items: "referrals",
        parent: Parent::District,
        filter: Filter::Building(""),
    },
    PartSpec {
        key: "retentionCases",
        service: "louyu.referral.v1.ReferralService",
        method: "ListRetentionCases",
        items: "retention_cases",
        parent: Parent::District,
        filter: Filter::Building(""),
    },
];

/// A part, resolved against the descriptor pool.
struct Part {
    spec: &'static PartSpec,
    rpc: MethodDescriptor,
    owner: &'static str,
}

/// The building page's calls, resolved once at start.
pub struct BuildingPage {
    get_building: MethodDescriptor,
    parts: Vec<Part>,
}

/// `(district, building)` of a page's path,
/// `/v1/districts/{district}/buildings/{building}/page`: ids of letters,
/// digits, `-`, `_` and `.` only, so they go into a filter as they are.
pub fn building_of_page_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/v1/")?.strip_suffix(PAGE_SUFFIX)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let [districts, district, buildings, building] = segments.as_slice() else {
        return None;
    };
    let id_like = |id: &str| {
        !id.is_empty()
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
    };
    if *districts != "districts"
        || *buildings != "buildings"
        || !id_like(district)
        || !id_like(building)
    {
        return None;
    }
    Some((
        format!("districts/{district}"),
        format!("districts/{district}/buildings/{building}"),
    ))
}

fn method(pool: &DescriptorPool, service: &str, name: &str) -> anyhow::Result<MethodDescriptor> {
    page_method(pool, "the building page", service, name)
}

/// `service.name` from `pool`, which `page` calls; an error naming both if
/// the pool lacks it.
pub(super) fn page_method(
    pool: &DescriptorPool,
    page: &str,
    service: &str,
    name: &str,
) -> anyhow::Result<MethodDescriptor> {
    pool.get_service_by_name(service)
        .and_then(|service| service.methods().find(|method| method.name() == name))
        .ok_or_else(|| anyhow::anyhow!("{page} needs {service}.{name}"))
}

/// A start-up check: no GET route of `routes` could answer `sample`, a
/// path of `page`'s own.
pub(super) fn refuse_routes_answering(
    routes: &[Route],
    sample: &str,
    page: &str,
) -> anyhow::Result<()> {
    if let Some(route) = routes.iter().find(|route| {
        route.http_method == http::Method::GET && route.template.match_path(sample).is_some()
    }) {
        anyhow::bail!(
            "the route {} of {} could answer {page}'s path too",
            route.template.text,
            route.grpc_path()
        );
    }
    Ok(())
}

/// The fronted service that owns the gRPC service `service`, by its name.
pub(super) fn owner_of(service: &str) -> anyhow::Result<&'static str> {
    FORWARDED_SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, owner)| owner.as_str())
        .ok_or_else(|| anyhow::anyhow!("the gateway does not front {service}"))
}

impl BuildingPage {
    /// The page's calls from `pool`; an error if a route of `routes` could
    /// answer the page's path too.
    pub fn new(pool: &DescriptorPool, routes: &[Route]) -> anyhow::Result<Self> {
        refuse_routes_answering(
            routes,
            &format!("/v1/districts/d/buildings/b{PAGE_SUFFIX}"),
            "the building page",
        )?;
        let parts = PARTS
            .iter()
            .map(|spec| {
                Ok(Part {
                    spec,
                    rpc: method(pool, spec.service, spec.method)?,
                    owner: owner_of(spec.service)?,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            get_building: method(pool, "louyu.registry.v1.RegistryService", "GetBuilding")?,
            parts,
        })
    }

    /// The page of `building` (in `district`), as the caller whose headers
    /// are `headers` may see it.
    pub(super) async fn answer(
        &self,
        inner: &Inner,
        (district, building): &(String, String),
        headers: &http::HeaderMap,
    ) -> http::Response<tonic::body::Body> {
        let mut get = DynamicMessage::new(self.get_building.input());
        get.set_field_by_name("name", Value::String(building.clone()));
        let parts = self.parts.iter().map(|part| async move {
            let input = part_request(part, district, building);
            (part, inner.call(&part.rpc, headers, &input).await)
        });
        let (read, answers) = tokio::join!(
            inner.call(&self.get_building, headers, &get),
            futures::future::join_all(parts)
        );
        let building_json = match read.and_then(|message| json_of(&message)) {
            Ok(json) => json,
            Err(status) => return status_response(&status),
        };
        let mut page = Map::new();
        page.insert("building".to_owned(), building_json);
        let (mut omitted, mut unavailable, mut truncated) = (Vec::new(), Vec::new(), Vec::new());
        for (part, answer) in answers {
            let key = part.spec.key;
            match answer.and_then(|message| json_of(&message)) {
                Ok(list) => {
                    let items_field = part
                        .rpc
                        .output()
                        .get_field_by_name(part.spec.items)
                        .map(|field| field.json_name().to_owned())
                        .unwrap_or_default();
                    let items = list.get(&items_field).cloned().unwrap_or(json!([]));
                    if list
                        .get("nextPageToken")
                        .and_then(Json::as_str)
                        .is_some_and(|token| !token.is_empty())
                    {
                        truncated.push(json!(key));
                    }
                    page.insert(key.to_owned(), items);
                }
                Err(status)
                    if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) =>
                {
                    unavailable.push(json!({
                        "part": key,
                        "service": part.owner,
                        "code": code_name(status.code()),
                    }));
                }
                Err(status) => {
                    if !matches!(status.code(), Code::PermissionDenied | Code::NotFound) {
                        tracing::warn!(part = key, code = ?status.code(), message = status.message(), "a part of a building page was refused");
                    }
                    omitted.push(json!({"part": key, "code": code_name(status.code())}));
                }
            }
        }
        page.insert("omitted".to_owned(), Json::Array(omitted));
        page.insert("unavailable".to_owned(), Json::Array(unavailable));
        page.insert("truncated".to_owned(), Json::Array(truncated));
        page.insert("pageSize".to_owned(), json!(PAGE_SIZE));
        json_response(
            http::StatusCode::OK,
            Bytes::from(serde_json::to_vec(&Json::Object(page)).expect("JSON serializes")),
        )
    }

    /// The page's operation, for `/openapi.json`: its parts as arrays of
    /// the messages' schemas (which the list routes put in the document).
    pub fn add_to_openapi(&self, document: &mut Json) {
        let reference =
            |full_name: &str| json!({"$ref": format!("#/components/schemas/{full_name}")});
        let mut properties = Map::new();
        properties.insert(
            "building".to_owned(),
            reference(self.get_building.output().full_name()),
        );
        for part in &self.parts {
            if let Some(prost_reflect::Kind::Message(item)) = part
                .rpc
                .output()
                .get_field_by_name(part.spec.items)
                .map(|field| field.kind())
            {
                properties.insert(
                    part.spec.key.to_owned(),
                    json!({"type": "array", "items": reference(item.full_name())}),
                );
            }
        }
        let listed = json!({
            "type": "array",
            "items": {"type": "object", "properties": {
                "part": {"type": "string"}, "service": {"type": "string"}, "code": {"type": "string"},
            }},
        });
        properties.insert("omitted".to_owned(), listed.clone());
        properties.insert("unavailable".to_owned(), listed);
        properties.insert(
            "truncated".to_owned(),
            json!({"type": "array", "items": {"type": "string"}}),
        );
        properties.insert(
            "pageSize".to_owned(),
            json!({"type": "integer", "format": "int32"}),
        );
        let parameter = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
        let operation = json!({
            "operationId": "Gateway.GetBuildingPage",
            "tags": ["Gateway"],
            "summary": "A building's page, composed from the registry, visits, risk and referral as the caller may see them; each list is its first page.",
            "parameters": [parameter("districtsId"), parameter("buildingsId")],
            "responses": {
                "200": {
                    "description": "The page.",
                    "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
                },
                "default": {
                    "description": "An error.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        });
        if let Some(paths) = document.get_mut("paths").and_then(Json::as_object_mut) {
            paths.insert(
                format!("/v1/districts/{{districtsId}}/buildings/{{buildingsId}}{PAGE_SUFFIX}"),
                json!({"get": operation}),
            );
        }
    }
}

/// The list request of `part` for `building` in `district`: the first
/// [`PAGE_SIZE`] items.
fn part_request(part: &Part, district: &str, building: &str) -> DynamicMessage {
    let mut input = DynamicMessage::new(part.rpc.input());
    let parent = match part.spec.parent {
        Parent::Building => building,
        Parent::District => district,
    };
    input.set_field_by_name("parent", Value::String(parent.to_owned()));
    input.set_field_by_name("page_size", Value::I32(PAGE_SIZE));
    let filter = match part.spec.filter {
        Filter::None => None,
        Filter::Fixed(filter) => Some(filter.to_owned()),
        Filter::Building("") => Some(format!("building = \"{building}\"")),
        Filter::Building(more) => Some(format!("building = \"{building}\" AND {more}")),
    };
    if let Some(filter) = filter {
        input.set_field_by_name("filter", Value::String(filter));
    }
    input
}

pub(super) fn json_of(message: &DynamicMessage) -> Result<Json, Status> {
    let bytes = to_json(message)?;
    serde_json::from_slice(&bytes).map_err(|_| Status::internal("内部错误 internal error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_path_names_a_building_and_nothing_else_does() {
        assert_eq!(
            building_of_page_path("/v1/districts/jingan/buildings/b-1/page"),
            Some((
                "districts/jingan".to_owned(),
                "districts/jingan/buildings/b-1".to_owned()
            ))
        );
        for path in [
            "/v1/districts/jingan/buildings/b-1",
            "/v1/districts/jingan/buildings/b%22/page",
            "/v1/districts/jingan/enterprises/e/page",
            "/v1/districts/jingan/buildings//page",
        ] {
            assert_eq!(building_of_page_path(path), None, "{path}");
        }
    }

    #[test]
    fn every_part_asks_for_its_first_page_of_the_building() {
        let pool = super::super::louyu_pool().unwrap();
        let page = BuildingPage::new(&pool, &[]).unwrap();
        for part in &page.parts {
            let input = part_request(part, "districts/d", "districts/d/buildings/b");
            let json = serde_json::to_value(&input).unwrap();
            assert_eq!(json["pageSize"], PAGE_SIZE, "{}", part.spec.key);
            let names_building = json["parent"] == "districts/d/buildings/b"
                || json["filter"].as_str().is_some_and(|filter| {
                    filter.starts_with("building = \"districts/d/buildings/b\"")
                });
            assert!(names_building, "{}: {json}", part.spec.key);
        }
    }
}
