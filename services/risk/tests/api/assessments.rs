//! Assessments from the registry's and the visits service's feeds: the
//! example the district's users give, worked through real services; the
//! colour reaching each visit plan; history; scope.

use louyu_kit::identity::Role;
use louyu_proto::common::v1::RiskColour;
use louyu_proto::risk::v1::risk_service_client::RiskServiceClient;
use louyu_proto::risk::v1::*;
use louyu_proto::visits::v1::{ExpansionFit, Observation, RelocationIntent, Trend};
use louyu_testkit::identity::person_in;
use louyu_testkit::{TestBackend, backend_tests};
use tonic::Code;

use crate::helpers::*;

/// An enterprise whose lease ends in two months and which needs more room
/// than its building offers turns orange (the rest of the users' example,
/// through the move, is the top-level scenario in `tests/`): explained
/// factor by factor, counted on the screen, its worsening in the history.
async fn an_orange_enterprise_is_explained_counted_and_its_worsening_kept(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let code = uscc(1);
    suite.tenant(&code, "101", 60).await;
    suite
        .visit(
            &code,
            Observation {
                relocation_intent: RelocationIntent::None as i32,
                expansion_need: true,
                expansion_fit: ExpansionFit::BuildingCannotMeet as i32,
                headcount_trend: Trend::Growing as i32,
                business_trend: Trend::Growing as i32,
                satisfaction: 4,
                ..Observation::default()
            },
        )
        .await;
    let orange = suite.assessment_once(&code, RiskColour::Orange).await;
    let kinds: Vec<&str> = orange
        .factors
        .iter()
        .map(|factor| factor.kind.as_str())
        .collect();
    assert!(kinds.contains(&"lease_ending"), "{kinds:?}");
    assert!(kinds.contains(&"expansion_unmet"), "{kinds:?}");
    assert!(
        orange.factors.iter().all(|factor| {
            let reason = factor.reason.as_ref().expect("a reason");
            !reason.zh.is_empty() && !reason.en.is_empty()
        }),
        "every factor is explained in Chinese and English: {:?}",
        orange.factors
    );
    assert!(
        orange.next_change_time.is_some(),
        "a nearing lease end changes the assessment with time"
    );
    assert_eq!(orange.building, format!("{DISTRICT}/buildings/b-1"));

    // The screen: one orange enterprise in the street, which turned worse.
    let summary = suite
        .risk
        .summarize_assessments(SummarizeAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            group_by: "sub_district".to_owned(),
            worsened_within_days: 0,
        })
        .await
        .expect("the summary")
        .into_inner();
    assert_eq!(summary.total, 1);
    assert_eq!(
        summary.counts,
        [ColourCount {
            group: format!("{DISTRICT}/subDistricts/nanjingxilu"),
            colour: RiskColour::Orange as i32,
            count: 1,
        }]
    );
    assert_eq!(summary.worsened_count, 1);
    assert_eq!(summary.worsened[0].colour, RiskColour::Orange as i32);
    assert!(
        summary
            .worsened
            .windows(2)
            .all(|pair| micros(&pair[0]) >= micros(&pair[1])),
        "newest first"
    );
    let whole = suite
        .risk
        .summarize_assessments(SummarizeAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            ..SummarizeAssessmentsRequest::default()
        })
        .await
        .expect("the summary of the whole district")
        .into_inner();
    assert_eq!(whole.counts.len(), 1);
    assert_eq!(whole.counts[0].group, "");
    assert_code(
        suite
            .risk
            .summarize_assessments(SummarizeAssessmentsRequest {
                parent: DISTRICT.to_owned(),
                group_by: "colour".to_owned(),
                ..SummarizeAssessmentsRequest::default()
            })
            .await,
        Code::InvalidArgument,
    );

    // The history keeps every change with its cause, oldest first.
    let changes = suite
        .risk
        .list_assessment_changes(ListAssessmentChangesRequest {
            parent: enterprise_name(&code),
            ..ListAssessmentChangesRequest::default()
        })
        .await
        .expect("the history")
        .into_inner()
        .assessment_changes;
    assert_eq!(changes[0].previous_colour, RiskColour::Unspecified as i32);
    assert_eq!(
        changes.last().map(|change| change.colour),
        Some(RiskColour::Orange as i32)
    );
    assert!(changes.iter().all(|change| change.cause.is_some()));
}

async fn every_enterprise_is_listed_with_its_colour_within_the_callers_reach(backend: TestBackend) {
    let Some(mut suite) = spawn_suite(backend).await else {
        return;
    };
    suite.building().await;
    let (near, far) = (uscc(1), uscc(2));
    suite.tenant(&near, "101", 30).await;
    suite.tenant(&far, "201", 5 * 365).await;
    suite.assessment_once(&far, RiskColour::Green).await;
    let near_assessment = suite.risk.clone();
    let name = format!("{}/assessment", enterprise_name(&near));
    eventually("the near lease counts", || {
        let mut risk = near_assessment.clone();
        let name = name.clone();
        async move {
            risk.get_assessment(GetAssessmentRequest { name })
                .await
                .is_ok_and(|assessment| assessment.into_inner().score > 0)
        }
    })
    .await;
    let all = suite
        .risk
        .list_assessments(ListAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            ..ListAssessmentsRequest::default()
        })
        .await
        .expect("list")
        .into_inner()
        .assessments;
    assert_eq!(all.len(), 2);
    let green = suite
        .risk
        .list_assessments(ListAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            filter: "colour = GREEN".to_owned(),
            ..ListAssessmentsRequest::default()
        })
        .await
        .expect("list the green")
        .into_inner()
        .assessments;
    assert!(
        green
            .iter()
            .any(|assessment| assessment.enterprise == enterprise_name(&far))
    );
    assert!(
        green
            .iter()
            .all(|assessment| assessment.colour == RiskColour::Green as i32)
    );
    let worse = suite
        .risk
        .list_assessments(ListAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            filter: "effective_colour >= YELLOW".to_owned(),
            ..ListAssessmentsRequest::default()
        })
        .await
        .expect("list yellow and worse")
        .into_inner()
        .assessments;
    assert_eq!(
        worse
            .iter()
            .map(|assessment| assessment.enterprise.clone())
            .collect::<Vec<_>>(),
        [enterprise_name(&near)]
    );
    louyu_testkit::assert_invalid_field(
        suite
            .risk
            .list_assessments(ListAssessmentsRequest {
                parent: DISTRICT.to_owned(),
                filter: "colour = PURPLE".to_owned(),
                ..ListAssessmentsRequest::default()
            })
            .await,
        "filter",
    );

    // A field worker of another building sees none of them; an unknown
    // enterprise and one out of reach answer alike.
    let stranger = person_in("s-9", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let mut theirs = RiskServiceClient::new(
        suite
            .sandbox()
            .client_as(louyu_kit::config::ServiceName::Risk, &stranger)
            .await,
    );
    let listed = theirs
        .list_assessments(ListAssessmentsRequest {
            parent: DISTRICT.to_owned(),
            ..ListAssessmentsRequest::default()
        })
        .await
        .expect("their list")
        .into_inner()
        .assessments;
    assert!(listed.is_empty(), "{listed:?}");
    let hidden = assert_code(
        theirs
            .get_assessment(GetAssessmentRequest {
                name: format!("{}/assessment", enterprise_name(&near)),
            })
            .await,
        Code::NotFound,
    );
    let missing = assert_code(
        theirs
            .get_assessment(GetAssessmentRequest {
                name: format!("{}/assessment", enterprise_name(&uscc(7))),
            })
            .await,
        Code::NotFound,
    );
    assert_eq!(
        hidden.message().replace(&near, "X"),
        missing.message().replace(&uscc(7), "X")
    );
}

fn micros(change: &AssessmentChange) -> i64 {
    louyu_kit::time::micros_from_timestamp(change.change_time.as_ref().expect("a time"))
}

backend_tests!(
    an_orange_enterprise_is_explained_counted_and_its_worsening_kept,
    every_enterprise_is_listed_with_its_colour_within_the_callers_reach,
);
