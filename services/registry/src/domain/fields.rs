//! Parsing of the registry's field values: counts, areas, floors, dates,
//! contacts and update masks, with kit's text, enum, phone and coordinate
//! rules, which every service shares.

use louyu_kit::error::{InvalidArgument, Violations};
pub use louyu_kit::fields::{
    MAX_NAME_CHARS, MAX_TEXT_CHARS, distance_meters, enum_number, lat_lng, location,
    multiline_text, name, phone, required_enum, text,
};
pub use louyu_kit::time::today_in_shanghai;
use louyu_proto::google::r#type::Date;
use louyu_proto::registry::v1::Contact;
use serde::{Deserialize, Serialize};

/// A count of people: zero or more.
pub fn count(field: &str, value: i32) -> Result<i64, InvalidArgument> {
    if value < 0 {
        return Err(InvalidArgument::new(
            field,
            format!("不能为负数 must not be negative, got {value}"),
        ));
    }
    Ok(i64::from(value))
}

/// The largest area accepted, in square metres (a whole tower is far less).
pub const MAX_AREA: f64 = 10_000_000.0;

/// An area in square metres: a finite number from 0 to 10,000,000.
pub fn area(field: &str, value: f64) -> Result<f64, InvalidArgument> {
    if !value.is_finite() || value < 0.0 {
        return Err(InvalidArgument::new(
            field,
            "面积不能为负数 must be a non-negative number of square metres",
        ));
    }
    if value > MAX_AREA {
        return Err(InvalidArgument::new(
            field,
            "面积过大 must be at most 10,000,000 square metres",
        ));
    }
    Ok(value)
}

/// A floor number: -20 (deep basements) to 300.
pub fn floor(field: &str, value: i32) -> Result<i64, InvalidArgument> {
    if !(-20..=300).contains(&value) {
        return Err(InvalidArgument::new(
            field,
            format!("楼层应在-20至300之间 must be from -20 to 300, got {value}"),
        ));
    }
    Ok(i64::from(value))
}

/// A number of floors: 0 to 300.
pub fn floors(field: &str, value: i32) -> Result<i64, InvalidArgument> {
    if !(0..=300).contains(&value) {
        return Err(InvalidArgument::new(
            field,
            format!("层数应在0至300之间 must be from 0 to 300, got {value}"),
        ));
    }
    Ok(i64::from(value))
}

/// A required calendar date.
pub fn date(field: &str, value: Option<&Date>) -> Result<time::Date, InvalidArgument> {
    let Some(date) = value else {
        return Err(InvalidArgument::new(field, "必须填写日期 is required"));
    };
    let month = u8::try_from(date.month)
        .ok()
        .and_then(|month| time::Month::try_from(month).ok());
    let day = u8::try_from(date.day).ok();
    match (month, day) {
        (Some(month), Some(day)) if (1..=9999).contains(&date.year) => {
            time::Date::from_calendar_date(date.year, month, day)
                .map_err(|_| invalid_date(field, date))
        }
        _ => Err(invalid_date(field, date)),
    }
}

fn invalid_date(field: &str, date: &Date) -> InvalidArgument {
    InvalidArgument::new(
        field,
        format!(
            "不是有效日期 is not a calendar date: {}-{}-{}",
            date.year, date.month, date.day
        ),
    )
}

/// Dates are stored as `YYYY-MM-DD`, which sorts and compares as text on
/// both databases.
pub fn date_to_text(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub fn date_from_text(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    Some(Date {
        year: parts.next()?.parse().ok()?,
        month: parts.next()?.parse().ok()?,
        day: parts.next()?.parse().ok()?,
    })
}

/// Parses `YYYY-MM-DD` as written in a CSV file or filter.
pub fn date_from_input(field: &str, text: &str) -> Result<time::Date, InvalidArgument> {
    let parsed = date_from_text(text.trim()).filter(|_| text.trim().len() == 10);
    match parsed {
        Some(date_value) => date(field, Some(&date_value)),
        None => Err(InvalidArgument::new(
            field,
            "日期格式应为YYYY-MM-DD must be a date written YYYY-MM-DD",
        )),
    }
}

/// A contact as stored (JSON in a TEXT column). Personal data: no Debug.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct StoredContact {
    pub person_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
}

impl std::fmt::Debug for StoredContact {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("StoredContact { [redacted] }")
    }
}

impl From<StoredContact> for Contact {
    fn from(contact: StoredContact) -> Self {
        Contact {
            person_name: contact.person_name,
            title: contact.title,
            phone: contact.phone,
            email: contact.email,
        }
    }
}

/// A contact: a name is required; a phone is digits with `+`, `-`, spaces
/// and parentheses; an email has an `@`. Errors never repeat the value.
pub fn contact(field: &str, value: &Contact) -> Result<StoredContact, InvalidArgument> {
    let mut violations = Violations::new();
    let person_name = violations.check(text(
        &format!("{field}.person_name"),
        &value.person_name,
        100,
        true,
    ));
    let title = violations.check(text(&format!("{field}.title"), &value.title, 100, false));
    let phone = violations.check(phone(&format!("{field}.phone"), &value.phone));
    let email = value.email.trim();
    let email_ok = email.is_empty()
        || (email.len() <= 254 && email.contains('@') && !email.chars().any(char::is_whitespace));
    if !email_ok {
        violations.add(
            format!("{field}.email"),
            "不是有效的电子邮件地址 is not an email address",
        );
    }
    violations.into_result()?;
    Ok(StoredContact {
        person_name: person_name.unwrap_or_default(),
        title: title.unwrap_or_default(),
        phone: phone.unwrap_or_default(),
        email: email.to_owned(),
    })
}

/// The field paths an update applies (AIP-134): the mask's paths, every
/// mutable field for `*`, or with no mask every mutable field the request
/// populated. Unknown and immutable paths are rejected by name.
pub fn update_paths(
    mask: Option<&prost_types::FieldMask>,
    mutable: &[&str],
    immutable: &[&str],
    populated: impl Fn(&str) -> bool,
) -> Result<Vec<String>, InvalidArgument> {
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Ok(mutable
            .iter()
            .filter(|path| populated(path))
            .map(|path| (*path).to_owned())
            .collect());
    }
    if paths.iter().any(|path| path == "*") {
        if paths.len() > 1 {
            return Err(InvalidArgument::new(
                "update_mask",
                "“*”须单独使用 '*' must be the only path",
            ));
        }
        return Ok(mutable.iter().map(|path| (*path).to_owned()).collect());
    }
    let mut accepted = Vec::new();
    for path in paths {
        if immutable.contains(&path.as_str()) {
            return Err(InvalidArgument::new(
                "update_mask",
                format!("字段 {path} 不可修改 field {path} cannot be changed"),
            ));
        }
        if !mutable.contains(&path.as_str()) {
            return Err(InvalidArgument::new(
                "update_mask",
                format!(
                    "未知字段 {path}，可修改的字段：{0} unknown field {path}; fields that can be changed: {0}",
                    mutable.join(", ")
                ),
            ));
        }
        if !accepted.contains(path) {
            accepted.push(path.clone());
        }
    }
    Ok(accepted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_exist_on_the_calendar() {
        let good = Date {
            year: 2024,
            month: 2,
            day: 29,
        };
        assert_eq!(date_to_text(date("d", Some(&good)).unwrap()), "2024-02-29");
        for bad in [
            Date {
                year: 2023,
                month: 2,
                day: 29,
            },
            Date {
                year: 2024,
                month: 13,
                day: 1,
            },
            Date {
                year: 0,
                month: 1,
                day: 1,
            },
        ] {
            assert!(date("d", Some(&bad)).is_err(), "{bad:?}");
        }
        assert!(date("d", None).is_err());
        assert_eq!(
            date_from_input("d", "2025-06-30").unwrap(),
            time::macros::date!(2025 - 06 - 30)
        );
        assert!(date_from_input("d", "2025/06/30").is_err());
    }

    #[test]
    fn update_paths_follow_aip_134() {
        let mutable = &["display_name", "address"];
        let immutable = &["name", "create_time"];
        let mask = |paths: &[&str]| prost_types::FieldMask {
            paths: paths.iter().map(|path| (*path).to_owned()).collect(),
        };
        assert_eq!(
            update_paths(Some(&mask(&["address"])), mutable, immutable, |_| false).unwrap(),
            vec!["address"]
        );
        assert_eq!(
            update_paths(Some(&mask(&["*"])), mutable, immutable, |_| false).unwrap(),
            vec!["display_name", "address"]
        );
        assert_eq!(
            update_paths(None, mutable, immutable, |path| path == "display_name").unwrap(),
            vec!["display_name"]
        );
        let unknown =
            update_paths(Some(&mask(&["colour"])), mutable, immutable, |_| false).unwrap_err();
        assert_eq!(unknown.violations[0].field, "update_mask");
        assert!(unknown.violations[0].description.contains("colour"));
        assert!(update_paths(Some(&mask(&["name"])), mutable, immutable, |_| false).is_err());
    }

    #[test]
    fn contacts_are_checked_without_echoing_personal_data() {
        let contact_value = Contact {
            person_name: "张三".into(),
            title: String::new(),
            phone: "abc-13800138000".into(),
            email: "zhang".into(),
        };
        let error = contact("contacts[0]", &contact_value).unwrap_err();
        let fields: Vec<&str> = error
            .violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, vec!["contacts[0].phone", "contacts[0].email"]);
        assert!(!error.to_string().contains("13800138000"));
        assert!(!error.to_string().contains("张三"));
    }
}
