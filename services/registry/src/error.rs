//! The registry's errors, each with its kind; kit turns them into a status.

use louyu_kit::error::{InvalidArgument, ServiceError, ServiceErrorCode};
use louyu_kit::mutation::MutationError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    #[error("已存在 already exists: {resource}")]
    AlreadyExists { resource: String },
    /// The request is valid but the current state forbids it; the message
    /// says why, in Chinese then English.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may see the target but not change it, or not place it
    /// where it asked; the message names what is out of its reach.
    #[error("无权操作 permission denied: {0}")]
    PermissionDenied(String),
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

impl From<MutationError> for RegistryError {
    fn from(error: MutationError) -> Self {
        error.into_service_error()
    }
}

impl From<serde_json::Error> for RegistryError {
    fn from(error: serde_json::Error) -> Self {
        RegistryError::Corrupt(error.to_string())
    }
}

impl ServiceError for RegistryError {
    const SERVICE: &'static str = "registry";

    fn error_code(&self) -> ServiceErrorCode {
        match self {
            RegistryError::InvalidArgument(_) => ServiceErrorCode::InvalidArgument,
            RegistryError::NotFound { .. } => ServiceErrorCode::NotFound,
            RegistryError::AlreadyExists { .. } => ServiceErrorCode::AlreadyExists,
            RegistryError::FailedPrecondition(_) => ServiceErrorCode::FailedPrecondition,
            RegistryError::PermissionDenied(_) => ServiceErrorCode::PermissionDenied,
            RegistryError::Database(cause) => ServiceErrorCode::of_database(cause),
            RegistryError::Corrupt(_) => ServiceErrorCode::Internal,
        }
    }
}

impl From<RegistryError> for Status {
    fn from(error: RegistryError) -> Self {
        louyu_kit::error::into_status(error)
    }
}
