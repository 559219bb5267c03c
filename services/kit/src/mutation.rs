//! The shape every mutating call takes: one write transaction holding the
//! change, its idempotency key, its audit record and its events, so they
//! commit together or not at all.

use louyu_proto::{IdempotentRequest, method_of};
use tonic::{Request, Status};

use crate::audit::{self, RequestContext};
use crate::db::{Db, Tx};
use crate::error::{InvalidArgument, ServiceError};
use crate::feed::{self, NewEvent};
use crate::idempotency::{self, IdempotencyError};
use crate::identity::{Caller, caller_of};
use crate::scope::Reach;

/// A mutating call: who makes it (the verified caller kit's server put in
/// the request) and how far it reaches, which RPC, and its idempotency key.
#[derive(Debug, Clone)]
pub struct Call {
    pub context: RequestContext,
    pub caller: Caller,
    /// The caller's reach on this method: what it may change.
    pub reach: Reach,
    pub method: &'static str,
    pub request_id: String,
    pub request_hash: String,
}

impl Call {
    /// A call without an idempotency key (updates and deletes, which are
    /// safe to repeat as they are). The method is the request's type name.
    pub fn new<M: prost::Message + prost::Name>(request: &Request<M>) -> Result<Self, Status> {
        let caller = caller_of(request)?;
        Ok(Self {
            context: RequestContext::of_request(request)?,
            caller: caller.clone(),
            reach: Reach::of_request(request)?,
            method: method_of::<M>(),
            request_id: String::new(),
            request_hash: idempotency::request_hash(request.get_ref(), &owner(caller)),
        })
    }

    /// A call whose `request_id` makes it safe to retry: the key is checked,
    /// and the request is hashed without it so that retries hash alike.
    pub fn idempotent<M: IdempotentRequest>(request: &Request<M>) -> Result<Self, Status> {
        let body = request.get_ref();
        let mut hashed = body.clone();
        hashed.clear_request_id();
        let caller = caller_of(request)?;
        Ok(Self {
            context: RequestContext::of_request(request)?,
            caller: caller.clone(),
            reach: Reach::of_request(request)?,
            method: method_of::<M>(),
            request_id: idempotency::parse_request_id(body.request_id())
                .map_err(InvalidArgument::into_status)?,
            request_hash: idempotency::request_hash(&hashed, &owner(caller)),
        })
    }

    /// The caller's reach on another method of the service, e.g. the Get
    /// of what this call changes: out of this call's reach but within that
    /// one, the target is PERMISSION_DENIED rather than NOT_FOUND.
    pub fn reach_of(&self, path: &str) -> Option<Reach> {
        Reach::of_method(&self.caller, path)
    }
}

/// Whom a call is made for, which its idempotency key belongs to: the
/// person (whichever service forwards them), or the system itself.
fn owner(caller: &Caller) -> String {
    match caller.person() {
        Some(person) => format!("staff:{}", person.staff_id),
        None => caller.principal().audit_name(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("a stored response cannot be decoded")]
    Corrupt(#[from] prost::DecodeError),
}

impl MutationError {
    /// The same failure as the calling service's error.
    pub fn into_service_error<E: ServiceError>(self) -> E {
        match self {
            MutationError::InvalidArgument(invalid) => E::from(invalid),
            MutationError::Database(database) => E::from(database),
            // A saved response that no longer decodes is stored data gone
            // bad, which a service reports as it does any database failure.
            MutationError::Corrupt(decode) => E::from(sqlx::Error::Decode(Box::new(decode))),
        }
    }
}

impl From<IdempotencyError> for MutationError {
    fn from(error: IdempotencyError) -> Self {
        match error {
            IdempotencyError::InvalidArgument(invalid) => MutationError::InvalidArgument(invalid),
            IdempotencyError::Database(database) => MutationError::Database(database),
        }
    }
}

/// The response of an earlier call with the same request id, read without
/// taking the write lock.
pub async fn replayed<R: prost::Message + Default>(
    db: &Db,
    call: &Call,
) -> Result<Option<R>, MutationError> {
    let mut connection = db.pool().acquire().await?;
    let bytes = idempotency::replay(
        &mut connection,
        call.method,
        &call.request_id,
        &call.request_hash,
    )
    .await?;
    Ok(bytes.map(|bytes| R::decode(bytes.as_slice())).transpose()?)
}

/// Begins a mutation's write transaction. The call's idempotency key is
/// written at the end, by [`finish`]; run the whole mutation under
/// [`settle`], which answers a repeated call.
pub async fn begin(db: &Db) -> Result<Tx, MutationError> {
    Ok(db.begin_write().await?)
}

/// Runs a mutation and, when it fails and the call carries a `request_id`,
/// answers with the response of a call under the same key that committed:
/// an earlier one (a retry after success fails on the key's primary key, or
/// earlier on the effect's own constraint) or a racing one (the loser waits
/// on the key's or the effect's unique index, or on a row lock, until the
/// winner commits, then fails). The failed call's transaction is over (its
/// future has returned and dropped it) before the key is looked up, so the
/// lookup sees what committed. A key under a different request gives
/// `INVALID_ARGUMENT` on `request_id`; no key leaves the call's own error.
pub async fn settle<R, E>(
    db: &Db,
    call: &Call,
    mutation: impl Future<Output = Result<R, E>>,
) -> Result<R, E>
where
    R: prost::Message + Default,
    E: From<MutationError> + std::fmt::Display,
{
    let error = match mutation.await {
        Ok(response) => return Ok(response),
        Err(error) => error,
    };
    if call.request_id.is_empty() {
        return Err(error);
    }
    match replayed::<R>(db, call).await {
        Ok(Some(response)) => Ok(response),
        Ok(None) => Err(error),
        Err(invalid @ MutationError::InvalidArgument(_)) => Err(invalid.into()),
        Err(lookup) => {
            tracing::warn!(
                method = call.method,
                error = %lookup,
                call_error = %error,
                "cannot look up the key of a failed call"
            );
            Err(error)
        }
    }
}

/// Records the key with its response, the audit record and the events, and
/// commits. Events go last: appending takes the feed's lock
/// until commit.
pub async fn finish<R: prost::Message>(
    db: &Db,
    mut transaction: Tx,
    call: &Call,
    resource: &str,
    response: &R,
    events: Vec<NewEvent>,
) -> Result<(), MutationError> {
    idempotency::store(
        &mut transaction,
        call.method,
        &call.request_id,
        &call.request_hash,
        response,
    )
    .await?;
    audit::record(
        &mut transaction,
        &call.context,
        call.method,
        resource,
        &call.request_id,
    )
    .await?;
    for event in events {
        feed::append(&mut transaction, &call.context, event).await?;
    }
    db.commit_with_events(transaction).await?;
    Ok(())
}

/// A service's store, as the mutation path sees it: its database, and its
/// error, into which the path's own failures turn. Implementing it gives the
/// store `begin`, `settle` and `finish` as methods.
pub trait Mutations: Sync {
    type Error: From<MutationError> + std::fmt::Display + Send;

    fn db(&self) -> &Db;

    /// Begins a mutation's transaction.
    fn begin(&self) -> impl Future<Output = Result<Tx, Self::Error>> + Send {
        async move { Ok(begin(self.db()).await?) }
    }

    /// Runs a mutation; when it fails, a call under the same `request_id`
    /// that committed answers instead (see [`settle`]).
    fn settle<R>(
        &self,
        call: &Call,
        mutation: impl Future<Output = Result<R, Self::Error>>,
    ) -> impl Future<Output = Result<R, Self::Error>>
    where
        R: prost::Message + Default,
    {
        settle(self.db(), call, mutation)
    }

    /// Records the key, the audit record and the events, and commits.
    fn finish<R: prost::Message + Sync>(
        &self,
        transaction: Tx,
        call: &Call,
        resource: &str,
        response: &R,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        async move { Ok(finish(self.db(), transaction, call, resource, response, events).await?) }
    }
}
