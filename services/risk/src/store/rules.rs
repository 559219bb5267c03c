//! The district's rules by version: the one in force (or, until a district
//! activates its own, the rules the service ships with), kept in the
//! database so every replica applies the same ones and a restart keeps
//! them.

use std::sync::{Arc, RwLock};

use louyu_kit::operations::Operations;
use louyu_proto::google::longrunning::Operation;
use louyu_proto::risk::v1::{ActivateRulesMetadata, ActivateRulesRequest};
use sqlx::{AnyConnection, Row};

use super::Store;
use crate::domain::Rules;
use crate::error::RiskError;

/// The rules a store applies, re-read when another version comes into
/// force (on this replica or another).
#[derive(Debug)]
pub struct RulesInForce {
    current: RwLock<Arc<Rules>>,
    shipped: Arc<Rules>,
}

impl RulesInForce {
    pub fn new(shipped: Rules) -> Self {
        let shipped = Arc::new(shipped);
        Self {
            current: RwLock::new(shipped.clone()),
            shipped,
        }
    }

    fn cached(&self) -> Arc<Rules> {
        self.current
            .read()
            .expect("the rules lock is never poisoned")
            .clone()
    }

    fn replace(&self, rules: Arc<Rules>) {
        *self
            .current
            .write()
            .expect("the rules lock is never poisoned") = rules;
    }
}

/// What activating a version did to the table of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// A new version, now in force.
    New,
    /// The version already in force, with the same document: nothing to do
    /// but re-assess.
    AlreadyInForce,
}

impl Store {
    /// The rules in force, as of `connection`'s transaction.
    pub async fn rules_in_force(
        &self,
        connection: &mut AnyConnection,
    ) -> Result<Arc<Rules>, RiskError> {
        let version: Option<String> =
            sqlx::query_scalar("SELECT version FROM rules_versions WHERE active = 1")
                .fetch_optional(&mut *connection)
                .await?;
        let Some(version) = version else {
            return Ok(self.rules.shipped.clone());
        };
        let cached = self.rules.cached();
        if cached.version() == version {
            return Ok(cached);
        }
        let document: String =
            sqlx::query_scalar("SELECT document FROM rules_versions WHERE version = $1")
                .bind(&version)
                .fetch_one(&mut *connection)
                .await?;
        let rules = Arc::new(Rules::parse(&document).map_err(|error| {
            RiskError::Corrupt(format!("rules {version} in force do not parse: {error}"))
        })?);
        self.rules.replace(rules.clone());
        Ok(rules)
    }

    /// The rules in force, on a connection of its own.
    pub async fn current_rules(&self) -> Result<Arc<Rules>, RiskError> {
        let mut connection = self.db.pool().acquire().await?;
        self.rules_in_force(&mut connection).await
    }

    /// Puts `rules` (parsed from `document`) in force inside the caller's
    /// transaction. A version already written with another document is
    /// refused: a version's document never changes.
    pub async fn put_rules_in_force(
        &self,
        connection: &mut AnyConnection,
        rules: &Rules,
        document: &str,
        actor: &str,
    ) -> Result<Activation, RiskError> {
        let existing =
            sqlx::query("SELECT document, active FROM rules_versions WHERE version = $1")
                .bind(rules.version())
                .fetch_optional(&mut *connection)
                .await?;
        if let Some(existing) = existing {
            let same: String = existing.try_get("document")?;
            let active: i64 = existing.try_get("active")?;
            if same != document {
                return Err(louyu_kit::error::InvalidArgument::new(
                    "document",
                    format!(
                        "版本 {0} 已存在且内容不同，请使用新的版本号 version {0} already exists with another document; give the new rules a new version",
                        rules.version()
                    ),
                )
                .into());
            }
            if active == 1 {
                return Ok(Activation::AlreadyInForce);
            }
        }
        let now = louyu_kit::time::now_micros();
        sqlx::query("UPDATE rules_versions SET active = 0 WHERE active = 1")
            .execute(&mut *connection)
            .await?;
        sqlx::query(
            "INSERT INTO rules_versions (version, document, active, created_by, created_at, activated_at) \
             VALUES ($1, $2, 1, $3, $4, $4) \
             ON CONFLICT (version) DO UPDATE SET active = 1, activated_at = excluded.activated_at",
        )
        .bind(rules.version())
        .bind(document)
        .bind(actor)
        .bind(now)
        .execute(&mut *connection)
        .await
        .map_err(|error| {
            // Another activation put its rules in force after this one
            // looked (PostgreSQL; SQLite runs writers one at a time): the
            // one-active index refuses a second.
            if louyu_kit::db::is_unique_violation(&error) {
                RiskError::Conflict
            } else {
                error.into()
            }
        })?;
        Ok(Activation::New)
    }
}

impl Store {
    /// `ActivateRules`: puts `rules` in force and starts the operation that
    /// re-assesses the district under them (`crate::activation` runs it),
    /// both in one transaction with the call's audit record. Answers with
    /// the operation, not yet done.
    pub async fn activate_rules(
        &self,
        call: &super::Call,
        rules: &Rules,
        mut request: ActivateRulesRequest,
    ) -> Result<Operation, RiskError> {
        use louyu_kit::mutation::Mutations;
        request.request_id.clear();
        self.settle(call, async {
            let mut transaction = self.begin().await?;
            self.put_rules_in_force(
                &mut transaction,
                rules,
                &request.document,
                &call.context.actor,
            )
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assessments")
                .fetch_one(&mut *transaction)
                .await?;
            let metadata = ActivateRulesMetadata {
                version: rules.version().to_owned(),
                total,
                done: 0,
                changed: 0,
                start_time: Some(louyu_kit::time::timestamp_from_micros(
                    louyu_kit::time::now_micros(),
                )),
                last_enterprise: String::new(),
            };
            let operations = Operations::new(self.db.clone());
            let id = operations
                .start(
                    &mut transaction,
                    crate::activation::KIND,
                    &request,
                    &metadata,
                    &call.context.actor,
                )
                .await?;
            let operation = Operation {
                name: Operations::name(&id),
                metadata: Some(prost_types::Any {
                    type_url: <ActivateRulesMetadata as prost::Name>::type_url(),
                    value: prost::Message::encode_to_vec(&metadata),
                }),
                done: false,
                result: None,
            };
            let name = operation.name.clone();
            self.finish(transaction, call, &name, &operation, Vec::new())
                .await?;
            Ok(operation)
        })
        .await
    }
}
