//! What the risk service follows, and the signals each event makes: the
//! registry's feed (enterprises, tenancies with their lease end, moving out,
//! headcount; and the scope it keeps) and the visits feed (what visits
//! observed, demands open and closed) and the referral feed (each
//! referral's outcome: solved lowers the score; rejected, failed, reopened
//! or overdue raises it). Every effect is an upsert or a
//! delete of one signal per topic, then a re-assessment: applying an event
//! twice changes nothing.

use louyu_kit::audit::RequestContext;
use louyu_kit::names::last_id;
use louyu_proto::common::v1::Event;
use louyu_proto::referral::v1::{ReferralBreached, ReferralChanged, ReferralState};
use louyu_proto::registry::v1::{
    EnterpriseChanged, EnterpriseCreated, EnterpriseStatus, TenancyEnded, TenancyStarted,
};
use louyu_proto::visits::v1::{
    DemandRaised, DemandStatus, DemandStatusChanged, ExpansionFit, Observation, RelocationIntent,
    Trend, VisitRecorded,
};
use prost::{Message, Name};
use sqlx::AnyConnection;

use crate::domain::{Signal, SignalKind};
use crate::store::{Cause, Store};

/// The cursor names of the feeds in this service's database.
pub const REGISTRY_FEED: &str = "registry";
pub const VISITS_FEED: &str = "visits";
pub const REFERRAL_FEED: &str = "referral";

/// A signal of `kind` from an event.
fn signal_of(event: &Event, source: &str, kind: SignalKind, subject: &str) -> Signal {
    Signal {
        id: event.event_id.clone(),
        kind,
        source: source.to_owned(),
        observed_at: occurred_at(event),
        value: None,
        expires_at: None,
        due_at: None,
        subject: subject.to_owned(),
    }
}

fn occurred_at(event: &Event) -> i64 {
    event
        .occur_time
        .as_ref()
        .map(louyu_kit::time::micros_from_timestamp)
        .unwrap_or_else(louyu_kit::time::now_micros)
}

/// The signal changes of one event, then one re-assessment of each
/// enterprise they touched, whose colour changes are appended to the
/// outbox in the consumer's transaction (which commits them with the
/// cursor).
struct Effects<'a> {
    store: &'a Store,
    source: &'static str,
    /// Each enterprise touched, with the first cause.
    touched: Vec<(String, Cause)>,
}

impl<'a> Effects<'a> {
    fn new(store: &'a Store, source: &'static str) -> Self {
        Self {
            store,
            source,
            touched: Vec::new(),
        }
    }

    async fn put(
        &mut self,
        connection: &mut AnyConnection,
        uscc: &str,
        topic: &str,
        signal: Signal,
    ) -> anyhow::Result<()> {
        if self
            .store
            .put_signal(connection, uscc, topic, &signal)
            .await?
        {
            self.touch(uscc, Cause::signal(&signal));
        }
        Ok(())
    }

    async fn remove(
        &mut self,
        connection: &mut AnyConnection,
        uscc: &str,
        topic: &str,
        kind: SignalKind,
    ) -> anyhow::Result<()> {
        if self.store.remove_signal(connection, uscc, topic).await? {
            self.touch(uscc, Cause::ended(&kind.describe()));
        }
        Ok(())
    }

    /// Re-assesses `uscc` when the event is applied.
    fn touch(&mut self, uscc: &str, cause: Cause) {
        if !self.touched.iter().any(|(touched, _)| touched == uscc) {
            self.touched.push((uscc.to_owned(), cause));
        }
    }

    async fn apply(self, connection: &mut AnyConnection) -> anyhow::Result<()> {
        let now = louyu_kit::time::now_micros();
        let context = RequestContext::system(&format!("{}-feed", self.source));
        for (uscc, cause) in &self.touched {
            if let Some(event) = self.store.rescore(connection, uscc, now, cause).await? {
                louyu_kit::feed::append(connection, &context, event).await?;
            }
        }
        Ok(())
    }
}

/// The registry's feed.
pub struct RegistryEvents {
    store: Store,
}

impl RegistryEvents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        if louyu_kit::scope::kept::apply(connection, event).await? {
            return Ok(());
        }
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        let mut effects = Effects::new(&self.store, REGISTRY_FEED);
        let event_type = event.event_type.as_str();
        if event_type == EnterpriseCreated::full_name() {
            if let Some(enterprise) =
                EnterpriseCreated::decode(payload.value.as_slice())?.enterprise
            {
                self.store
                    .enterprise_seen(
                        connection,
                        &enterprise.uscc,
                        i64::from(enterprise.headcount),
                    )
                    .await?;
                effects.touch(&enterprise.uscc, Cause::registered());
            }
        } else if event_type == EnterpriseChanged::full_name() {
            if let Some(enterprise) =
                EnterpriseChanged::decode(payload.value.as_slice())?.enterprise
            {
                let uscc = enterprise.uscc.clone();
                let left = matches!(
                    EnterpriseStatus::try_from(enterprise.status),
                    Ok(EnterpriseStatus::MovedOut | EnterpriseStatus::Deregistered)
                );
                if left {
                    let signal =
                        signal_of(event, REGISTRY_FEED, SignalKind::MovedOut, &enterprise.name);
                    effects.put(connection, &uscc, "status", signal).await?;
                } else {
                    effects
                        .remove(connection, &uscc, "status", SignalKind::MovedOut)
                        .await?;
                }
                let headcount = i64::from(enterprise.headcount);
                let before = self
                    .store
                    .enterprise_seen(connection, &uscc, headcount)
                    .await?;
                match before {
                    Some(before) if headcount < before && before > 0 => {
                        let mut signal = signal_of(
                            event,
                            REGISTRY_FEED,
                            SignalKind::HeadcountDrop,
                            &enterprise.name,
                        );
                        signal.value = Some((before - headcount) as f64 / before as f64);
                        effects.put(connection, &uscc, "headcount", signal).await?;
                    }
                    Some(before) if headcount > before => {
                        effects
                            .remove(connection, &uscc, "headcount", SignalKind::HeadcountDrop)
                            .await?;
                    }
                    _ => {}
                }
            }
        } else if event_type == TenancyStarted::full_name() {
            let started = TenancyStarted::decode(payload.value.as_slice())?;
            if let Some(tenancy) = started.tenancy {
                let uscc = last_id(&tenancy.enterprise).to_owned();
                self.store
                    .tenancy_seen(
                        connection,
                        last_id(&tenancy.name),
                        &uscc,
                        last_id(&started.building),
                        occurred_at(event),
                    )
                    .await?;
                let mut signal =
                    signal_of(event, REGISTRY_FEED, SignalKind::LeaseEnding, &tenancy.name);
                signal.due_at = tenancy.lease_end.as_ref().and_then(end_of_day);
                let topic = format!("tenancy/{}", last_id(&tenancy.name));
                if signal.due_at.is_some() {
                    effects.put(connection, &uscc, &topic, signal).await?;
                } else {
                    // No lease end: nothing to count, but the building changed.
                    effects.touch(&uscc, Cause::signal(&signal));
                }
            }
        } else if event_type == TenancyEnded::full_name()
            && let Some(tenancy) = TenancyEnded::decode(payload.value.as_slice())?.tenancy
        {
            let uscc = last_id(&tenancy.enterprise).to_owned();
            self.store
                .tenancy_ended(connection, last_id(&tenancy.name))
                .await?;
            let topic = format!("tenancy/{}", last_id(&tenancy.name));
            effects
                .remove(connection, &uscc, &topic, SignalKind::LeaseEnding)
                .await?;
            // The building it is in may have changed.
            effects.touch(&uscc, Cause::ended(&SignalKind::LeaseEnding.describe()));
        }
        effects.apply(connection).await
    }
}

/// The end of a lease's last day in Shanghai, in microseconds.
fn end_of_day(date: &louyu_proto::google::r#type::Date) -> Option<i64> {
    let month = time::Month::try_from(u8::try_from(date.month).ok()?).ok()?;
    let day =
        time::Date::from_calendar_date(date.year, month, u8::try_from(date.day).ok()?).ok()?;
    let shanghai = time::UtcOffset::from_hms(8, 0, 0).ok()?;
    let end = day.next_day()?.midnight().assume_offset(shanghai);
    i64::try_from(end.unix_timestamp_nanos() / 1_000).ok()
}

/// The visits feed.
pub struct VisitsEvents {
    store: Store,
}

impl VisitsEvents {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    async fn apply(&self, connection: &mut AnyConnection, event: &Event) -> anyhow::Result<()> {
        let Some(payload) = &event.payload else {
            return Ok(());
        };
        let mut effects = Effects::new(&self.store, VISITS_FEED);
        let event_type = event.event_type.as_str();
        if event_type == VisitRecorded::full_name() {
            if let Some(visit) = VisitRecorded::decode(payload.value.as_slice())?.visit {
                for observation in &visit.observations {
                    self.observed(connection, &mut effects, event, &visit.name, observation)
                        .await?;
                }
            }
        } else if event_type == DemandRaised::full_name() {
            if let Some(demand) = DemandRaised::decode(payload.value.as_slice())?.demand {
                let uscc = last_id(&demand.enterprise).to_owned();
                let mut signal =
                    signal_of(event, VISITS_FEED, SignalKind::OpenDemand, &demand.name);
                signal.value = Some(f64::from(demand.urgency));
                if let Some(raised) = &demand.create_time {
                    signal.observed_at = louyu_kit::time::micros_from_timestamp(raised);
                }
                let topic = format!("demand/{}", last_id(&demand.name));
                effects.put(connection, &uscc, &topic, signal).await?;
            }
        } else if event_type == DemandStatusChanged::full_name()
            && let Some(demand) = DemandStatusChanged::decode(payload.value.as_slice())?.demand
        {
            let uscc = last_id(&demand.enterprise).to_owned();
            let topic = format!("demand/{}", last_id(&demand.name));
            let closed = matches!(
                DemandStatus::try_from(demand.status),
                Ok(DemandStatus::Resolved | DemandStatus::Confirmed | DemandStatus::Withdrawn)
            );
            if closed {
                effects
                    .remove(connection, &uscc, &topic, SignalKind::OpenDemand)
                    .await?;
            } else {
                // Open again (reopened): it counts from when it was raised.
                let mut signal =
                    signal_of(event, VISITS_FEED, SignalKind::OpenDemand, &demand.name);
                signal.value = Some(f64::from(demand.urgency));
                if let Some(raised) = &demand.create_time {
                    signal.observed_at = louyu_kit::time::micros_from_timestamp(raised);
                }
                effects.put(connection, &uscc, &topic, signal).await?;
            }
        }
        effects.apply(connection).await
    }

    /// The signals of one observation: each topic a visit asks about is
    /// replaced by what this visit saw, or cleared when it saw nothing
    /// worrying. Topics the visit did not ask about stay as they were.
    async fn observed(
        &self,
        connection: &mut AnyConnection,
        effects: &mut Effects<'_>,
        event: &Event,
        visit: &str,
        observation: &Observation,
    ) -> anyhow::Result<()> {
        let uscc = last_id(&observation.enterprise).to_owned();
        let signal = |kind| {
            let mut signal = signal_of(event, VISITS_FEED, kind, visit);
            // One event, several signals: each its own id.
            signal.id = format!("{}/{}", event.event_id, kind.as_str());
            signal
        };
        match RelocationIntent::try_from(observation.relocation_intent) {
            Ok(RelocationIntent::Considering) => {
                effects
                    .put(
                        connection,
                        &uscc,
                        "relocation",
                        signal(SignalKind::RelocationConsidering),
                    )
                    .await?
            }
            Ok(RelocationIntent::Decided) => {
                effects
                    .put(
                        connection,
                        &uscc,
                        "relocation",
                        signal(SignalKind::RelocationDecided),
                    )
                    .await?
            }
            Ok(RelocationIntent::None) => {
                effects
                    .remove(
                        connection,
                        &uscc,
                        "relocation",
                        SignalKind::RelocationConsidering,
                    )
                    .await?
            }
            _ => {}
        }
        let unmet = observation.expansion_need
            && observation.expansion_fit == ExpansionFit::BuildingCannotMeet as i32;
        if unmet {
            effects
                .put(
                    connection,
                    &uscc,
                    "expansion",
                    signal(SignalKind::ExpansionUnmet),
                )
                .await?;
        } else if observation.expansion_fit != ExpansionFit::Unspecified as i32
            || !observation.expansion_need
        {
            effects
                .remove(connection, &uscc, "expansion", SignalKind::ExpansionUnmet)
                .await?;
        }
        for (trend, topic, kind) in [
            (
                observation.business_trend,
                "business_trend",
                SignalKind::BusinessDeclining,
            ),
            (
                observation.headcount_trend,
                "headcount_trend",
                SignalKind::HeadcountDeclining,
            ),
        ] {
            match Trend::try_from(trend) {
                Ok(Trend::Declining) => effects.put(connection, &uscc, topic, signal(kind)).await?,
                Ok(Trend::Growing | Trend::Stable) => {
                    effects.remove(connection, &uscc, topic, kind).await?
                }
                _ => {}
            }
        }
        match observation.satisfaction {
            1 | 2 => {
                let mut low = signal(SignalKind::LowSatisfaction);
                low.value = Some(f64::from(observation.satisfaction));
                effects.put(connection, &uscc, "satisfaction", low).await?;
            }
            3..=5 => {
                effects
                    .remove(
                        connection,
                        &uscc,
                        "satisfaction",
                        SignalKind::LowSatisfaction,
                    )
                    .await?
            }
            _ => {}
        }
        Ok(())
    }
}

/// The referral service's feed: the latest outcome of each referral is one
/// signal (topic `referral/{id}`), replaced as the referral moves on.
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
        // Department officers' reach: the enterprises of their referrals.
        louyu_kit::scope::referred::apply(connection, event).await?;
        let mut effects = Effects::new(&self.store, REFERRAL_FEED);
        let (referral, overdue) = if event.event_type == ReferralChanged::full_name() {
            (
                ReferralChanged::decode(payload.value.as_slice())?.referral,
                false,
            )
        } else if event.event_type == ReferralBreached::full_name() {
            (
                ReferralBreached::decode(payload.value.as_slice())?.referral,
                true,
            )
        } else {
            return Ok(());
        };
        let Some(referral) = referral else {
            return Ok(());
        };
        // A part's outcome is its whole's; a part running late counts.
        if !referral.part_of.is_empty() && !overdue {
            return Ok(());
        }
        let uscc = last_id(&referral.enterprise).to_owned();
        let topic = format!("referral/{}", last_id(&referral.name));
        let state = ReferralState::try_from(referral.state).unwrap_or(ReferralState::Unspecified);
        let kind = if overdue {
            Some(SignalKind::ReferralFailed)
        } else {
            match state {
                ReferralState::Completed | ReferralState::Confirmed => {
                    Some(SignalKind::ReferralResolved)
                }
                ReferralState::Rejected | ReferralState::Failed | ReferralState::Reopened => {
                    Some(SignalKind::ReferralFailed)
                }
                // The demand was withdrawn: its referral's outcome no
                // longer counts (a cancelled referral had none but a
                // rejection or a failure).
                ReferralState::Cancelled => {
                    effects
                        .remove(connection, &uscc, &topic, SignalKind::ReferralFailed)
                        .await?;
                    None
                }
                // Dispatched, accepted, worked on: the outcome so far stands.
                _ => None,
            }
        };
        if let Some(kind) = kind {
            let signal = signal_of(event, REFERRAL_FEED, kind, &referral.name);
            effects.put(connection, &uscc, &topic, signal).await?;
        }
        effects.apply(connection).await
    }
}

louyu_kit::event_handler!(RegistryEvents, VisitsEvents, ReferralEvents);
