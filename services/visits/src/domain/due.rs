//! The due-visit list of a field worker: which plans their rounds cover, and
//! the order in which the buildings and their plans come.

use std::collections::BTreeMap;

use louyu_kit::names::last_id;
use louyu_proto::registry::v1::{Assignment, AssignmentRole};
use louyu_proto::visits::v1::VisitPlan;

use super::cadence::urgency_key;
use crate::store::DuePlan;

/// The buildings and enterprises a worker's rounds cover, as ids.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rounds {
    pub building_ids: Vec<String>,
    pub usccs: Vec<String>,
}

/// Visit plans are the field workers' rounds: officers' assignments (safety,
/// market supervision, ...) do not put buildings on the list. An assignment
/// names a whole building, or one enterprise in it.
pub fn rounds(assignments: &[Assignment]) -> Rounds {
    let mut rounds = Rounds::default();
    let field_work = assignments
        .iter()
        .filter(|assignment| assignment.role == AssignmentRole::FieldWorker as i32);
    for assignment in field_work {
        if assignment.enterprise.is_empty() {
            rounds
                .building_ids
                .push(last_id(&assignment.building).to_owned());
        } else {
            rounds
                .usccs
                .push(last_id(&assignment.enterprise).to_owned());
        }
    }
    rounds
}

/// The plans due by `until`, grouped by building: the most urgent first
/// within a building (see [`urgency_key`]), and the buildings in the order
/// of their most urgent plan.
pub fn by_building(plans: Vec<DuePlan>, until: i64) -> Vec<(String, Vec<VisitPlan>)> {
    let mut due: Vec<DuePlan> = plans.into_iter().filter(|plan| plan.due <= until).collect();
    due.sort_by_key(|plan| urgency_key(plan.colour, plan.due, &plan.plan.enterprise));
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<VisitPlan>> = BTreeMap::new();
    for plan in due {
        if !groups.contains_key(&plan.building_id) {
            order.push(plan.building_id.clone());
        }
        groups.entry(plan.building_id).or_default().push(plan.plan);
    }
    order
        .into_iter()
        .map(|building_id| {
            let plans = groups.remove(&building_id).unwrap_or_default();
            (building_id, plans)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use louyu_proto::common::v1::RiskColour;

    use super::*;

    fn due(building_id: &str, enterprise: &str, colour: RiskColour, due: i64) -> DuePlan {
        DuePlan {
            plan: VisitPlan {
                enterprise: enterprise.to_owned(),
                ..VisitPlan::default()
            },
            building_id: building_id.to_owned(),
            colour,
            due,
        }
    }

    #[test]
    fn buildings_come_in_the_order_of_their_most_urgent_plan() {
        let plans = vec![
            due("b-1", "e1", RiskColour::Green, 10),
            due("b-2", "e2", RiskColour::Red, 20),
            due("b-1", "e3", RiskColour::Yellow, 30),
            due("b-3", "e4", RiskColour::Red, 99),
        ];
        let grouped = by_building(plans, 50);
        let buildings: Vec<&str> = grouped.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(buildings, ["b-2", "b-1"]);
        let in_b1: Vec<&str> = grouped[1]
            .1
            .iter()
            .map(|plan| plan.enterprise.as_str())
            .collect();
        assert_eq!(in_b1, ["e3", "e1"]);
    }

    #[test]
    fn only_field_work_puts_buildings_and_enterprises_on_the_rounds() {
        let assignment = |building: &str, enterprise: &str, role: AssignmentRole| Assignment {
            building: building.to_owned(),
            enterprise: enterprise.to_owned(),
            role: role as i32,
            ..Assignment::default()
        };
        let rounds = rounds(&[
            assignment("districts/d/buildings/b-1", "", AssignmentRole::FieldWorker),
            assignment(
                "districts/d/buildings/b-2",
                "districts/d/enterprises/E",
                AssignmentRole::FieldWorker,
            ),
            assignment(
                "districts/d/buildings/b-3",
                "",
                AssignmentRole::SafetyOfficer,
            ),
        ]);
        assert_eq!(rounds.building_ids, ["b-1"]);
        assert_eq!(rounds.usccs, ["E"]);
    }
}
