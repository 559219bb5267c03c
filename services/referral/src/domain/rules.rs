//! A district's referral rules: where each category of demand goes, the
//! three deadlines in working days, and the working-day calendar. One TOML
//! document per district, versioned (`rules/default.toml` is the annotated
//! default; docs/referral.md explains it).
//!
//! [`Rules::parse`] validates the whole document once, naming the first
//! thing wrong; past it, every route names a known category and at least
//! one department, deadlines are whole working days within bounds, and the
//! calendar's dates lie in their year.

use std::collections::{BTreeMap, BTreeSet};

use louyu_proto::common::v1::{DemandCategory, RiskColour};
use louyu_proto::registry::v1::DepartmentKind;
use louyu_proto::visits::v1::Urgency;
use serde::Deserialize;
use time::{Date, Weekday};

use super::calendar::{Calendar, Year};
use super::scorecard::Formula;

/// The longest deadline a rule may set, in working days (a quarter).
const MAX_DAYS: u32 = 60;

const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");

/// A district's validated rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    version: String,
    deadlines: Deadlines,
    routes: Vec<Route>,
    calendar: Calendar,
    /// The retention playbook: the response to orange, and to red.
    orange: Response,
    red: Response,
    scorecard: Formula,
}

/// What a retention case of one colour asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// What to do, in Chinese and English.
    pub text: String,
    /// Who acts, the lead first.
    pub targets: Vec<Target>,
    /// When it is due after the colour changed.
    pub within: Within,
}

/// A response's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    Hours(u32),
    WorkingDays(u32),
}

/// The deadlines, in working days from dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Deadlines {
    standard: Days,
    second_round: u32,
    max_complete: u32,
    exceptions: Vec<Exception>,
}

/// The working days each clock allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    pub accept: u32,
    pub first_contact: u32,
    pub complete: u32,
}

/// Other deadlines for a category, an urgency, an enterprise's colour, or
/// several.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Exception {
    category: Option<DemandCategory>,
    urgency: Option<Urgency>,
    colour: Option<RiskColour>,
    accept: Option<u32>,
    first_contact: Option<u32>,
    complete: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    category: DemandCategory,
    /// Sub-district ids it applies to; empty for every one.
    sub_districts: Vec<String>,
    /// The lead first.
    targets: Vec<Target>,
}

/// A department a route names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The directory's department of this kind that serves the building's
    /// sub-district.
    Kind(DepartmentKind),
    /// One department, by id.
    Department(String),
}

/// A department of the registry's directory, as routing needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub id: String,
    pub kind: DepartmentKind,
    pub categories: Vec<DemandCategory>,
    /// Sub-district ids it serves; empty for the whole district.
    pub jurisdiction: Vec<String>,
}

impl DirectoryEntry {
    fn serves(&self, sub_district: &str) -> bool {
        self.jurisdiction.is_empty() || self.jurisdiction.iter().any(|id| id == sub_district)
    }
}

/// What is wrong with a rules document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RulesError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: String,
    deadlines: RawDeadlines,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    calendar: BTreeMap<String, RawYear>,
    retention: RawRetention,
    scorecard: RawScorecard,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScorecard {
    response_weight: f64,
    resolution_weight: f64,
    satisfaction_weight: f64,
    minimum_sample: u32,
    satisfied_at_least: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    orange: RawResponse,
    red: RawResponse,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResponse {
    response: String,
    departments: Vec<RawTarget>,
    within_hours: Option<u32>,
    within_working_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadlines {
    accept: u32,
    first_contact: u32,
    complete: u32,
    second_round: u32,
    max_complete: u32,
    #[serde(default)]
    exceptions: Vec<RawException>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    category: Option<String>,
    urgency: Option<String>,
    colour: Option<String>,
    accept: Option<u32>,
    first_contact: Option<u32>,
    complete: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    category: String,
    #[serde(default)]
    sub_districts: Vec<String>,
    departments: Vec<RawTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    kind: Option<String>,
    department: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawYear {
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    working_weekends: Vec<String>,
}

fn invalid(message: String) -> RulesError {
    RulesError(message)
}

/// `office_space` → [`DemandCategory::OfficeSpace`].
pub fn parse_category(name: &str) -> Option<DemandCategory> {
    DemandCategory::from_str_name(&format!("DEMAND_CATEGORY_{}", name.to_ascii_uppercase()))
        .filter(|category| *category != DemandCategory::Unspecified)
}

/// [`DemandCategory::OfficeSpace`] → `office_space`.
pub fn category_name(category: DemandCategory) -> String {
    category
        .as_str_name()
        .trim_start_matches("DEMAND_CATEGORY_")
        .to_ascii_lowercase()
}

fn parse_kind(name: &str) -> Option<DepartmentKind> {
    DepartmentKind::from_str_name(&format!("DEPARTMENT_KIND_{}", name.to_ascii_uppercase()))
        .filter(|kind| *kind != DepartmentKind::Unspecified)
}

fn parse_urgency(name: &str) -> Option<Urgency> {
    Urgency::from_str_name(&format!("URGENCY_{}", name.to_ascii_uppercase()))
        .filter(|urgency| *urgency != Urgency::Unspecified)
}

fn names_of<E>(all: &[E], name: impl Fn(&E) -> &'static str, prefix: &str) -> String {
    all.iter()
        .map(|value| name(value).trim_start_matches(prefix).to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn category_names() -> String {
    let all: Vec<DemandCategory> = (1..=10)
        .filter_map(|number| DemandCategory::try_from(number).ok())
        .collect();
    names_of(&all, DemandCategory::as_str_name, "DEMAND_CATEGORY_")
}

fn kind_names() -> String {
    let all: Vec<DepartmentKind> = (1..=7)
        .filter_map(|number| DepartmentKind::try_from(number).ok())
        .collect();
    names_of(&all, DepartmentKind::as_str_name, "DEPARTMENT_KIND_")
}

fn days(field: &str, value: u32) -> Result<u32, RulesError> {
    if (1..=MAX_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(format!(
            "{field} 须为1到{MAX_DAYS}个工作日 must be 1 to {MAX_DAYS} working days, not {value}"
        )))
    }
}

fn date_in(field: &str, text: &str, year: i32) -> Result<Date, RulesError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(text, format).map_err(|_| {
        invalid(format!(
            "{field}: \"{text}\" 不是日期 is not a date (YYYY-MM-DD)"
        ))
    })?;
    if date.year() != year {
        return Err(invalid(format!(
            "{field}: {text} 不在 {year} 年 is not in {year}"
        )));
    }
    Ok(date)
}

impl RawRules {
    fn validate(self) -> Result<Rules, RulesError> {
        let version = self.version.trim().to_owned();
        if version.is_empty() || version.len() > 100 || version.chars().any(char::is_control) {
            return Err(invalid(
                "version 须为1到100个字符 must be 1 to 100 characters".to_owned(),
            ));
        }
        let raw = self.deadlines;
        let standard = Days {
            accept: days("deadlines.accept", raw.accept)?,
            first_contact: days("deadlines.first_contact", raw.first_contact)?,
            complete: days("deadlines.complete", raw.complete)?,
        };
        let second_round = days("deadlines.second_round", raw.second_round)?;
        let max_complete = days("deadlines.max_complete", raw.max_complete)?;
        let mut exceptions = Vec::new();
        for (index, exception) in raw.exceptions.into_iter().enumerate() {
            let field = format!("deadlines.exceptions[{index}]");
            let category = exception
                .category
                .map(|name| {
                    parse_category(&name).ok_or_else(|| {
                        invalid(format!(
                            "{field}.category: 未知类别 unknown category \"{name}\"; one of {}",
                            category_names()
                        ))
                    })
                })
                .transpose()?;
            let urgency = exception
                .urgency
                .map(|name| {
                    parse_urgency(&name).ok_or_else(|| {
                        invalid(format!(
                            "{field}.urgency: 未知紧急程度 unknown urgency \"{name}\"; one of low, normal, high, critical"
                        ))
                    })
                })
                .transpose()?;
            let colour = exception
                .colour
                .map(|name| {
                    RiskColour::from_str_name(&format!("RISK_COLOUR_{}", name.to_ascii_uppercase()))
                        .filter(|colour| *colour != RiskColour::Unspecified)
                        .ok_or_else(|| {
                            invalid(format!(
                                "{field}.colour: 未知颜色 unknown colour \"{name}\"; one of green, blue, yellow, orange, red"
                            ))
                        })
                })
                .transpose()?;
            if category.is_none() && urgency.is_none() && colour.is_none() {
                return Err(invalid(format!(
                    "{field}: 须指定 category、urgency 或 colour must name a category, an urgency or a colour"
                )));
            }
            let check = |name: &str, value: Option<u32>| {
                value
                    .map(|value| days(&format!("{field}.{name}"), value))
                    .transpose()
            };
            exceptions.push(Exception {
                category,
                urgency,
                colour,
                accept: check("accept", exception.accept)?,
                first_contact: check("first_contact", exception.first_contact)?,
                complete: check("complete", exception.complete)?,
            });
        }
        let deadlines = Deadlines {
            standard,
            second_round,
            max_complete,
            exceptions,
        };
        let mut routes = Vec::new();
        for (index, route) in self.routes.into_iter().enumerate() {
            let field = format!("routes[{index}]");
            let category = parse_category(&route.category).ok_or_else(|| {
                invalid(format!(
                    "{field}.category: 未知类别 unknown category \"{}\"; one of {}",
                    route.category,
                    category_names()
                ))
            })?;
            let targets = parse_targets(&field, route.departments)?;
            let sub_districts = route
                .sub_districts
                .iter()
                .map(|name| {
                    name.rsplit_once("/subDistricts/")
                        .map(|(_, id)| id.to_owned())
                        .filter(|id| !id.is_empty() && !id.contains('/'))
                        .ok_or_else(|| {
                            invalid(format!(
                                "{field}.sub_districts: \"{name}\" 须为 must be districts/<d>/subDistricts/<id>"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            routes.push(Route {
                category,
                sub_districts,
                targets,
            });
        }
        let mut years = BTreeMap::new();
        for (key, raw) in self.calendar {
            let year: i32 = key
                .parse()
                .ok()
                .filter(|year| (2000..=2100).contains(year))
                .ok_or_else(|| {
                    invalid(format!(
                        "calendar.{key}: 须为年份 must be a year, e.g. [calendar.2026]"
                    ))
                })?;
            let mut entry = Year::default();
            for text in &raw.holidays {
                entry
                    .holidays
                    .insert(date_in(&format!("calendar.{year}.holidays"), text, year)?);
            }
            for text in &raw.working_weekends {
                let date = date_in(&format!("calendar.{year}.working_weekends"), text, year)?;
                if !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
                    return Err(invalid(format!(
                        "calendar.{year}.working_weekends: {text} 不是周末 is not a Saturday or Sunday"
                    )));
                }
                entry.working_weekends.insert(date);
            }
            let both: BTreeSet<_> = entry
                .holidays
                .intersection(&entry.working_weekends)
                .collect();
            if let Some(date) = both.first() {
                return Err(invalid(format!(
                    "calendar.{year}: {date} 既是假日又是调休上班日 is both a holiday and a working weekend"
                )));
            }
            years.insert(year, entry);
        }
        let raw = self.scorecard;
        let weights = [
            ("response_weight", raw.response_weight),
            ("resolution_weight", raw.resolution_weight),
            ("satisfaction_weight", raw.satisfaction_weight),
        ];
        for (name, weight) in weights {
            if !(0.0..=1.0).contains(&weight) {
                return Err(invalid(format!(
                    "scorecard.{name} 须在0到1之间 must be 0 to 1, not {weight}"
                )));
            }
        }
        if weights.iter().map(|(_, weight)| weight).sum::<f64>() <= 0.0 {
            return Err(invalid(
                "scorecard: 权重之和须大于0 the weights must not all be 0".to_owned(),
            ));
        }
        if !(1..=10_000).contains(&raw.minimum_sample) {
            return Err(invalid(
                "scorecard.minimum_sample 须为1到10000 must be 1 to 10000".to_owned(),
            ));
        }
        if !(1..=5).contains(&raw.satisfied_at_least) {
            return Err(invalid(
                "scorecard.satisfied_at_least 须为1到5 must be 1 to 5".to_owned(),
            ));
        }
        let scorecard = Formula {
            response_weight: raw.response_weight,
            resolution_weight: raw.resolution_weight,
            satisfaction_weight: raw.satisfaction_weight,
            minimum_sample: raw.minimum_sample,
            satisfied_at_least: raw.satisfied_at_least,
        };
        let orange = self.retention.orange.validate("retention.orange")?;
        let red = self.retention.red.validate("retention.red")?;
        Ok(Rules {
            version,
            deadlines,
            routes,
            calendar: Calendar::new(years),
            orange,
            red,
            scorecard,
        })
    }
}

/// The departments a route or a response names, the lead first.
fn parse_targets(field: &str, departments: Vec<RawTarget>) -> Result<Vec<Target>, RulesError> {
    if departments.is_empty() {
        return Err(invalid(format!(
            "{field}.departments: 至少一个部门 needs at least one department"
        )));
    }
    let mut targets = Vec::new();
    for (position, target) in departments.into_iter().enumerate() {
        let field = format!("{field}.departments[{position}]");
        targets.push(match (target.kind, target.department) {
            (Some(kind), None) => Target::Kind(parse_kind(&kind).ok_or_else(|| {
                invalid(format!(
                    "{field}.kind: 未知部门类型 unknown kind \"{kind}\"; one of {}",
                    kind_names()
                ))
            })?),
            (None, Some(name)) => Target::Department(department_id(&field, &name)?),
            _ => {
                return Err(invalid(format!(
                    "{field}: 须指定 kind 或 department 之一 must give exactly one of kind or department"
                )));
            }
        });
    }
    Ok(targets)
}

impl RawResponse {
    fn validate(self, field: &str) -> Result<Response, RulesError> {
        let text = self.response.trim().to_owned();
        if text.is_empty() || text.chars().count() > 500 {
            return Err(invalid(format!(
                "{field}.response 须为1到500个字符 must be 1 to 500 characters"
            )));
        }
        let within = match (self.within_hours, self.within_working_days) {
            (Some(hours), None) if (1..=24 * 30).contains(&hours) => Within::Hours(hours),
            (None, Some(count)) => {
                Within::WorkingDays(days(&format!("{field}.within_working_days"), count)?)
            }
            _ => {
                return Err(invalid(format!(
                    "{field}: 须指定 within_hours（1到720）或 within_working_days 之一 must give exactly one of within_hours (1 to 720) or within_working_days"
                )));
            }
        };
        Ok(Response {
            text,
            targets: parse_targets(field, self.departments)?,
            within,
        })
    }
}

fn department_id(field: &str, name: &str) -> Result<String, RulesError> {
    name.rsplit_once("/departments/")
        .map(|(_, id)| id.to_owned())
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| {
            invalid(format!(
                "{field}.department: \"{name}\" 须为 must be districts/<d>/departments/<id>"
            ))
        })
}

impl Rules {
    /// Reads and validates a rules document.
    pub fn parse(toml_text: &str) -> Result<Rules, RulesError> {
        let raw: RawRules = toml::from_str(toml_text)
            .map_err(|error| invalid(error.to_string().trim().to_owned()))?;
        raw.validate()
    }

    /// The rules shipped with Louyu (`rules/default.toml`).
    pub fn default_rules() -> Rules {
        Rules::parse(DEFAULT_RULES).expect("rules/default.toml is valid (tested)")
    }

    /// The shipped document, comments and all.
    pub fn default_document() -> &'static str {
        DEFAULT_RULES
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    /// The working days of each clock for a demand of `category` and
    /// `urgency` of an enterprise of `colour`: the standard ones, changed
    /// by each matching exception in turn.
    pub fn days_for(&self, category: DemandCategory, urgency: Urgency, colour: RiskColour) -> Days {
        let mut days = self.deadlines.standard;
        for exception in &self.deadlines.exceptions {
            let matches = exception.category.is_none_or(|wanted| wanted == category)
                && exception.urgency.is_none_or(|wanted| wanted == urgency)
                && exception.colour.is_none_or(|wanted| wanted == colour);
            if matches {
                days.accept = exception.accept.unwrap_or(days.accept);
                days.first_contact = exception.first_contact.unwrap_or(days.first_contact);
                days.complete = exception.complete.unwrap_or(days.complete);
            }
        }
        days
    }

    /// Working days a second round allows.
    pub fn second_round_days(&self) -> u32 {
        self.deadlines.second_round
    }

    /// The most working days completion may take with extensions.
    pub fn max_complete_days(&self) -> u32 {
        self.deadlines.max_complete
    }

    /// The scorecard's formula.
    pub fn scorecard(&self) -> &Formula {
        &self.scorecard
    }

    /// The retention playbook's response to `colour`: orange or red; none
    /// for the others.
    pub fn response_to(&self, colour: louyu_proto::common::v1::RiskColour) -> Option<&Response> {
        use louyu_proto::common::v1::RiskColour;
        match colour {
            RiskColour::Orange => Some(&self.orange),
            RiskColour::Red => Some(&self.red),
            _ => None,
        }
    }

    /// The departments of `targets` in `directory` serving `sub_district`,
    /// the lead first; targets that resolve to nothing are left out.
    pub fn resolve(
        targets: &[Target],
        sub_district: &str,
        directory: &[DirectoryEntry],
    ) -> Vec<String> {
        resolve_targets(
            targets,
            DemandCategory::Unspecified,
            sub_district,
            directory,
        )
    }

    /// The departments a demand of `category` in `sub_district` goes to,
    /// the lead first, from `directory`: the first route of the category
    /// for that sub-district (or for all), each target resolved in the
    /// directory; targets that resolve to nothing are left out. With no
    /// route, or none resolving, the directory's departments that list the
    /// category and serve the sub-district. Empty: nobody matches.
    pub fn route(
        &self,
        category: DemandCategory,
        sub_district: &str,
        directory: &[DirectoryEntry],
    ) -> Vec<String> {
        let route = self.routes.iter().find(|route| {
            route.category == category
                && (route.sub_districts.is_empty()
                    || route.sub_districts.iter().any(|id| id == sub_district))
        });
        let mut chosen = match route {
            Some(route) => resolve_targets(&route.targets, category, sub_district, directory),
            None => Vec::new(),
        };
        if chosen.is_empty() {
            let mut handlers: Vec<&DirectoryEntry> = directory
                .iter()
                .filter(|entry| entry.categories.contains(&category) && entry.serves(sub_district))
                .collect();
            handlers.sort_by_key(|entry| (entry.jurisdiction.is_empty(), entry.id.clone()));
            chosen.extend(handlers.into_iter().map(|entry| entry.id.clone()));
        }
        chosen
    }
}

/// Each target resolved in the directory, the lead first; targets that
/// resolve to nothing are left out.
fn resolve_targets(
    targets: &[Target],
    category: DemandCategory,
    sub_district: &str,
    directory: &[DirectoryEntry],
) -> Vec<String> {
    let mut chosen: Vec<String> = Vec::new();
    for target in targets {
        let found = match target {
            Target::Department(id) => directory
                .iter()
                .find(|entry| &entry.id == id)
                .map(|entry| entry.id.clone()),
            Target::Kind(kind) => resolve_kind(*kind, category, sub_district, directory),
        };
        if let Some(id) = found
            && !chosen.contains(&id)
        {
            chosen.push(id);
        }
    }
    chosen
}

/// The department of `kind` serving `sub_district`: one that names the
/// sub-district before one serving the whole district, one that lists the
/// category before one that does not, then by id.
fn resolve_kind(
    kind: DepartmentKind,
    category: DemandCategory,
    sub_district: &str,
    directory: &[DirectoryEntry],
) -> Option<String> {
    directory
        .iter()
        .filter(|entry| entry.kind == kind && entry.serves(sub_district))
        .min_by_key(|entry| {
            (
                entry.jurisdiction.is_empty(),
                !entry.categories.contains(&category),
                entry.id.clone(),
            )
        })
        .map(|entry| entry.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, kind: DepartmentKind, jurisdiction: &[&str]) -> DirectoryEntry {
        DirectoryEntry {
            id: id.to_owned(),
            kind,
            categories: Vec::new(),
            jurisdiction: jurisdiction.iter().map(|id| (*id).to_owned()).collect(),
        }
    }

    fn directory() -> Vec<DirectoryEntry> {
        vec![
            entry(
                "jingansi-office",
                DepartmentKind::SubDistrictOffice,
                &["jingansi"],
            ),
            entry(
                "nanjingxilu-office",
                DepartmentKind::SubDistrictOffice,
                &["nanjingxilu"],
            ),
            entry("investment", DepartmentKind::DistrictInvestmentOffice, &[]),
            entry("tax", DepartmentKind::Tax, &[]),
        ]
    }

    #[test]
    fn the_shipped_rules_parse() {
        let rules = Rules::default_rules();
        assert_eq!(rules.version(), "2026-11-default-1");
        assert_eq!(rules.second_round_days(), 3);
        assert_eq!(rules.max_complete_days(), 15);
    }

    #[test]
    fn office_space_goes_to_the_buildings_sub_district_office_leading_and_the_investment_office() {
        let rules = Rules::default_rules();
        assert_eq!(
            rules.route(DemandCategory::OfficeSpace, "nanjingxilu", &directory()),
            vec!["nanjingxilu-office", "investment"]
        );
        assert_eq!(
            rules.route(DemandCategory::OfficeSpace, "jingansi", &directory()),
            vec!["jingansi-office", "investment"]
        );
    }

    #[test]
    fn with_no_department_of_the_kind_the_directorys_handlers_of_the_category_are_used() {
        let rules = Rules::default_rules();
        let mut directory = directory();
        assert!(
            rules
                .route(DemandCategory::Financing, "nanjingxilu", &directory[..2])
                .is_empty(),
            "nobody handles financing"
        );
        directory.push(DirectoryEntry {
            categories: vec![DemandCategory::Legal],
            ..entry("lawyers", DepartmentKind::Other, &["nanjingxilu"])
        });
        // Legal goes to the sub-district office by the rules.
        assert_eq!(
            rules.route(DemandCategory::Legal, "nanjingxilu", &directory),
            vec!["nanjingxilu-office"]
        );
        // Without that office, to who lists legal demands.
        directory.retain(|entry| entry.id != "nanjingxilu-office");
        assert_eq!(
            rules.route(DemandCategory::Legal, "nanjingxilu", &directory),
            vec!["lawyers"]
        );
    }

    #[test]
    fn deadlines_follow_the_exceptions_in_order() {
        let rules = Rules::default_rules();
        let ordinary = rules.days_for(DemandCategory::Tax, Urgency::Normal, RiskColour::Green);
        assert_eq!(
            ordinary,
            Days {
                accept: 1,
                first_contact: 1,
                complete: 5
            }
        );
        assert_eq!(
            rules
                .days_for(
                    DemandCategory::PolicyConsultation,
                    Urgency::Low,
                    RiskColour::Green
                )
                .complete,
            1
        );
        assert_eq!(
            rules
                .days_for(DemandCategory::Tax, Urgency::Critical, RiskColour::Green)
                .complete,
            3
        );
        // A red enterprise's demand is accepted and contacted within one
        // working day and handled within three.
        let red = rules.days_for(DemandCategory::Tax, Urgency::Normal, RiskColour::Red);
        assert_eq!((red.accept, red.first_contact, red.complete), (1, 1, 3));
    }

    #[test]
    fn a_document_with_a_mistake_is_refused_naming_it() {
        let base = Rules::default_document();
        let cases = [
            (
                base.replace("category = \"tax\"", "category = \"taxes\""),
                "routes[2].category",
            ),
            (
                base.replace("kind = \"tax\"", "kind = \"revenue\""),
                "routes[2].departments[0].kind",
            ),
            (
                base.replace("complete = 5", "complete = 0"),
                "deadlines.complete",
            ),
            (
                base.replace("\"2026-01-04\",", "\"2026-01-05\","),
                "is not a Saturday or Sunday",
            ),
            (
                base.replace("\"2026-10-07\",", "\"2027-10-07\","),
                "calendar.2026.holidays",
            ),
            (base.replace("version = ", "versio = "), "versio"),
        ];
        for (document, expected) in cases {
            let error = Rules::parse(&document).expect_err(expected);
            assert!(
                error.to_string().contains(expected),
                "{error} should name {expected}"
            );
        }
    }
}
