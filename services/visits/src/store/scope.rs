//! Data scope in the visits service's queries: which rows of each resource
//! a caller's [`Reach`] matches, and the tables that say so, kept from
//! feeds alone (`feeds.rs`): the registry's assignments and the sub-district
//! of each building, and (filled by the referral service's feed, a later
//! issue) the departments a demand is addressed to.
//!
//! Every read puts the caller's reach in its query, so nothing out of reach
//! is read, counted or paged over. A write first asks whether its target is
//! in the reach of its own method; if not, whether the caller may at least
//! see it (the reach of the matching Get): PERMISSION_DENIED then, and
//! NOT_FOUND, as for something that does not exist, otherwise.

use louyu_kit::filter::{SqlQuery, SqlValue};
use louyu_kit::scope::{Reach, ScopeSql, WriteDenied};
use sqlx::AnyConnection;

use super::{Call, Store};
use crate::error::VisitsError;

/// `GetVisit`: whoever may see a visit may see the building it was made in.
pub const GET_VISIT: &str = "/louyu.visits.v1.VisitsService/GetVisit";
/// `GetDemand`: who may see a demand, and so be told PERMISSION_DENIED
/// rather than NOT_FOUND when they may not change it.
pub const GET_DEMAND: &str = "/louyu.visits.v1.VisitsService/GetDemand";

/// Demands: a field worker's by building or enterprise, a sub-district's
/// by the sub-district stored with the demand, a department's when a
/// referral addressed the demand to it.
pub const DEMANDS: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "demands.building_id",
        "demands.uscc"
    )),
    own_sub_district: Some("demands.sub_district_id = ?"),
    own_department: Some(
        "demands.id IN (SELECT demand_id FROM demand_departments WHERE department_id = ?)",
    ),
};

/// Visits: a field worker's when made in a building assigned to them
/// building-wide or when they met an enterprise assigned to them; a
/// sub-district's when made in a building it manages.
pub const VISITS: ScopeSql = ScopeSql {
    own_assignments: Some(
        "(visits.building_id IN (SELECT building_id FROM scope_assignments WHERE staff_id = ? AND uscc IS NULL) \
         OR visits.id IN (SELECT observations.visit_id FROM observations JOIN scope_assignments \
         ON scope_assignments.uscc = observations.uscc WHERE scope_assignments.staff_id = ?))",
    ),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "visits.building_id"
    )),
    own_department: None,
};

/// Visit plans: by the enterprise's building and the enterprise, as
/// demands.
pub const PLANS: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "visit_plans.building_id",
        "visit_plans.uscc"
    )),
    own_sub_district: Some(louyu_kit::own_sub_district_buildings_sql!(
        "visit_plans.building_id"
    )),
    own_department: None,
};

/// Places something is about to be created in ([`Place`], as the derived
/// table `places`).
const PLACES: ScopeSql = ScopeSql {
    own_assignments: Some(louyu_kit::own_assignments_sql!(
        "places.building_id",
        "places.uscc"
    )),
    own_sub_district: Some("places.sub_district_id = ?"),
    own_department: None,
};

/// Where a visit is recorded or a demand raised: a building, the
/// enterprise concerned if any, and the sub-district managing the building
/// (`None`: as the registry's feed last said).
#[derive(Debug, Clone, Default)]
pub struct Place {
    pub building_id: Option<String>,
    pub uscc: Option<String>,
    pub sub_district_id: Option<String>,
}

impl Store {
    /// The place of a demand about to be raised for an enterprise, as the
    /// registry's feed last placed it (its latest tenancy seen), so a
    /// caller out of reach is answered before the registry is asked.
    pub async fn demand_place_seen(&self, uscc: &str) -> Result<Place, VisitsError> {
        let building_id: Option<String> = sqlx::query_scalar(
            "SELECT building_id FROM tenancies_seen WHERE uscc = $1 \
             ORDER BY started_at DESC, tenancy_id DESC LIMIT 1",
        )
        .bind(uscc)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(Place {
            building_id,
            uscc: Some(uscc.to_owned()),
            sub_district_id: None,
        })
    }

    /// [`Store::check_places_in`] on a connection of its own, before any
    /// transaction: what the caller is told before the registry is asked.
    pub async fn check_places(
        &self,
        call: &Call,
        get_method: &str,
        places: &[Place],
        resource: &str,
    ) -> Result<(), VisitsError> {
        if call.reach.is_district() {
            return Ok(());
        }
        let mut connection = self.db.pool().acquire().await?;
        self.check_places_in(&mut connection, call, get_method, places, resource)
            .await
    }

    /// Whether the call may create something in every one of `places`:
    /// PERMISSION_DENIED when they are only within the reach of
    /// `get_method`, NOT_FOUND naming `resource` (as when it does not exist)
    /// when the caller may not even see them.
    pub(super) async fn check_places_in(
        &self,
        connection: &mut AnyConnection,
        call: &Call,
        get_method: &str,
        places: &[Place],
        resource: &str,
    ) -> Result<(), VisitsError> {
        if places.is_empty() {
            return Ok(());
        }
        judge_write(connection, call, get_method, resource, |reach| {
            places_within(places, reach)
        })
        .await
    }
}

/// A query that returns a row when the row of `select` (`SELECT 1 FROM
/// <table> WHERE <key> = `) with `key` is within `reach`, as `sql`
/// describes the table's rows.
pub(super) fn row_within(select: &str, key: &str, reach: &Reach, sql: &ScopeSql) -> SqlQuery {
    let mut query = SqlQuery::new(select);
    query.push_value(SqlValue::Text(key.to_owned()));
    reach.push_condition(&mut query, sql);
    query
}

/// Decides a write on what `resource` names (kit's `scope::judge_write`),
/// as this service's error.
pub(super) async fn judge_write(
    connection: &mut AnyConnection,
    call: &Call,
    get_method: &str,
    resource: &str,
    within: impl Fn(&Reach) -> SqlQuery,
) -> Result<(), VisitsError> {
    louyu_kit::scope::judge_write(connection, call, get_method, within)
        .await?
        .map_err(|denied| match denied {
            WriteDenied::PermissionDenied => VisitsError::permission_denied(resource),
            WriteDenied::NotFound => VisitsError::not_found(resource),
        })
}

pub(super) async fn returns_a_row(
    connection: &mut AnyConnection,
    query: SqlQuery,
) -> Result<bool, VisitsError> {
    Ok(louyu_kit::scope::selects_a_row(connection, query).await?)
}

/// A query that returns a row when every place lies within `reach`: the
/// places as a derived table, counted under the reach's condition.
fn places_within(places: &[Place], reach: &Reach) -> SqlQuery {
    let mut query = SqlQuery::new("SELECT 1 FROM (SELECT COUNT(*) AS total FROM (");
    for (index, place) in places.iter().enumerate() {
        if index > 0 {
            query.push(" UNION ALL ");
        }
        query.push("SELECT ");
        push_text(&mut query, place.building_id.as_deref());
        query.push(" AS building_id, ");
        push_text(&mut query, place.uscc.as_deref());
        query.push(" AS uscc, ");
        match (&place.sub_district_id, &place.building_id) {
            (Some(sub_district_id), _) => push_text(&mut query, Some(sub_district_id)),
            (None, Some(building_id)) => {
                query.push("(SELECT sub_district_id FROM scope_buildings WHERE building_id = ");
                push_text(&mut query, Some(building_id));
                query.push(")");
            }
            (None, None) => push_text(&mut query, None),
        }
        query.push(" AS sub_district_id");
    }
    query.push(") places WHERE 1 = 1");
    reach.push_condition(&mut query, &PLACES);
    query
        .push(") counted WHERE counted.total = ")
        .push_value(SqlValue::Integer(places.len() as i64));
    query
}

/// A text value, typed so that PostgreSQL knows it in a select list.
fn push_text(query: &mut SqlQuery, value: Option<&str>) {
    query.push("CAST(");
    match value {
        Some(value) => {
            query.push_value(SqlValue::Text(value.to_owned()));
        }
        None => {
            query.push("NULL");
        }
    }
    query.push(" AS TEXT)");
}
