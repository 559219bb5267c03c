//! A district's rules: how many points each kind of signal counts, how an
//! observation's weight decays with age, the thresholds from score to
//! colour, and the floors some kinds set whatever the score.
//!
//! The rules are a TOML document, versioned, one per district, written for
//! the district's staff to read and change (`rules/default.toml` is the
//! annotated default). Everything time-dependent is a step function, so an
//! assessment knows exactly when it would next change with no new signal:
//! a lease counts by the months left to its end, an open demand by the days
//! it has been open, an observation by its age.
//!
//! [`Rules::parse`] validates the whole document once: past it, every kind
//! has a rule, every step table is ordered and monotone (a nearer lease end,
//! a longer-open demand, a larger drop never counts less), and the
//! thresholds increase. [`super::assess`] relies on all of that.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use super::{Colour, SignalKind};

/// One day in microseconds, the unit of every time in signals.
pub const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// The most points a kind or a step may count, either way: far beyond any
/// sensible rule, small enough that no sum of sixteen kinds overflows.
const POINTS_LIMIT: i64 = 1_000;
/// The longest step in days (about a century) or months.
const DAYS_LIMIT: i64 = 36_600;
const MONTHS_LIMIT: i64 = 1_200;

/// A district's validated rules. Build them with [`Rules::parse`] or
/// [`Rules::default_rules`].
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    pub(super) version: String,
    /// Every kind of [`SignalKind::ALL`] has its rule.
    pub(super) kinds: BTreeMap<SignalKind, KindRule>,
    pub(super) decays: BTreeMap<String, Decay>,
    pub(super) thresholds: Thresholds,
    pub(super) floors: BTreeMap<SignalKind, Colour>,
}

/// How one kind counts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct KindRule {
    pub(super) counting: Counting,
    /// The name of a decay in [`Rules::decays`]; `None` counts in full
    /// until the signal expires or is replaced.
    pub(super) decay: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Counting {
    /// The same points whatever the signal holds.
    Fixed { points: i32 },
    /// By the signal's value, in steps. `points_without_value` counts for a
    /// signal that carries no value; a value that reaches no step counts 0.
    ByValue {
        points_without_value: i32,
        direction: ValueDirection,
        steps: Vec<ValueStep>,
    },
    /// `lease_ending`: by the months left to `due_at`; steps ordered by
    /// `within_months`, increasing, with points not increasing.
    ByMonthsLeft { steps: Vec<MonthsStep> },
    /// `open_demand`: by the days open since `observed_at`, steps ordered by
    /// `open_for_days`, increasing, with points not decreasing; multiplied
    /// by the urgency's multiplier (urgency 1 is the first).
    ByDaysOpen {
        steps: Vec<DaysStep>,
        urgency_multipliers: Vec<f64>,
        urgency_without_value: usize,
    },
}

/// Which way a value grows worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueDirection {
    /// A larger value is worse (a larger share lost): the steps are
    /// `at_least`, increasing.
    AtLeast,
    /// A smaller value is worse (satisfaction 1 of 5): the steps are
    /// `at_most`, decreasing.
    AtMost,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ValueStep {
    pub(super) value: f64,
    pub(super) points: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MonthsStep {
    pub(super) within_months: u32,
    pub(super) points: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DaysStep {
    pub(super) open_for_days: u32,
    pub(super) points: i32,
}

/// How an observation's weight falls with its age: `share` of its points
/// while younger than `until_days`, step by step, and nothing after the
/// last step.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Decay {
    pub(super) steps: Vec<DecayStep>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DecayStep {
    pub(super) until_days: u32,
    pub(super) share: f64,
}

/// The least score of each colour above green, strictly increasing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Thresholds {
    pub(super) blue: i32,
    pub(super) yellow: i32,
    pub(super) orange: i32,
    pub(super) red: i32,
}

/// Why a rules document was refused. Each names the offending key as a
/// path (`kinds.lease_ending.months_left[1].within_months`), and says what
/// is wrong in Chinese and in English.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    /// Not TOML, a value of the wrong type, a missing or unknown key: the
    /// TOML reader's own message names the key and the line.
    #[error("规则文件无法读取 the rules file cannot be read: {message}")]
    Syntax { message: String },
    #[error("规则缺少信号类型 {field} / the rules have no entry {field}: every kind must be given")]
    MissingKind { field: String },
    #[error("未知的信号类型 {field} / unknown signal kind {field}")]
    UnknownKind { field: String },
    #[error(
        "{field} 引用了未定义的衰减 \"{name}\" / {field} names decay \"{name}\", which is not defined under [decays]"
    )]
    UnknownDecay { field: String, name: String },
    #[error(
        "{field} 不是颜色：\"{name}\"（应为 green、blue、yellow、orange、red）/ {field} is not a colour: \"{name}\" (green, blue, yellow, orange or red)"
    )]
    UnknownColour { field: String, name: String },
    #[error("{field} 必须{zh} / {field} must {en}")]
    OutOfRange {
        field: String,
        zh: &'static str,
        en: &'static str,
    },
    #[error("{field} 的顺序不对：{zh} / {field} is out of order: {en}")]
    OutOfOrder {
        field: String,
        zh: &'static str,
        en: &'static str,
    },
    #[error("{field} 不适用：{zh} / {field} does not apply: {en}")]
    Misplaced {
        field: String,
        zh: &'static str,
        en: &'static str,
    },
}

impl RulesError {
    /// The offending key, as a path into the document; empty for syntax
    /// errors, whose message carries the key and line.
    pub fn field(&self) -> &str {
        match self {
            RulesError::Syntax { .. } => "",
            RulesError::MissingKind { field }
            | RulesError::UnknownKind { field }
            | RulesError::UnknownDecay { field, .. }
            | RulesError::UnknownColour { field, .. }
            | RulesError::OutOfRange { field, .. }
            | RulesError::OutOfOrder { field, .. }
            | RulesError::Misplaced { field, .. } => field,
        }
    }
}

const DEFAULT_RULES: &str = include_str!("../../rules/default.toml");

impl Rules {
    /// Reads and validates a rules document.
    pub fn parse(toml_text: &str) -> Result<Rules, RulesError> {
        let raw: RawRules = toml::from_str(toml_text).map_err(|error| RulesError::Syntax {
            message: error.to_string().trim().to_owned(),
        })?;
        raw.validate()
    }

    /// The rules shipped with Louyu (`rules/default.toml`), for a district
    /// that has not written its own.
    pub fn default_rules() -> Rules {
        Rules::parse(DEFAULT_RULES).expect("rules/default.toml is valid (tested)")
    }

    /// The version the document declares, recorded with every assessment.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The colour a score gives before floors.
    pub fn colour_for_score(&self, score: i32) -> Colour {
        let thresholds = self.thresholds;
        if score >= thresholds.red {
            Colour::Red
        } else if score >= thresholds.orange {
            Colour::Orange
        } else if score >= thresholds.yellow {
            Colour::Yellow
        } else if score >= thresholds.blue {
            Colour::Blue
        } else {
            Colour::Green
        }
    }

    /// The least colour a signal of `kind` sets whatever the score.
    pub fn floor(&self, kind: SignalKind) -> Option<Colour> {
        self.floors.get(&kind).copied()
    }

    pub(super) fn kind(&self, kind: SignalKind) -> &KindRule {
        self.kinds
            .get(&kind)
            .expect("parse gives every kind a rule")
    }

    pub(super) fn decay(&self, name: &str) -> &Decay {
        self.decays
            .get(name)
            .expect("parse checks every decay a kind names")
    }

    /// The rules as the district's staff read them, with comments; parsing
    /// the text gives these rules back.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_toml(&mut out);
        out
    }

    fn write_toml(&self, out: &mut String) -> std::fmt::Result {
        writeln!(
            out,
            "# 楼宇企业稳定性五色风险规则 / Five-colour stability rules"
        )?;
        writeln!(
            out,
            "# 每条信号按下列规则计分，总分（不低于0）按阈值定颜色，再按底线颜色上调。"
        )?;
        writeln!(
            out,
            "# Each signal counts points by these rules; the total (never below 0) gives the"
        )?;
        writeln!(
            out,
            "# colour by the thresholds, which a floor may then raise."
        )?;
        writeln!(out)?;
        writeln!(out, "version = {}", quote(&self.version))?;
        writeln!(out)?;
        writeln!(
            out,
            "# 各颜色的最低分（低于 blue 为绿色）/ the least score of each colour (below blue is green)"
        )?;
        writeln!(out, "[thresholds]")?;
        writeln!(out, "blue = {}", self.thresholds.blue)?;
        writeln!(out, "yellow = {}", self.thresholds.yellow)?;
        writeln!(out, "orange = {}", self.thresholds.orange)?;
        writeln!(out, "red = {}", self.thresholds.red)?;
        writeln!(out)?;
        writeln!(
            out,
            "# 底线：有此信号时颜色不低于 / floors: with such a signal, the colour is at least"
        )?;
        writeln!(out, "[floors]")?;
        for (kind, colour) in &self.floors {
            writeln!(out, "{} = {}", kind.as_str(), quote(colour.as_str()))?;
        }
        for (name, decay) in &self.decays {
            writeln!(out)?;
            writeln!(
                out,
                "# 衰减：观察后 until_days 天内按 share 计，最后一档之后不再计分"
            )?;
            writeln!(
                out,
                "# decay: counts `share` of its points until `until_days` after it was observed, nothing after the last step"
            )?;
            writeln!(out, "[decays.{name}]")?;
            writeln!(out, "steps = [")?;
            for step in &decay.steps {
                writeln!(
                    out,
                    "  {{ until_days = {}, share = {} }},",
                    step.until_days,
                    float(step.share)
                )?;
            }
            writeln!(out, "]")?;
        }
        for (kind, rule) in &self.kinds {
            writeln!(out)?;
            let meaning = kind.describe();
            writeln!(out, "# {} / {}", meaning.zh, meaning.en)?;
            writeln!(out, "[kinds.{}]", kind.as_str())?;
            match &rule.counting {
                Counting::Fixed { points } => writeln!(out, "points = {points}")?,
                Counting::ByValue {
                    points_without_value,
                    direction,
                    steps,
                } => {
                    writeln!(
                        out,
                        "# 无数值时计分 / points when the signal carries no value"
                    )?;
                    writeln!(out, "points = {points_without_value}")?;
                    let key = match direction {
                        ValueDirection::AtLeast => "at_least",
                        ValueDirection::AtMost => "at_most",
                    };
                    writeln!(
                        out,
                        "# 按数值分档，取达到的最高一档 / by value: the last step reached counts"
                    )?;
                    writeln!(out, "by_value = [")?;
                    for step in steps {
                        writeln!(
                            out,
                            "  {{ {key} = {}, points = {} }},",
                            float(step.value),
                            step.points
                        )?;
                    }
                    writeln!(out, "]")?;
                }
                Counting::ByMonthsLeft { steps } => {
                    writeln!(
                        out,
                        "# 距租约到期不超过 within_months 个月时计分；已到期按最近一档 / points once the lease ends within `within_months`; past its end, the nearest step"
                    )?;
                    writeln!(out, "months_left = [")?;
                    for step in steps {
                        writeln!(
                            out,
                            "  {{ within_months = {}, points = {} }},",
                            step.within_months, step.points
                        )?;
                    }
                    writeln!(out, "]")?;
                }
                Counting::ByDaysOpen {
                    steps,
                    urgency_multipliers,
                    urgency_without_value,
                } => {
                    writeln!(
                        out,
                        "# 诉求开放满 open_for_days 天后计分 / points once open for `open_for_days`"
                    )?;
                    writeln!(out, "days_open = [")?;
                    for step in steps {
                        writeln!(
                            out,
                            "  {{ open_for_days = {}, points = {} }},",
                            step.open_for_days, step.points
                        )?;
                    }
                    writeln!(out, "]")?;
                    writeln!(
                        out,
                        "# 紧急程度1（低）起的倍数 / multipliers by urgency, from 1 (low)"
                    )?;
                    let multipliers: Vec<String> = urgency_multipliers
                        .iter()
                        .map(|value| float(*value))
                        .collect();
                    writeln!(out, "urgency_multipliers = [{}]", multipliers.join(", "))?;
                    writeln!(out, "urgency_without_value = {urgency_without_value}")?;
                }
            }
            if let Some(decay) = &rule.decay {
                writeln!(out, "decay = {}", quote(decay))?;
            }
        }
        Ok(())
    }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// A float as TOML writes it, always with a fraction or exponent so that it
/// reads back as the same float.
fn float(value: f64) -> String {
    toml::Value::Float(value).to_string()
}

// What the document holds, before validation. Numbers are read wide and
// checked here, so that a negative month names its key rather than failing
// in the TOML reader with a type error.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: String,
    thresholds: RawThresholds,
    #[serde(default)]
    floors: BTreeMap<String, String>,
    #[serde(default)]
    decays: BTreeMap<String, RawDecay>,
    kinds: BTreeMap<String, RawKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    blue: i64,
    yellow: i64,
    orange: i64,
    red: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecay {
    steps: Vec<RawDecayStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecayStep {
    until_days: i64,
    share: Number,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    points: Option<i64>,
    by_value: Option<Vec<RawValueStep>>,
    months_left: Option<Vec<RawMonthsStep>>,
    days_open: Option<Vec<RawDaysStep>>,
    urgency_multipliers: Option<Vec<Number>>,
    urgency_without_value: Option<i64>,
    decay: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawValueStep {
    at_least: Option<Number>,
    at_most: Option<Number>,
    points: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonthsStep {
    within_months: i64,
    points: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaysStep {
    open_for_days: i64,
    points: i64,
}

/// A number as staff write it: `1`, `1.0` and `0.5` all read.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    fn get(self) -> f64 {
        match self {
            // Values in rules are small; i64 to f64 is exact for them.
            Number::Integer(integer) => integer as f64,
            Number::Float(float) => float,
        }
    }
}

fn out_of_range(field: String, zh: &'static str, en: &'static str) -> RulesError {
    RulesError::OutOfRange { field, zh, en }
}

fn out_of_order(field: String, zh: &'static str, en: &'static str) -> RulesError {
    RulesError::OutOfOrder { field, zh, en }
}

fn misplaced(field: String, zh: &'static str, en: &'static str) -> RulesError {
    RulesError::Misplaced { field, zh, en }
}

fn points(field: String, value: i64) -> Result<i32, RulesError> {
    if !(-POINTS_LIMIT..=POINTS_LIMIT).contains(&value) {
        return Err(out_of_range(
            field,
            "在 -1000 到 1000 之间",
            "be between -1000 and 1000",
        ));
    }
    Ok(i32::try_from(value).expect("within the limit"))
}

fn step_points(field: String, value: i64) -> Result<i32, RulesError> {
    if !(0..=POINTS_LIMIT).contains(&value) {
        return Err(out_of_range(
            field,
            "在 0 到 1000 之间",
            "be between 0 and 1000",
        ));
    }
    Ok(i32::try_from(value).expect("within the limit"))
}

fn finite(field: String, value: f64) -> Result<f64, RulesError> {
    if !value.is_finite() {
        return Err(out_of_range(field, "是有限的数", "be a finite number"));
    }
    Ok(value)
}

impl RawRules {
    fn validate(self) -> Result<Rules, RulesError> {
        let version = self.version.trim().to_owned();
        if version.is_empty() || version.contains('\n') {
            return Err(out_of_range(
                "version".to_owned(),
                "是非空的一行文字",
                "be one non-empty line",
            ));
        }
        let thresholds = self.thresholds.validate()?;

        let mut decays = BTreeMap::new();
        for (name, raw) in self.decays {
            let decay = raw.validate(&format!("decays.{name}"))?;
            decays.insert(name, decay);
        }

        let mut floors = BTreeMap::new();
        for (kind_name, colour_name) in self.floors {
            let field = format!("floors.{kind_name}");
            let kind = kind_name
                .parse::<SignalKind>()
                .map_err(|_| RulesError::UnknownKind {
                    field: field.clone(),
                })?;
            let colour = Colour::ALL
                .into_iter()
                .find(|colour| colour.as_str() == colour_name)
                .ok_or(RulesError::UnknownColour {
                    field,
                    name: colour_name,
                })?;
            floors.insert(kind, colour);
        }

        let mut kinds = BTreeMap::new();
        for (kind_name, raw) in self.kinds {
            let field = format!("kinds.{kind_name}");
            let kind = kind_name
                .parse::<SignalKind>()
                .map_err(|_| RulesError::UnknownKind {
                    field: field.clone(),
                })?;
            let rule = raw.validate(kind, &field, &decays)?;
            kinds.insert(kind, rule);
        }
        if let Some(missing) = SignalKind::ALL
            .into_iter()
            .find(|kind| !kinds.contains_key(kind))
        {
            return Err(RulesError::MissingKind {
                field: format!("kinds.{}", missing.as_str()),
            });
        }

        Ok(Rules {
            version,
            kinds,
            decays,
            thresholds,
            floors,
        })
    }
}

impl RawThresholds {
    fn validate(self) -> Result<Thresholds, RulesError> {
        let ordered = [
            ("blue", self.blue),
            ("yellow", self.yellow),
            ("orange", self.orange),
            ("red", self.red),
        ];
        let mut previous = 0;
        for (index, (name, value)) in ordered.into_iter().enumerate() {
            let field = format!("thresholds.{name}");
            if !(1..=i64::from(i32::MAX)).contains(&value) {
                return Err(out_of_range(
                    field,
                    "是正整数",
                    "be a positive whole number",
                ));
            }
            if index > 0 && value <= previous {
                return Err(out_of_order(
                    field,
                    "阈值必须按 blue < yellow < orange < red 递增",
                    "the thresholds must increase, blue < yellow < orange < red",
                ));
            }
            previous = value;
        }
        let narrow = |value: i64| i32::try_from(value).expect("checked above");
        Ok(Thresholds {
            blue: narrow(self.blue),
            yellow: narrow(self.yellow),
            orange: narrow(self.orange),
            red: narrow(self.red),
        })
    }
}

impl RawDecay {
    fn validate(self, field: &str) -> Result<Decay, RulesError> {
        if self.steps.is_empty() {
            return Err(out_of_range(
                format!("{field}.steps"),
                "至少有一档",
                "have at least one step",
            ));
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for (index, raw) in self.steps.into_iter().enumerate() {
            let step_field = format!("{field}.steps[{index}]");
            if !(1..=DAYS_LIMIT).contains(&raw.until_days) {
                return Err(out_of_range(
                    format!("{step_field}.until_days"),
                    "在 1 到 36600 天之间",
                    "be between 1 and 36600 days",
                ));
            }
            let share = finite(format!("{step_field}.share"), raw.share.get())?;
            if !(0.0..=1.0).contains(&share) {
                return Err(out_of_range(
                    format!("{step_field}.share"),
                    "在 0 到 1 之间",
                    "be between 0 and 1",
                ));
            }
            let until_days = u32::try_from(raw.until_days).expect("checked above");
            if let Some(previous) = steps.last() {
                let previous: &DecayStep = previous;
                if until_days <= previous.until_days {
                    return Err(out_of_order(
                        format!("{step_field}.until_days"),
                        "天数必须逐档增加",
                        "the days must increase step by step",
                    ));
                }
                if share > previous.share {
                    return Err(out_of_order(
                        format!("{step_field}.share"),
                        "越旧的观察计分比例不能更高",
                        "an older observation cannot count a larger share",
                    ));
                }
            }
            steps.push(DecayStep { until_days, share });
        }
        Ok(Decay { steps })
    }
}

impl RawKind {
    fn validate(
        mut self,
        kind: SignalKind,
        field: &str,
        decays: &BTreeMap<String, Decay>,
    ) -> Result<KindRule, RulesError> {
        let decay = match self.decay.take() {
            None => None,
            Some(name) => {
                if matches!(kind, SignalKind::LeaseEnding | SignalKind::OpenDemand) {
                    return Err(misplaced(
                        format!("{field}.decay"),
                        "租约按剩余月数、诉求按开放天数计分，不衰减",
                        "a lease counts by the months left and a demand by the days open; neither decays",
                    ));
                }
                if !decays.contains_key(&name) {
                    return Err(RulesError::UnknownDecay {
                        field: format!("{field}.decay"),
                        name,
                    });
                }
                Some(name)
            }
        };
        let counting = match kind {
            SignalKind::LeaseEnding => self.validate_months_left(field)?,
            SignalKind::OpenDemand => self.validate_days_open(field)?,
            _ => self.validate_points(field)?,
        };
        Ok(KindRule { counting, decay })
    }

    fn refuse(
        present: bool,
        field: String,
        zh: &'static str,
        en: &'static str,
    ) -> Result<(), RulesError> {
        if present {
            return Err(misplaced(field, zh, en));
        }
        Ok(())
    }

    fn validate_months_left(self, field: &str) -> Result<Counting, RulesError> {
        const ZH: &str = "租约按 months_left 计分";
        const EN: &str = "a lease counts by months_left";
        Self::refuse(self.points.is_some(), format!("{field}.points"), ZH, EN)?;
        Self::refuse(self.by_value.is_some(), format!("{field}.by_value"), ZH, EN)?;
        Self::refuse(
            self.days_open.is_some(),
            format!("{field}.days_open"),
            ZH,
            EN,
        )?;
        Self::refuse(
            self.urgency_multipliers.is_some(),
            format!("{field}.urgency_multipliers"),
            ZH,
            EN,
        )?;
        Self::refuse(
            self.urgency_without_value.is_some(),
            format!("{field}.urgency_without_value"),
            ZH,
            EN,
        )?;
        let raw_steps = self.months_left.unwrap_or_default();
        if raw_steps.is_empty() {
            return Err(out_of_range(
                format!("{field}.months_left"),
                "至少有一档",
                "have at least one step",
            ));
        }
        let mut steps: Vec<MonthsStep> = Vec::with_capacity(raw_steps.len());
        for (index, raw) in raw_steps.into_iter().enumerate() {
            let step_field = format!("{field}.months_left[{index}]");
            if !(1..=MONTHS_LIMIT).contains(&raw.within_months) {
                return Err(out_of_range(
                    format!("{step_field}.within_months"),
                    "在 1 到 1200 个月之间（不能为负）",
                    "be between 1 and 1200 months (never negative)",
                ));
            }
            let within_months = u32::try_from(raw.within_months).expect("checked above");
            let points = step_points(format!("{step_field}.points"), raw.points)?;
            if let Some(previous) = steps.last() {
                if within_months <= previous.within_months {
                    return Err(out_of_order(
                        format!("{step_field}.within_months"),
                        "月数必须逐档增加",
                        "the months must increase step by step",
                    ));
                }
                if points > previous.points {
                    return Err(out_of_order(
                        format!("{step_field}.points"),
                        "到期越远计分不能越高",
                        "a later lease end cannot count more",
                    ));
                }
            }
            steps.push(MonthsStep {
                within_months,
                points,
            });
        }
        Ok(Counting::ByMonthsLeft { steps })
    }

    fn validate_days_open(self, field: &str) -> Result<Counting, RulesError> {
        const ZH: &str = "诉求按 days_open 和 urgency_multipliers 计分";
        const EN: &str = "a demand counts by days_open and urgency_multipliers";
        Self::refuse(self.points.is_some(), format!("{field}.points"), ZH, EN)?;
        Self::refuse(self.by_value.is_some(), format!("{field}.by_value"), ZH, EN)?;
        Self::refuse(
            self.months_left.is_some(),
            format!("{field}.months_left"),
            ZH,
            EN,
        )?;
        let raw_steps = self.days_open.unwrap_or_default();
        if raw_steps.is_empty() {
            return Err(out_of_range(
                format!("{field}.days_open"),
                "至少有一档",
                "have at least one step",
            ));
        }
        let mut steps: Vec<DaysStep> = Vec::with_capacity(raw_steps.len());
        for (index, raw) in raw_steps.into_iter().enumerate() {
            let step_field = format!("{field}.days_open[{index}]");
            if !(0..=DAYS_LIMIT).contains(&raw.open_for_days) {
                return Err(out_of_range(
                    format!("{step_field}.open_for_days"),
                    "在 0 到 36600 天之间（不能为负）",
                    "be between 0 and 36600 days (never negative)",
                ));
            }
            let open_for_days = u32::try_from(raw.open_for_days).expect("checked above");
            let points = step_points(format!("{step_field}.points"), raw.points)?;
            if let Some(previous) = steps.last() {
                if open_for_days <= previous.open_for_days {
                    return Err(out_of_order(
                        format!("{step_field}.open_for_days"),
                        "天数必须逐档增加",
                        "the days must increase step by step",
                    ));
                }
                if points < previous.points {
                    return Err(out_of_order(
                        format!("{step_field}.points"),
                        "开放越久计分不能越低",
                        "a demand open longer cannot count less",
                    ));
                }
            }
            steps.push(DaysStep {
                open_for_days,
                points,
            });
        }
        let raw_multipliers = self.urgency_multipliers.unwrap_or_default();
        if raw_multipliers.is_empty() {
            return Err(out_of_range(
                format!("{field}.urgency_multipliers"),
                "至少有一个倍数（紧急程度1）",
                "have at least one multiplier (urgency 1)",
            ));
        }
        let mut urgency_multipliers: Vec<f64> = Vec::with_capacity(raw_multipliers.len());
        for (index, raw) in raw_multipliers.into_iter().enumerate() {
            let multiplier_field = format!("{field}.urgency_multipliers[{index}]");
            let multiplier = finite(multiplier_field.clone(), raw.get())?;
            if !(0.0..=100.0).contains(&multiplier) {
                return Err(out_of_range(
                    multiplier_field,
                    "在 0 到 100 之间",
                    "be between 0 and 100",
                ));
            }
            if urgency_multipliers
                .last()
                .is_some_and(|previous| multiplier < *previous)
            {
                return Err(out_of_order(
                    multiplier_field,
                    "越紧急倍数不能越小",
                    "a more urgent demand cannot have a smaller multiplier",
                ));
            }
            urgency_multipliers.push(multiplier);
        }
        let urgency_without_value = self.urgency_without_value.unwrap_or(2);
        let highest = i64::try_from(urgency_multipliers.len()).expect("a short list");
        if !(1..=highest).contains(&urgency_without_value) {
            return Err(out_of_range(
                format!("{field}.urgency_without_value"),
                "是 urgency_multipliers 中的一个紧急程度（从1起）",
                "be an urgency urgency_multipliers gives (from 1)",
            ));
        }
        Ok(Counting::ByDaysOpen {
            steps,
            urgency_multipliers,
            urgency_without_value: usize::try_from(urgency_without_value).expect("checked above"),
        })
    }

    fn validate_points(self, field: &str) -> Result<Counting, RulesError> {
        const ZH: &str = "只有 lease_ending 和 open_demand 按时间分档";
        const EN: &str = "only lease_ending and open_demand count by time";
        Self::refuse(
            self.months_left.is_some(),
            format!("{field}.months_left"),
            ZH,
            EN,
        )?;
        Self::refuse(
            self.days_open.is_some(),
            format!("{field}.days_open"),
            ZH,
            EN,
        )?;
        Self::refuse(
            self.urgency_multipliers.is_some(),
            format!("{field}.urgency_multipliers"),
            ZH,
            EN,
        )?;
        Self::refuse(
            self.urgency_without_value.is_some(),
            format!("{field}.urgency_without_value"),
            ZH,
            EN,
        )?;
        let Some(raw_points) = self.points else {
            return Err(out_of_range(
                format!("{field}.points"),
                "给出（无数值时的计分）",
                "be given (the points of a signal without a value)",
            ));
        };
        let fixed_points = points(format!("{field}.points"), raw_points)?;
        let Some(raw_steps) = self.by_value else {
            return Ok(Counting::Fixed {
                points: fixed_points,
            });
        };
        if raw_steps.is_empty() {
            return Err(out_of_range(
                format!("{field}.by_value"),
                "至少有一档",
                "have at least one step",
            ));
        }
        let mut direction = None;
        let mut steps: Vec<ValueStep> = Vec::with_capacity(raw_steps.len());
        for (index, raw) in raw_steps.into_iter().enumerate() {
            let step_field = format!("{field}.by_value[{index}]");
            let (step_direction, raw_value, key) = match (raw.at_least, raw.at_most) {
                (Some(value), None) => (ValueDirection::AtLeast, value, "at_least"),
                (None, Some(value)) => (ValueDirection::AtMost, value, "at_most"),
                _ => {
                    return Err(out_of_range(
                        step_field,
                        "恰好给出 at_least 或 at_most 之一",
                        "give exactly one of at_least and at_most",
                    ));
                }
            };
            if direction.is_some_and(|first| first != step_direction) {
                return Err(misplaced(
                    format!("{step_field}.{key}"),
                    "同一类型的各档须同为 at_least 或同为 at_most",
                    "the steps of one kind are all at_least or all at_most",
                ));
            }
            direction = Some(step_direction);
            let value = finite(format!("{step_field}.{key}"), raw_value.get())?;
            let points = step_points(format!("{step_field}.points"), raw.points)?;
            if let Some(previous) = steps.last() {
                let in_order = match step_direction {
                    ValueDirection::AtLeast => value > previous.value,
                    ValueDirection::AtMost => value < previous.value,
                };
                if !in_order {
                    return Err(out_of_order(
                        format!("{step_field}.{key}"),
                        "at_least 须逐档增加，at_most 须逐档减少",
                        "at_least must increase and at_most decrease step by step",
                    ));
                }
                if points < previous.points {
                    return Err(out_of_order(
                        format!("{step_field}.points"),
                        "情况越严重计分不能越低",
                        "a worse value cannot count less",
                    ));
                }
            }
            steps.push(ValueStep { value, points });
        }
        Ok(Counting::ByValue {
            points_without_value: fixed_points,
            direction: direction.expect("at least one step"),
            steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default rules' text with `from` replaced by `to`, which must
    /// occur in it.
    fn default_with(from: &str, to: &str) -> String {
        assert!(DEFAULT_RULES.contains(from), "{from:?} is in default.toml");
        DEFAULT_RULES.replacen(from, to, 1)
    }

    fn refused(text: &str) -> RulesError {
        Rules::parse(text).expect_err("the rules are refused")
    }

    #[test]
    fn default_rules_parse_and_give_every_kind_a_rule() {
        let rules = Rules::parse(DEFAULT_RULES).unwrap();
        assert_eq!(rules.version(), "2026-11-default-1");
        assert_eq!(rules.kinds.len(), SignalKind::ALL.len());
        assert_eq!(Rules::default_rules(), rules);
        assert_eq!(
            rules.floor(SignalKind::RelocationDecided),
            Some(Colour::Orange)
        );
        assert_eq!(rules.floor(SignalKind::MovedOut), Some(Colour::Red));
        assert_eq!(rules.floor(SignalKind::CourtCase), None);
    }

    #[test]
    fn to_toml_round_trips_through_parse() {
        let rules = Rules::default_rules();
        let text = rules.to_toml();
        assert_eq!(Rules::parse(&text).unwrap(), rules);
        assert!(
            text.contains("# 租约即将到期 / the lease is ending"),
            "{text}"
        );
        assert!(text.contains("version = \"2026-11-default-1\""), "{text}");
    }

    #[test]
    fn to_toml_round_trips_odd_values() {
        let text = default_with(
            "version = \"2026-11-default-1\"",
            "version = \"区 \\\"A\\\" 1\"",
        )
        .replace("share = 0.5", "share = 0.3333333333333333")
        .replace(
            "urgency_multipliers = [0.5, 1.0, 1.5, 2.0]",
            "urgency_multipliers = [0, 1, 1.25, 7]",
        );
        let rules = Rules::parse(&text).unwrap();
        assert_eq!(rules.version(), "区 \"A\" 1");
        assert_eq!(Rules::parse(&rules.to_toml()).unwrap(), rules);
    }

    #[test]
    fn whole_numbers_read_where_fractions_are_expected() {
        let rules = Rules::parse(&default_with("share = 1.0", "share = 1")).unwrap();
        assert_eq!(rules, Rules::default_rules());
    }

    #[test]
    fn colour_for_score_changes_exactly_at_each_threshold() {
        let rules = Rules::default_rules();
        let thresholds = rules.thresholds;
        assert_eq!(rules.colour_for_score(0), Colour::Green);
        for (threshold, below, at) in [
            (thresholds.blue, Colour::Green, Colour::Blue),
            (thresholds.yellow, Colour::Blue, Colour::Yellow),
            (thresholds.orange, Colour::Yellow, Colour::Orange),
            (thresholds.red, Colour::Orange, Colour::Red),
        ] {
            assert_eq!(
                rules.colour_for_score(threshold - 1),
                below,
                "one below {threshold}"
            );
            assert_eq!(rules.colour_for_score(threshold), at, "at {threshold}");
        }
        assert_eq!(rules.colour_for_score(i32::MAX), Colour::Red);
    }

    #[test]
    fn thresholds_that_do_not_increase_are_refused_naming_the_threshold() {
        let error = refused(&default_with("orange = 50", "orange = 25"));
        assert_eq!(error.field(), "thresholds.orange");
        assert!(matches!(error, RulesError::OutOfOrder { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("thresholds.orange"), "{message}");
        assert!(message.contains("递增"), "{message}");
        assert!(message.contains("must increase"), "{message}");

        let error = refused(&default_with("red = 90", "red = 49"));
        assert_eq!(error.field(), "thresholds.red");
    }

    #[test]
    fn a_threshold_of_zero_is_refused_since_green_could_not_be_reached() {
        let error = refused(&default_with("blue = 10", "blue = 0"));
        assert_eq!(error.field(), "thresholds.blue");
        assert!(matches!(error, RulesError::OutOfRange { .. }), "{error}");
    }

    #[test]
    fn an_unknown_kind_is_refused_naming_it() {
        let error = refused(&default_with("[kinds.court_case]", "[kinds.court_cases]"));
        assert_eq!(
            error,
            RulesError::UnknownKind {
                field: "kinds.court_cases".to_owned()
            }
        );
        assert!(error.to_string().contains("未知的信号类型"), "{error}");
        assert!(error.to_string().contains("unknown signal kind"), "{error}");

        let error = refused(&default_with("moved_out = \"red\"", "moved = \"red\""));
        assert_eq!(error.field(), "floors.moved");
    }

    #[test]
    fn a_missing_kind_is_refused_naming_it() {
        let text = default_with(
            "[kinds.credit_downgrade]\npoints = 20\ndecay = \"record\"\n",
            "",
        );
        let error = refused(&text);
        assert_eq!(
            error,
            RulesError::MissingKind {
                field: "kinds.credit_downgrade".to_owned()
            }
        );
    }

    #[test]
    fn negative_months_are_refused_naming_the_step() {
        let error = refused(&default_with("within_months = 3,", "within_months = -3,"));
        assert_eq!(
            error.field(),
            "kinds.lease_ending.months_left[0].within_months"
        );
        assert!(error.to_string().contains("不能为负"), "{error}");
        assert!(error.to_string().contains("never negative"), "{error}");
    }

    #[test]
    fn lease_steps_out_of_order_or_counting_more_further_out_are_refused() {
        let error = refused(&default_with("within_months = 6,", "within_months = 3,"));
        assert_eq!(
            error.field(),
            "kinds.lease_ending.months_left[1].within_months"
        );
        let error = refused(&default_with(
            "{ within_months = 6, points = 20 }",
            "{ within_months = 6, points = 31 }",
        ));
        assert_eq!(error.field(), "kinds.lease_ending.months_left[1].points");
    }

    #[test]
    fn demand_steps_counting_less_when_open_longer_are_refused() {
        let error = refused(&default_with(
            "{ open_for_days = 90, points = 20 }",
            "{ open_for_days = 90, points = 9 }",
        ));
        assert_eq!(error.field(), "kinds.open_demand.days_open[2].points");
        let error = refused(&default_with("open_for_days = 0,", "open_for_days = -1,"));
        assert_eq!(
            error.field(),
            "kinds.open_demand.days_open[0].open_for_days"
        );
    }

    #[test]
    fn urgency_multipliers_must_be_non_negative_and_not_fall() {
        let error = refused(&default_with(
            "[0.5, 1.0, 1.5, 2.0]",
            "[0.5, 1.0, 0.9, 2.0]",
        ));
        assert_eq!(error.field(), "kinds.open_demand.urgency_multipliers[2]");
        let error = refused(&default_with(
            "[0.5, 1.0, 1.5, 2.0]",
            "[-0.5, 1.0, 1.5, 2.0]",
        ));
        assert_eq!(error.field(), "kinds.open_demand.urgency_multipliers[0]");
        let error = refused(&default_with(
            "urgency_without_value = 2",
            "urgency_without_value = 5",
        ));
        assert_eq!(error.field(), "kinds.open_demand.urgency_without_value");
    }

    #[test]
    fn value_steps_must_be_ordered_one_way_and_worse_must_not_count_less() {
        let error = refused(&default_with(
            "{ at_least = 0.15, points = 20 }",
            "{ at_least = 0.04, points = 20 }",
        ));
        assert_eq!(error.field(), "kinds.tax_revenue_drop.by_value[1].at_least");
        let error = refused(&default_with(
            "{ at_least = 0.15, points = 20 }",
            "{ at_least = 0.15, points = 5 }",
        ));
        assert_eq!(error.field(), "kinds.tax_revenue_drop.by_value[1].points");
        let error = refused(&default_with(
            "{ at_most = 2, points = 10 }",
            "{ at_least = 2, points = 10 }",
        ));
        assert_eq!(error.field(), "kinds.low_satisfaction.by_value[1].at_least");
        assert!(matches!(error, RulesError::Misplaced { .. }), "{error}");
        let error = refused(&default_with(
            "{ at_most = 2, points = 10 }",
            "{ points = 10 }",
        ));
        assert_eq!(error.field(), "kinds.low_satisfaction.by_value[1]");
    }

    #[test]
    fn decay_steps_must_lengthen_and_never_count_an_older_observation_more() {
        let error = refused(&default_with(
            "{ until_days = 180, share = 0.5 }",
            "{ until_days = 90, share = 0.5 }",
        ));
        assert_eq!(error.field(), "decays.visit.steps[1].until_days");
        let error = refused(&default_with(
            "{ until_days = 180, share = 0.5 }",
            "{ until_days = 180, share = 1.5 }",
        ));
        assert_eq!(error.field(), "decays.visit.steps[1].share");
        let error = refused(&default_with(
            "{ until_days = 90, share = 1.0 },",
            "{ until_days = 90, share = 0.25 },",
        ));
        assert_eq!(error.field(), "decays.visit.steps[1].share");
        assert!(matches!(error, RulesError::OutOfOrder { .. }), "{error}");
    }

    #[test]
    fn a_kind_naming_an_undefined_decay_is_refused() {
        let error = refused(&default_with(
            "[kinds.court_case]\npoints = 25\ndecay = \"record\"",
            "[kinds.court_case]\npoints = 25\ndecay = \"court\"",
        ));
        assert_eq!(
            error,
            RulesError::UnknownDecay {
                field: "kinds.court_case.decay".to_owned(),
                name: "court".to_owned()
            }
        );
    }

    #[test]
    fn leases_and_demands_do_not_decay_and_count_only_by_their_own_tables() {
        let error = refused(&default_with(
            "[kinds.lease_ending]\n",
            "[kinds.lease_ending]\ndecay = \"visit\"\n",
        ));
        assert_eq!(error.field(), "kinds.lease_ending.decay");
        let error = refused(&default_with(
            "[kinds.lease_ending]\n",
            "[kinds.lease_ending]\npoints = 5\n",
        ));
        assert_eq!(error.field(), "kinds.lease_ending.points");
        let error = refused(&default_with(
            "[kinds.court_case]\n",
            "[kinds.court_case]\nmonths_left = [{ within_months = 3, points = 1 }]\n",
        ));
        assert_eq!(error.field(), "kinds.court_case.months_left");
        let error = refused(&default_with(
            "[kinds.court_case]\npoints = 25\n",
            "[kinds.court_case]\n",
        ));
        assert_eq!(error.field(), "kinds.court_case.points");
    }

    #[test]
    fn an_unknown_colour_in_a_floor_is_refused_naming_the_floor() {
        let error = refused(&default_with(
            "moved_out = \"red\"",
            "moved_out = \"crimson\"",
        ));
        assert_eq!(
            error,
            RulesError::UnknownColour {
                field: "floors.moved_out".to_owned(),
                name: "crimson".to_owned()
            }
        );
    }

    #[test]
    fn points_beyond_the_limit_and_an_empty_version_are_refused() {
        let error = refused(&default_with("points = 100", "points = 100000"));
        assert_eq!(error.field(), "kinds.moved_out.points");
        let error = refused(&default_with(
            "version = \"2026-11-default-1\"",
            "version = \"  \"",
        ));
        assert_eq!(error.field(), "version");
    }

    #[test]
    fn an_unknown_key_or_a_wrong_type_is_refused_by_the_reader_naming_the_key() {
        let error = refused(&default_with("red = 90", "red = 90\npurple = 100"));
        assert!(matches!(error, RulesError::Syntax { .. }), "{error}");
        assert!(error.to_string().contains("purple"), "{error}");
        let error = refused(&default_with("red = 90", "red = \"ninety\""));
        assert!(error.to_string().contains("red"), "{error}");
        let error = refused("");
        assert!(error.to_string().contains("version"), "{error}");
    }
}
