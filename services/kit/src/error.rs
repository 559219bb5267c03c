//! How errors leave a service, written once for all of them: each service's
//! error enum implements [`ServiceError`], which gives every variant a
//! [`ServiceErrorCode`] (one gRPC code, one HTTP status), and [`into_status`]
//! and [`reply`] do the rest (quickwit's `quickwit-proto/src/error.rs`).
//! Validation errors carry `google.rpc.BadRequest` field violations;
//! unexpected errors are logged with their cause and sent as a bare
//! `internal`.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// One thing wrong with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path in the request, e.g. `enterprise.uscc`.
    pub field: String,
    /// What is wrong, in Chinese then English.
    pub description: String,
}

/// A request that failed validation, with every violation found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidArgument {
    pub violations: Vec<FieldViolation>,
}

impl InvalidArgument {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            violations: vec![FieldViolation {
                field: field.into(),
                description: description.into(),
            }],
        }
    }

    /// The same violations with `prefix.` put before every field path, so a
    /// newtype's parse error can name the request field it came from.
    pub fn under(mut self, prefix: &str) -> Self {
        for violation in &mut self.violations {
            violation.field = if violation.field.is_empty() {
                prefix.to_owned()
            } else {
                format!("{prefix}.{}", violation.field)
            };
        }
        self
    }

    pub fn into_status(self) -> Status {
        let message = self.to_string();
        let violations = self
            .violations
            .into_iter()
            .map(|violation| {
                tonic_types::FieldViolation::new(violation.field, violation.description)
            })
            .collect::<Vec<_>>();
        Status::with_error_details(
            Code::InvalidArgument,
            message,
            ErrorDetails::with_bad_request(violations),
        )
    }
}

impl fmt::Display for InvalidArgument {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, violation) in self.violations.iter().enumerate() {
            if index > 0 {
                formatter.write_str("; ")?;
            }
            write!(formatter, "{}: {}", violation.field, violation.description)?;
        }
        Ok(())
    }
}

impl From<InvalidArgument> for Status {
    fn from(error: InvalidArgument) -> Self {
        error.into_status()
    }
}

/// Collects violations so a request can report all its problems at once.
#[derive(Debug, Default)]
pub struct Violations {
    violations: Vec<FieldViolation>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    pub fn extend(&mut self, error: InvalidArgument) {
        self.violations.extend(error.violations);
    }

    /// Keeps the value when it parsed; records the violation otherwise.
    pub fn check<T>(&mut self, result: Result<T, InvalidArgument>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.extend(error);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<(), InvalidArgument> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(InvalidArgument {
                violations: self.violations,
            })
        }
    }
}

/// What kind of failure an error is, as a client sees it. Each kind has one
/// gRPC code and one HTTP status, so every service, and the gateway's REST
/// side, map alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceErrorCode {
    /// The request is wrong; `google.rpc.BadRequest` names the fields.
    InvalidArgument,
    NotFound,
    AlreadyExists,
    /// The request is valid but the current state forbids it.
    FailedPrecondition,
    /// No verified caller: no token, or a token that failed a check.
    Unauthenticated,
    /// The caller may not do this: no role of theirs may call the method,
    /// or the write is to something outside their scope.
    PermissionDenied,
    /// A concurrent change came first; nothing was written, retrying is safe.
    Aborted,
    /// A service this one needs cannot be reached; nothing was written.
    Unavailable,
    /// No method of that name is served here.
    Unimplemented,
    /// The caller's deadline passed before the answer came.
    DeadlineExceeded,
    /// Too much at once: a request over a size limit, or a server shedding
    /// load.
    ResourceExhausted,
    /// Not the caller's doing: logged with its cause, sent as a bare
    /// `internal`.
    Internal,
}

impl ServiceErrorCode {
    pub fn grpc_code(self) -> Code {
        match self {
            ServiceErrorCode::InvalidArgument => Code::InvalidArgument,
            ServiceErrorCode::NotFound => Code::NotFound,
            ServiceErrorCode::AlreadyExists => Code::AlreadyExists,
            ServiceErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ServiceErrorCode::Unauthenticated => Code::Unauthenticated,
            ServiceErrorCode::PermissionDenied => Code::PermissionDenied,
            ServiceErrorCode::Aborted => Code::Aborted,
            ServiceErrorCode::Unavailable => Code::Unavailable,
            ServiceErrorCode::Unimplemented => Code::Unimplemented,
            ServiceErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
            ServiceErrorCode::ResourceExhausted => Code::ResourceExhausted,
            ServiceErrorCode::Internal => Code::Internal,
        }
    }

    /// Every kind, for lookups by gRPC code.
    pub const ALL: [ServiceErrorCode; 12] = [
        ServiceErrorCode::InvalidArgument,
        ServiceErrorCode::NotFound,
        ServiceErrorCode::AlreadyExists,
        ServiceErrorCode::FailedPrecondition,
        ServiceErrorCode::Unauthenticated,
        ServiceErrorCode::PermissionDenied,
        ServiceErrorCode::Aborted,
        ServiceErrorCode::Unavailable,
        ServiceErrorCode::Unimplemented,
        ServiceErrorCode::DeadlineExceeded,
        ServiceErrorCode::ResourceExhausted,
        ServiceErrorCode::Internal,
    ];

    /// The kind whose gRPC code is `code`, read back from a status (the
    /// gateway's REST side answers with its [`Self::http_status`]). A code no
    /// Louyu service sends (`UNKNOWN`, `CANCELLED`, `DATA_LOSS`, ...) is
    /// `Internal`: not the caller's doing.
    pub fn of_grpc(code: Code) -> Self {
        Self::ALL
            .into_iter()
            .find(|kind| kind.grpc_code() == code)
            .unwrap_or(ServiceErrorCode::Internal)
    }

    /// The HTTP status of the same failure, as `google.rpc.Code` documents
    /// it for HTTP APIs.
    pub fn http_status(self) -> http::StatusCode {
        match self {
            ServiceErrorCode::InvalidArgument | ServiceErrorCode::FailedPrecondition => {
                http::StatusCode::BAD_REQUEST
            }
            ServiceErrorCode::NotFound => http::StatusCode::NOT_FOUND,
            ServiceErrorCode::Unauthenticated => http::StatusCode::UNAUTHORIZED,
            ServiceErrorCode::PermissionDenied => http::StatusCode::FORBIDDEN,
            ServiceErrorCode::AlreadyExists | ServiceErrorCode::Aborted => {
                http::StatusCode::CONFLICT
            }
            ServiceErrorCode::Unavailable => http::StatusCode::SERVICE_UNAVAILABLE,
            ServiceErrorCode::Unimplemented => http::StatusCode::NOT_IMPLEMENTED,
            ServiceErrorCode::DeadlineExceeded => http::StatusCode::GATEWAY_TIMEOUT,
            ServiceErrorCode::ResourceExhausted => http::StatusCode::TOO_MANY_REQUESTS,
            ServiceErrorCode::Internal => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind of a failed database call: a deadlock or serialization
    /// failure broken by PostgreSQL wrote nothing and is `Aborted`; anything
    /// else is `Internal`.
    pub fn of_database(error: &sqlx::Error) -> Self {
        if crate::db::is_concurrency_conflict(error) {
            ServiceErrorCode::Aborted
        } else {
            ServiceErrorCode::Internal
        }
    }
}

/// What every service's error enum gives the one conversion to a status.
///
/// The `Display` of a variant whose code is neither `InvalidArgument`,
/// `Aborted` nor `Internal` is the message the client reads, in Chinese then
/// English. The `InvalidArgument` variant holds kit's [`InvalidArgument`] as
/// its source (`#[error("{0}")] InvalidArgument(#[from] InvalidArgument)`),
/// which is how its field violations reach the status.
pub trait ServiceError:
    std::error::Error + From<InvalidArgument> + From<sqlx::Error> + Sized + 'static
{
    /// The service's name, for the logs of its internal errors.
    const SERVICE: &'static str;

    fn error_code(&self) -> ServiceErrorCode;
}

/// The message of every `ABORTED`: the caller may simply retry.
pub const CONCURRENT_CHANGE: &str = "并发修改冲突，请重试 a concurrent change came first; retry";

/// The one conversion of a service's error to a gRPC status.
pub fn into_status<E: ServiceError>(error: E) -> Status {
    let code = error.error_code();
    match code {
        ServiceErrorCode::InvalidArgument => {
            let source = std::error::Error::source(&error);
            match source.and_then(|source| source.downcast_ref::<InvalidArgument>()) {
                Some(invalid) => invalid.clone().into_status(),
                None => Status::invalid_argument(error.to_string()),
            }
        }
        ServiceErrorCode::Aborted => Status::aborted(CONCURRENT_CHANGE),
        ServiceErrorCode::Unavailable => {
            tracing::warn!(service = E::SERVICE, error = %ErrorChain(&error), "dependency unavailable");
            Status::unavailable(error.to_string())
        }
        ServiceErrorCode::Internal => internal(E::SERVICE, &error),
        ServiceErrorCode::NotFound
        | ServiceErrorCode::AlreadyExists
        | ServiceErrorCode::FailedPrecondition
        | ServiceErrorCode::Unauthenticated
        | ServiceErrorCode::PermissionDenied
        | ServiceErrorCode::Unimplemented
        | ServiceErrorCode::DeadlineExceeded
        | ServiceErrorCode::ResourceExhausted => Status::new(code.grpc_code(), error.to_string()),
    }
}

/// A handler's answer: the value, or its error as a status.
pub fn reply<T, E: ServiceError>(result: Result<T, E>) -> crate::handler::Reply<T> {
    result.map(tonic::Response::new).map_err(into_status)
}

/// The status for an error the caller cannot act on. The cause is logged
/// here, with the operation it broke; the client sees only that it happened.
pub fn internal(operation: &str, cause: &(dyn std::error::Error + 'static)) -> Status {
    tracing::error!(operation, error = %ErrorChain(cause), "internal error");
    Status::internal("内部错误 internal error")
}

/// Displays an error with its sources on one line, for logs and for the
/// start-up error a person reads. A cause whose text the line already holds
/// is left out: sqlx and anyhow's context often repeat their source's text.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            source = cause.source();
        }
        formatter.write_str(&line)
    }
}

/// Whether a peer service's failure is worth retrying (it is down, slow,
/// overloaded, or lost a race), so that the calling service answers
/// UNAVAILABLE and a feed consumer tries again; any other code is a bug
/// between the two services.
pub fn peer_unavailable(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Aborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_status_carries_bad_request_field_violations() {
        let status = InvalidArgument::new("uscc", "校验码错误 check character is wrong")
            .under("enterprise")
            .into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        assert_eq!(bad_request.field_violations.len(), 1);
        assert_eq!(bad_request.field_violations[0].field, "enterprise.uscc");
        assert!(status.message().contains("enterprise.uscc"));
    }

    #[test]
    fn an_error_chain_is_one_line_without_repeated_causes() {
        let io_error = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = anyhow::Error::new(sqlx::Error::Io(io_error)).context("cannot start");
        let error: &(dyn std::error::Error + 'static) = error.as_ref();
        assert_eq!(
            ErrorChain(error).to_string(),
            "cannot start: error communicating with database: refused"
        );
    }

    #[derive(Debug, thiserror::Error)]
    enum TestError {
        #[error("{0}")]
        InvalidArgument(#[from] InvalidArgument),
        #[error("未找到 not found: {0}")]
        NotFound(String),
        #[error("database error")]
        Database(#[from] sqlx::Error),
    }

    impl ServiceError for TestError {
        const SERVICE: &'static str = "test";

        fn error_code(&self) -> ServiceErrorCode {
            match self {
                TestError::InvalidArgument(_) => ServiceErrorCode::InvalidArgument,
                TestError::NotFound(_) => ServiceErrorCode::NotFound,
                TestError::Database(cause) => ServiceErrorCode::of_database(cause),
            }
        }
    }

    #[test]
    fn a_service_error_keeps_its_field_violations_in_the_status() {
        let error = TestError::from(InvalidArgument::new("name", "必须填写 is required"));
        let status = into_status(error);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        assert_eq!(bad_request.field_violations[0].field, "name");
    }

    #[test]
    fn a_service_error_says_what_was_not_found_and_hides_internal_causes() {
        let status = into_status(TestError::NotFound("districts/d/buildings/b".into()));
        assert_eq!(status.code(), Code::NotFound);
        assert!(status.message().contains("districts/d/buildings/b"));
        let status = into_status(TestError::Database(sqlx::Error::PoolTimedOut));
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "内部错误 internal error");
    }

    #[test]
    fn every_code_has_one_grpc_code_and_one_http_status() {
        let cases = [
            (
                ServiceErrorCode::InvalidArgument,
                Code::InvalidArgument,
                400,
            ),
            (ServiceErrorCode::NotFound, Code::NotFound, 404),
            (ServiceErrorCode::AlreadyExists, Code::AlreadyExists, 409),
            (
                ServiceErrorCode::FailedPrecondition,
                Code::FailedPrecondition,
                400,
            ),
            (
                ServiceErrorCode::Unauthenticated,
                Code::Unauthenticated,
                401,
            ),
            (
                ServiceErrorCode::PermissionDenied,
                Code::PermissionDenied,
                403,
            ),
            (ServiceErrorCode::Aborted, Code::Aborted, 409),
            (ServiceErrorCode::Unavailable, Code::Unavailable, 503),
            (
                ServiceErrorCode::DeadlineExceeded,
                Code::DeadlineExceeded,
                504,
            ),
            (
                ServiceErrorCode::ResourceExhausted,
                Code::ResourceExhausted,
                429,
            ),
            (ServiceErrorCode::Internal, Code::Internal, 500),
        ];
        for (code, grpc, http) in cases {
            assert_eq!(code.grpc_code(), grpc, "{code:?}");
            assert_eq!(code.http_status().as_u16(), http, "{code:?}");
            assert_eq!(ServiceErrorCode::of_grpc(grpc), code, "{code:?}");
        }
        assert_eq!(
            ServiceErrorCode::of_grpc(Code::Unknown),
            ServiceErrorCode::Internal
        );
    }
}
