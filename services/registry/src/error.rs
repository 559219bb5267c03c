//! The registry's errors and the one mapping to gRPC status.

use louyu_kit::error::InvalidArgument;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    #[error("已存在 already exists: {resource}")]
    AlreadyExists { resource: String },
    /// The request is valid but the current state forbids it; the message
    /// says why, in Chinese then English.
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl RegistryError {
    pub fn not_found(resource: impl Into<String>) -> Self {
        RegistryError::NotFound {
            resource: resource.into(),
        }
    }

    /// For an error of the insert that creates `resource`: a unique-key
    /// violation means another call created it after this one looked
    /// (PostgreSQL; SQLite runs writers one at a time).
    pub fn when_creating(self, resource: &str) -> Self {
        match self {
            RegistryError::Database(ref error) if louyu_kit::db::is_unique_violation(error) => {
                RegistryError::AlreadyExists {
                    resource: resource.to_owned(),
                }
            }
            other => other,
        }
    }
}

impl From<louyu_kit::mutation::MutationError> for RegistryError {
    fn from(error: louyu_kit::mutation::MutationError) -> Self {
        use louyu_kit::mutation::MutationError;
        match error {
            MutationError::InvalidArgument(invalid) => RegistryError::InvalidArgument(invalid),
            MutationError::Database(database) => RegistryError::Database(database),
            MutationError::Corrupt(decode) => RegistryError::Corrupt(decode.to_string()),
        }
    }
}

impl From<serde_json::Error> for RegistryError {
    fn from(error: serde_json::Error) -> Self {
        RegistryError::Corrupt(error.to_string())
    }
}

impl From<RegistryError> for Status {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::InvalidArgument(invalid) => invalid.into_status(),
            RegistryError::NotFound { .. } => Status::not_found(error.to_string()),
            RegistryError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
            RegistryError::FailedPrecondition(message) => Status::failed_precondition(message),
            RegistryError::Database(ref cause) if louyu_kit::db::is_concurrency_conflict(cause) => {
                Status::aborted("并发修改冲突，请重试 a concurrent change came first; retry")
            }
            RegistryError::Database(ref cause) => {
                louyu_kit::error::internal("registry database", cause)
            }
            RegistryError::Corrupt(_) => louyu_kit::error::internal("registry stored data", &error),
        }
    }
}
