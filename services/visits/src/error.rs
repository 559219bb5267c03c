//! The visits service's errors, each with its kind; kit turns them into a
//! status.

use louyu_kit::error::{InvalidArgument, ServiceError, ServiceErrorCode};
use louyu_kit::mutation::MutationError;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum VisitsError {
    #[error("{0}")]
    InvalidArgument(#[from] InvalidArgument),
    #[error("未找到 not found: {resource}")]
    NotFound { resource: String },
    /// The caller may see the resource but not make this change to it:
    /// it is outside the reach of the method, within the reach of its Get.
    #[error("无权修改 permission denied: {resource} is outside what the caller may change")]
    PermissionDenied { resource: String },
    /// The request is valid but the current state forbids it; the message
    /// says why, in Chinese then English.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The registry could not be reached: retry later, nothing was written.
    #[error("登记服务暂时无法访问，请稍后重试 the registry cannot be reached; retry later")]
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

    pub fn permission_denied(resource: impl Into<String>) -> Self {
        VisitsError::PermissionDenied {
            resource: resource.into(),
        }
    }
}

impl From<MutationError> for VisitsError {
    fn from(error: MutationError) -> Self {
        error.into_service_error()
    }
}

impl ServiceError for VisitsError {
    const SERVICE: &'static str = "visits";

    fn error_code(&self) -> ServiceErrorCode {
        match self {
            VisitsError::InvalidArgument(_) => ServiceErrorCode::InvalidArgument,
            VisitsError::NotFound { .. } => ServiceErrorCode::NotFound,
            VisitsError::PermissionDenied { .. } => ServiceErrorCode::PermissionDenied,
            VisitsError::FailedPrecondition(_) => ServiceErrorCode::FailedPrecondition,
            VisitsError::RegistryUnavailable(_) => ServiceErrorCode::Unavailable,
            VisitsError::Conflict => ServiceErrorCode::Aborted,
            VisitsError::Database(cause) => ServiceErrorCode::of_database(cause),
            VisitsError::Registry(_) | VisitsError::Corrupt(_) => ServiceErrorCode::Internal,
        }
    }
}

impl From<VisitsError> for Status {
    fn from(error: VisitsError) -> Self {
        louyu_kit::error::into_status(error)
    }
}
