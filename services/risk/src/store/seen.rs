//! What the registry's feed said that signals need: each enterprise's
//! registered headcount (a fall is a signal) and its tenancies (the
//! building its assessment is filed under).

use sqlx::AnyConnection;

use super::Store;
use crate::error::RiskError;

impl Store {
    /// Records an enterprise's registered headcount and returns the one
    /// seen before, if any.
    pub async fn enterprise_seen(
        &self,
        connection: &mut AnyConnection,
        uscc: &str,
        headcount: i64,
    ) -> Result<Option<i64>, RiskError> {
        let before: Option<i64> =
            sqlx::query_scalar("SELECT headcount FROM enterprises_seen WHERE uscc = $1")
                .bind(uscc)
                .fetch_optional(&mut *connection)
                .await?;
        sqlx::query(
            "INSERT INTO enterprises_seen (uscc, headcount) VALUES ($1, $2) \
             ON CONFLICT (uscc) DO UPDATE SET headcount = excluded.headcount",
        )
        .bind(uscc)
        .bind(headcount)
        .execute(&mut *connection)
        .await?;
        Ok(before)
    }

    /// A tenancy started. A repeated event changes nothing.
    pub async fn tenancy_seen(
        &self,
        connection: &mut AnyConnection,
        tenancy_id: &str,
        uscc: &str,
        building_id: &str,
        started_at: i64,
    ) -> Result<(), RiskError> {
        sqlx::query(
            "INSERT INTO tenancies_seen (tenancy_id, uscc, building_id, active, started_at) \
             VALUES ($1, $2, $3, 1, $4) ON CONFLICT (tenancy_id) DO NOTHING",
        )
        .bind(tenancy_id)
        .bind(uscc)
        .bind(building_id)
        .bind(started_at)
        .execute(&mut *connection)
        .await?;
        Ok(())
    }

    /// A tenancy ended.
    pub async fn tenancy_ended(
        &self,
        connection: &mut AnyConnection,
        tenancy_id: &str,
    ) -> Result<(), RiskError> {
        sqlx::query("UPDATE tenancies_seen SET active = 0 WHERE tenancy_id = $1")
            .bind(tenancy_id)
            .execute(&mut *connection)
            .await?;
        Ok(())
    }
}
