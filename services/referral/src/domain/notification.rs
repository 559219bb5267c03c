//! Notifications: what the referral service tells the district's own
//! systems (WeCom for government, an SMS gateway, e-mail) through its
//! webhook, and when it tries again. The body is JSON whose schema
//! docs/referral-notifications.md gives; it names resources and departments
//! and says what happened in Chinese and English, and never carries
//! personal data (no contact, no phone, not the demand's own words, which
//! may hold either).

use std::time::Duration;

use louyu_proto::common::v1::DemandCategory;
use louyu_proto::referral::v1::{NotificationKind, NotificationState, Referral};
use serde::Serialize;

/// The version of the body's schema, in every body as `version`.
pub const BODY_VERSION: u32 = 1;

/// What a notification announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 派单: dispatched (or re-routed) to departments.
    Dispatch,
    /// 预警: the enterprise said it is not solved, or was dissatisfied.
    Warning,
    /// 超期: a clock ran out unmet.
    Breach,
    /// 督办: a breach went up to the sub-district or the district.
    Escalation,
    /// 留企: a retention case was opened or changed.
    RetentionCase,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Dispatch,
        Kind::Warning,
        Kind::Breach,
        Kind::Escalation,
        Kind::RetentionCase,
    ];

    /// As the body and the database write it: `retention_case`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dispatch => "dispatch",
            Kind::Warning => "warning",
            Kind::Breach => "breach",
            Kind::Escalation => "escalation",
            Kind::RetentionCase => "retention_case",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    pub fn to_proto(self) -> NotificationKind {
        match self {
            Kind::Dispatch => NotificationKind::Dispatch,
            Kind::Warning => NotificationKind::Warning,
            Kind::Breach => NotificationKind::Breach,
            Kind::Escalation => NotificationKind::Escalation,
            Kind::RetentionCase => NotificationKind::RetentionCase,
        }
    }

    pub fn from_proto(kind: NotificationKind) -> Option<Kind> {
        Kind::ALL.into_iter().find(|known| known.to_proto() == kind)
    }
}

/// Where a notification's delivery stands, as stored (the proto numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryState {
    pub fn number(self) -> i64 {
        i64::from(self.to_proto() as i32)
    }

    pub fn to_proto(self) -> NotificationState {
        match self {
            DeliveryState::Pending => NotificationState::Pending,
            DeliveryState::Delivered => NotificationState::Delivered,
            DeliveryState::Dead => NotificationState::Dead,
        }
    }

    pub fn from_number(number: i64) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Dead,
        ]
        .into_iter()
        .find(|state| state.number() == number)
    }

    /// The state's name in messages: `已送达 DELIVERED`.
    pub fn describe(self) -> &'static str {
        match self {
            DeliveryState::Pending => "待发送 PENDING",
            DeliveryState::Delivered => "已送达 DELIVERED",
            DeliveryState::Dead => "已放弃 DEAD",
        }
    }
}

/// What is said, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

/// What a notification says besides its kind and subject: the departments
/// it is addressed to (resource names, the lead first) and the text. No
/// personal data: a receiver that wants more reads the subject through the
/// API, under its own permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub departments: Vec<String>,
    pub text: Text,
}

/// The body as sent and signed.
#[derive(Debug, Serialize)]
struct Body<'a> {
    version: u32,
    id: &'a str,
    kind: &'a str,
    subject: &'a str,
    departments: &'a [String],
    text: &'a Text,
    time: String,
}

/// The JSON body of notification `id`, written once, when the notification
/// is: every attempt sends these same bytes. `at`: microseconds since the
/// epoch, written as Shanghai time (RFC 3339).
pub fn body(id: &str, kind: Kind, subject: &str, payload: &Payload, at: i64) -> String {
    serde_json::to_string(&Body {
        version: BODY_VERSION,
        id,
        kind: kind.as_str(),
        subject,
        departments: &payload.departments,
        text: &payload.text,
        time: louyu_kit::time::shanghai_time(at),
    })
    .expect("a body of strings serialises")
}

/// A referral was dispatched (or re-routed): to its departments, with the
/// due times of acceptance and first contact.
pub fn dispatch(referral: &Referral) -> Payload {
    let category = category_label(referral.category);
    let due = |pick: fn(&louyu_proto::referral::v1::Clocks) -> Option<&prost_types::Timestamp>| {
        referral
            .clocks
            .as_ref()
            .and_then(pick)
            .map(|time| {
                crate::domain::calendar::due_text(louyu_kit::time::micros_from_timestamp(time))
            })
            .unwrap_or_default()
    };
    let accept_due = due(|clocks| clocks.accept_due_time.as_ref());
    let first_contact_due = due(|clocks| clocks.first_contact_due_time.as_ref());
    let departments = departments_of(referral);
    Payload {
        text: Text {
            zh: format!(
                "新派单：{}诉求已转至{}个部门（牵头：{}），请于{}前受理、{}前先行联系企业。转办单：{}",
                category.0,
                departments.len(),
                referral.lead_department,
                accept_due,
                first_contact_due,
                referral.name
            ),
            en: format!(
                "New referral ({}) for {} department(s), led by {}: accept by {}, contact the \
                 enterprise by {}. Referral: {}",
                category.1,
                departments.len(),
                referral.lead_department,
                accept_due,
                first_contact_due,
                referral.name
            ),
        },
        departments,
    }
}

/// The enterprise said its need is not solved, or was dissatisfied (预警):
/// a new round, due by the completion clock.
pub fn warning(referral: &Referral) -> Payload {
    let category = category_label(referral.category);
    let complete_due = referral
        .clocks
        .as_ref()
        .and_then(|clocks| clocks.complete_due_time.as_ref())
        .map(|time| crate::domain::calendar::due_text(louyu_kit::time::micros_from_timestamp(time)))
        .unwrap_or_default();
    let round = referral.round;
    Payload {
        text: Text {
            zh: format!(
                "预警：{}诉求企业反馈未解决或不满意，已转入第{round}轮办理，请于{complete_due}前办结。转办单：{}",
                category.0, referral.name
            ),
            en: format!(
                "Warning ({}): the enterprise says its need is not solved, or is dissatisfied; round \
                 {round} is due by {complete_due}. Referral: {}",
                category.1, referral.name
            ),
        },
        departments: departments_of(referral),
    }
}

/// A clock of a referral ran out (`clock`), or, with `clock` empty, the
/// breach went up to the district: to the lead department.
pub fn breach(referral: &Referral, clock: &str) -> Payload {
    let category = category_label(referral.category);
    let (zh, en) = match clock {
        "accept" => ("受理", "accept"),
        "first-contact" => ("先行联系", "first-contact"),
        "complete" => ("办结", "complete"),
        _ => ("", ""),
    };
    let text = if clock.is_empty() {
        Text {
            zh: format!(
                "督办：{}诉求超期一个工作日仍未办，已报区里。转办单：{}",
                category.0, referral.name
            ),
            en: format!(
                "Escalated ({}): still unmet a working day past its deadline, now with the district. \
                 Referral: {}",
                category.1, referral.name
            ),
        }
    } else {
        Text {
            zh: format!(
                "超期：{}诉求{zh}时限已过，已报街道。转办单：{}",
                category.0, referral.name
            ),
            en: format!(
                "Overdue ({}): the {en} deadline passed; the sub-district is told. Referral: {}",
                category.1, referral.name
            ),
        }
    };
    Payload {
        text,
        departments: departments_of(referral).into_iter().take(1).collect(),
    }
}

/// A retention case was opened or took a new colour's response: to the
/// departments that act, with what to do and by when.
pub fn retention_case(case: &louyu_proto::referral::v1::RetentionCase) -> Payload {
    let colour = match louyu_proto::common::v1::RiskColour::try_from(case.colour) {
        Ok(louyu_proto::common::v1::RiskColour::Red) => ("红色（不稳定）", "red (unstable)"),
        _ => ("橙色（较不稳定）", "orange (fairly unstable)"),
    };
    let due = case
        .due_time
        .as_ref()
        .map(|time| crate::domain::calendar::due_text(louyu_kit::time::micros_from_timestamp(time)))
        .unwrap_or_default();
    Payload {
        text: Text {
            zh: format!(
                "留企专案：企业转为{}，请于{due}前处置：{}。专案：{}",
                colour.0, case.response, case.name
            ),
            en: format!(
                "Retention case: an enterprise turned {}; act by {due}: {}. Case: {}",
                colour.1, case.response, case.name
            ),
        },
        departments: case.departments.clone(),
    }
}

fn departments_of(referral: &Referral) -> Vec<String> {
    referral
        .departments
        .iter()
        .map(|department| department.department.clone())
        .collect()
}

/// A category in Chinese and English.
fn category_label(category: i32) -> (&'static str, &'static str) {
    match DemandCategory::try_from(category).unwrap_or(DemandCategory::Other) {
        DemandCategory::OfficeSpace => ("办公用房", "office space"),
        DemandCategory::RegistrationLicensing => ("登记注册与许可", "registration and licensing"),
        DemandCategory::Tax => ("税务", "tax"),
        DemandCategory::Financing => ("融资", "financing"),
        DemandCategory::TalentHousehold => ("人才与户籍", "talent and household registration"),
        DemandCategory::PolicyConsultation => ("政策咨询", "policy consultation"),
        DemandCategory::PropertyFacilities => ("物业与设施", "property and facilities"),
        DemandCategory::Safety => ("安全", "safety"),
        DemandCategory::Legal => ("法律", "legal"),
        DemandCategory::Other | DemandCategory::Unspecified => ("其他", "other"),
    }
}

/// How a notification's retries are spaced and when it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// The wait after the first failure, doubled after each next one.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after this long.
    RetryAfter(Duration),
    /// The attempts are spent: dead, until an admin replays it.
    GiveUp,
}

impl RetryPolicy {
    /// After `attempts` failed attempts (1 after the first): wait
    /// `base · 2^(attempts − 1)`, at most `cap`, of which the upper half is
    /// random (`jitter` in [0, 1)), so that notifications that failed
    /// together (a receiver down) do not all come back at once.
    pub fn after_failure(&self, attempts: u32, jitter: f64) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::GiveUp;
        }
        let doublings = attempts.saturating_sub(1).min(31);
        let exponential = self
            .base
            .checked_mul(1_u32 << doublings)
            .unwrap_or(self.cap)
            .min(self.cap);
        let half = exponential / 2;
        let jitter = jitter.clamp(0.0, 1.0);
        AfterFailure::RetryAfter(half + half.mul_f64(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use louyu_proto::referral::v1::{Clocks, ReferredDepartment};

    fn referral() -> Referral {
        Referral {
            name: "districts/jingan/referrals/rf-1".into(),
            category: DemandCategory::OfficeSpace as i32,
            description: "联系人张三 13812345678 needs 400 m²".into(),
            lead_department: "districts/jingan/departments/office".into(),
            departments: vec![
                ReferredDepartment {
                    department: "districts/jingan/departments/office".into(),
                    lead: true,
                },
                ReferredDepartment {
                    department: "districts/jingan/departments/investment".into(),
                    lead: false,
                },
            ],
            clocks: Some(Clocks {
                accept_due_time: Some(louyu_kit::time::timestamp_from_micros(
                    1_795_762_800_000_000,
                )),
                ..Clocks::default()
            }),
            round: 2,
            ..Referral::default()
        }
    }

    #[test]
    fn a_dispatch_body_names_the_referral_and_its_departments_and_no_personal_data() {
        let payload = dispatch(&referral());
        let text = body(
            "n-1",
            Kind::Dispatch,
            "districts/jingan/referrals/rf-1",
            &payload,
            1_795_762_800_000_000,
        );
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["id"], "n-1");
        assert_eq!(json["kind"], "dispatch");
        assert_eq!(json["subject"], "districts/jingan/referrals/rf-1");
        assert_eq!(
            json["departments"][1],
            "districts/jingan/departments/investment"
        );
        assert_eq!(json["time"], "2026-11-27T15:00:00+08:00");
        assert!(json["text"]["zh"].as_str().unwrap().contains("办公用房"));
        assert!(
            json["text"]["en"]
                .as_str()
                .unwrap()
                .contains("accept by 2026-11-27 15:00")
        );
        assert!(!text.contains("13812345678") && !text.contains("张三"));
    }

    /// docs/referral-notifications.md shows this body, its bytes and their
    /// signature under `example-secret`, and checks them in Python.
    #[test]
    fn the_documented_example_is_what_the_service_sends() {
        let mut referral = referral();
        referral.name = "districts/jingan/referrals/rf-3f9c2a7d1e04".into();
        referral.lead_department = "districts/jingan/departments/nanjingxilu-office".into();
        referral.departments[0].department = referral.lead_department.clone();
        // Due at the end of Monday 30 November 2026, Shanghai.
        let due = Some(louyu_kit::time::timestamp_from_micros(
            1_796_054_400_000_000,
        ));
        referral.clocks = Some(Clocks {
            accept_due_time: due,
            first_contact_due_time: due,
            ..Clocks::default()
        });
        // Friday 27 November 2026, 15:00:00.123456 Shanghai.
        let at = 1_795_762_800_123_456_i64;
        let id = format!("n-{at:013x}-7e21");
        let sent = body(
            &id,
            Kind::Dispatch,
            &referral.name,
            &dispatch(&referral),
            at,
        );
        let signature = crate::webhook::signature(b"example-secret", sent.as_bytes());
        let documentation = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/referral-notifications.md"),
        )
        .expect("docs/referral-notifications.md");
        assert!(
            documentation.contains(&sent),
            "docs/referral-notifications.md shows another body than the service sends:\n{sent}"
        );
        assert!(
            documentation.contains(&signature),
            "docs/referral-notifications.md shows another signature: {signature}"
        );
    }

    #[test]
    fn a_warning_names_the_round() {
        let payload = warning(&referral());
        assert!(payload.text.zh.contains("第2轮"));
        assert!(payload.text.en.contains("round 2"));
    }

    #[test]
    fn kinds_read_back_as_written() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert_eq!(Kind::from_proto(kind.to_proto()), Some(kind));
        }
        assert_eq!(Kind::parse("retention-case"), None);
    }

    #[test]
    fn retries_double_from_the_base_up_to_the_cap_with_the_upper_half_random() {
        let policy = RetryPolicy {
            max_attempts: 12,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        };
        let wait = |attempts, jitter| match policy.after_failure(attempts, jitter) {
            AfterFailure::RetryAfter(wait) => wait,
            AfterFailure::GiveUp => panic!("given up after {attempts}"),
        };
        assert_eq!(wait(1, 0.0), Duration::from_millis(500));
        assert_eq!(wait(1, 1.0), Duration::from_secs(1));
        assert_eq!(wait(4, 1.0), Duration::from_secs(8));
        assert_eq!(wait(11, 1.0), Duration::from_secs(600), "capped");
        assert_eq!(wait(11, 0.0), Duration::from_secs(300));
        assert_eq!(policy.after_failure(12, 0.5), AfterFailure::GiveUp);
        let many = RetryPolicy {
            max_attempts: u32::MAX,
            ..policy
        };
        assert_eq!(
            many.after_failure(200, 1.0),
            AfterFailure::RetryAfter(Duration::from_secs(600))
        );
    }
}
