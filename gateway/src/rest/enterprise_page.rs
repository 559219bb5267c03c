//! An enterprise's page, composed by the gateway like a building's
//! ([`super::page`]): `GET /v1/{name=districts/*/enterprises/*}/page`,
//! REST only.
//!
//! The enterprise (registry `GetEnterprise`) and every part are asked for
//! at once, with the caller's own `authorization`, so each owner applies
//! the caller's scope and masking: its tenancies (registry), its visits and
//! open demands (visits), its current assessment with its factors (risk),
//! its referrals and retention cases (referral); then the buildings of its
//! current tenancies (registry `GetBuilding`, each). The enterprise's own
//! refusal is the page's (NOT_FOUND is 404, as the registry answers a
//! caller out of scope). A part the caller may not read is left out and
//! named in `omitted` with its code; a part whose owner is down or too
//! slow is left out and named in `unavailable`. Each list is its first
//! page ([`PAGE_SIZE`]); a part with more is named in `truncated`.

use std::collections::BTreeSet;

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use serde_json::{Map, Value as Json, json};
use tonic::{Code, Status};

use super::page::{
    OPEN_DEMANDS, PAGE_SIZE, PAGE_SUFFIX, json_of, owner_of, page_method, refuse_routes_answering,
};
use super::routes::Route;
use super::{Inner, code_name, json_response, status_response};

/// What fills a part.
#[derive(Debug, Clone, Copy)]
enum Fill {
    /// A list of the district, filtered to the enterprise (and by this
    /// too when not empty), its items in the field `items`.
    List {
        items: &'static str,
        more: &'static str,
    },
    /// One resource, the enterprise's name with `suffix`.
    Get { suffix: &'static str },
}

struct PartSpec {
    key: &'static str,
    service: &'static str,
    method: &'static str,
    fill: Fill,
}

const PARTS: &[PartSpec] = &[
    PartSpec {
        key: "tenancies",
        service: "louyu.registry.v1.RegistryService",
        method: "ListTenancies",
        fill: Fill::List {
            items: "tenancies",
            more: "",
        },
    },
    PartSpec {
        key: "visits",
        service: "louyu.visits.v1.VisitsService",
        method: "ListVisits",
        fill: Fill::List {
            items: "visits",
            more: "",
        },
    },
    PartSpec {
        key: "demands",
        service: "louyu.visits.v1.VisitsService",
        method: "ListDemands",
        fill: Fill::List {
            items: "demands",
            more: OPEN_DEMANDS,
        },
    },
    PartSpec {
        key: "assessment",
        service: "louyu.risk.v1.RiskService",
        method: "GetAssessment",
        fill: Fill::Get {
            suffix: "/assessment",
        },
    },
    PartSpec {
        key: "referrals",
        service: "louyu.referral.v1.ReferralService",
        method: "ListReferrals",
        fill: Fill::List {
            items: "referrals",
            more: "",
        },
    },
    PartSpec {
        key: "retentionCases",
        service: "louyu.referral.v1.ReferralService",
        method: "ListRetentionCases",
        fill: Fill::List {
            items: "retention_cases",
            more: "",
        },
    },
];

struct Part {
    spec: &'static PartSpec,
    rpc: MethodDescriptor,
    owner: &'static str,
}

/// The enterprise page's calls, resolved once at start.
pub struct EnterprisePage {
    get_enterprise: MethodDescriptor,
    get_building: MethodDescriptor,
    parts: Vec<Part>,
}

/// `(district, enterprise)` of a page's path,
/// `/v1/districts/{district}/enterprises/{uscc}/page`: ids of letters,
/// digits, `-`, `_` and `.` only, so they go into a filter as they are.
pub fn enterprise_of_page_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/v1/")?.strip_suffix(PAGE_SUFFIX)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let [districts, district, enterprises, enterprise] = segments.as_slice() else {
        return None;
    };
    let id_like = |id: &str| {
        !id.is_empty()
            && id
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
    };
    if *districts != "districts"
        || *enterprises != "enterprises"
        || !id_like(district)
        || !id_like(enterprise)
    {
        return None;
    }
    Some((
        format!("districts/{district}"),
        format!("districts/{district}/enterprises/{enterprise}"),
    ))
}

fn method(pool: &DescriptorPool, service: &str, name: &str) -> anyhow::Result<MethodDescriptor> {
    page_method(pool, "the enterprise page", service, name)
}

/// How a part's answer lands on the page.
enum Outcome {
    Filled(Json),
    Omitted(Code),
    Unavailable(Code),
}

fn outcome_of(answer: Result<Json, Status>, key: &str) -> Outcome {
    match answer {
        Ok(json) => Outcome::Filled(json),
        Err(status) if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded) => {
            Outcome::Unavailable(status.code())
        }
        Err(status) => {
            if !matches!(status.code(), Code::PermissionDenied | Code::NotFound) {
                tracing::warn!(part = key, code = ?status.code(), "a part of an enterprise page was refused");
            }
            Outcome::Omitted(status.code())
        }
    }
}

impl EnterprisePage {
    /// The page's calls from `pool`; an error if a route of `routes` could
    /// answer the page's path too.
    pub fn new(pool: &DescriptorPool, routes: &[Route]) -> anyhow::Result<Self> {
        refuse_routes_answering(
            routes,
            &format!("/v1/districts/d/enterprises/e{PAGE_SUFFIX}"),
            "the enterprise page",
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
            get_enterprise: method(pool, "louyu.registry.v1.RegistryService", "GetEnterprise")?,
            get_building: method(pool, "louyu.registry.v1.RegistryService", "GetBuilding")?,
            parts,
        })
    }

    /// The page of `enterprise` (in `district`), as the caller whose
    /// headers are `headers` may see it.
    pub(super) async fn answer(
        &self,
        inner: &Inner,
        (district, enterprise): &(String, String),
        headers: &http::HeaderMap,
    ) -> http::Response<tonic::body::Body> {
        let get = named_request(&self.get_enterprise, enterprise.clone());
        let parts = self.parts.iter().map(|part| async move {
            let input = part_request(part, district, enterprise);
            let answer = inner
                .call(&part.rpc, headers, &input)
                .await
                .and_then(|message| json_of(&message));
            (part, answer)
        });
        let (read, answers) = tokio::join!(
            inner.call(&self.get_enterprise, headers, &get),
            futures::future::join_all(parts)
        );
        let enterprise_json = match read.and_then(|message| json_of(&message)) {
            Ok(json) => json,
            Err(status) => return status_response(&status),
        };
        let mut page = Map::new();
        page.insert("enterprise".to_owned(), enterprise_json);
        let (mut omitted, mut unavailable, mut truncated) = (Vec::new(), Vec::new(), Vec::new());
        let mut current_buildings = BTreeSet::new();
        for (part, answer) in answers {
            let key = part.spec.key;
            match outcome_of(answer, key) {
                Outcome::Filled(json) => {
                    let value = match part.spec.fill {
                        Fill::Get { .. } => json,
                        Fill::List { items, .. } => {
                            if json
                                .get("nextPageToken")
                                .and_then(Json::as_str)
                                .is_some_and(|token| !token.is_empty())
                            {
                                truncated.push(json!(key));
                            }
                            let items_field = part
                                .rpc
                                .output()
                                .get_field_by_name(items)
                                .map(|field| field.json_name().to_owned())
                                .unwrap_or_default();
                            json.get(&items_field).cloned().unwrap_or(json!([]))
                        }
                    };
                    if key == "tenancies" {
                        current_buildings = buildings_of_current_tenancies(&value);
                    }
                    page.insert(key.to_owned(), value);
                }
                Outcome::Unavailable(code) => unavailable
                    .push(json!({"part": key, "service": part.owner, "code": code_name(code)})),
                Outcome::Omitted(code) => {
                    omitted.push(json!({"part": key, "code": code_name(code)}));
                }
            }
        }
        // The buildings of its current tenancies, each as the caller may
        // read it: one the caller may not see is left out, and the part
        // named as omitted.
        if page.contains_key("tenancies") {
            let reads = current_buildings.into_iter().map(|building| async move {
                let get = named_request(&self.get_building, building);
                inner
                    .call(&self.get_building, headers, &get)
                    .await
                    .and_then(|message| json_of(&message))
            });
            let mut buildings = Vec::new();
            let mut refused = None;
            for answer in futures::future::join_all(reads).await {
                match outcome_of(answer, "buildings") {
                    Outcome::Filled(building) => buildings.push(building),
                    Outcome::Omitted(code) | Outcome::Unavailable(code) => {
                        refused.get_or_insert(code);
                    }
                }
            }
            match refused {
                Some(code @ (Code::Unavailable | Code::DeadlineExceeded)) => unavailable.push(
                    json!({"part": "buildings", "service": "registry", "code": code_name(code)}),
                ),
                Some(code) => omitted.push(json!({"part": "buildings", "code": code_name(code)})),
                None => {}
            }
            page.insert("buildings".to_owned(), Json::Array(buildings));
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

    /// The page's operation, for `/openapi.json`.
    pub fn add_to_openapi(&self, document: &mut Json) {
        let reference =
            |full_name: &str| json!({"$ref": format!("#/components/schemas/{full_name}")});
        let mut properties = Map::new();
        properties.insert(
            "enterprise".to_owned(),
            reference(self.get_enterprise.output().full_name()),
        );
        properties.insert(
            "buildings".to_owned(),
            json!({"type": "array", "items": reference(self.get_building.output().full_name())}),
        );
        for part in &self.parts {
            let schema = match part.spec.fill {
                Fill::Get { .. } => reference(part.rpc.output().full_name()),
                Fill::List { items, .. } => match part
                    .rpc
                    .output()
                    .get_field_by_name(items)
                    .map(|field| field.kind())
                {
                    Some(prost_reflect::Kind::Message(item)) => {
                        json!({"type": "array", "items": reference(item.full_name())})
                    }
                    _ => continue,
                },
            };
            properties.insert(part.spec.key.to_owned(), schema);
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
            "operationId": "Gateway.GetEnterprisePage",
            "tags": ["Gateway"],
            "summary": "An enterprise's page, composed from the registry, visits, risk and referral as the caller may see them; each list is its first page.",
            "parameters": [parameter("districtsId"), parameter("enterprisesId")],
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
                format!("/v1/districts/{{districtsId}}/enterprises/{{enterprisesId}}{PAGE_SUFFIX}"),
                json!({"get": operation}),
            );
        }
    }
}

fn named_request(rpc: &MethodDescriptor, name: String) -> DynamicMessage {
    let mut input = DynamicMessage::new(rpc.input());
    input.set_field_by_name("name", Value::String(name));
    input
}

/// The request of `part` for `enterprise` in `district`.
fn part_request(part: &Part, district: &str, enterprise: &str) -> DynamicMessage {
    match part.spec.fill {
        Fill::Get { suffix } => named_request(&part.rpc, format!("{enterprise}{suffix}")),
        Fill::List { more, .. } => {
            let mut input = DynamicMessage::new(part.rpc.input());
            input.set_field_by_name("parent", Value::String(district.to_owned()));
            input.set_field_by_name("page_size", Value::I32(PAGE_SIZE));
            let filter = if more.is_empty() {
                format!("enterprise = \"{enterprise}\"")
            } else {
                format!("enterprise = \"{enterprise}\" AND {more}")
            };
            input.set_field_by_name("filter", Value::String(filter));
            input
        }
    }
}

/// The buildings (`districts/{d}/buildings/{b}`) of the active tenancies in
/// `tenancies` (their JSON), each once.
fn buildings_of_current_tenancies(tenancies: &Json) -> BTreeSet<String> {
    tenancies
        .as_array()
        .into_iter()
        .flatten()
        .filter(|tenancy| tenancy["state"] == "TENANCY_STATE_ACTIVE")
        .filter_map(|tenancy| tenancy["unit"].as_str())
        .filter_map(|unit| {
            let segments: Vec<&str> = unit.split('/').collect();
            (segments.len() >= 4 && segments[2] == "buildings").then(|| segments[..4].join("/"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_path_names_an_enterprise_and_nothing_else_does() {
        assert_eq!(
            enterprise_of_page_path("/v1/districts/jingan/enterprises/91310000ABC/page"),
            Some((
                "districts/jingan".to_owned(),
                "districts/jingan/enterprises/91310000ABC".to_owned()
            ))
        );
        for path in [
            "/v1/districts/jingan/enterprises/e",
            "/v1/districts/jingan/enterprises/e%22/page",
            "/v1/districts/jingan/buildings/b/page",
            "/v1/districts/jingan/enterprises//page",
        ] {
            assert_eq!(enterprise_of_page_path(path), None, "{path}");
        }
    }

    #[test]
    fn every_part_asks_for_the_enterprise_and_its_first_page() {
        let pool = super::super::louyu_pool().unwrap();
        let page = EnterprisePage::new(&pool, &[]).unwrap();
        let enterprise = "districts/d/enterprises/E";
        for part in &page.parts {
            let json = serde_json::to_value(part_request(part, "districts/d", enterprise)).unwrap();
            match part.spec.fill {
                Fill::Get { .. } => {
                    assert_eq!(json["name"], "districts/d/enterprises/E/assessment")
                }
                Fill::List { .. } => {
                    assert_eq!(json["pageSize"], PAGE_SIZE, "{}", part.spec.key);
                    assert!(
                        json["filter"]
                            .as_str()
                            .unwrap()
                            .starts_with("enterprise = \"districts/d/enterprises/E\""),
                        "{json}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_buildings_are_those_of_active_tenancies_once_each() {
        let tenancies = json!([
            {"unit": "districts/d/buildings/b-1/units/101", "state": "TENANCY_STATE_ACTIVE"},
            {"unit": "districts/d/buildings/b-1/units/102", "state": "TENANCY_STATE_ACTIVE"},
            {"unit": "districts/d/buildings/b-2/units/101", "state": "TENANCY_STATE_ENDED"},
        ]);
        assert_eq!(
            buildings_of_current_tenancies(&tenancies)
                .into_iter()
                .collect::<Vec<_>>(),
            ["districts/d/buildings/b-1"]
        );
    }
}
