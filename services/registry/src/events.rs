//! What the registry publishes on its feed (`louyu.common.v1.EventFeedService`).
//! (What it follows, the referral service's feed, is in `feeds`.)
//!
//! Payloads carry what consumers need to act and no personal data: contacts,
//! council members and building chiefs are left out.

use louyu_kit::feed::NewEvent;
use louyu_proto::registry::v1::*;

/// An enterprise was registered.
pub fn enterprise_created(enterprise: &Enterprise) -> NewEvent {
    NewEvent::new(
        &enterprise.name,
        &EnterpriseCreated {
            enterprise: Some(without_contacts(enterprise)),
        },
    )
}

/// An enterprise changed, its status included.
pub fn enterprise_changed(enterprise: &Enterprise, changed_fields: Vec<String>) -> NewEvent {
    NewEvent::new(
        &enterprise.name,
        &EnterpriseChanged {
            enterprise: Some(without_contacts(enterprise)),
            changed_fields,
        },
    )
}

/// A building was created (no changed fields) or changed.
// The deprecated copies of the council and chief are still filled
// (and masked) until their removal.
#[allow(deprecated)]
pub fn building_changed(building: &Building, changed_fields: Vec<String>) -> NewEvent {
    let public = Building {
        council_members: Vec::new(),
        building_chief: None,
        ..building.clone()
    };
    NewEvent::new(
        &building.name,
        &BuildingChanged {
            building: Some(public),
            changed_fields,
        },
    )
}

/// A tenancy started in a building.
pub fn tenancy_started(tenancy: &Tenancy, building: String) -> NewEvent {
    NewEvent::new(
        &tenancy.name,
        &TenancyStarted {
            tenancy: Some(tenancy.clone()),
            building,
        },
    )
}

/// A tenancy ended.
pub fn tenancy_ended(tenancy: &Tenancy, building: String) -> NewEvent {
    NewEvent::new(
        &tenancy.name,
        &TenancyEnded {
            tenancy: Some(tenancy.clone()),
            building,
        },
    )
}

fn without_contacts(enterprise: &Enterprise) -> Enterprise {
    Enterprise {
        contacts: Vec::new(),
        ..enterprise.clone()
    }
}

/// A member of staff was assigned.
pub fn assignment_started(assignment: &Assignment) -> NewEvent {
    NewEvent::new(
        &assignment.name,
        &AssignmentStarted {
            assignment: Some(assignment.clone()),
        },
    )
}

/// An assignment ended, for `reason`.
pub fn assignment_ended(assignment: &Assignment, reason: &str) -> NewEvent {
    NewEvent::new(
        &assignment.name,
        &AssignmentEnded {
            assignment: Some(assignment.clone()),
            reason: reason.to_owned(),
        },
    )
}
