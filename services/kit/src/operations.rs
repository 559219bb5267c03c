//! Long-running operations (`google.longrunning.Operations`, AIP-151): work
//! a call starts and a client polls, such as re-assessing a whole district
//! under new rules. An operation lives in the service's own database
//! (`operations`, a kit migration), so it survives a restart: a job of the
//! service claims unfinished operations ([`Operations::claim`], under a
//! lease it renews with each [`Operations::progress`], so two replicas
//! never run one at once) and resumes them from the progress they saved.
//!
//! Names are `operations/{id}`; ids sort in the order operations started.

use std::time::Duration;

use louyu_proto::google::longrunning::operation::Result as OperationResult;
use louyu_proto::google::longrunning::operations_server;
use louyu_proto::google::longrunning::{
    CancelOperationRequest, DeleteOperationRequest, GetOperationRequest, ListOperationsRequest,
    ListOperationsResponse, Operation, WaitOperationRequest,
};
use louyu_proto::google::rpc;
use prost::{Message, Name};
use sqlx::Row;
use sqlx::any::AnyRow;
use tonic::{Code, Request, Response, Status};

use crate::db::Db;
use crate::error::InvalidArgument;
use crate::filter::SqlQuery;
use crate::page::{self, PageQuery, PageTokens};

/// The collection of operation names.
const COLLECTION: &str = "operations/";

/// The longest `WaitOperation` waits, whatever its timeout says: well
/// under the server's request timeout (`LOUYU_REQUEST_TIMEOUT_SECONDS`,
/// 30 s by default), so a long wait answers with the operation as it stands
/// rather than being cut off as CANCELLED.
const MAX_WAIT: Duration = Duration::from_secs(20);

/// One operation's row.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub kind: String,
    pub done: bool,
    /// What the operation was asked to do, encoded.
    pub request: Vec<u8>,
}

/// The operations of one service's database.
#[derive(Debug, Clone)]
pub struct Operations {
    db: Db,
}

impl Operations {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The name of the operation `id`.
    pub fn name(id: &str) -> String {
        format!("{COLLECTION}{id}")
    }

    /// Starts an operation of `kind`, inside the caller's transaction (so
    /// it exists exactly when what started it committed). Returns its id.
    pub async fn start<R: Message, M: Message + Name>(
        &self,
        connection: &mut sqlx::AnyConnection,
        kind: &str,
        request: &R,
        metadata: &M,
        created_by: &str,
    ) -> sqlx::Result<String> {
        let now = crate::time::now_micros();
        let id = format!("{now:020}{}", crate::names::generate_id("-"));
        sqlx::query(
            "INSERT INTO operations (id, kind, done, request, metadata_type, metadata, created_by, created_at, \
             updated_at) VALUES ($1, $2, 0, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(kind)
        .bind(request.encode_to_vec())
        .bind(M::type_url())
        .bind(metadata.encode_to_vec())
        .bind(created_by)
        .bind(now)
        .execute(&mut *connection)
        .await?;
        Ok(id)
    }

    /// Takes the oldest unfinished operation of `kind` that no replica
    /// holds (or whose holder's lease ran out) for `holder`, for `lease`.
    /// `None` when there is none to run.
    pub async fn claim(
        &self,
        kind: &str,
        holder: &str,
        lease: Duration,
    ) -> sqlx::Result<Option<Stored>> {
        let now = crate::time::now_micros();
        let until = now + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        let row = sqlx::query(
            "UPDATE operations SET lease_holder = $1, lease_until = $2 WHERE id = (\
                 SELECT id FROM operations WHERE kind = $3 AND done = 0 \
                 AND (lease_until IS NULL OR lease_until < $4) ORDER BY id LIMIT 1) \
             AND done = 0 AND (lease_until IS NULL OR lease_until < $4) \
             RETURNING id, kind, done, request",
        )
        .bind(holder)
        .bind(until)
        .bind(kind)
        .bind(now)
        .fetch_optional(self.db.pool())
        .await?;
        row.map(|row| {
            Ok(Stored {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                done: row.try_get::<i64, _>("done")? == 1,
                request: row.try_get("request")?,
            })
        })
        .transpose()
    }

    /// Saves an unfinished operation's progress and renews `holder`'s lease
    /// for `lease`. `false` when the lease was lost (another replica took
    /// the operation over): the caller stops.
    pub async fn progress<M: Message + Name>(
        &self,
        id: &str,
        holder: &str,
        lease: Duration,
        metadata: &M,
    ) -> sqlx::Result<bool> {
        let now = crate::time::now_micros();
        let until = now + i64::try_from(lease.as_micros()).unwrap_or(i64::MAX / 2);
        let saved = sqlx::query(
            "UPDATE operations SET metadata_type = $1, metadata = $2, updated_at = $3, lease_until = $4 \
             WHERE id = $5 AND done = 0 AND lease_holder = $6",
        )
        .bind(M::type_url())
        .bind(metadata.encode_to_vec())
        .bind(now)
        .bind(until)
        .bind(id)
        .bind(holder)
        .execute(self.db.pool())
        .await?;
        Ok(saved.rows_affected() == 1)
    }

    /// Gives up `holder`'s lease (it stops, at shutdown), so that the next
    /// start takes the operation up at once instead of after the lease.
    pub async fn release(&self, id: &str, holder: &str) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE operations SET lease_holder = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_holder = $2 AND done = 0",
        )
        .bind(id)
        .bind(holder)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The saved metadata of an operation, decoded as `M`.
    pub async fn metadata<M: Message + Default>(&self, id: &str) -> sqlx::Result<Option<M>> {
        let bytes: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT metadata FROM operations WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
        bytes
            .map(|bytes| {
                M::decode(bytes.as_slice()).map_err(|error| sqlx::Error::Decode(Box::new(error)))
            })
            .transpose()
    }

    /// Ends an operation with its response and final metadata.
    pub async fn succeed<M: Message + Name, R: Message + Name>(
        &self,
        id: &str,
        metadata: &M,
        response: &R,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE operations SET done = 1, metadata_type = $1, metadata = $2, response_type = $3, response = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(M::type_url())
        .bind(metadata.encode_to_vec())
        .bind(R::type_url())
        .bind(response.encode_to_vec())
        .bind(crate::time::now_micros())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Ends an operation with an error a client may read: say what went
    /// wrong without internal detail.
    pub async fn fail(&self, id: &str, code: Code, message: &str) -> sqlx::Result<()> {
        sqlx::query(
            "UPDATE operations SET done = 1, error_code = $1, error_message = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(i64::from(code as i32))
        .bind(message)
        .bind(crate::time::now_micros())
        .bind(id)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// The operation `id` as the API shows it.
    pub async fn get(&self, id: &str) -> Result<Option<Operation>, Status> {
        let row = sqlx::query(
            "SELECT id, done, metadata_type, metadata, response_type, response, error_code, error_message \
             FROM operations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(|error| crate::error::internal("read an operation", &error))?;
        row.as_ref()
            .map(operation_from_row)
            .transpose()
            .map_err(|error| crate::error::internal("read an operation", &error))
    }
}

fn operation_from_row(row: &AnyRow) -> sqlx::Result<Operation> {
    let id: String = row.try_get("id")?;
    let done = row.try_get::<i64, _>("done")? == 1;
    let metadata = prost_types::Any {
        type_url: row.try_get("metadata_type")?,
        value: row.try_get("metadata")?,
    };
    let error_code: Option<i64> = row.try_get("error_code")?;
    let result = match error_code {
        Some(code) => Some(OperationResult::Error(rpc::Status {
            code: i32::try_from(code).unwrap_or(Code::Unknown as i32),
            message: row
                .try_get::<Option<String>, _>("error_message")?
                .unwrap_or_default(),
            details: Vec::new(),
        })),
        None => {
            let response_type: Option<String> = row.try_get("response_type")?;
            match response_type {
                Some(type_url) => Some(OperationResult::Response(prost_types::Any {
                    type_url,
                    value: row
                        .try_get::<Option<Vec<u8>>, _>("response")?
                        .unwrap_or_default(),
                })),
                None => None,
            }
        }
    };
    Ok(Operation {
        name: Operations::name(&id),
        metadata: Some(metadata),
        done,
        result,
    })
}

/// The id in `operations/{id}`, or a field violation naming `name`.
fn parse_name(name: &str) -> Result<&str, InvalidArgument> {
    name.strip_prefix(COLLECTION)
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| InvalidArgument::new("name", "须为 operations/{id} must be operations/{id}"))
}

/// Serves `google.longrunning.Operations` from a service's database. Every
/// operation of the service is listed; cancelling and deleting are not
/// offered (UNIMPLEMENTED), as AIP-151 allows.
#[derive(Debug, Clone)]
pub struct OperationsServer {
    operations: Operations,
    db: Db,
    page_tokens: PageTokens,
}

impl OperationsServer {
    pub fn new(db: Db, page_tokens: PageTokens) -> Self {
        Self {
            operations: Operations::new(db.clone()),
            db,
            page_tokens,
        }
    }

    /// The tonic service, to add to a host.
    pub fn server(self) -> operations_server::OperationsServer<Self> {
        operations_server::OperationsServer::new(self)
    }

    async fn found(&self, name: &str) -> Result<Operation, Status> {
        let id = parse_name(name).map_err(InvalidArgument::into_status)?;
        self.operations
            .get(id)
            .await?
            .ok_or_else(|| Status::not_found(format!("未找到 not found: {name}")))
    }
}

#[tonic::async_trait]
impl operations_server::Operations for OperationsServer {
    async fn list_operations(
        &self,
        request: Request<ListOperationsRequest>,
    ) -> Result<Response<ListOperationsResponse>, Status> {
        let body = request.into_inner();
        if !body.filter.is_empty() {
            return Err(InvalidArgument::new(
                "filter",
                "不支持筛选 operations are not filtered: leave it empty",
            )
            .into_status());
        }
        let page = PageQuery::parse(
            &self.page_tokens,
            "ListOperations",
            "",
            body.page_size,
            &body.page_token,
        )
        .map_err(InvalidArgument::into_status)?;
        let query = SqlQuery::new(
            "SELECT id, done, metadata_type, metadata, response_type, response, error_code, error_message \
             FROM operations WHERE 1 = 1",
        );
        let (operations, next_page_token) = page::fetch_page(
            self.db.pool(),
            &self.page_tokens,
            query,
            "id",
            page::Order::Descending,
            &page,
            operation_from_row,
            |operation: &Operation| {
                operation
                    .name
                    .strip_prefix(COLLECTION)
                    .unwrap_or_default()
                    .to_owned()
            },
        )
        .await
        .map_err(|error: sqlx::Error| crate::error::internal("list operations", &error))?;
        Ok(Response::new(ListOperationsResponse {
            operations,
            next_page_token,
            unreachable: Vec::new(),
        }))
    }

    async fn get_operation(
        &self,
        request: Request<GetOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        Ok(Response::new(self.found(&request.get_ref().name).await?))
    }

    async fn delete_operation(
        &self,
        _request: Request<DeleteOperationRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented(
            "不能删除操作 operations are kept as the record of what was done",
        ))
    }

    async fn cancel_operation(
        &self,
        _request: Request<CancelOperationRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented(
            "不能取消操作 operations run to the end (activate other rules to change course)",
        ))
    }

    /// Polls until the operation is done or the timeout (at most a minute,
    /// 30 s by default) passes, then answers as `GetOperation` does.
    async fn wait_operation(
        &self,
        request: Request<WaitOperationRequest>,
    ) -> Result<Response<Operation>, Status> {
        let body = request.into_inner();
        let timeout = body
            .timeout
            .and_then(|timeout| Duration::try_from(timeout).ok())
            .unwrap_or(Duration::from_secs(30))
            .min(MAX_WAIT);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let operation = self.found(&body.name).await?;
            if operation.done || tokio::time::Instant::now() >= deadline {
                return Ok(Response::new(operation));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
