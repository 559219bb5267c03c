//! Data scope: how far one call reaches into the district's data, resolved
//! from the verified caller and the method's grants ([`crate::permissions`]),
//! and turned by a store into a condition of its query, so that nothing out
//! of reach is read, counted or paged over.
//!
//! A store describes, per resource, which rows each narrow scope matches
//! ([`ScopeSql`]); [`Reach::push_condition`] joins the caller's scopes with
//! OR. Out of reach, a read answers NOT_FOUND; a write to something the
//! caller may read but not change answers PERMISSION_DENIED.

use tonic::{Request, Status};

use crate::filter::{SqlQuery, SqlValue};
use crate::identity::{Caller, caller_of, permission_of};
use crate::permissions::{self, Scope, Scopes};

/// How far one call reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The whole district of the deployment.
    District,
    /// Only what one or more narrow scopes match, joined with OR. A field
    /// left `None` is a scope the caller is not granted.
    Within {
        /// Own assignments: the staff id the assignments are of.
        staff: Option<String>,
        /// Own sub-district: its id.
        sub_district: Option<String>,
        /// Own department: its id.
        department: Option<String>,
    },
}

impl Reach {
    /// The reach of `caller` under the scopes a method grants it.
    pub fn new(caller: &Caller, scopes: &Scopes) -> Self {
        if scopes.is_district() {
            return Reach::District;
        }
        let person = caller.person();
        let granted = |scope: Scope, value: Option<&String>| {
            if scopes.contains(scope) {
                value.cloned()
            } else {
                None
            }
        };
        Reach::Within {
            staff: granted(Scope::OwnAssignments, person.map(|person| &person.staff_id)),
            sub_district: granted(
                Scope::OwnSubDistrict,
                person.and_then(|person| person.sub_district.as_ref()),
            ),
            department: granted(
                Scope::OwnDepartment,
                person.and_then(|person| person.department.as_ref()),
            ),
        }
    }

    /// The reach of a request on its own method, from what kit's server put
    /// in its extensions.
    pub fn of_request<T>(request: &Request<T>) -> Result<Self, Status> {
        Ok(Self::new(
            caller_of(request)?,
            &permission_of(request)?.scopes,
        ))
    }

    /// The reach `caller` has on another method (e.g. the Get of what a
    /// write touches), or `None` when it may not call it.
    pub fn of_method(caller: &Caller, path: &str) -> Option<Self> {
        permissions::authorize(caller, path)
            .ok()
            .map(|permission| Self::new(caller, &permission.scopes))
    }

    pub fn is_district(&self) -> bool {
        matches!(self, Reach::District)
    }

    /// Appends ` AND (…)`: the rows this reach matches, as `sql` describes
    /// them for one resource. Nothing for the district; `1 = 0` when no
    /// granted scope applies to the resource.
    pub fn push_condition(&self, query: &mut SqlQuery, sql: &ScopeSql) {
        let Reach::Within {
            staff,
            sub_district,
            department,
        } = self
        else {
            return;
        };
        let parts = [
            (staff, sql.own_assignments),
            (sub_district, sql.own_sub_district),
            (department, sql.own_department),
        ];
        query.push(" AND (");
        let mut first = true;
        for (value, fragment) in parts {
            let (Some(value), Some(fragment)) = (value, fragment) else {
                continue;
            };
            if !first {
                query.push(" OR ");
            }
            first = false;
            push_fragment(query, fragment, value);
        }
        if first {
            query.push("1 = 0");
        }
        query.push(")");
    }
}

/// Why a write was refused by [`judge_write`]; each service turns it into
/// its own error naming the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteDenied {
    /// The caller may not even read the target: answered as for one that
    /// does not exist.
    NotFound,
    /// The caller may read the target but not change it.
    PermissionDenied,
}

/// Judges a write on what `within(reach)` selects (a query returning a row
/// when the target lies in `reach`): in the call's own reach it goes
/// ahead; in the reach of `read_method` only, [`WriteDenied::PermissionDenied`];
/// otherwise [`WriteDenied::NotFound`]. The district needs no query.
pub async fn judge_write(
    connection: &mut sqlx::AnyConnection,
    call: &crate::mutation::Call,
    read_method: &str,
    within: impl Fn(&Reach) -> SqlQuery,
) -> sqlx::Result<Result<(), WriteDenied>> {
    judge_write_as(connection, call, read_method, &within, &within).await
}

/// [`judge_write`] where what a caller may change is narrower than what it
/// reads: `write_within(reach)` selects the target when the call may change
/// it, `read_within(reach)` when `read_method` may read it (a department
/// reads every referral addressed to it, and moves those it leads).
pub async fn judge_write_as(
    connection: &mut sqlx::AnyConnection,
    call: &crate::mutation::Call,
    read_method: &str,
    write_within: impl Fn(&Reach) -> SqlQuery,
    read_within: impl Fn(&Reach) -> SqlQuery,
) -> sqlx::Result<Result<(), WriteDenied>> {
    if call.reach.is_district() || selects_a_row(connection, write_within(&call.reach)).await? {
        return Ok(Ok(()));
    }
    let readable = match call.reach_of(read_method) {
        Some(reach) => {
            reach.is_district() || selects_a_row(connection, read_within(&reach)).await?
        }
        None => false,
    };
    Ok(Err(if readable {
        WriteDenied::PermissionDenied
    } else {
        WriteDenied::NotFound
    }))
}

/// Whether `query` returns a row.
pub async fn selects_a_row(
    connection: &mut sqlx::AnyConnection,
    query: SqlQuery,
) -> sqlx::Result<bool> {
    Ok(query
        .build()
        .fetch_optional(&mut *connection)
        .await?
        .is_some())
}

/// Which rows of one resource each narrow scope matches: SQL conditions in
/// which every `?` is the caller's staff id, sub-district id or department
/// id, bound as a parameter. `None`: the scope matches none of the
/// resource's rows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScopeSql {
    pub own_assignments: Option<&'static str>,
    pub own_sub_district: Option<&'static str>,
    pub own_department: Option<&'static str>,
}

fn push_fragment(query: &mut SqlQuery, fragment: &str, value: &str) {
    let mut pieces = fragment.split('?');
    if let Some(head) = pieces.next() {
        query.push(head);
    }
    for piece in pieces {
        query.push_value(SqlValue::Text(value.to_owned()));
        query.push(piece);
    }
}

/// The scope a service other than the registry keeps from the registry's
/// feed, so that it never asks the registry who covers what: the
/// assignments that have started and not ended (`AssignmentStarted`,
/// `AssignmentEnded`), and the sub-district managing each building
/// (`BuildingChanged`). A service that keeps it has these tables in its
/// migrations, as `services/visits/migrations/0102_scope.sql` writes them:
///
/// ```sql
/// CREATE TABLE scope_assignments (id TEXT PRIMARY KEY, staff_id TEXT NOT NULL,
///     building_id TEXT NOT NULL, uscc TEXT);
/// CREATE TABLE scope_buildings (building_id TEXT PRIMARY KEY, sub_district_id TEXT NOT NULL);
/// ```
///
/// and calls [`kept::apply`] from its registry feed handler; its `ScopeSql`
/// conditions read the two tables.
pub mod kept {
    use louyu_proto::common::v1::Event;
    use louyu_proto::registry::v1::{AssignmentEnded, AssignmentStarted, BuildingChanged};
    use prost::{Message, Name};
    use sqlx::AnyConnection;

    use crate::names::last_id;

    /// Applies `event` to the scope tables when it is one of the three that
    /// concern scope; returns whether it was. Applying one twice changes
    /// nothing.
    pub async fn apply(connection: &mut AnyConnection, event: &Event) -> anyhow::Result<bool> {
        let Some(payload) = &event.payload else {
            return Ok(false);
        };
        let event_type = event.event_type.as_str();
        if event_type == AssignmentStarted::full_name() {
            let Some(assignment) = AssignmentStarted::decode(payload.value.as_slice())?.assignment
            else {
                return Ok(true);
            };
            let Some(staff_id) = staff_of_assignment(&assignment.name) else {
                anyhow::bail!("an assignment named {} names no staff", assignment.name);
            };
            let uscc = (!assignment.enterprise.is_empty())
                .then(|| last_id(&assignment.enterprise).to_owned());
            sqlx::query(
                "INSERT INTO scope_assignments (id, staff_id, building_id, uscc) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(last_id(&assignment.name))
            .bind(staff_id)
            .bind(last_id(&assignment.building))
            .bind(uscc)
            .execute(&mut *connection)
            .await?;
            Ok(true)
        } else if event_type == AssignmentEnded::full_name() {
            if let Some(assignment) = AssignmentEnded::decode(payload.value.as_slice())?.assignment
            {
                sqlx::query("DELETE FROM scope_assignments WHERE id = $1")
                    .bind(last_id(&assignment.name))
                    .execute(&mut *connection)
                    .await?;
            }
            Ok(true)
        } else if event_type == BuildingChanged::full_name() {
            let building = BuildingChanged::decode(payload.value.as_slice())?.building;
            if let Some(building) =
                building.filter(|building| !building.managing_sub_district.is_empty())
            {
                sqlx::query(
                    "INSERT INTO scope_buildings (building_id, sub_district_id) VALUES ($1, $2) \
                     ON CONFLICT (building_id) DO UPDATE SET sub_district_id = excluded.sub_district_id",
                )
                .bind(last_id(&building.name))
                .bind(last_id(&building.managing_sub_district))
                .execute(&mut *connection)
                .await?;
            }
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// The staff id in an assignment's name,
    /// `districts/{district}/staff/{staff}/assignments/{assignment}`.
    fn staff_of_assignment(name: &str) -> Option<&str> {
        let mut segments = name.split('/');
        match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some("districts"), Some(_), Some("staff"), Some(staff), Some("assignments")) => {
                Some(staff)
            }
            _ => None,
        }
    }

    /// Conditions on the kept tables, for a store's `ScopeSql`: rows whose
    /// building (`building`) is assigned to the caller building-wide, or
    /// whose enterprise (`uscc`) is assigned to them by name.
    #[macro_export]
    macro_rules! own_assignments_sql {
        ($building:literal, $uscc:literal) => {
            concat!(
                "(",
                $building,
                " IN (SELECT building_id FROM scope_assignments WHERE staff_id = ? AND uscc IS NULL) OR ",
                $uscc,
                " IN (SELECT uscc FROM scope_assignments WHERE staff_id = ? AND uscc IS NOT NULL))"
            )
        };
    }

    /// Rows whose building (`building`) the caller's sub-district manages.
    #[macro_export]
    macro_rules! own_sub_district_buildings_sql {
        ($building:literal) => {
            concat!(
                $building,
                " IN (SELECT building_id FROM scope_buildings WHERE sub_district_id = ?)"
            )
        };
    }
}

/// What a department reaches through the referral service's feed: the
/// enterprises and buildings of the referrals addressed to it
/// (`ReferralChanged`; a re-routing moves the reach to the new departments).
/// A service that keeps it has this table in its migrations:
///
/// ```sql
/// CREATE TABLE scope_referrals (referral_id TEXT NOT NULL, department_id TEXT NOT NULL,
///     uscc TEXT NOT NULL, building_id TEXT NOT NULL, PRIMARY KEY (referral_id, department_id));
/// CREATE INDEX scope_referrals_by_department ON scope_referrals (department_id);
/// ```
///
/// and calls [`referred::apply`] from its referral feed handler; its
/// `own_department` conditions read the table
/// ([`referred_enterprises_sql!`](crate::referred_enterprises_sql),
/// [`referred_buildings_sql!`](crate::referred_buildings_sql)).
pub mod referred {
    use louyu_proto::common::v1::Event;
    use louyu_proto::referral::v1::ReferralChanged;
    use prost::{Message, Name};
    use sqlx::AnyConnection;

    use crate::names::last_id;

    /// Applies `event` when it is a `ReferralChanged`; returns whether it
    /// was. Applying one twice changes nothing.
    pub async fn apply(connection: &mut AnyConnection, event: &Event) -> anyhow::Result<bool> {
        let Some(payload) = &event.payload else {
            return Ok(false);
        };
        if event.event_type != ReferralChanged::full_name() {
            return Ok(false);
        }
        let Some(referral) = ReferralChanged::decode(payload.value.as_slice())?.referral else {
            return Ok(true);
        };
        let id = last_id(&referral.name);
        sqlx::query("DELETE FROM scope_referrals WHERE referral_id = $1")
            .bind(id)
            .execute(&mut *connection)
            .await?;
        let building = if referral.building.is_empty() {
            ""
        } else {
            last_id(&referral.building)
        };
        for department in &referral.departments {
            sqlx::query(
                "INSERT INTO scope_referrals (referral_id, department_id, uscc, building_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (referral_id, department_id) DO NOTHING",
            )
            .bind(id)
            .bind(last_id(&department.department))
            .bind(last_id(&referral.enterprise))
            .bind(building)
            .execute(&mut *connection)
            .await?;
        }
        Ok(true)
    }

    /// Rows whose enterprise (`uscc`) a referral addressed to the caller's
    /// department concerns.
    #[macro_export]
    macro_rules! referred_enterprises_sql {
        ($uscc:literal) => {
            concat!(
                $uscc,
                " IN (SELECT uscc FROM scope_referrals WHERE department_id = ?)"
            )
        };
    }

    /// Rows whose building (`building`) a referral addressed to the
    /// caller's department concerns.
    #[macro_export]
    macro_rules! referred_buildings_sql {
        ($building:literal) => {
            concat!(
                $building,
                " IN (SELECT building_id FROM scope_referrals WHERE department_id = ?)"
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Person, Provenance, Role, SystemIdentity};

    fn person(roles: &[Role], sub_district: Option<&str>, department: Option<&str>) -> Caller {
        Caller::from_person(
            Person {
                staff_id: "s-1".into(),
                roles: roles.to_vec(),
                district: "jingan".into(),
                sub_district: sub_district.map(str::to_owned),
                department: department.map(str::to_owned),
            },
            Provenance::Verified,
        )
    }

    const BUILDINGS: ScopeSql = ScopeSql {
        own_assignments: Some("id IN (SELECT building_id FROM assignments WHERE staff_id = ?)"),
        own_sub_district: Some("managing_sub_district = ?"),
        own_department: None,
    };

    fn condition(reach: &Reach, sql: &ScopeSql) -> String {
        let mut query = SqlQuery::new("SELECT 1 FROM buildings WHERE 1 = 1");
        reach.push_condition(&mut query, sql);
        query.sql().to_owned()
    }

    #[test]
    fn the_district_adds_no_condition() {
        let reach = Reach::of_method(
            &person(&[Role::DistrictAdmin], None, None),
            "/louyu.registry.v1.RegistryService/GetBuilding",
        )
        .unwrap();
        assert_eq!(reach, Reach::District);
        assert_eq!(
            condition(&reach, &BUILDINGS),
            "SELECT 1 FROM buildings WHERE 1 = 1"
        );
    }

    #[test]
    fn several_roles_join_their_scopes_with_or_and_bind_every_value() {
        let caller = person(
            &[Role::FieldWorker, Role::SubDistrictAdmin],
            Some("jjs"),
            None,
        );
        let reach =
            Reach::of_method(&caller, "/louyu.registry.v1.RegistryService/GetBuilding").unwrap();
        assert_eq!(
            reach,
            Reach::Within {
                staff: Some("s-1".into()),
                sub_district: Some("jjs".into()),
                department: None,
            }
        );
        assert_eq!(
            condition(&reach, &BUILDINGS),
            "SELECT 1 FROM buildings WHERE 1 = 1 AND (id IN (SELECT building_id FROM assignments \
             WHERE staff_id = $1) OR managing_sub_district = $2)"
        );
    }

    #[test]
    fn a_scope_the_resource_does_not_know_matches_nothing() {
        let caller = person(&[Role::DepartmentOfficer], None, Some("invest"));
        let reach =
            Reach::of_method(&caller, "/louyu.registry.v1.RegistryService/GetBuilding").unwrap();
        assert_eq!(
            condition(&reach, &BUILDINGS),
            "SELECT 1 FROM buildings WHERE 1 = 1 AND (1 = 0)"
        );
    }

    #[test]
    fn a_method_the_caller_may_not_call_has_no_reach() {
        let system = Caller::from_system(
            SystemIdentity {
                name: "hotline".into(),
                district: "jingan".into(),
            },
            None,
            Provenance::Verified,
        );
        assert_eq!(
            Reach::of_method(&system, "/louyu.registry.v1.RegistryService/CreateBuilding"),
            None
        );
    }
}
