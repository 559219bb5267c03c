//! The visits service's errors and the one mapping to gRPC status.

use louyu_kit::error::InvalidArgument;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum VisitsError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    /// The request is valid but the current state forbids it; the message
    /// says why, in Chinese then English.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The registry could not be reached: retry later, nothing was written.
    #[error("registry unavailable")]
    RegistryUnavailable(#[source] tonic::Status),
    /// The registry answered with an error this service did not expect.
    #[error("registry call failed")]
    Registry(#[source] tonic::Status),
    /// A concurrent request changed the same demand first; retrying is safe.
    #[error("conflicting concurrent change")]
    Conflict,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl VisitsError {
    pub fn not_found(resource: impl Into<String>) -> Self {
        VisitsError::NotFound {
            resource: resource.into(),
        }
    }
}

impl From<louyu_kit::mutation::MutationError> for VisitsError {
    fn from(error: louyu_kit::mutation::MutationError) -> Self {
        use louyu_kit::mutation::MutationError;
        match error {
            MutationError::InvalidArgument(invalid) => VisitsError::InvalidArgument(invalid),
            MutationError::Database(database) => VisitsError::Database(database),
            MutationError::Corrupt(decode) => VisitsError::Corrupt(decode.to_string()),
        }
    }
}

impl From<VisitsError> for Status {
    fn from(error: VisitsError) -> Self {
        match error {
            VisitsError::InvalidArgument(invalid) => invalid.into_status(),
            VisitsError::NotFound { .. } => Status::not_found(error.to_string()),
            VisitsError::FailedPrecondition(message) => Status::failed_precondition(message),
            VisitsError::RegistryUnavailable(ref cause) => {
                tracing::warn!(code = ?cause.code(), "registry unavailable");
                Status::unavailable(
                    "登记服务暂时无法访问，请稍后重试 the registry cannot be reached; retry later",
                )
            }
            VisitsError::Registry(ref cause) => louyu_kit::error::internal("registry call", cause),
            VisitsError::Conflict => {
                Status::aborted("并发修改冲突，请重试 a concurrent change came first; retry")
            }
            VisitsError::Database(ref cause) if louyu_kit::db::is_concurrency_conflict(cause) => {
                Status::aborted("并发修改冲突，请重试 a concurrent change came first; retry")
            }
            VisitsError::Database(ref cause) => {
                louyu_kit::error::internal("visits database", cause)
            }
            VisitsError::Corrupt(_) => louyu_kit::error::internal("visits stored data", &error),
        }
    }
}
