//! Loading the generated district through the services' APIs.
//!
//! The registry's records go in as the district admin, in bulk where the
//! registry allows it (`ImportRecords` CSV for buildings, units, enterprises
//! and tenancies). The season is then played week by week on the
//! development clock (`louyu_kit::time::shift_clock`, the mechanism behind
//! `LOUYU_DEV_CLOCK_OFFSET`): the process's clock is set to the end of each
//! week in turn, that week's visits are submitted by their field workers,
//! the referral service opens a referral for each demand from the visits
//! feed, and the departments move them as far as the plan says. So every
//! instant the services record (a demand raised, a referral dispatched, a
//! deadline, a breach) is the one they would have recorded that week, and
//! referrals left waiting from early weeks are past their deadlines today.
//! The clock is back where it was when the load ends, or fails.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use louyu_kit::time::ClockOffset;
use louyu_proto::common::v1::{CoordinateDatum, RiskColour};
use louyu_proto::google::r#type::Date;
use louyu_proto::referral::v1 as referral;
use louyu_proto::registry::v1 as registry;
use louyu_proto::visits::v1 as visits;
use tonic::Code;

use super::district::{self, District, Profile, Progress, SUB_DISTRICTS};
use super::{Actor, Suite};

/// What a load put in.
#[derive(Debug)]
pub struct Loaded {
    pub buildings: usize,
    pub enterprises: usize,
    pub visits: usize,
    pub demands: usize,
    pub took: Duration,
}

/// How long the load waits for the feeds to carry what it wrote.
const FEED_DEADLINE: Duration = Duration::from_secs(60);
/// How many calls the load keeps in flight at once.
const IN_FLIGHT: usize = 8;

pub async fn load(suite: &Suite, day: time::Date) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let district = district::generate();
    let clock = ClockGuard::new();
    let season_start = day - time::Duration::days(district::SEASON_DAYS + 7);
    clock.set_to(shanghai_instant(season_start, 9 * 60))?;
    registry_records(suite, &district, day).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo registry loaded"
    );
    councils(suite, &district, season_start).await?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo councils loaded"
    );

    // The season, a week at a time, oldest first.
    let mut weeks: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (index, visit) in district.visits.iter().enumerate() {
        weeks
            .entry(-(visit.days_ago - 1) / 7)
            .or_default()
            .push(index);
    }
    let mut demand_count = 0;
    for visit_indexes in weeks.values() {
        let last_day_ago = visit_indexes
            .iter()
            .map(|index| district.visits[*index].days_ago)
            .min()
            .expect("a week has visits");
        // The end of the week's last working day of visits.
        clock.set_to(shanghai_instant(
            day - time::Duration::days(last_day_ago),
            9 * 60 + 8 * 60,
        ))?;
        let demands = submit_visits(suite, &district, day, visit_indexes).await?;
        tracing::info!(
            week_ending = %(day - time::Duration::days(last_day_ago)),
            visits = visit_indexes.len(),
            demands = demands.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo week visited"
        );
        demand_count += demands.len();
        let referrals = wait_for_referrals(suite, &demands).await?;
        progress_referrals(suite, &district, &demands, &referrals).await?;
    }
    clock.restore();
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo season loaded"
    );
    wait_for_colours(suite).await?;
    let loaded = Loaded {
        buildings: district.buildings.len(),
        enterprises: district.enterprises.len(),
        visits: district.visits.len(),
        demands: demand_count,
        took: started.elapsed(),
    };
    tracing::info!(
        buildings = loaded.buildings,
        enterprises = loaded.enterprises,
        visits = loaded.visits,
        demands = loaded.demands,
        elapsed_ms = loaded.took.as_millis() as u64,
        "demo district loaded"
    );
    Ok(loaded)
}

/// Sets the process's development clock, and puts it back as it was when
/// dropped, so a failed load never leaves the suite living in the past.
struct ClockGuard {
    original: ClockOffset,
}

impl ClockGuard {
    fn new() -> Self {
        ClockGuard {
            original: louyu_kit::time::clock_offset(),
        }
    }

    /// Makes the clock read `instant` now.
    fn set_to(&self, instant: time::OffsetDateTime) -> anyhow::Result<()> {
        let system = time::OffsetDateTime::now_utc();
        let micros = (instant - system).whole_microseconds();
        let micros = i64::try_from(micros).context("the demo's clock shift fits")?;
        louyu_kit::time::shift_clock(ClockOffset::from_micros(micros));
        Ok(())
    }

    fn restore(&self) {
        louyu_kit::time::shift_clock(self.original);
    }
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        self.restore();
    }
}

/// `minutes` after midnight of `day` in Shanghai.
fn shanghai_instant(day: time::Date, minutes: i64) -> time::OffsetDateTime {
    day.midnight().assume_offset(time::macros::offset!(+8)) + time::Duration::minutes(minutes)
}

fn timestamp(instant: time::OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: 0,
    }
}

fn date(day: time::Date) -> Date {
    Date {
        year: day.year(),
        month: i32::from(u8::from(day.month())),
        day: i32::from(day.day()),
    }
}

/// A create that finds its record already there (an earlier, interrupted
/// load made it) is fine; anything else is an error.
fn tolerate_existing<T>(
    what: &str,
    result: Result<tonic::Response<T>, tonic::Status>,
) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => Err(anyhow::anyhow!(
            "{what}: {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}

async fn registry_records(
    suite: &Suite,
    district: &District,
    day: time::Date,
) -> anyhow::Result<()> {
    let parent = suite.parent();
    let mut client = suite.registry(Actor::DistrictAdmin)?;
    for sub_district in &SUB_DISTRICTS {
        tolerate_existing(
            "sub-district",
            client
                .create_sub_district(registry::CreateSubDistrictRequest {
                    parent: parent.clone(),
                    sub_district: Some(registry::SubDistrict {
                        display_name: sub_district.display_name.to_owned(),
                        kind: registry::SubDistrictKind::Street as i32,
                        ..Default::default()
                    }),
                    sub_district_id: sub_district.id.to_owned(),
                    request_id: format!("demo-sub-district-{}", sub_district.id),
                })
                .await,
        )?;
    }
    for department in &district.departments {
        tolerate_existing(
            "department",
            client
                .create_department(registry::CreateDepartmentRequest {
                    parent: parent.clone(),
                    department: Some(registry::Department {
                        display_name: department.display_name.clone(),
                        kind: department.kind as i32,
                        demand_categories: department
                            .categories
                            .iter()
                            .map(|category| *category as i32)
                            .collect(),
                        jurisdiction: department
                            .sub_district
                            .map(|index| {
                                vec![format!("{parent}/subDistricts/{}", SUB_DISTRICTS[index].id)]
                            })
                            .unwrap_or_default(),
                        office_phone: "021-62530000".to_owned(),
                        ..Default::default()
                    }),
                    department_id: department.id.clone(),
                    request_id: format!("demo-department-{}", department.id),
                })
                .await,
        )?;
    }

    let mut buildings = String::from(
        "building_id,display_name,address,latitude,longitude,datum,floors_above_ground,floors_below_ground,managing_sub_district,property_manager\n",
    );
    for building in &district.buildings {
        buildings.push_str(&format!(
            "{},{},{},{:.6},{:.6},WGS84,{},{},{},{}\n",
            building.id,
            building.display_name,
            building.address,
            building.latitude,
            building.longitude,
            building.floors_above_ground,
            building.floors_below_ground,
            SUB_DISTRICTS[building.sub_district].id,
            building.property_manager
        ));
    }
    import(suite, registry::ImportKind::Buildings, buildings).await?;

    let mut units = String::from("building_id,unit_id,display_name,floor,area_square_meters\n");
    for unit in &district.units {
        units.push_str(&format!(
            "{},{},{},{},{}\n",
            district.buildings[unit.building].id,
            unit.id,
            unit.display_name,
            unit.floor,
            unit.area_square_meters
        ));
    }
    import(suite, registry::ImportKind::Units, units).await?;

    let mut enterprises =
        String::from("uscc,display_name,industry,headcount,party_members,registered_address\n");
    let mut tenancies = String::from("uscc,building_id,unit_id,lease_start,lease_end\n");
    for enterprise in &district.enterprises {
        let unit = &district.units[enterprise.unit];
        let building = &district.buildings[unit.building];
        enterprises.push_str(&format!(
            "{},{},{},{},{},{}{}室\n",
            enterprise.uscc,
            enterprise.display_name,
            enterprise.industry,
            enterprise.headcount,
            enterprise.party_members,
            building.address,
            unit.id
        ));
        let (year, month, first) = enterprise.lease_start;
        let lease_end = day + time::Duration::days(enterprise.lease_days_left);
        tenancies.push_str(&format!(
            "{},{},{},{year:04}-{month:02}-{first:02},{lease_end}\n",
            enterprise.uscc, building.id, unit.id
        ));
    }
    import(suite, registry::ImportKind::Enterprises, enterprises).await?;
    import(suite, registry::ImportKind::Tenancies, tenancies).await?;

    let staff = district
        .field_workers
        .iter()
        .chain(&district.sub_district_admins)
        .chain(&district.district_staff)
        .map(|staff| {
            (
                staff.id.clone(),
                staff.display_name.clone(),
                staff.sub_district,
            )
        })
        .chain(district.departments.iter().map(|department| {
            (
                super::officer_of(&department.id),
                format!("{}联络员", department.display_name),
                None,
            )
        }));
    for (staff_id, display_name, sub_district) in staff {
        tolerate_existing(
            "staff",
            client
                .create_staff(registry::CreateStaffRequest {
                    parent: parent.clone(),
                    staff: Some(registry::Staff {
                        display_name,
                        sub_district: sub_district
                            .map(|index| {
                                format!("{parent}/subDistricts/{}", SUB_DISTRICTS[index].id)
                            })
                            .unwrap_or_default(),
                        active: true,
                        ..Default::default()
                    }),
                    request_id: format!("demo-staff-{staff_id}"),
                    staff_id,
                })
                .await,
        )?;
    }
    for building in &district.buildings {
        tolerate_existing(
            "assignment",
            client
                .create_assignment(registry::CreateAssignmentRequest {
                    parent: format!("{parent}/staff/{}", building.field_worker),
                    assignment: Some(registry::Assignment {
                        building: format!("{parent}/buildings/{}", building.id),
                        role: registry::AssignmentRole::FieldWorker as i32,
                        ..Default::default()
                    }),
                    request_id: format!(
                        "demo-assignment-{}-{}",
                        building.field_worker, building.id
                    ),
                })
                .await,
        )?;
    }
    Ok(())
}

/// Rows per `ImportRecords` call: each call is one transaction, kept well
/// within the request timeout on a slow machine.
const IMPORT_ROWS_PER_CALL: usize = 250;

/// Imports `csv` (a header and its rows) in calls of
/// [`IMPORT_ROWS_PER_CALL`] rows.
async fn import(suite: &Suite, kind: registry::ImportKind, csv: String) -> anyhow::Result<()> {
    let mut lines = csv.lines();
    let header = lines.next().context("a CSV file has a header")?;
    let rows: Vec<&str> = lines.collect();
    for chunk in rows.chunks(IMPORT_ROWS_PER_CALL) {
        let mut part = String::with_capacity(header.len() + chunk.len() * 80);
        part.push_str(header);
        part.push('\n');
        for row in chunk {
            part.push_str(row);
            part.push('\n');
        }
        import_part(suite, kind, part).await?;
    }
    Ok(())
}

async fn import_part(suite: &Suite, kind: registry::ImportKind, csv: String) -> anyhow::Result<()> {
    let response = suite
        .registry(Actor::DistrictAdmin)?
        .import_records(registry::ImportRecordsRequest {
            parent: suite.parent(),
            kind: kind as i32,
            csv: csv.into_bytes(),
            validate_only: false,
            location_datum: CoordinateDatum::Wgs84 as i32,
        })
        .await
        .map_err(|status| {
            anyhow::anyhow!(
                "the registry refused the {kind:?} import: {}",
                status.message()
            )
        })?
        .into_inner();
    if let Some(error) = response.errors.first() {
        anyhow::bail!(
            "the registry rejected {} {kind:?} rows, the first at line {} [{}]: {}",
            response.errors.len(),
            error.line,
            error.field,
            error.message
        );
    }
    Ok(())
}

/// Each building's council: its joint party secretary, property manager and
/// an enterprise's administration head, the secretary nominated chief, the
/// three notices run and the chief appointed, all before the season.
async fn councils(
    suite: &Suite,
    district: &District,
    season_start: time::Date,
) -> anyhow::Result<()> {
    use registry::{
        AppointChiefRequest, CouncilMember, CouncilRole, CreateCouncilMemberRequest,
        NominateChiefRequest, Organisation, OrganisationKind, StartChiefNoticeRequest,
    };
    let parent = suite.parent();
    let tasks = district
        .buildings
        .iter()
        .enumerate()
        .map(|(index, building)| {
            let suite = suite.clone();
            let parent = parent.clone();
            let tenant = district
                .enterprises
                .iter()
                .find(|enterprise| district.units[enterprise.unit].building == index)
                .map(|enterprise| enterprise.uscc.clone());
            let members = [
                (
                    CouncilRole::JointPartySecretary,
                    OrganisationKind::ServiceStation,
                    format!("{}党群服务站", building.display_name),
                    None,
                ),
                (
                    CouncilRole::PropertyManager,
                    OrganisationKind::PropertyManager,
                    building.property_manager.clone(),
                    None,
                ),
                (
                    CouncilRole::EnterpriseAdministration,
                    OrganisationKind::Enterprise,
                    String::new(),
                    tenant,
                ),
            ];
            async move {
                let mut client = suite.councils(Actor::DistrictAdmin)?;
                let building_name = format!("{parent}/buildings/{}", building.id);
                let mut secretary = None;
                for (position, (role, kind, organisation_name, enterprise)) in
                    members.into_iter().enumerate()
                {
                    // A building without a tenant has no enterprise to sit
                    // on its council.
                    if kind == OrganisationKind::Enterprise && enterprise.is_none() {
                        continue;
                    }
                    let member = client
                        .create_council_member(CreateCouncilMemberRequest {
                            parent: building_name.clone(),
                            council_member: Some(CouncilMember {
                                contact: Some(registry::Contact {
                                    person_name: format!("{}委员", building.display_name),
                                    title: "楼事会成员".to_owned(),
                                    ..Default::default()
                                }),
                                council_role: role as i32,
                                organisation: Some(Organisation {
                                    kind: kind as i32,
                                    enterprise: enterprise
                                        .map(|uscc| format!("{parent}/enterprises/{uscc}"))
                                        .unwrap_or_default(),
                                    display_name: organisation_name,
                                }),
                                term_start: Some(date(season_start - time::Duration::days(365))),
                                ..Default::default()
                            }),
                            request_id: format!("demo-council-{}-{position}", building.id),
                        })
                        .await
                        .map_err(|status| anyhow::anyhow!("council member: {}", status.message()))?
                        .into_inner();
                    if position == 0 {
                        secretary = Some(member.name);
                    }
                }
                let nomination = client
                    .nominate_chief(NominateChiefRequest {
                        parent: building_name.clone(),
                        council_member: secretary.context("the council has a secretary")?,
                        note: "楼事会推选".to_owned(),
                        request_id: format!("demo-chief-{}", building.id),
                        ..Default::default()
                    })
                    .await
                    .map_err(|status| anyhow::anyhow!("chief nomination: {}", status.message()))?
                    .into_inner();
                for notice in 0..3i64 {
                    let first = season_start - time::Duration::days(60 - notice * 14);
                    client
                        .start_chief_notice(StartChiefNoticeRequest {
                            name: nomination.name.clone(),
                            start_date: Some(date(first)),
                            end_date: Some(date(first + time::Duration::days(6))),
                            request_id: format!("demo-chief-{}-notice-{notice}", building.id),
                        })
                        .await
                        .map_err(|status| anyhow::anyhow!("chief notice: {}", status.message()))?;
                }
                client
                    .appoint_chief(AppointChiefRequest {
                        name: nomination.name.clone(),
                        request_id: format!("demo-chief-{}-appoint", building.id),
                    })
                    .await
                    .map_err(|status| anyhow::anyhow!("chief appointment: {}", status.message()))?;
                anyhow::Ok(())
            }
        });
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(tasks)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(())
}

/// A demand of the season as the visits service recorded it.
struct Raised {
    name: String,
    progress: Progress,
    /// The field worker who raised it, and their sub-district: they go back
    /// to the enterprise for its word.
    field_worker: String,
    sub_district: &'static str,
}

/// What the field worker observed, so the enterprise's profile shows.
fn observation(
    enterprise: &district::Enterprise,
    parent: &str,
    random: &mut district::Random,
) -> visits::Observation {
    use visits::{ExpansionFit, RelocationIntent, Trend};
    let mut observation = visits::Observation {
        enterprise: format!("{parent}/enterprises/{}", enterprise.uscc),
        relocation_intent: RelocationIntent::None as i32,
        headcount_trend: Trend::Stable as i32,
        business_trend: Trend::Stable as i32,
        satisfaction: 4 + random.below(2) as i32,
        ..Default::default()
    };
    match enterprise.profile {
        Profile::Settled => {
            if random.chance(30) {
                observation.headcount_trend = Trend::Growing as i32;
                observation.business_trend = Trend::Growing as i32;
            }
        }
        Profile::Watch => {
            if enterprise.lease_days_left > 365 {
                observation.satisfaction = 2;
                observation.notes = "对物业服务响应速度不满意".to_owned();
            }
        }
        Profile::Considering => {
            if random.chance(50) {
                observation.relocation_intent = RelocationIntent::Considering as i32;
                observation.relocation_destination = random
                    .pick(&["浦东新区", "徐汇区", "闵行区", "苏州工业园区"])
                    .to_string();
            } else {
                observation.expansion_need = true;
                observation.expansion_fit = ExpansionFit::BuildingCannotMeet as i32;
            }
        }
        Profile::Leaving => {
            if random.chance(50) {
                observation.relocation_intent = RelocationIntent::Decided as i32;
                observation.relocation_destination =
                    random.pick(&["浦东新区", "虹桥商务区", "杭州"]).to_string();
            } else {
                observation.relocation_intent = RelocationIntent::Considering as i32;
                observation.expansion_need = true;
                observation.expansion_fit = ExpansionFit::BuildingCannotMeet as i32;
            }
        }
        Profile::Critical => {
            observation.relocation_intent = RelocationIntent::Decided as i32;
            observation.relocation_destination = "外省市".to_owned();
            observation.expansion_need = true;
            observation.expansion_fit = ExpansionFit::BuildingCannotMeet as i32;
            observation.business_trend = Trend::Declining as i32;
            observation.headcount_trend = Trend::Declining as i32;
            observation.satisfaction = 1;
        }
    }
    observation.lease_months_left = Some((enterprise.lease_days_left / 30) as i32);
    observation
}

async fn submit_visits(
    suite: &Suite,
    district: &District,
    day: time::Date,
    visit_indexes: &[usize],
) -> anyhow::Result<Vec<Raised>> {
    let parent = suite.parent();
    let tasks = visit_indexes.iter().map(|index| {
        let visit = &district.visits[*index];
        let building = &district.buildings[visit.building];
        let sub_district = SUB_DISTRICTS[building.sub_district].id;
        let mut random = district::Random::new(*index as u64);
        let observations = visit
            .observed
            .iter()
            .map(|enterprise| observation(&district.enterprises[*enterprise], &parent, &mut random))
            .collect();
        let demands: Vec<visits::DemandDraft> = visit
            .demands
            .iter()
            .map(|demand| visits::DemandDraft {
                enterprise: format!(
                    "{parent}/enterprises/{}",
                    district.enterprises[demand.enterprise].uscc
                ),
                category: demand.category as i32,
                description: demand.description.to_owned(),
                urgency: demand.urgency as i32,
            })
            .collect();
        let request = visits::SubmitVisitRequest {
            parent: parent.clone(),
            visit: Some(visits::Visit {
                building: format!("{parent}/buildings/{}", building.id),
                staff: vec![format!("{parent}/staff/{}", building.field_worker)],
                visit_time: Some(timestamp(shanghai_instant(
                    day - time::Duration::days(visit.days_ago),
                    9 * 60 + visit.minute_of_day,
                ))),
                kind: if visit.demands.is_empty() {
                    visits::VisitKind::Routine
                } else {
                    visits::VisitKind::FollowUp
                } as i32,
                observations,
                ..Default::default()
            }),
            demands,
            request_id: format!("demo-visit-{index}"),
        };
        let suite = suite.clone();
        let field_worker = building.field_worker.clone();
        let progress: Vec<Progress> = visit.demands.iter().map(|demand| demand.progress).collect();
        async move {
            let response = submit_as(&suite, &field_worker, sub_district, request).await?;
            anyhow::Ok(
                response
                    .demands
                    .into_iter()
                    .zip(progress)
                    .map(|(demand, progress)| Raised {
                        name: demand.name,
                        progress,
                        field_worker: field_worker.clone(),
                        sub_district,
                    })
                    .collect::<Vec<_>>(),
            )
        }
    });
    let results: Vec<anyhow::Result<Vec<Raised>>> = futures::stream::iter(tasks)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut raised = Vec::new();
    for result in results {
        raised.extend(result?);
    }
    Ok(raised)
}

/// Submits a visit as its field worker. The visits service learns who is
/// assigned where from the registry's feed, so a worker's first visit may
/// come before their assignment has arrived: that refusal is retried until
/// the feed's deadline.
async fn submit_as(
    suite: &Suite,
    field_worker: &str,
    sub_district: &str,
    request: visits::SubmitVisitRequest,
) -> anyhow::Result<visits::SubmitVisitResponse> {
    let started = Instant::now();
    let mut client = suite.visits(Actor::FieldWorker(field_worker, sub_district))?;
    loop {
        match client.submit_visit(request.clone()).await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status)
                if matches!(status.code(), Code::PermissionDenied | Code::NotFound)
                    && started.elapsed() < FEED_DEADLINE =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => {
                anyhow::bail!(
                    "the visits service refused demo visit {}: {:?}: {}",
                    request.request_id,
                    status.code(),
                    status.message()
                )
            }
        }
    }
}

/// Waits until the referral service has opened a referral for each demand
/// (from the visits feed), and returns them by demand.
async fn wait_for_referrals(
    suite: &Suite,
    demands: &[Raised],
) -> anyhow::Result<HashMap<String, referral::Referral>> {
    let started = Instant::now();
    let mut client = suite.referral(Actor::DistrictAdmin)?;
    loop {
        let mut found = HashMap::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_referrals(referral::ListReferralsRequest {
                    parent: suite.parent(),
                    page_size: 1000,
                    page_token,
                    ..Default::default()
                })
                .await
                .map_err(|status| anyhow::anyhow!("cannot list referrals: {}", status.message()))?
                .into_inner();
            for referral in page.referrals {
                found.insert(referral.demand.clone(), referral);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        if demands
            .iter()
            .all(|demand| found.contains_key(&demand.name))
        {
            return Ok(found);
        }
        anyhow::ensure!(
            started.elapsed() < FEED_DEADLINE,
            "the referral service did not open a referral for every demo demand within {FEED_DEADLINE:?}"
        );
        // A listing reads every referral with its history: not too often.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Moves each referral as far as its plan says, as the people who would:
/// the lead department accepts, starts and completes, the field worker
/// records the enterprise's confirmation.
async fn progress_referrals(
    suite: &Suite,
    district: &District,
    demands: &[Raised],
    referrals: &HashMap<String, referral::Referral>,
) -> anyhow::Result<()> {
    let _ = district;
    let tasks = demands.iter().filter_map(|demand| {
        let referral = referrals.get(&demand.name)?;
        if referral.state != referral::ReferralState::Requested as i32
            || referral.lead_department.is_empty()
        {
            // Unrouted, or moved by an earlier, interrupted load.
            return None;
        }
        let suite = suite.clone();
        let name = referral.name.clone();
        let id = name.rsplit('/').next().unwrap_or_default().to_owned();
        let department = referral
            .lead_department
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let progress = demand.progress;
        let field_worker = demand.field_worker.clone();
        let sub_district = demand.sub_district;
        Some(async move {
            let mut officer = suite.referral(Actor::Officer(&department))?;
            let failed = |step: &'static str| {
                move |status: tonic::Status| {
                    anyhow::anyhow!(
                        "cannot {step} a demo referral: {:?}: {}",
                        status.code(),
                        status.message()
                    )
                }
            };
            if progress == Progress::Requested {
                return anyhow::Ok(());
            }
            officer
                .accept_referral(referral::AcceptReferralRequest {
                    name: name.clone(),
                    note: "已受理".to_owned(),
                    request_id: format!("demo-accept-{id}"),
                })
                .await
                .map_err(failed("accept"))?;
            if progress == Progress::Accepted {
                return Ok(());
            }
            officer
                .start_referral(referral::StartReferralRequest {
                    name: name.clone(),
                    note: "已联系企业，正在办理".to_owned(),
                    request_id: format!("demo-start-{id}"),
                })
                .await
                .map_err(failed("start"))?;
            if progress == Progress::Started {
                return Ok(());
            }
            officer
                .complete_referral(referral::CompleteReferralRequest {
                    name: name.clone(),
                    outcome: "已按企业诉求办结，并向企业反馈".to_owned(),
                    request_id: format!("demo-complete-{id}"),
                })
                .await
                .map_err(failed("complete"))?;
            if progress == Progress::Completed {
                return Ok(());
            }
            suite
                .referral(Actor::FieldWorker(&field_worker, sub_district))?
                .confirm_referral(referral::ConfirmReferralRequest {
                    name: name.clone(),
                    resolution: referral::Resolution::Solved as i32,
                    satisfaction: 5,
                    note: "企业确认问题已解决".to_owned(),
                    request_id: format!("demo-confirm-{id}"),
                })
                .await
                .map_err(failed("confirm"))?;
            Ok(())
        })
    });
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(tasks)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(())
}

/// Waits until the risk service has graded the district in all five
/// colours and its counts have settled (the visits feed carried every
/// observation to it).
async fn wait_for_colours(suite: &Suite) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut client = suite.risk(Actor::DistrictAdmin)?;
    let mut previous = Vec::new();
    loop {
        let summary = client
            .summarize_assessments(louyu_proto::risk::v1::SummarizeAssessmentsRequest {
                parent: suite.parent(),
                ..Default::default()
            })
            .await
            .map_err(|status| {
                anyhow::anyhow!("cannot summarize assessments: {}", status.message())
            })?
            .into_inner();
        let counts: Vec<(i32, i64)> = summary
            .counts
            .iter()
            .map(|count| (count.colour, count.count))
            .collect();
        let every_colour = [
            RiskColour::Green,
            RiskColour::Blue,
            RiskColour::Yellow,
            RiskColour::Orange,
            RiskColour::Red,
        ]
        .iter()
        .all(|colour| counts.iter().any(|(counted, _)| *counted == *colour as i32));
        if every_colour && counts == previous {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < FEED_DEADLINE,
            "the risk service did not grade the demo district in all five colours within {FEED_DEADLINE:?}: {counts:?}"
        );
        previous = counts;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
