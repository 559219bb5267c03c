//! A referral split by hand into parts: each part goes to its own
//! department with its own clocks, the whole completes when they have, the
//! enterprise answers on the whole (a "not solved" reopens the parts), and
//! the demand keeps following the whole.

use louyu_proto::referral::v1::*;
use louyu_proto::visits::v1::DemandStatus;
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

fn part(department_id: &str, description: &str) -> ReferralPart {
    ReferralPart {
        departments: vec![department(department_id)],
        lead_department: String::new(),
        description: description.to_owned(),
    }
}

fn split_request(name: &str, parts: Vec<ReferralPart>) -> SplitReferralRequest {
    SplitReferralRequest {
        name: name.to_owned(),
        parts,
        note: "找房与注册分别办理 the unit and the registration are handled apart".to_owned(),
        request_id: String::new(),
    }
}

async fn get(suite: &Suite, name: &str) -> Referral {
    suite
        .referral
        .clone()
        .get_referral(GetReferralRequest {
            name: name.to_owned(),
        })
        .await
        .expect("the referral")
        .into_inner()
}

async fn work(client: &mut Referrals, name: &str, start: bool) {
    if start {
        client
            .accept_referral(AcceptReferralRequest {
                name: name.to_owned(),
                ..AcceptReferralRequest::default()
            })
            .await
            .expect("accepted");
    } else {
        client
            .start_referral(StartReferralRequest {
                name: name.to_owned(),
                ..StartReferralRequest::default()
            })
            .await
            .expect("started again");
    }
    client
        .complete_referral(CompleteReferralRequest {
            name: name.to_owned(),
            outcome: format!("已办结 done: {name}"),
            ..CompleteReferralRequest::default()
        })
        .await
        .expect("completed");
}

async fn a_split_referral_completes_when_its_parts_do_and_reopens_them_when_not_solved(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let mut admin = suite.street_admin().await;
    let whole = admin
        .split_referral(split_request(
            &referral.name,
            vec![
                part(
                    STREET_OFFICE,
                    "推荐区内合适房源 find a unit in the district",
                ),
                part(INVESTMENT_OFFICE, "协助集中注册 help with the registration"),
            ],
        ))
        .await
        .expect("split")
        .into_inner();
    assert_eq!(whole.state, ReferralState::InProgress as i32);
    assert_eq!(whole.business_status, "split");
    assert_eq!(whole.parts.len(), 2);
    assert!(
        whole
            .clocks
            .as_ref()
            .is_some_and(|clocks| clocks.complete_due_time.is_none()),
        "the parts run the clocks"
    );
    let parts: Vec<Referral> = {
        let mut parts = Vec::new();
        for name in &whole.parts {
            parts.push(get(&suite, name).await);
        }
        parts
    };
    assert!(parts.iter().all(|part| part.part_of == whole.name));
    assert!(
        parts
            .iter()
            .all(|part| state(part) == ReferralState::Requested)
    );
    let street_part = parts
        .iter()
        .find(|part| part.lead_department == department(STREET_OFFICE))
        .expect("the street's part")
        .name
        .clone();
    let investment_part = parts
        .iter()
        .find(|part| part.lead_department == department(INVESTMENT_OFFICE))
        .expect("the investment office's part")
        .name
        .clone();

    // The whole is not worked on, and a part is not answered on.
    let mut street = suite.officer(STREET_OFFICE).await;
    let refused = assert_code(
        street
            .accept_referral(AcceptReferralRequest {
                name: whole.name.clone(),
                ..AcceptReferralRequest::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    assert!(refused.message().contains("split"), "{refused:?}");
    assert_code(
        admin
            .split_referral(split_request(
                &street_part,
                vec![part(STREET_OFFICE, "a"), part(INVESTMENT_OFFICE, "b")],
            ))
            .await,
        Code::FailedPrecondition,
    );

    work(&mut street, &street_part, true).await;
    assert_eq!(
        state(&get(&suite, &whole.name).await),
        ReferralState::InProgress,
        "one part is still open"
    );
    let mut investment = suite.officer(INVESTMENT_OFFICE).await;
    work(&mut investment, &investment_part, true).await;
    let completed = get(&suite, &whole.name).await;
    assert_eq!(state(&completed), ReferralState::Completed);
    assert!(
        completed.outcome.contains(&street_part),
        "{}",
        completed.outcome
    );
    assert_eq!(
        completed.history.last().map(|step| step.actor.as_str()),
        Some("system:parts")
    );
    suite
        .demand_once(&referral.demand, DemandStatus::Resolved)
        .await;

    // Not solved: the whole and both parts go round again.
    let mut worker = suite.field_worker().await;
    assert_code(
        worker
            .confirm_referral(ConfirmReferralRequest {
                name: street_part.clone(),
                resolution: Resolution::Solved as i32,
                satisfaction: 5,
                ..ConfirmReferralRequest::default()
            })
            .await,
        Code::FailedPrecondition,
    );
    let reopened = worker
        .confirm_referral(ConfirmReferralRequest {
            name: whole.name.clone(),
            resolution: Resolution::NotSolved as i32,
            satisfaction: 2,
            ..ConfirmReferralRequest::default()
        })
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(state(&reopened), ReferralState::Reopened);
    for name in [&street_part, &investment_part] {
        let part = get(&suite, name).await;
        assert_eq!((state(&part), part.round), (ReferralState::Reopened, 2));
    }
    work(&mut street, &street_part, false).await;
    work(&mut investment, &investment_part, false).await;
    assert_eq!(
        state(&get(&suite, &whole.name).await),
        ReferralState::Completed
    );
    let confirmed = worker
        .confirm_referral(ConfirmReferralRequest {
            name: whole.name.clone(),
            resolution: Resolution::Solved as i32,
            satisfaction: 5,
            ..ConfirmReferralRequest::default()
        })
        .await
        .expect("confirmed")
        .into_inner();
    assert_eq!(state(&confirmed), ReferralState::Confirmed);
    suite
        .demand_once(&referral.demand, DemandStatus::Confirmed)
        .await;
    // The demand still has one referral: the whole (and its parts).
    let of_demand = suite.referrals_of(&referral.demand).await;
    assert_eq!(
        of_demand
            .iter()
            .filter(|referral| referral.part_of.is_empty())
            .count(),
        1
    );
}

async fn a_split_is_refused_when_its_parts_are_wrong_and_cancelling_the_whole_cancels_them(
    backend: TestBackend,
) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    let referral = suite.office_space_referral().await;
    let mut admin = suite.street_admin().await;
    assert_invalid_field(
        admin
            .split_referral(split_request(
                &referral.name,
                vec![part(STREET_OFFICE, "只有一个 only one")],
            ))
            .await,
        "parts",
    );
    let mut empty = part(STREET_OFFICE, "无部门 no department");
    empty.departments.clear();
    assert_invalid_field(
        admin
            .split_referral(split_request(
                &referral.name,
                vec![empty, part(INVESTMENT_OFFICE, "b")],
            ))
            .await,
        "parts[0].departments",
    );
    assert_invalid_field(
        admin
            .split_referral(split_request(
                &referral.name,
                vec![part(STREET_OFFICE, "a"), part("nobody", "b")],
            ))
            .await,
        "parts[1].departments[0]",
    );
    assert_code(
        suite
            .officer(STREET_OFFICE)
            .await
            .split_referral(split_request(
                &referral.name,
                vec![part(STREET_OFFICE, "a"), part(INVESTMENT_OFFICE, "b")],
            ))
            .await,
        Code::PermissionDenied,
    );
    let whole = admin
        .split_referral(split_request(
            &referral.name,
            vec![part(STREET_OFFICE, "a"), part(INVESTMENT_OFFICE, "b")],
        ))
        .await
        .expect("split")
        .into_inner();
    admin
        .cancel_referral(CancelReferralRequest {
            name: whole.name.clone(),
            reason: "企业已自行解决 the enterprise solved it itself".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("cancelled");
    for name in &whole.parts {
        assert_eq!(state(&get(&suite, name).await), ReferralState::Cancelled);
    }
}

backend_tests!(
    a_split_referral_completes_when_its_parts_do_and_reopens_them_when_not_solved,
    a_split_is_refused_when_its_parts_are_wrong_and_cancelling_the_whole_cancels_them,
);
