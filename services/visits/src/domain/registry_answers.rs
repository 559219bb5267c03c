//! What the registry's answers mean for a request. The API layer asks the
//! registry; the decisions on its answers are here: whether the staff of a
//! visit may make it, which enterprises may be met in a building, and which
//! tenancy a demand belongs to.

use std::collections::HashSet;

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::names::last_id;
use louyu_proto::registry::v1::{Staff, Tenancy};

use crate::error::VisitsError;

/// Each member of staff on a visit, with what the registry knows of them
/// (`None`: no such member): all must exist and be active.
pub fn check_visit_staff(violations: &mut Violations, staff: &[(&str, Option<Staff>)]) {
    for (index, (name, member)) in staff.iter().enumerate() {
        let field = format!("visit.staff[{index}]");
        match member {
            Some(member) if member.active => {}
            Some(_) => violations.add(field, "该工作人员已离岗 is no longer active"),
            None => violations.add(field, format!("工作人员不存在 unknown staff {name}")),
        }
    }
}

/// The enterprises (codes) with a current tenancy among `tenancies`.
pub fn tenants(tenancies: &[Tenancy]) -> HashSet<String> {
    tenancies
        .iter()
        .map(|tenancy| last_id(&tenancy.enterprise).to_owned())
        .collect()
}

/// Only current tenants of the visited building may be met, or raise a
/// demand, on a visit: each of `usccs` (with the field that named it) must
/// be one of `tenants`.
pub fn check_tenants<'a>(
    violations: &mut Violations,
    tenants: &HashSet<String>,
    usccs: impl IntoIterator<Item = (String, &'a str)>,
) {
    for (field, uscc) in usccs {
        if !tenants.contains(uscc) {
            violations.add(
                field,
                "不是该楼宇的在租企业 is not a current tenant of the visited building",
            );
        }
    }
}

/// The tenancy a demand of an enterprise belongs to. An enterprise in
/// several buildings: the demand goes with the tenancy that started last,
/// where the enterprise is most likely to be met.
pub fn tenancy_of_demand(tenancies: &[Tenancy]) -> Result<&Tenancy, InvalidArgument> {
    tenancies
        .iter()
        .max_by_key(|tenancy| {
            tenancy
                .lease_start
                .as_ref()
                .map(|date| (date.year, date.month, date.day))
        })
        .ok_or_else(|| {
            InvalidArgument::new(
                "demand.enterprise",
                "该企业在本区没有在租单元 the enterprise occupies no unit in the district",
            )
        })
}

/// Whether the member of staff `name` (`None`: no such member) may have a
/// due-visit list: they must exist and be active.
pub fn check_worker(name: &str, member: Option<Staff>) -> Result<(), VisitsError> {
    match member {
        Some(member) if member.active => Ok(()),
        Some(_) => Err(VisitsError::FailedPrecondition(
            "该工作人员已离岗 this member of staff is no longer active".to_owned(),
        )),
        None => Err(VisitsError::not_found(name)),
    }
}

#[cfg(test)]
mod tests {
    use louyu_proto::google::r#type::Date;

    use super::*;

    fn tenancy(enterprise: &str, year: i32) -> Tenancy {
        Tenancy {
            enterprise: format!("districts/d/enterprises/{enterprise}"),
            lease_start: Some(Date {
                year,
                month: 1,
                day: 1,
            }),
            ..Tenancy::default()
        }
    }

    #[test]
    fn a_demand_goes_with_the_tenancy_that_started_last() {
        let tenancies = [tenancy("A", 2020), tenancy("A", 2024), tenancy("A", 2022)];
        let chosen = tenancy_of_demand(&tenancies).unwrap();
        assert_eq!(chosen.lease_start.as_ref().unwrap().year, 2024);
        let error = tenancy_of_demand(&[]).unwrap_err();
        assert_eq!(error.violations[0].field, "demand.enterprise");
    }

    #[test]
    fn only_current_tenants_may_be_met() {
        let tenants = tenants(&[tenancy("A", 2020)]);
        let mut violations = Violations::new();
        check_tenants(
            &mut violations,
            &tenants,
            [("o[0]".to_owned(), "A"), ("o[1]".to_owned(), "B")],
        );
        let error = violations.into_result().unwrap_err();
        assert_eq!(error.violations.len(), 1);
        assert_eq!(error.violations[0].field, "o[1]");
    }
}
