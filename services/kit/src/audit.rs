//! The audit trail: who changed what, when, through which request. Stores
//! call [`record`] inside the transaction of the change; every service serves
//! its trail through `louyu.common.v1.AuditService`.

use louyu_proto::common::v1::audit_service_server::AuditService;
use louyu_proto::common::v1::{AuditRecord, ListAuditRecordsRequest, ListAuditRecordsResponse};
use sqlx::{AnyConnection, Row};
use tonic::{Request, Response, Status};

use crate::db::Db;
use crate::error::InvalidArgument;
use crate::filter::{self, FieldKind, FilterField, SqlQuery, SqlValue};
use crate::page::{self, PageTokens};

/// Development mode only (`LOUYU_DEV_IDENTITY=1`): the request metadata key
/// that names the caller without a token. Outside development mode it is
/// refused, and the audit trail never reads it: it records the verified
/// caller ([`crate::identity::Caller::audit_actor`]).
pub const ACTOR_METADATA_KEY: &str = "x-louyu-actor";

/// Who is calling and under which trace: what a mutating call records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    pub actor: String,
    pub traceparent: String,
}

impl RequestContext {
    /// The verified caller of a request, as kit's server put it in the
    /// request's extensions. Call it inside the request's span, so the trace
    /// context is the request's own.
    pub fn of_request<T>(request: &Request<T>) -> Result<Self, Status> {
        Ok(Self::of_caller(crate::identity::caller_of(request)?))
    }

    /// A context recording `caller`: `staff:s-001`, `system:visits for
    /// staff:s-001`.
    pub fn of_caller(caller: &crate::identity::Caller) -> Self {
        Self {
            actor: caller.audit_actor(),
            traceparent: crate::telemetry::current_traceparent(),
        }
    }

    /// A context for work the service does on its own (event consumers,
    /// scheduled jobs), named after the job.
    pub fn system(job: &str) -> Self {
        Self {
            actor: format!("system:{job}"),
            traceparent: crate::telemetry::current_traceparent(),
        }
    }
}

/// Appends one audit record.
pub async fn record(
    connection: &mut AnyConnection,
    context: &RequestContext,
    method: &str,
    resource: &str,
    request_id: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_records (occurred_at, actor, method, resource, request_id) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(crate::time::now_micros())
    .bind(&context.actor)
    .bind(method)
    .bind(resource)
    .bind(request_id)
    .execute(&mut *connection)
    .await?;
    Ok(())
}

/// Serves `louyu.common.v1.AuditService` from a service's database.
#[derive(Debug, Clone)]
pub struct AuditServer {
    db: Db,
    page_tokens: PageTokens,
}

impl AuditServer {
    pub fn new(db: Db, page_tokens: PageTokens) -> Self {
        Self { db, page_tokens }
    }
}

const AUDIT_FILTER_FIELDS: &[FilterField] = &[
    FilterField {
        name: "actor",
        column: "actor",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "method",
        column: "method",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "resource",
        column: "resource",
        kind: FieldKind::Text,
    },
    FilterField {
        name: "request_id",
        column: "request_id",
        kind: FieldKind::Text,
    },
];

#[tonic::async_trait]
impl AuditService for AuditServer {
    async fn list_audit_records(
        &self,
        request: Request<ListAuditRecordsRequest>,
    ) -> Result<Response<ListAuditRecordsResponse>, Status> {
        let request = request.into_inner();
        let size = page::page_size(request.page_size).map_err(InvalidArgument::into_status)?;
        let scope = format!("ListAuditRecords|{}", request.filter);
        let after = self
            .page_tokens
            .decode(&scope, &request.page_token)
            .map_err(InvalidArgument::into_status)?;
        let comparisons = filter::parse(&request.filter).map_err(InvalidArgument::into_status)?;

        let mut query = SqlQuery::new(
            "SELECT id, occurred_at, actor, method, resource, request_id FROM audit_records WHERE 1 = 1",
        );
        filter::push_conditions(&comparisons, AUDIT_FILTER_FIELDS, &mut query)
            .map_err(InvalidArgument::into_status)?;
        if let Some(after) = after {
            let before_id = after.parse::<i64>().map_err(|_| {
                InvalidArgument::new("page_token", "分页令牌无效 is not a valid token")
                    .into_status()
            })?;
            query
                .push(" AND id < ")
                .push_value(SqlValue::Integer(before_id));
        }
        query
            .push(" ORDER BY id DESC LIMIT ")
            .push_value(SqlValue::Integer(size + 1));

        let rows = query
            .build()
            .fetch_all(self.db.pool())
            .await
            .map_err(|error| crate::error::internal("list audit records", &error))?;
        let records = rows
            .iter()
            .map(|row| -> sqlx::Result<AuditRecord> {
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    time: Some(crate::time::timestamp_from_micros(
                        row.try_get("occurred_at")?,
                    )),
                    actor: row.try_get("actor")?,
                    method: row.try_get("method")?,
                    resource: row.try_get("resource")?,
                    request_id: row.try_get("request_id")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(|error| crate::error::internal("read audit records", &error))?;
        let (audit_records, next_page_token) =
            page::finish_page(&self.page_tokens, &scope, size, records, |record| {
                record.id.to_string()
            });
        Ok(Response::new(ListAuditRecordsResponse {
            audit_records,
            next_page_token,
        }))
    }
}
