//! The referral service's errors, each with its kind; kit turns them into a
//! status.

use louyu_kit::error::{InvalidArgument, ServiceError, ServiceErrorCode};
use louyu_kit::mutation::MutationError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum ReferralError {
    #[error("{0}")]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    /// The demand has a referral already; the message names it.
    #[error("{0}")]
    AlreadyExists(String),
    /// The caller may see the referral but not make this move.
    #[error("无权操作 permission denied: {0}")]
    PermissionDenied(String),
    /// The move is not allowed in the referral's state; the message names
    /// the state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Another call changed the same referral first; retrying is safe.
    #[error("另一调用先行完成，请重试 another call came first; retry")]
    Conflict,
    /// The registry could not be reached; nothing was written.
    #[error("登记服务暂不可用，请重试 the registry is unavailable; retry")]
    RegistryUnavailable(tonic::Status),
    /// The registry answered in a way this service does not expect.
    #[error("registry call failed: {0}")]
    Registry(tonic::Status),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
}

impl ReferralError {
    pub fn not_found(resource: impl Into<String>) -> Self {
        ReferralError::NotFound {
            resource: resource.into(),
        }
    }
}

impl From<MutationError> for ReferralError {
    fn from(error: MutationError) -> Self {
        error.into_service_error()
    }
}

impl From<serde_json::Error> for ReferralError {
    fn from(error: serde_json::Error) -> Self {
        ReferralError::Corrupt(error.to_string())
    }
}

impl ServiceError for ReferralError {
    const SERVICE: &'static str = "referral";

    fn error_code(&self) -> ServiceErrorCode {
        match self {
            ReferralError::InvalidArgument(_) => ServiceErrorCode::InvalidArgument,
            ReferralError::NotFound { .. } => ServiceErrorCode::NotFound,
            ReferralError::AlreadyExists(_) => ServiceErrorCode::AlreadyExists,
            ReferralError::PermissionDenied(_) => ServiceErrorCode::PermissionDenied,
            ReferralError::FailedPrecondition(_) => ServiceErrorCode::FailedPrecondition,
            ReferralError::Conflict => ServiceErrorCode::Aborted,
            ReferralError::RegistryUnavailable(_) => ServiceErrorCode::Unavailable,
            ReferralError::Registry(_) => ServiceErrorCode::Internal,
            ReferralError::Database(cause) => ServiceErrorCode::of_database(cause),
            ReferralError::Corrupt(_) => ServiceErrorCode::Internal,
        }
    }
}

impl From<ReferralError> for Status {
    fn from(error: ReferralError) -> Self {
        louyu_kit::error::into_status(error)
    }
}
