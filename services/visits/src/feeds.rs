//! What the visits service follows: the registry's feed. (What it publishes
//! is appended by `store`.) An enterprise that moves out or is deregistered has
//! its open demands flagged and its plan ended; an enterprise that takes a
//! unit gets a plan, which ends when its last tenancy ends. Assignments and
//! the sub-district managing each building are kept for data scope
//! (`store::scope`), so no call asks the registry who covers what. The
//! referral service's feed sets the status of each referred demand.

use louyu_kit::audit::{self, RequestContext};
use louyu_kit::names::last_id;
use louyu_proto::common::v1::{Event, RiskColour};
use louyu_proto::referral::v1::{ReferralChanged, ReferralState};
use louyu_proto::registry::v1::{
    EnterpriseChanged, EnterpriseStatus, TenancyEnded, TenancyStarted,
};
use louyu_proto::risk::v1::AssessmentChanged;
use prost::{Message, Name};
use sqlx::AnyConnection;

use crate::domain::lifecycle;
use crate::store::{ReferralChange, Store};

/// The cursor name of the registry's feed in this service's database.
pub const REGISTRY_FEED: &str = "registry";

pub struct RegistryEvents {
    store: Store,
}

impl RegistryEvents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        let event_type = event.event_type.as_str();
        if event_type == EnterpriseChanged::full_name() {
            self.on_enterprise_changed(
                connection,
                EnterpriseChanged::decode(payload.value.as_slice())?,
            )
            .await
        } else if event_type == TenancyStarted::full_name() {
            let started_at = event
                .occur_time
                .as_ref()
                .map(louyu_kit::time::micros_from_timestamp)
                .unwrap_or_else(louyu_kit::time::now_micros);
            self.on_tenancy_started(
                connection,
                TenancyStarted::decode(payload.value.as_slice())?,
                started_at,
            )
            .await
        } else if event_type == TenancyEnded::full_name() {
            self.on_tenancy_ended(connection, TenancyEnded::decode(payload.value.as_slice())?)
                .await
        } else {
            // Assignments and buildings' sub-districts are kept for data
            // scope; other registry events do not concern visits.
            louyu_kit::scope::kept::apply(connection, event).await?;
            Ok(())
        }
    }

    async fn on_enterprise_changed(
        &self,
        connection: &mut AnyConnection,
        changed: EnterpriseChanged,
    ) -> anyhow::Result<()> {
        let Some(enterprise) = changed.enterprise else {
            return Ok(());
        };
        let flag = match EnterpriseStatus::try_from(enterprise.status) {
            Ok(EnterpriseStatus::MovedOut) => "企业已迁出 the enterprise moved out",
            Ok(EnterpriseStatus::Deregistered) => "企业已注销 the enterprise was deregistered",
            _ => return Ok(()),
        };
        let flagged = self
            .store
            .flag_demands_of_departed(connection, &enterprise.uscc, flag)
            .await?;
        self.store.end_plan(connection, &enterprise.uscc).await?;
        // The flags changed demands: the trail says the registry's feed did it.
        if flagged > 0 {
            audit::record(
                connection,
                &RequestContext::system(REGISTRY_FEED),
                "FlagDemandsOfDepartedEnterprise",
                &enterprise.name,
                "",
            )
            .await?;
        }
        tracing::info!(enterprise = %enterprise.name, flagged, "enterprise left; open demands flagged");
        Ok(())
    }

    async fn on_tenancy_started(
        &self,
        connection: &mut AnyConnection,
        started: TenancyStarted,
        started_at: i64,
    ) -> anyhow::Result<()> {
        let Some(tenancy) = started.tenancy else {
            return Ok(());
        };
        let uscc = last_id(&tenancy.enterprise);
        let building_id = last_id(&started.building);
        let tenancy_id = last_id(&tenancy.name);
        self.store
            .tenancy_started(connection, tenancy_id, uscc, building_id, started_at)
            .await?;
        Ok(())
    }

    async fn on_tenancy_ended(
        &self,
        connection: &mut AnyConnection,
        ended: TenancyEnded,
    ) -> anyhow::Result<()> {
        let Some(tenancy) = ended.tenancy else {
            return Ok(());
        };
        let uscc = last_id(&tenancy.enterprise);
        let tenancy_id = last_id(&tenancy.name);
        self.store
            .tenancy_ended(connection, tenancy_id, uscc)
            .await?;
        Ok(())
    }
}

/// The cursor name of the risk service's feed in this service's database.
pub const RISK_FEED: &str = "risk";

/// The risk service's feed: each enterprise's colour, which sets its
/// plan's cadence.
pub struct RiskEvents {
    store: Store,
}

impl RiskEvents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        if event.event_type != AssessmentChanged::full_name() {
            return Ok(());
        }
        let changed = AssessmentChanged::decode(payload.value.as_slice())?;
        // The colour the district acts on: an admin's override while it
        // lasts, else the computed one.
        let acted_on = if changed.effective_colour != RiskColour::Unspecified as i32 {
            changed.effective_colour
        } else {
            changed.colour
        };
        let colour = RiskColour::try_from(acted_on).unwrap_or(RiskColour::Unspecified);
        self.store
            .colour_changed(connection, last_id(&changed.enterprise), colour)
            .await?;
        Ok(())
    }
}

/// The cursor name of the referral service's feed.
pub const REFERRAL_FEED: &str = "referral";

/// The referral service's feed: once a demand is referred, its status
/// follows its referral's moves, and the departments it is addressed to
/// reach it.
pub struct ReferralEvents {
    store: Store,
}

impl ReferralEvents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        if event.event_type != ReferralChanged::full_name() {
            return Ok(());
        }
        let changed = ReferralChanged::decode(payload.value.as_slice())?;
        let (Some(referral), Some(transition)) = (changed.referral, changed.transition) else {
            return Ok(());
        };
        // A part of a split referral: its whole speaks for the demand.
        if !referral.part_of.is_empty() {
            return Ok(());
        }
        let state = ReferralState::try_from(referral.state).unwrap_or(ReferralState::Unspecified);
        let departments: Vec<String> = referral
            .departments
            .iter()
            .map(|department| last_id(&department.department).to_owned())
            .collect();
        let reason = if transition.note.is_empty() {
            format!("转办{} referral {}", transition.action, transition.action)
        } else {
            transition.note.clone()
        };
        let change = ReferralChange {
            demand_id: last_id(&referral.demand),
            referral_id: last_id(&referral.name),
            departments: &departments,
            status: lifecycle::status_for_referral(state),
            actor: &transition.actor,
            reason: &reason,
        };
        if let Some(event) = self.store.follow_referral(connection, &change).await? {
            let context = RequestContext::system(&format!("{REFERRAL_FEED}-feed"));
            audit::record(connection, &context, "FollowReferral", &referral.demand, "").await?;
            louyu_kit::feed::append(connection, &context, event).await?;
        }
        Ok(())
    }
}

louyu_kit::event_handler!(RiskEvents, RegistryEvents, ReferralEvents);
