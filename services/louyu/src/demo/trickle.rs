//! After the load, the demo district keeps moving: every few seconds a
//! field worker visits one of their buildings (sometimes raising a demand),
//! and one referral moves a step (accepted, started, completed, or confirmed
//! by the enterprise). Tick `n` always does the same thing, and the count of
//! ticks is kept in the data folder, so a restart goes on where it stopped
//! instead of repeating itself.

use std::time::Duration;

use anyhow::Context;
use louyu_kit::server::Shutdown;
use louyu_proto::referral::v1 as referral;
use louyu_proto::visits::v1 as visits;

use super::district::{self, SUB_DISTRICTS};
use super::{Actor, Files, Suite};

/// Runs until `shutdown`; a tick under way when it comes is finished first.
pub async fn trickle(suite: Suite, files: Files, every: Duration, shutdown: Shutdown) {
    let district = district::generate();
    let mut tick = std::fs::read_to_string(files.trickle())
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if shutdown.is_triggered() {
            return;
        }
        match one_tick(&suite, &district, tick).await {
            Ok(()) => {
                tick += 1;
                if let Err(error) = super::write_atomically(&files.trickle(), &tick.to_string()) {
                    tracing::warn!(error = %error, "cannot keep the demo trickle's count");
                }
            }
            // The suite may be stopping, or a feed lagging: the next tick
            // retries the same step (its request ids make that safe).
            Err(error) => tracing::warn!(tick, error = %error, "demo trickle step failed"),
        }
    }
}

async fn one_tick(suite: &Suite, district: &district::District, tick: u64) -> anyhow::Result<()> {
    let parent = suite.parent();
    let mut random = district::Random::new(0x0074_7269_636b_6c65 ^ tick);
    let building_index = (tick as usize * 7) % district.buildings.len();
    let building = &district.buildings[building_index];
    let sub_district = SUB_DISTRICTS[building.sub_district].id;
    let tenants: Vec<&district::Enterprise> = district
        .enterprises
        .iter()
        .filter(|enterprise| district.units[enterprise.unit].building == building_index)
        .collect();
    anyhow::ensure!(!tenants.is_empty(), "building {} has tenants", building.id);
    let met = tenants[random.below(tenants.len() as u64) as usize];
    let enterprise = format!("{parent}/enterprises/{}", met.uscc);
    let mut demands = Vec::new();
    if tick.is_multiple_of(3) {
        let (category, description) = TRICKLE_DEMANDS[(tick / 3) as usize % TRICKLE_DEMANDS.len()];
        demands.push(visits::DemandDraft {
            enterprise: enterprise.clone(),
            category: category as i32,
            description: description.to_owned(),
            urgency: visits::Urgency::Normal as i32,
        });
    }
    let now = louyu_kit::time::now();
    suite
        .visits(Actor::FieldWorker(&building.field_worker, sub_district))?
        .submit_visit(visits::SubmitVisitRequest {
            parent: parent.clone(),
            visit: Some(visits::Visit {
                building: format!("{parent}/buildings/{}", building.id),
                staff: vec![format!("{parent}/staff/{}", building.field_worker)],
                visit_time: Some(prost_types::Timestamp {
                    seconds: now.unix_timestamp(),
                    nanos: 0,
                }),
                kind: visits::VisitKind::Routine as i32,
                observations: vec![visits::Observation {
                    enterprise,
                    satisfaction: 3 + random.below(3) as i32,
                    headcount_trend: visits::Trend::Stable as i32,
                    business_trend: visits::Trend::Stable as i32,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            demands,
            request_id: format!("demo-trickle-{tick}-visit"),
        })
        .await
        .map_err(|status| {
            anyhow::anyhow!("trickle visit: {:?}: {}", status.code(), status.message())
        })?;
    advance_one_referral(suite, district, tick).await
}

/// Moves the oldest referral waiting for the step this tick takes.
async fn advance_one_referral(
    suite: &Suite,
    district: &district::District,
    tick: u64,
) -> anyhow::Result<()> {
    use referral::ReferralState;
    let wanted = match tick % 4 {
        0 => ReferralState::Requested,
        1 => ReferralState::Accepted,
        2 => ReferralState::InProgress,
        _ => ReferralState::Completed,
    };
    let page = suite
        .referral(Actor::DistrictAdmin)?
        .list_referrals(referral::ListReferralsRequest {
            parent: suite.parent(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .map_err(|status| anyhow::anyhow!("trickle referrals: {}", status.message()))?
        .into_inner();
    let Some(next) = page
        .referrals
        .into_iter()
        .find(|referral| referral.state == wanted as i32 && !referral.lead_department.is_empty())
    else {
        return Ok(());
    };
    let department = next
        .lead_department
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let request_id = format!("demo-trickle-{tick}-referral");
    let mut officer = suite.referral(Actor::Officer(&department))?;
    let moved = match wanted {
        ReferralState::Requested => {
            officer
                .accept_referral(referral::AcceptReferralRequest {
                    name: next.name.clone(),
                    note: "已受理".to_owned(),
                    request_id,
                })
                .await
        }
        ReferralState::Accepted => {
            officer
                .start_referral(referral::StartReferralRequest {
                    name: next.name.clone(),
                    note: "正在办理".to_owned(),
                    request_id,
                })
                .await
        }
        ReferralState::InProgress => {
            officer
                .complete_referral(referral::CompleteReferralRequest {
                    name: next.name.clone(),
                    outcome: "已办结并反馈企业".to_owned(),
                    request_id,
                })
                .await
        }
        _ => {
            // The field worker of the building goes back for the word.
            let building_id = next.building.rsplit('/').next().unwrap_or_default();
            let building = district
                .buildings
                .iter()
                .find(|building| building.id == building_id)
                .context("a demo referral's building is a demo building")?;
            suite
                .referral(Actor::FieldWorker(
                    &building.field_worker,
                    SUB_DISTRICTS[building.sub_district].id,
                ))?
                .confirm_referral(referral::ConfirmReferralRequest {
                    name: next.name.clone(),
                    resolution: referral::Resolution::Solved as i32,
                    satisfaction: 4,
                    note: "企业确认已解决".to_owned(),
                    request_id,
                })
                .await
        }
    };
    moved.map_err(|status| {
        anyhow::anyhow!(
            "trickle referral move: {:?}: {}",
            status.code(),
            status.message()
        )
    })?;
    Ok(())
}

const TRICKLE_DEMANDS: [(louyu_proto::common::v1::DemandCategory, &str); 5] = [
    (
        louyu_proto::common::v1::DemandCategory::OfficeSpace,
        "团队扩张，希望在区内增加办公面积",
    ),
    (
        louyu_proto::common::v1::DemandCategory::PolicyConsultation,
        "咨询最新的人才公寓申请政策",
    ),
    (
        louyu_proto::common::v1::DemandCategory::Tax,
        "咨询增值税留抵退税办理",
    ),
    (
        louyu_proto::common::v1::DemandCategory::PropertyFacilities,
        "楼层饮水设备需要维修",
    ),
    (
        louyu_proto::common::v1::DemandCategory::TalentHousehold,
        "应届生落户材料咨询",
    ),
];
