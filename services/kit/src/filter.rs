//! List filters (a subset of AIP-160): a conjunction of comparisons,
//! `floor >= 10 AND managing_sub_district = "districts/jingan/subDistricts/jjs"`.
//!
//! Each List names the fields it accepts and the column each maps to; values
//! are always bound as SQL parameters, never spliced into SQL.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use crate::error::InvalidArgument;

const FIELD: &str = "filter";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "<>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A value as written in the filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"quoted text"`.
    Text(String),
    /// `42`, `-3.5`.
    Number(f64),
    /// A bare word: `true`, `false`, an enum value such as `ACTIVE`.
    Word(String),
}

impl Literal {
    /// The text of a quoted string or a bare word.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Literal::Text(text) | Literal::Word(text) => Some(text),
            Literal::Number(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub field: String,
    pub op: Op,
    pub value: Literal,
}

/// Parses a filter; an empty filter is no condition.
pub fn parse(filter: &str) -> Result<Vec<Comparison>, InvalidArgument> {
    let tokens = tokenize(filter)?;
    let mut comparisons = Vec::new();
    let mut position = 0;
    while position < tokens.len() {
        if !comparisons.is_empty() {
            match &tokens[position] {
                Token::Word(word) if word == "AND" => position += 1,
                _ => return Err(syntax("以 AND 连接各条件 join comparisons with AND")),
            }
        }
        let field = match tokens.get(position) {
            Some(Token::Word(word)) if is_field_name(word) => word.clone(),
            _ => return Err(syntax("缺少字段名 expected a field name")),
        };
        let op = match tokens.get(position + 1) {
            Some(Token::Op(op)) => *op,
            _ => {
                return Err(syntax(&format!(
                    "字段 {field} 后缺少比较符 expected an operator after {field}"
                )));
            }
        };
        let value = match tokens.get(position + 2) {
            Some(Token::Text(text)) => Literal::Text(text.clone()),
            Some(Token::Number(number)) => Literal::Number(*number),
            Some(Token::Word(word)) if word != "AND" => Literal::Word(word.clone()),
            _ => {
                return Err(syntax(&format!(
                    "字段 {field} 缺少比较值 expected a value for {field}"
                )));
            }
        };
        comparisons.push(Comparison { field, op, value });
        position += 3;
    }
    Ok(comparisons)
}

fn syntax(description: &str) -> InvalidArgument {
    InvalidArgument::new(
        FIELD,
        format!("筛选条件语法错误 syntax error: {description}"),
    )
}

fn is_field_name(word: &str) -> bool {
    word.bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase())
        && word
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    Op(Op),
}

fn tokenize(filter: &str) -> Result<Vec<Token>, InvalidArgument> {
    let mut tokens = Vec::new();
    let mut characters = filter.chars().peekable();
    while let Some(&character) = characters.peek() {
        if character.is_whitespace() {
            characters.next();
        } else if character == '"' {
            characters.next();
            let mut text = String::new();
            loop {
                match characters.next() {
                    Some('"') => break,
                    Some('\\') => match characters.next() {
                        Some(escaped) => text.push(escaped),
                        None => return Err(syntax("字符串未结束 unterminated string")),
                    },
                    Some(other) => text.push(other),
                    None => return Err(syntax("字符串未结束 unterminated string")),
                }
            }
            tokens.push(Token::Text(text));
        } else if matches!(character, '=' | '!' | '<' | '>') {
            characters.next();
            let followed_by_equals = characters.peek() == Some(&'=');
            let op = match (character, followed_by_equals) {
                ('=', _) => Op::Eq,
                ('!', true) => Op::Ne,
                ('<', true) => Op::Le,
                ('>', true) => Op::Ge,
                ('<', false) => Op::Lt,
                ('>', false) => Op::Gt,
                _ => return Err(syntax("'!' 须写作 '!=' use '!=' for not equal")),
            };
            if followed_by_equals && character != '=' {
                characters.next();
            }
            tokens.push(Token::Op(op));
        } else if character == '-' || character.is_ascii_digit() {
            let mut number = String::new();
            while let Some(&next) = characters.peek() {
                if next == '-' && number.is_empty() || next.is_ascii_digit() || next == '.' {
                    number.push(next);
                    characters.next();
                } else {
                    break;
                }
            }
            let value = number
                .parse::<f64>()
                .map_err(|_| syntax(&format!("无法识别的数字 not a number: {number}")))?;
            tokens.push(Token::Number(value));
        } else if character.is_alphanumeric() || character == '_' {
            let mut word = String::new();
            while let Some(&next) = characters.peek() {
                if next.is_alphanumeric() || next == '_' || next == '.' {
                    word.push(next);
                    characters.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word));
        } else {
            return Err(syntax(&format!(
                "无法识别的字符 unexpected character '{character}'"
            )));
        }
    }
    Ok(tokens)
}

/// How a filter field is stored and compared.
#[derive(Clone, Copy)]
pub enum FieldKind {
    /// A TEXT column; every operator compares as text.
    Text,
    /// A BIGINT column.
    Integer,
    /// A DOUBLE PRECISION / REAL column.
    Real,
    /// A BIGINT column holding 0 or 1; `=` and `!=` only.
    Bool,
    /// A BIGINT column holding a proto enum number; `=` and `!=` only. The
    /// function maps a written value (`ACTIVE` or `ENTERPRISE_STATUS_ACTIVE`)
    /// to its number.
    Enum(fn(&str) -> Option<i32>),
    /// Anything else: the function appends the condition itself.
    Custom(fn(&Comparison, &mut SqlQuery) -> Result<(), InvalidArgument>),
}

/// A field a List accepts in its filter.
#[derive(Clone, Copy)]
pub struct FilterField {
    pub name: &'static str,
    pub column: &'static str,
    pub kind: FieldKind,
}

/// Appends ` AND <condition>` to `query` for every comparison.
pub fn push_conditions(
    comparisons: &[Comparison],
    fields: &[FilterField],
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    for comparison in comparisons {
        let Some(field) = fields.iter().find(|field| field.name == comparison.field) else {
            let known = fields
                .iter()
                .map(|field| field.name)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(InvalidArgument::new(
                FIELD,
                format!(
                    "不支持按 {} 筛选，可用字段：{known} cannot filter on {}; known fields: {known}",
                    comparison.field, comparison.field
                ),
            ));
        };
        let value = match field.kind {
            FieldKind::Custom(push) => {
                push(comparison, query)?;
                continue;
            }
            FieldKind::Text => match comparison.value.as_text() {
                Some(text) => SqlValue::Text(text.to_owned()),
                None => return Err(wrong_value(comparison, "带引号的文本 quoted text")),
            },
            FieldKind::Integer => match comparison.value {
                Literal::Number(number) if number.fract() == 0.0 && number.abs() < 9.0e15 => {
                    SqlValue::Integer(number as i64)
                }
                _ => return Err(wrong_value(comparison, "整数 a whole number")),
            },
            FieldKind::Real => match comparison.value {
                Literal::Number(number) => SqlValue::Real(number),
                _ => return Err(wrong_value(comparison, "数字 a number")),
            },
            FieldKind::Bool => {
                equality_only(comparison)?;
                match comparison.value.as_text() {
                    Some("true") => SqlValue::Integer(1),
                    Some("false") => SqlValue::Integer(0),
                    _ => return Err(wrong_value(comparison, "true 或 false true or false")),
                }
            }
            FieldKind::Enum(number_of) => {
                equality_only(comparison)?;
                match comparison.value.as_text().and_then(number_of) {
                    Some(number) if number != 0 => SqlValue::Integer(i64::from(number)),
                    _ => {
                        return Err(wrong_value(
                            comparison,
                            "该字段的枚举值 one of the field's enum values",
                        ));
                    }
                }
            }
        };
        query.push(" AND ");
        query.push(field.column);
        query.push(" ");
        query.push(comparison.op.sql());
        query.push(" ");
        query.push_value(value);
    }
    Ok(())
}

/// Rejects an ordering comparison on a field that only supports equality.
pub fn equality_only(comparison: &Comparison) -> Result<(), InvalidArgument> {
    if matches!(comparison.op, Op::Eq | Op::Ne) {
        Ok(())
    } else {
        Err(InvalidArgument::new(
            FIELD,
            format!(
                "字段 {0} 只支持 = 和 != {0} supports only = and !=",
                comparison.field
            ),
        ))
    }
}

/// Appends an equality condition on `column` holding the id that ends the
/// resource name the filter compares with, for filters such as
/// `building = "districts/jingan/buildings/b-1"`.
pub fn push_resource_id_condition(
    comparison: &Comparison,
    column: &str,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    push_id_condition(comparison, column, query, str::to_owned)
}

/// As [`push_resource_id_condition`], for enterprises: the unified social
/// credit code is compared in upper case, as it is stored.
pub fn push_enterprise_condition(
    comparison: &Comparison,
    column: &str,
    query: &mut SqlQuery,
) -> Result<(), InvalidArgument> {
    push_id_condition(comparison, column, query, normalise_uscc)
}

/// The quoted resource name an equality comparison holds, for filters on
/// references (`building = "districts/jingan/buildings/b-1"`).
pub fn quoted_name(comparison: &Comparison) -> Result<&str, InvalidArgument> {
    equality_only(comparison)?;
    match &comparison.value {
        Literal::Text(name) => Ok(name),
        _ => Err(wrong_value(
            comparison,
            "带引号的资源名 a quoted resource name",
        )),
    }
}

/// A unified social credit code as stored: trimmed, upper case.
pub fn normalise_uscc(id: &str) -> String {
    crate::uscc::normalise(id)
}

fn push_id_condition(
    comparison: &Comparison,
    column: &str,
    query: &mut SqlQuery,
    normalise: fn(&str) -> String,
) -> Result<(), InvalidArgument> {
    let id = normalise(crate::names::last_id(quoted_name(comparison)?));
    let op = if comparison.op == Op::Eq {
        " = "
    } else {
        " <> "
    };
    query
        .push(" AND ")
        .push(column)
        .push(op)
        .push_value(SqlValue::Text(id));
    Ok(())
}

fn wrong_value(comparison: &Comparison, expected: &str) -> InvalidArgument {
    InvalidArgument::new(
        FIELD,
        format!(
            "字段 {} 的值应为{expected} the value for {} must be {expected}",
            comparison.field, comparison.field
        ),
    )
}

/// A value bound to a SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Integer(i64),
    Real(f64),
}

/// SQL text built piece by piece, with its parameters numbered `$1, $2, …`
/// (a form both PostgreSQL and SQLite accept).
#[derive(Debug, Default, Clone)]
pub struct SqlQuery {
    sql: String,
    values: Vec<SqlValue>,
}

impl SqlQuery {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_owned(),
            values: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a parameter placeholder bound to `value`.
    pub fn push_value(&mut self, value: SqlValue) -> &mut Self {
        self.values.push(value);
        self.sql.push('$');
        self.sql.push_str(&self.values.len().to_string());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The query with every parameter bound, ready to run.
    pub fn build(&self) -> Query<'static, Any, AnyArguments> {
        let mut query = sqlx::query(AssertSqlSafe(self.sql.clone()));
        for value in &self.values {
            query = match value {
                SqlValue::Text(text) => query.bind(text.clone()),
                SqlValue::Integer(integer) => query.bind(*integer),
                SqlValue::Real(real) => query.bind(*real),
            };
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_conjunction_of_comparisons() {
        let comparisons =
            parse(r#"floor >= 10 AND name = "恒隆 \"A\"" AND status != ACTIVE AND area < -2.5"#)
                .unwrap();
        assert_eq!(
            comparisons,
            vec![
                Comparison {
                    field: "floor".into(),
                    op: Op::Ge,
                    value: Literal::Number(10.0)
                },
                Comparison {
                    field: "name".into(),
                    op: Op::Eq,
                    value: Literal::Text("恒隆 \"A\"".into())
                },
                Comparison {
                    field: "status".into(),
                    op: Op::Ne,
                    value: Literal::Word("ACTIVE".into())
                },
                Comparison {
                    field: "area".into(),
                    op: Op::Lt,
                    value: Literal::Number(-2.5)
                },
            ]
        );
        assert!(parse("  ").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_filters_naming_the_filter_field() {
        for bad in [
            "floor",
            "floor >=",
            "floor 10",
            "a = 1 b = 2",
            "a = 1 AND",
            "a = \"open",
            "a ! 1",
            "Floor = 1",
            "a = 1 OR b = 2",
            "a = ;",
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.violations[0].field, "filter", "{bad}");
        }
    }

    fn status_number(value: &str) -> Option<i32> {
        match value {
            "ACTIVE" | "STATUS_ACTIVE" => Some(1),
            _ => None,
        }
    }

    const FIELDS: &[FilterField] = &[
        FilterField {
            name: "floor",
            column: "floor",
            kind: FieldKind::Integer,
        },
        FilterField {
            name: "display_name",
            column: "display_name",
            kind: FieldKind::Text,
        },
        FilterField {
            name: "status",
            column: "status",
            kind: FieldKind::Enum(status_number),
        },
        FilterField {
            name: "active",
            column: "active",
            kind: FieldKind::Bool,
        },
    ];

    #[test]
    fn conditions_become_bound_parameters() {
        let mut query = SqlQuery::new("SELECT * FROM t WHERE 1 = 1");
        let comparisons = parse(r#"floor > 3 AND display_name = "x'; DROP TABLE t" AND status = ACTIVE AND active = true"#).unwrap();
        push_conditions(&comparisons, FIELDS, &mut query).unwrap();
        assert_eq!(
            query.sql(),
            "SELECT * FROM t WHERE 1 = 1 AND floor > $1 AND display_name = $2 AND status = $3 AND active = $4"
        );
        assert_eq!(
            query.values,
            vec![
                SqlValue::Integer(3),
                SqlValue::Text("x'; DROP TABLE t".into()),
                SqlValue::Integer(1),
                SqlValue::Integer(1)
            ]
        );
    }

    #[test]
    fn unknown_fields_wrong_types_and_orderings_on_enums_are_rejected() {
        for bad in [
            r#"colour = "red""#,
            r#"floor = "ten""#,
            "floor = 1.5",
            "status > ACTIVE",
            "status = GONE",
            "active = yes",
        ] {
            let mut query = SqlQuery::new("");
            let error = push_conditions(&parse(bad).unwrap(), FIELDS, &mut query).unwrap_err();
            assert_eq!(error.violations[0].field, "filter", "{bad}");
        }
    }
}
