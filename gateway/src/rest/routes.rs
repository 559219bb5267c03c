//! The REST routes, read once at start from the `google.api.http` options of
//! the fronted services' methods in Louyu's descriptor pool, and the
//! matching of a request's method and path against them.
//!
//! Templates follow `google/api/http.proto`: literal segments, variables
//! `{field.path}` or `{field.path=pattern}` whose pattern is literals, `*`
//! (one segment) and a final `**` (the rest), and an optional `:verb`.
//! Additional bindings are not read yet. Two routes that could both match
//! one request are refused at start, so which one answers never depends on
//! their order.

use prost_reflect::{DescriptorPool, MethodDescriptor, Value};

/// Where a REST request's body goes in the gRPC request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// No body (GET, DELETE): every field not in the path is a query
    /// parameter.
    None,
    /// `body: "*"`: the body is the whole request, less the path's fields.
    Whole,
    /// `body: "<field>"`: the body is that field (its proto name).
    Field(String),
}

/// One REST route: an HTTP method and path template bound to a gRPC method.
#[derive(Debug, Clone)]
pub struct Route {
    pub http_method: http::Method,
    pub template: PathTemplate,
    pub body: RequestBody,
    pub rpc: MethodDescriptor,
}

impl Route {
    /// `/<service>/<method>`, the path of the gRPC call.
    pub fn grpc_path(&self) -> String {
        grpc_path(&self.rpc)
    }
}

/// `/<service>/<method>`, the path of a gRPC call of `rpc`.
pub fn grpc_path(rpc: &MethodDescriptor) -> String {
    format!("/{}/{}", rpc.parent_service().full_name(), rpc.name())
}

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: every remaining segment (last in a template only).
    Rest,
}

/// A variable of a template: the request field it fills (proto names, outer
/// first) and the segments, `start..end`, whose text it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub field_path: Vec<String>,
    pub start: usize,
    pub end: usize,
}

/// A parsed `google.api.http` path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// As declared, e.g. `/v1/{name=districts/*/buildings/*}`.
    pub text: String,
    pub segments: Vec<Segment>,
    pub variables: Vec<Variable>,
    pub verb: Option<String>,
}

/// Why the routes in the protos cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("{method}: bad google.api.http path template {template:?}: {reason}")]
    BadTemplate {
        method: String,
        template: String,
        reason: &'static str,
    },
    #[error(
        "{first} ({http_method} {first_template}) and {second} ({http_method} {second_template}) \
         could both match one request"
    )]
    Ambiguous {
        http_method: http::Method,
        first: String,
        first_template: String,
        second: String,
        second_template: String,
    },
}

impl PathTemplate {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let path = text
            .strip_prefix('/')
            .ok_or("the template must start with /")?;
        // The verb is after the last ':' outside a variable.
        let mut depth = 0;
        let mut verb_at = None;
        for (index, character) in path.char_indices() {
            match character {
                '{' => depth += 1,
                '}' => depth -= 1,
                ':' if depth == 0 => verb_at = Some(index),
                _ => {}
            }
        }
        let (path, verb) = match verb_at {
            Some(index) => (&path[..index], Some(path[index + 1..].to_owned())),
            None => (path, None),
        };
        let mut parts = Vec::new();
        let mut current = String::new();
        depth = 0;
        for character in path.chars() {
            match character {
                '{' => depth += 1,
                '}' => depth -= 1,
                '/' if depth == 0 => {
                    parts.push(std::mem::take(&mut current));
                    continue;
                }
                _ => {}
            }
            current.push(character);
        }
        parts.push(current);
        let mut segments = Vec::new();
        let mut variables = Vec::new();
        for part in parts {
            if let Some(inner) = part.strip_prefix('{') {
                let inner = inner.strip_suffix('}').ok_or("an unclosed variable")?;
                let (field, pattern) = inner.split_once('=').unwrap_or((inner, "*"));
                let start = segments.len();
                for piece in pattern.split('/') {
                    segments.push(segment_of(piece)?);
                }
                variables.push(Variable {
                    field_path: field.split('.').map(str::to_owned).collect(),
                    start,
                    end: segments.len(),
                });
            } else {
                segments.push(segment_of(&part)?);
            }
        }
        if segments[..segments.len() - 1].contains(&Segment::Rest) {
            return Err("** may only end a template");
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
            variables,
            verb,
        })
    }

    /// The variables' values when `path` (percent-decoded per segment)
    /// matches, as (field path, value).
    pub fn match_path(&self, path: &str) -> Option<Vec<(Vec<String>, String)>> {
        let path = path.strip_prefix('/')?;
        let path = match &self.verb {
            Some(verb) => path.strip_suffix(verb.as_str())?.strip_suffix(':')?,
            None => path,
        };
        let pieces: Vec<String> = path.split('/').map(percent_decode).collect();
        if self.verb.is_none() && pieces.last().is_some_and(|last| last.contains(':')) {
            // A custom method's path, not a resource's.
            return None;
        }
        // Where each template segment's text ends in `pieces`.
        let mut ends = Vec::with_capacity(self.segments.len());
        let mut at = 0;
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => {
                    if pieces.get(at)? != literal {
                        return None;
                    }
                    at += 1;
                }
                Segment::One => {
                    if pieces.get(at)?.is_empty() {
                        return None;
                    }
                    at += 1;
                }
                Segment::Rest => {
                    if at >= pieces.len() {
                        return None;
                    }
                    at = pieces.len();
                }
            }
            ends.push(at);
        }
        if at != pieces.len() {
            return None;
        }
        let begin_of = |segment: usize| if segment == 0 { 0 } else { ends[segment - 1] };
        Some(
            self.variables
                .iter()
                .map(|variable| {
                    let value = pieces[begin_of(variable.start)..ends[variable.end - 1]].join("/");
                    (variable.field_path.clone(), value)
                })
                .collect(),
        )
    }
}

impl PathTemplate {
    /// Whether some path matches both `self` and `other`: the same verb
    /// (none matches no path whose last segment has a `:`), and segment by
    /// segment, equal literals or a wildcard on either side.
    pub fn overlaps(&self, other: &PathTemplate) -> bool {
        self.verb == other.verb && segments_overlap(&self.segments, &other.segments)
    }
}

fn segments_overlap(left: &[Segment], right: &[Segment]) -> bool {
    match (left.split_first(), right.split_first()) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        // `**` takes one segment or more, and so does any non-empty rest.
        (Some((Segment::Rest, _)), Some(_)) | (Some(_), Some((Segment::Rest, _))) => true,
        (
            Some((Segment::Literal(first), left_rest)),
            Some((Segment::Literal(second), right_rest)),
        ) => first == second && segments_overlap(left_rest, right_rest),
        (Some((_, left_rest)), Some((_, right_rest))) => segments_overlap(left_rest, right_rest),
    }
}

/// The first two routes, by their order in `routes`, that share an HTTP
/// method and could both match one path.
fn first_ambiguity(routes: &[Route]) -> Option<(&Route, &Route)> {
    routes.iter().enumerate().find_map(|(index, first)| {
        routes[index + 1..]
            .iter()
            .find(|second| {
                first.http_method == second.http_method && first.template.overlaps(&second.template)
            })
            .map(|second| (first, second))
    })
}

fn segment_of(piece: &str) -> Result<Segment, &'static str> {
    match piece {
        "" => Err("an empty segment"),
        "*" => Ok(Segment::One),
        "**" => Ok(Segment::Rest),
        literal => Ok(Segment::Literal(literal.to_owned())),
    }
}

/// `%xx` decoded; a malformed escape is kept as written.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(byte) = text
                .get(index + 1..index + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            decoded.push(byte);
            index += 3;
            continue;
        }
        decoded.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The routes of every method of `services` that has a `google.api.http`
/// option, sorted by template then HTTP method; refused when two of them
/// could both match one request.
pub fn routes_of(pool: &DescriptorPool, services: &[&str]) -> Result<Vec<Route>, RouteError> {
    let Some(http_option) = pool.get_extension_by_name("google.api.http") else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for service_name in services {
        let Some(service) = pool.get_service_by_name(service_name) else {
            continue;
        };
        for rpc in service.methods() {
            let options = rpc.options();
            if !options.has_extension(&http_option) {
                continue;
            }
            let Value::Message(rule) = options.get_extension(&http_option).into_owned() else {
                continue;
            };
            let text_of = |name: &str| match rule.get_field_by_name(name).as_deref() {
                Some(Value::String(text)) => text.clone(),
                _ => String::new(),
            };
            let (http_method, template) = [
                (http::Method::GET, "get"),
                (http::Method::PUT, "put"),
                (http::Method::POST, "post"),
                (http::Method::DELETE, "delete"),
                (http::Method::PATCH, "patch"),
            ]
            .into_iter()
            .map(|(method, field)| (method, text_of(field)))
            .find(|(_, template)| !template.is_empty())
            .ok_or_else(|| RouteError::BadTemplate {
                method: rpc.full_name().to_owned(),
                template: String::new(),
                reason: "no get, put, post, delete or patch (custom is not read yet)",
            })?;
            let template =
                PathTemplate::parse(&template).map_err(|reason| RouteError::BadTemplate {
                    method: rpc.full_name().to_owned(),
                    template: template.clone(),
                    reason,
                })?;
            let body = match text_of("body").as_str() {
                "" => RequestBody::None,
                "*" => RequestBody::Whole,
                field => RequestBody::Field(field.to_owned()),
            };
            routes.push(Route {
                http_method,
                template,
                body,
                rpc,
            });
        }
    }
    routes.sort_by(|left, right| {
        (&left.template.text, left.http_method.as_str())
            .cmp(&(&right.template.text, right.http_method.as_str()))
    });
    if let Some((first, second)) = first_ambiguity(&routes) {
        return Err(RouteError::Ambiguous {
            http_method: first.http_method.clone(),
            first: first.rpc.full_name().to_owned(),
            first_template: first.template.text.clone(),
            second: second.rpc.full_name().to_owned(),
            second_template: second.template.text.clone(),
        });
    }
    Ok(routes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(template: &str, path: &str) -> Option<Vec<(String, String)>> {
        PathTemplate::parse(template)
            .unwrap()
            .match_path(path)
            .map(|values| {
                values
                    .into_iter()
                    .map(|(field, value)| (field.join("."), value))
                    .collect()
            })
    }

    #[test]
    fn a_variable_takes_the_segments_of_its_pattern() {
        assert_eq!(
            matched(
                "/v1/{name=districts/*/buildings/*}",
                "/v1/districts/jingan/buildings/b-1"
            ),
            Some(vec![(
                "name".to_owned(),
                "districts/jingan/buildings/b-1".to_owned()
            )])
        );
        assert_eq!(
            matched(
                "/v1/{building.name=districts/*/buildings/*}",
                "/v1/districts/jingan/buildings/%E9%9D%99"
            ),
            Some(vec![(
                "building.name".to_owned(),
                "districts/jingan/buildings/静".to_owned()
            )])
        );
        assert_eq!(
            matched(
                "/v1/{parent=districts/*}/buildings",
                "/v1/districts/jingan/buildings"
            ),
            Some(vec![("parent".to_owned(), "districts/jingan".to_owned())])
        );
    }

    #[test]
    fn a_path_of_another_shape_or_verb_does_not_match() {
        let get = "/v1/{name=districts/*/buildings/*}";
        assert_eq!(matched(get, "/v1/districts/jingan/buildings"), None);
        assert_eq!(matched(get, "/v1/districts/jingan/buildings/b/units"), None);
        assert_eq!(matched(get, "/v1/districts/jingan/buildings/b:move"), None);
        assert_eq!(matched(get, "/v1/districts/jingan/buildings/"), None);
        let custom = "/v1/{name=districts/*/tenancies/*}:end";
        assert_eq!(
            matched(custom, "/v1/districts/d/tenancies/t:end"),
            Some(vec![(
                "name".to_owned(),
                "districts/d/tenancies/t".to_owned()
            )])
        );
        assert_eq!(matched(custom, "/v1/districts/d/tenancies/t"), None);
        assert_eq!(matched(custom, "/v1/districts/d/tenancies/t:move"), None);
    }

    #[test]
    fn a_double_wildcard_takes_the_rest() {
        assert_eq!(
            matched("/v1/{name=operations/**}", "/v1/operations/a/b/c"),
            Some(vec![("name".to_owned(), "operations/a/b/c".to_owned())])
        );
        assert!(PathTemplate::parse("/v1/{name=**/x}").is_err());
    }

    fn overlap(first: &str, second: &str) -> bool {
        let first = PathTemplate::parse(first).unwrap();
        let second = PathTemplate::parse(second).unwrap();
        assert_eq!(first.overlaps(&second), second.overlaps(&first));
        first.overlaps(&second)
    }

    #[test]
    fn templates_overlap_when_one_path_could_match_both() {
        let building = "/v1/{name=districts/*/buildings/*}";
        assert!(overlap(building, building));
        assert!(overlap(building, "/v1/{parent=districts/*}/buildings/{id}"));
        assert!(overlap(building, "/v1/districts/jingan/{name=*/*}"));
        assert!(overlap("/v1/{name=operations/**}", "/v1/operations/{id}/x"));
        assert!(!overlap(building, "/v1/{name=districts/*/staff/*}"));
        assert!(!overlap(building, "/v1/{parent=districts/*}/buildings"));
        assert!(!overlap(
            building,
            "/v1/{name=districts/*/buildings/*}:move"
        ));
        assert!(!overlap(
            "/v1/{name=districts/*/buildings/*}:move",
            "/v1/{name=districts/*/buildings/*}:end"
        ));
        assert!(!overlap("/v1/{name=operations/**}", "/v1/operations"));
    }

    #[test]
    fn two_routes_of_one_method_that_could_match_one_path_are_ambiguous() {
        let pool = crate::rest::louyu_pool().unwrap();
        let registry = pool
            .get_service_by_name("louyu.registry.v1.RegistryService")
            .unwrap();
        let route = |rpc: &str, http_method: http::Method, template: &str| Route {
            http_method,
            template: PathTemplate::parse(template).unwrap(),
            body: RequestBody::None,
            rpc: registry
                .methods()
                .find(|method| method.name() == rpc)
                .unwrap(),
        };
        let get_building = route(
            "GetBuilding",
            http::Method::GET,
            "/v1/{name=districts/*/buildings/*}",
        );
        let get_unit_clash = route("GetUnit", http::Method::GET, "/v1/{name=districts/*/*/*}");
        let delete_unit = route(
            "GetUnit",
            http::Method::DELETE,
            "/v1/{name=districts/*/*/*}",
        );
        let routes = [get_building.clone(), delete_unit.clone()];
        assert!(first_ambiguity(&routes).is_none());
        let routes = [get_building, delete_unit, get_unit_clash];
        let (first, second) = first_ambiguity(&routes).expect("an ambiguity");
        assert_eq!(
            (first.rpc.name(), second.rpc.name()),
            ("GetBuilding", "GetUnit")
        );
        assert_eq!(second.http_method, http::Method::GET);
    }
}
