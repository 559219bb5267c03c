//! Validation errors with `google.rpc.BadRequest` field violations, and the
//! one way unexpected errors leave a service: logged with their cause, sent as
//! a bare `internal`.

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
}
