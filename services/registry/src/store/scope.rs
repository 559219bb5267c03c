//! Which rows of each resource a caller's reach covers ([`Reach`]), as
//! conditions of the registry's own queries.
//!
//! - Own assignments (field workers): the buildings assigned to them, the
//!   units and tenancies of those buildings, the enterprises that are
//!   current tenants there, and any enterprise assigned to them by name.
//! - Own sub-district (sub-district admins): the buildings it manages and
//!   what is in them; an enterprise with any tenancy, current or past, in
//!   one of them, or with no tenancy at all (an enterprise is registered
//!   district-wide and belongs to no sub-district until a tenancy places
//!   it); the staff who work for it, and the district's own staff, who work
//!   in every sub-district.
//! - Own department (department officers): their department's directory
//!   entry, and the buildings and enterprises of the demands referred to it.
//!   No service refers demands yet (the referral service will publish
//!   referrals), so today that reach holds no building or enterprise.
//!
//! A write out of reach answers PERMISSION_DENIED when the caller may read
//! the target, and NOT_FOUND when it may not, exactly as for a target that
//! does not exist.

use louyu_kit::filter::{SqlQuery, SqlValue};
use louyu_kit::scope::{Reach, ScopeSql, WriteDenied};

use super::{Call, Store};
use crate::error::RegistryError;

/// One resource's table, its key, and the rows each narrow scope covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scoped {
    /// The Get (or List) method whose reach decides whether the caller may
    /// read a row it may not change.
    pub read_method: &'static str,
    pub table: &'static str,
    pub key: &'static str,
    pub sql: ScopeSql,
}

pub(crate) const BUILDINGS: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetBuilding",
    table: "buildings",
    key: "id",
    sql: ScopeSql {
        own_assignments: Some("id IN (SELECT building_id FROM assignments WHERE staff_id = ?)"),
        own_sub_district: Some("managing_sub_district = ?"),
        // The buildings of the referrals addressed to the department.
        own_department: Some(louyu_kit::referred_buildings_sql!("id")),
    },
};

pub(crate) const ENTERPRISES: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetEnterprise",
    table: "enterprises",
    key: "uscc",
    sql: ScopeSql {
        own_assignments: Some(
            "(uscc IN (SELECT uscc FROM assignments WHERE staff_id = ? AND uscc IS NOT NULL) \
             OR uscc IN (SELECT t.uscc FROM tenancies t JOIN assignments a ON a.building_id = t.building_id \
             WHERE a.staff_id = ? AND a.uscc IS NULL AND t.active = 1))",
        ),
        own_sub_district: Some(
            "(uscc IN (SELECT t.uscc FROM tenancies t JOIN buildings b ON b.id = t.building_id \
             WHERE b.managing_sub_district = ?) \
             OR NOT EXISTS (SELECT 1 FROM tenancies placed WHERE placed.uscc = enterprises.uscc))",
        ),
        // The enterprises of the referrals addressed to the department.
        own_department: Some(louyu_kit::referred_enterprises_sql!("uscc")),
    },
};

pub(crate) const TENANCIES: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetTenancy",
    table: "tenancies",
    key: "id",
    sql: ScopeSql {
        own_assignments: Some(
            "(building_id IN (SELECT building_id FROM assignments WHERE staff_id = ? AND uscc IS NULL) \
             OR uscc IN (SELECT uscc FROM assignments WHERE staff_id = ? AND uscc IS NOT NULL))",
        ),
        own_sub_district: Some(
            "building_id IN (SELECT id FROM buildings WHERE managing_sub_district = ?)",
        ),
        own_department: None,
    },
};

pub(crate) const STAFF: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetStaff",
    table: "staff",
    key: "id",
    sql: ScopeSql {
        own_assignments: Some("id = ?"),
        // District staff work in every sub-district.
        own_sub_district: Some("(sub_district = ? OR sub_district IS NULL)"),
        own_department: None,
    },
};

pub(crate) const ASSIGNMENTS: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/ListAssignments",
    table: "assignments",
    key: "id",
    sql: ScopeSql {
        own_assignments: Some("staff_id = ?"),
        own_sub_district: Some(
            "building_id IN (SELECT id FROM buildings WHERE managing_sub_district = ?)",
        ),
        own_department: None,
    },
};

pub(crate) const DEPARTMENTS: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetDepartment",
    table: "departments",
    key: "id",
    sql: ScopeSql {
        own_assignments: None,
        own_sub_district: None,
        own_department: Some("id = ?"),
    },
};

/// Building resources, for what changes their offerings: a sub-district
/// admin reaches the resources in the buildings its sub-district manages;
/// one outside any building is the district's. Every member of staff reads
/// them, so a write out of reach is PERMISSION_DENIED.
pub(crate) const RESOURCES: Scoped = Scoped {
    read_method: "/louyu.registry.v1.RegistryService/GetOffering",
    table: "building_resources",
    key: "id",
    sql: ScopeSql {
        own_assignments: None,
        own_sub_district: Some(
            "building_id IN (SELECT id FROM buildings WHERE managing_sub_district = ?)",
        ),
        own_department: None,
    },
};

impl Store {
    /// Whether the row of `scoped` keyed `key` exists within `reach`.
    pub(crate) async fn within(
        &self,
        connection: &mut sqlx::AnyConnection,
        scoped: &Scoped,
        reach: &Reach,
        key: &str,
    ) -> Result<bool, RegistryError> {
        Ok(louyu_kit::scope::selects_a_row(connection, row_within(scoped, reach, key)).await?)
    }

    /// For a read: NOT_FOUND, as for a missing row, unless the row is within
    /// `reach`. Nothing to check for the district.
    pub(crate) async fn check_read(
        &self,
        connection: &mut sqlx::AnyConnection,
        scoped: &Scoped,
        reach: &Reach,
        key: &str,
        name: &str,
    ) -> Result<(), RegistryError> {
        if reach.is_district() || self.within(connection, scoped, reach, key).await? {
            Ok(())
        } else {
            Err(RegistryError::not_found(name))
        }
    }

    /// For a write that changes (or places something in) the row of
    /// `scoped` keyed `key`: nothing when the row is within the call's
    /// reach; PERMISSION_DENIED when the caller may read it but not change
    /// it; NOT_FOUND, as for a missing row, when it may not read it either.
    pub(crate) async fn check_write(
        &self,
        connection: &mut sqlx::AnyConnection,
        call: &Call,
        scoped: &Scoped,
        key: &str,
        name: &str,
    ) -> Result<(), RegistryError> {
        let judged = louyu_kit::scope::judge_write(connection, call, scoped.read_method, |reach| {
            row_within(scoped, reach, key)
        })
        .await?;
        judged.map_err(|denied| match denied {
            WriteDenied::PermissionDenied => RegistryError::PermissionDenied(format!(
                "{name} 不在您可更改的范围内 is outside what you may change"
            )),
            WriteDenied::NotFound => RegistryError::not_found(name),
        })
    }

    /// For a write that would place a row in a sub-district (a new
    /// building, a member of staff): the call must reach that sub-district.
    pub(crate) fn check_sub_district(
        &self,
        call: &Call,
        field: &str,
        sub_district: Option<&str>,
    ) -> Result<(), RegistryError> {
        match &call.reach {
            Reach::District => Ok(()),
            Reach::Within {
                sub_district: Some(own),
                ..
            } if sub_district == Some(own.as_str()) => Ok(()),
            Reach::Within { .. } => Err(RegistryError::PermissionDenied(format!(
                "{field}: 只能是您所在的街道 must be your own sub-district"
            ))),
        }
    }
}

/// `SELECT 1 FROM <table> WHERE <key> = $1` and the reach's condition.
fn row_within(scoped: &Scoped, reach: &Reach, key: &str) -> SqlQuery {
    let mut query = SqlQuery::new(&format!(
        "SELECT 1 FROM {} WHERE {} = ",
        scoped.table, scoped.key
    ));
    query.push_value(SqlValue::Text(key.to_owned()));
    reach.push_condition(&mut query, &scoped.sql);
    query
}
