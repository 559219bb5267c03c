//! What the referral service follows. The visits feed: every new demand
//! opens its referral (exactly once: the unique index on the demand holds
//! however often the event arrives), routed by the rules against the
//! registry's department directory; a withdrawn demand cancels its
//! referral. The risk feed: an enterprise turning orange or red opens its
//! retention case, a later change updates or closes it. The registry's
//! feed: who covers what, for data scope.

use louyu_kit::audit::RequestContext;
use louyu_kit::names::last_id;
use louyu_proto::common::v1::{DemandCategory, Event, RiskColour};
use louyu_proto::risk::v1::AssessmentChanged;
use louyu_proto::visits::v1::{Demand, DemandRaised, DemandStatus, DemandStatusChanged, Urgency};
use prost::{Message, Name};
use sqlx::AnyConnection;

use crate::domain::referral::Move;
use crate::domain::retention::CaseChange;
use crate::registry::Registry;
use crate::store::{ColourChange, DemandFacts, OfferedUnitRecord, Opened, Store};

/// The cursor name of the visits feed in this service's database.
pub const VISITS_FEED: &str = "visits";
/// The cursor name of the registry's feed.
pub const REGISTRY_FEED: &str = "registry";

pub struct VisitsEvents {
    store: Store,
    registry: Registry,
}

impl VisitsEvents {
    pub fn new(store: Store, registry: Registry) -> Self {
        Self { store, registry }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        let context = RequestContext::system(&format!("{VISITS_FEED}-feed"));
        if event.event_type == DemandRaised::full_name() {
            let Some(demand) = DemandRaised::decode(payload.value.as_slice())?.demand else {
                return Ok(());
            };
            let facts = facts_of(&demand);
            self.store
                .remember_demand(connection, &facts, demand.status)
                .await?;
            if self
                .store
                .referral_of_demand(connection, &facts.demand_id)
                .await?
                .is_some()
            {
                return Ok(());
            }
            // The directory is asked before anything is written; when the
            // registry is down the event is retried, never lost.
            let (rules, _) = self.store.rules_in_force(connection).await?;
            let directory = self.registry.directory().await?;
            let departments = rules.route(facts.category, &facts.sub_district_id, &directory);
            let offered = offered_units(&self.registry, &facts).await?;
            let acting = crate::store::acting_as_system(&context);
            if let Opened::New(referral, event) = self
                .store
                .open(
                    connection,
                    &facts,
                    departments,
                    &offered,
                    &acting,
                    String::new(),
                )
                .await?
            {
                louyu_kit::audit::record(connection, &context, "OpenReferral", &referral.name, "")
                    .await?;
                louyu_kit::feed::append(connection, &context, event).await?;
            }
        } else if event.event_type == DemandStatusChanged::full_name() {
            let Some(demand) = DemandStatusChanged::decode(payload.value.as_slice())?.demand else {
                return Ok(());
            };
            let facts = facts_of(&demand);
            self.store
                .remember_demand(connection, &facts, demand.status)
                .await?;
            if demand.status != DemandStatus::Withdrawn as i32 {
                return Ok(());
            }
            let Some(id) = self
                .store
                .referral_of_demand(connection, &facts.demand_id)
                .await?
            else {
                return Ok(());
            };
            let acting = crate::store::acting_as_system(&context);
            let cancel = Move::Cancel {
                reason: "诉求已撤回 the demand was withdrawn".to_owned(),
            };
            match self.store.move_in(connection, &id, cancel, &acting).await {
                Ok((referral, changed)) => {
                    louyu_kit::audit::record(
                        connection,
                        &context,
                        "CancelReferral",
                        &referral.name,
                        "",
                    )
                    .await?;
                    louyu_kit::feed::append_all(connection, &context, changed).await?;
                }
                // Confirmed or cancelled already: nothing to cancel, and
                // applying the event again changes nothing.
                Err(crate::error::ReferralError::FailedPrecondition(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

/// How many vacant units an office-space referral offers.
const OFFERED_UNITS: i32 = 10;

/// For an office-space demand, the district's vacant units with more room
/// than the enterprise leases now, nearest to its building first: a
/// growing enterprise should find room in the district before it leaves.
/// Other demands offer none.
pub async fn offered_units(
    registry: &Registry,
    facts: &DemandFacts,
) -> Result<Vec<OfferedUnitRecord>, crate::error::ReferralError> {
    if facts.category != DemandCategory::OfficeSpace {
        return Ok(Vec::new());
    }
    let leased = registry.leased_area(&facts.uscc).await?;
    let building = if facts.building_id.is_empty() {
        String::new()
    } else {
        format!("{}/buildings/{}", registry.district(), facts.building_id)
    };
    registry
        .vacant_units_near(&building, leased, OFFERED_UNITS)
        .await
}

fn facts_of(demand: &Demand) -> DemandFacts {
    DemandFacts {
        demand_id: last_id(&demand.name).to_owned(),
        uscc: last_id(&demand.enterprise).to_owned(),
        building_id: if demand.building.is_empty() {
            String::new()
        } else {
            last_id(&demand.building).to_owned()
        },
        sub_district_id: if demand.sub_district.is_empty() {
            String::new()
        } else {
            last_id(&demand.sub_district).to_owned()
        },
        category: DemandCategory::try_from(demand.category).unwrap_or(DemandCategory::Other),
        urgency: Urgency::try_from(demand.urgency).unwrap_or(Urgency::Normal),
        description: demand.description.clone(),
    }
}

/// The cursor name of the risk service's feed.
pub const RISK_FEED: &str = "risk";

/// The risk service's feed: a change of the colour the district acts on
/// opens, updates or closes the enterprise's retention case.
pub struct RiskEvents {
    store: Store,
    registry: Registry,
}

impl RiskEvents {
    pub fn new(store: Store, registry: Registry) -> Self {
        Self { store, registry }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        if event.event_type != AssessmentChanged::full_name() {
            return Ok(());
        }
        let changed = AssessmentChanged::decode(payload.value.as_slice())?;
        let acted_on = if changed.effective_colour != RiskColour::Unspecified as i32 {
            changed.effective_colour
        } else {
            changed.colour
        };
        let assessment = changed.assessment.unwrap_or_default();
        let change = ColourChange {
            uscc: last_id(&changed.enterprise).to_owned(),
            building_id: if assessment.building.is_empty() {
                String::new()
            } else {
                last_id(&assessment.building).to_owned()
            },
            colour: RiskColour::try_from(acted_on).unwrap_or(RiskColour::Unspecified),
            score: changed.score,
            rules_version: assessment.rules_version,
        };
        self.store
            .remember_colour(connection, &change.uscc, change.colour)
            .await?;
        let (open, decided) = self.store.case_change(connection, &change).await?;
        let directory = match decided {
            CaseChange::Open | CaseChange::Update { respond: true } => {
                self.registry.directory().await?
            }
            _ => Vec::new(),
        };
        if let Some(event) = self
            .store
            .change_case(connection, open, decided, &change, &directory)
            .await?
        {
            let context = RequestContext::system(&format!("{RISK_FEED}-feed"));
            louyu_kit::audit::record(
                connection,
                &context,
                "ChangeRetentionCase",
                &event.resource,
                "",
            )
            .await?;
            louyu_kit::feed::append(connection, &context, event).await?;
        }
        Ok(())
    }
}

/// The registry's feed: kept for data scope.
pub struct RegistryEvents;

impl RegistryEvents {
    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        louyu_kit::scope::kept::apply(connection, event).await?;
        Ok(())
    }
}

louyu_kit::event_handler!(VisitsEvents, RegistryEvents, RiskEvents);
