//! Building councils' rules: whose term covers a day, how a chief is chosen
//! by "one nomination, three public notices" (一推三公示), and the moves of
//! a project.

use louyu_proto::registry::v1::{ChiefAppointmentState as Chief, ProjectState as Project};
use time::Date;

/// Public notice periods before a council's nominee can be appointed.
pub const NOTICE_PERIODS: usize = 3;

/// Whether a term from `start` to `end` (`YYYY-MM-DD`, `end` empty while
/// it runs) covers `day`. A copy without dates (written before terms were
/// kept) counts as current.
pub fn term_covers(start: &str, end: &str, day: Date) -> bool {
    let parse = |text: &str| Date::parse(text, DATE).ok();
    let started = start.is_empty() || parse(start).is_none_or(|start| start <= day);
    let running = end.is_empty() || parse(end).is_none_or(|end| day <= end);
    started && running
}

/// `YYYY-MM-DD`.
pub const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// Whose chief is chosen how: the council's nominee after three public
/// notices, or the sub-district's responsible official (some districts'
/// policy), appointed without notices. The district's setting.
pub use louyu_kit::config::ChiefPolicy;

/// A public notice period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    #[serde(with = "date_text")]
    pub start: Date,
    #[serde(with = "date_text")]
    pub end: Date,
}

mod date_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(
            &date
                .format(super::DATE)
                .map_err(serde::ser::Error::custom)?,
        )
    }

    pub fn deserialize<'d, D: Deserializer<'d>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(&text, super::DATE).map_err(serde::de::Error::custom)
    }
}

/// An objection as kept.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Objection {
    pub text: String,
    pub raised_at: i64,
    pub upheld: bool,
    pub resolution: String,
    pub resolved_at: Option<i64>,
}

/// Why a chief move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChiefRefusal {
    /// Not in this state.
    State(Chief),
    /// The request's field is wrong for this nomination.
    Field(&'static str, String),
    /// The nomination is not ready for it (notices to run, none open).
    NotYet(String),
}

/// Whether a nomination in `state` with `notices` may open the next notice
/// from `start` to `end`: nominated or in notice, fewer than three periods,
/// each period after the previous one.
pub fn may_start_notice(
    state: Chief,
    notices: &[Notice],
    start: Date,
    end: Date,
) -> Result<(), ChiefRefusal> {
    if !matches!(state, Chief::Nominated | Chief::InNotice) {
        return Err(ChiefRefusal::State(state));
    }
    if notices.len() >= NOTICE_PERIODS {
        return Err(ChiefRefusal::NotYet(format!(
            "已公示{NOTICE_PERIODS}次 has had its {NOTICE_PERIODS} notice periods"
        )));
    }
    if end < start {
        return Err(ChiefRefusal::Field(
            "end_date",
            "不得早于开始日期 must not be before start_date".to_owned(),
        ));
    }
    if let Some(last) = notices.last()
        && start <= last.end
    {
        return Err(ChiefRefusal::Field(
            "start_date",
            format!(
                "须在上一次公示（至{}）之后 must be after the previous notice period, which ends {}",
                last.end, last.end
            ),
        ));
    }
    Ok(())
}

/// Whether an objection may be raised on `day`: during an open notice
/// period of a nomination in notice.
pub fn may_object(state: Chief, notices: &[Notice], day: Date) -> Result<(), ChiefRefusal> {
    if state != Chief::InNotice {
        return Err(ChiefRefusal::State(state));
    }
    if !notices
        .iter()
        .any(|notice| notice.start <= day && day <= notice.end)
    {
        return Err(ChiefRefusal::NotYet(
            "当前不在公示期内 no notice period is open today".to_owned(),
        ));
    }
    Ok(())
}

/// Whether the nominee may be appointed on `day` under `policy`: the
/// council's nominee after its three notice periods have ended with no
/// open objection; a sub-district official at once.
pub fn may_appoint(
    policy: ChiefPolicy,
    state: Chief,
    notices: &[Notice],
    day: Date,
) -> Result<(), ChiefRefusal> {
    match policy {
        ChiefPolicy::SubDistrictOfficial => {
            if matches!(state, Chief::Nominated | Chief::InNotice) {
                Ok(())
            } else {
                Err(ChiefRefusal::State(state))
            }
        }
        ChiefPolicy::Council => {
            if state != Chief::InNotice {
                return Err(ChiefRefusal::State(state));
            }
            let ended = notices.iter().filter(|notice| notice.end < day).count();
            if ended < NOTICE_PERIODS {
                return Err(ChiefRefusal::NotYet(format!(
                    "须经{NOTICE_PERIODS}次公示期满方可任命，已满{ended}次 can be appointed after {NOTICE_PERIODS} notice periods have ended; {ended} have"
                )));
            }
            Ok(())
        }
    }
}

/// Whether a project may move from `from` to `to`.
pub fn project_move_allowed(from: Project, to: Project) -> bool {
    use Project::*;
    matches!(
        (from, to),
        (Proposed, Discussed)
            | (Discussed, Approved)
            | (Approved, InProgress)
            | (InProgress, Completed)
            | (Proposed | Discussed | Approved | InProgress, Dropped)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn notice(start: Date, end: Date) -> Notice {
        Notice { start, end }
    }

    #[test]
    fn three_notices_in_order_then_appointment_after_the_last_ends() {
        let mut notices = Vec::new();
        let periods = [
            (date!(2026 - 11 - 02), date!(2026 - 11 - 06)),
            (date!(2026 - 11 - 09), date!(2026 - 11 - 13)),
            (date!(2026 - 11 - 16), date!(2026 - 11 - 20)),
        ];
        for (index, (start, end)) in periods.into_iter().enumerate() {
            let state = if index == 0 {
                Chief::Nominated
            } else {
                Chief::InNotice
            };
            may_start_notice(state, &notices, start, end).unwrap();
            notices.push(notice(start, end));
        }
        assert!(matches!(
            may_start_notice(
                Chief::InNotice,
                &notices,
                date!(2026 - 11 - 23),
                date!(2026 - 11 - 27)
            ),
            Err(ChiefRefusal::NotYet(_))
        ));
        assert!(
            may_appoint(
                ChiefPolicy::Council,
                Chief::InNotice,
                &notices,
                date!(2026 - 11 - 20)
            )
            .is_err(),
            "the last period has not ended"
        );
        may_appoint(
            ChiefPolicy::Council,
            Chief::InNotice,
            &notices,
            date!(2026 - 11 - 21),
        )
        .unwrap();
        assert_eq!(
            may_appoint(
                ChiefPolicy::Council,
                Chief::Objected,
                &notices,
                date!(2026 - 11 - 21)
            ),
            Err(ChiefRefusal::State(Chief::Objected))
        );
    }

    #[test]
    fn a_notice_overlapping_the_previous_one_is_refused() {
        let notices = [notice(date!(2026 - 11 - 02), date!(2026 - 11 - 06))];
        assert!(matches!(
            may_start_notice(
                Chief::InNotice,
                &notices,
                date!(2026 - 11 - 06),
                date!(2026 - 11 - 10)
            ),
            Err(ChiefRefusal::Field("start_date", _))
        ));
    }

    #[test]
    fn objections_only_during_an_open_notice() {
        let notices = [notice(date!(2026 - 11 - 02), date!(2026 - 11 - 06))];
        may_object(Chief::InNotice, &notices, date!(2026 - 11 - 04)).unwrap();
        assert!(may_object(Chief::InNotice, &notices, date!(2026 - 11 - 08)).is_err());
        assert!(may_object(Chief::Nominated, &notices, date!(2026 - 11 - 04)).is_err());
    }

    #[test]
    fn a_sub_district_official_is_appointed_without_notices() {
        may_appoint(
            ChiefPolicy::SubDistrictOfficial,
            Chief::Nominated,
            &[],
            date!(2026 - 11 - 27),
        )
        .unwrap();
    }

    #[test]
    fn terms_and_project_moves() {
        assert!(term_covers("2026-01-01", "", date!(2026 - 11 - 27)));
        assert!(!term_covers(
            "2026-01-01",
            "2026-06-30",
            date!(2026 - 11 - 27)
        ));
        assert!(!term_covers("2027-01-01", "", date!(2026 - 11 - 27)));
        assert!(project_move_allowed(Project::Proposed, Project::Discussed));
        assert!(!project_move_allowed(Project::Proposed, Project::Completed));
        assert!(project_move_allowed(Project::InProgress, Project::Dropped));
        assert!(!project_move_allowed(Project::Completed, Project::Dropped));
    }
}
