//! The risk service's errors, each with its kind; kit turns them into a
//! status.

use louyu_kit::error::{InvalidArgument, ServiceError, ServiceErrorCode};
use louyu_kit::mutation::MutationError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error("{0}")]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    /// The caller may see the assessment but not change it.
    #[error("无权操作 permission denied: {0}")]
    PermissionDenied(String),
    /// The request is valid but the current state forbids it; the message
    /// says why, in Chinese then English.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Another call changed the same thing first (two activations at
    /// once); retrying is safe.
    #[error("另一调用先行完成，请重试 another call came first; retry")]
    Conflict,
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl RiskError {
    pub fn not_found(resource: impl Into<String>) -> Self {
        RiskError::NotFound {
            resource: resource.into(),
        }
    }
}

impl From<MutationError> for RiskError {
    fn from(error: MutationError) -> Self {
        error.into_service_error()
    }
}

impl From<serde_json::Error> for RiskError {
    fn from(error: serde_json::Error) -> Self {
        RiskError::Corrupt(error.to_string())
    }
}

impl ServiceError for RiskError {
    const SERVICE: &'static str = "risk";

    fn error_code(&self) -> ServiceErrorCode {
        match self {
            RiskError::InvalidArgument(_) => ServiceErrorCode::InvalidArgument,
            RiskError::NotFound { .. } => ServiceErrorCode::NotFound,
            RiskError::PermissionDenied(_) => ServiceErrorCode::PermissionDenied,
            RiskError::FailedPrecondition(_) => ServiceErrorCode::FailedPrecondition,
            RiskError::Conflict => ServiceErrorCode::Aborted,
            RiskError::Database(cause) => ServiceErrorCode::of_database(cause),
            RiskError::Corrupt(_) => ServiceErrorCode::Internal,
        }
    }
}

impl From<RiskError> for Status {
    fn from(error: RiskError) -> Self {
        louyu_kit::error::into_status(error)
    }
}
