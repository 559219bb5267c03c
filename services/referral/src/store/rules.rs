//! The district's rules by version: the one in force (or, until a district
//! puts its own in force, the rules the service ships with), kept in the
//! database so every replica routes alike and a restart keeps them.

use std::sync::{Arc, RwLock};

use louyu_proto::referral::v1 as proto;
use sqlx::AnyConnection;

use super::{Call, Mutations, Store};
use crate::domain::Rules;
use crate::error::ReferralError;

/// The rules a store applies, parsed once per version.
#[derive(Debug)]
pub struct RulesInForce {
    current: RwLock<(Arc<Rules>, String)>,
    shipped: Arc<Rules>,
}

impl RulesInForce {
    pub fn new(shipped: Rules) -> Self {
        let shipped = Arc::new(shipped);
        Self {
            current: RwLock::new((shipped.clone(), Rules::default_document().to_owned())),
            shipped,
        }
    }
}

impl Store {
    /// The rules in force and their document, as of `connection`.
    pub async fn rules_in_force(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<(Arc<Rules>, String), ReferralError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT version, document FROM routing_rules_versions WHERE active = 1")
                .fetch_optional(&mut *connection)
                .await?;
        let Some((version, document)) = row else {
            return Ok((
                self.rules.shipped.clone(),
                Rules::default_document().to_owned(),
            ));
        };
        {
            let cached = self.rules.current.read().expect("never poisoned");
            if cached.0.version() == version {
                return Ok(cached.clone());
            }
        }
        let rules = Arc::new(
            Rules::parse(&document)
                .map_err(|error| ReferralError::Corrupt(format!("rules {version}: {error}")))?,
        );
        *self.rules.current.write().expect("never poisoned") = (rules.clone(), document.clone());
        Ok((rules, document))
    }

    /// The rules in force, as the API shows them: with the calendar's years
    /// and a warning for this year or next when it has no calendar.
    pub async fn routing_rules(&self) -> Result<proto::RoutingRules, ReferralError> {
        let mut connection = self.db.pool().acquire().await?;
        let (rules, document) = self.rules_in_force(&mut connection).await?;
        Ok(self.rules_proto(&rules, document))
    }

    fn rules_proto(&self, rules: &Rules, document: String) -> proto::RoutingRules {
        proto::RoutingRules {
            name: self.routing_rules_name(),
            version: rules.version().to_owned(),
            document,
            calendar_years: rules.calendar().years(),
            warnings: calendar_warnings(rules),
        }
    }

    pub fn routing_rules_name(&self) -> String {
        format!("{}/routingRules", self.names.district())
    }

    /// Puts `rules` (parsed from `document`) in force as a new version. The
    /// version in force with the same document is answered as it is; a
    /// version written before with another document is ALREADY_EXISTS.
    pub async fn put_rules_in_force(
        &self,
        call: &Call,
        rules: Rules,
        document: String,
    ) -> Result<proto::RoutingRules, ReferralError> {
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            let existing: Option<(String, i64)> = sqlx::query_as(
                "SELECT document, active FROM routing_rules_versions WHERE version = $1",
            )
            .bind(rules.version())
            .fetch_optional(&mut *transaction)
            .await?;
            match existing {
                Some((stored, _)) if stored != document => {
                    return Err(ReferralError::AlreadyExists(format!(
                        "版本 {} 已存在且内容不同，请使用新版本号 version {} exists with another document; use a new version",
                        rules.version(),
                        rules.version()
                    )));
                }
                Some((_, 1)) => {}
                _ => {
                    sqlx::query("UPDATE routing_rules_versions SET active = 0 WHERE active = 1")
                        .execute(&mut *transaction)
                        .await?;
                    if existing.is_some() {
                        sqlx::query(
                            "UPDATE routing_rules_versions SET active = 1 WHERE version = $1",
                        )
                        .bind(rules.version())
                        .execute(&mut *transaction)
                        .await?;
                    } else {
                        sqlx::query(
                            "INSERT INTO routing_rules_versions (version, document, active, created_by, created_at) \
                             VALUES ($1, $2, 1, $3, $4)",
                        )
                        .bind(rules.version())
                        .bind(&document)
                        .bind(&call.context.actor)
                        .bind(louyu_kit::time::now_micros())
                        .execute(&mut *transaction)
                        .await?;
                    }
                }
            }
            let answer = self.rules_proto(&rules, document);
            let name = answer.name.clone();
            self.finish(transaction, call, &name, &answer, Vec::new())
                .await?;
            Ok(answer)
        })
        .await
    }
}

/// A warning for this year and, from December, next year, when the
/// calendar has no arrangement for it.
pub fn calendar_warnings(rules: &Rules) -> Vec<String> {
    let today = louyu_kit::time::today_in_shanghai();
    let mut years = vec![today.year()];
    if today.month() == time::Month::December {
        years.push(today.year() + 1);
    }
    rules
        .calendar()
        .years_missing(years)
        .into_iter()
        .map(|year| {
            format!(
                "{year}年无节假日安排，按周一至周五计工作日 no holiday calendar for {year}: Monday to Friday are counted as working days"
            )
        })
        .collect()
}
