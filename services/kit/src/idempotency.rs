//! Idempotent creates (AIP-155). A caller that repeats a request with the
//! same `request_id` gets the first call's response, byte for byte; a
//! different request under an id already used is rejected.
//!
//! The key is stored in the same transaction as the change, so a request
//! either happened once, with its key, or not at all. It is written last,
//! with the response, and a call that fails for any reason looks for a key
//! that an earlier (or racing) call with the same id committed, and returns
//! that call's response instead of its own error. So a call costs no extra
//! round trip for its key, and a retry costs one only once it has failed.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::error::InvalidArgument;

/// The longest `request_id` accepted.
pub const MAX_REQUEST_ID_LENGTH: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error(transparent)]
    InvalidArgument(#[from] InvalidArgument),
    #[error("idempotency key storage failed")]
    Database(#[from] sqlx::Error),
}

/// Checks a `request_id`: empty (no idempotency) or 1 to 128 printable ASCII
/// characters (a UUID fits).
pub fn parse_request_id(request_id: &str) -> Result<String, InvalidArgument> {
    let printable = request_id.bytes().all(|byte| byte.is_ascii_graphic());
    if request_id.len() > MAX_REQUEST_ID_LENGTH || !printable {
        return Err(InvalidArgument::new(
            "request_id",
            "须为不超过128位的可打印ASCII字符（如UUID） must be at most 128 printable ASCII characters, such as a UUID",
        ));
    }
    Ok(request_id.to_owned())
}

/// A digest of the request and of whom it is made for, to tell a retry from
/// a different request under the same id: another caller reusing an id gets
/// INVALID_ARGUMENT, never the first caller's response. Callers clear
/// `request_id` in the message first.
pub fn request_hash(message: &impl prost::Message, caller: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(caller.as_bytes());
    hasher.update([0]);
    hasher.update(message.encode_to_vec());
    let digest = hasher.finalize();
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The stored response of an earlier call with this `request_id`, if any.
pub async fn replay(
    connection: &mut AnyConnection,
    method: &str,
    request_id: &str,
    request_hash: &str,
) -> Result<Option<Vec<u8>>, IdempotencyError> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let stored: Option<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys WHERE method = $1 AND request_id = $2",
    )
    .bind(method)
    .bind(request_id)
    .fetch_optional(&mut *connection)
    .await?;
    match stored {
        None => Ok(None),
        Some((stored_hash, response)) if stored_hash == request_hash => Ok(Some(response)),
        Some(_) => Err(InvalidArgument::new(
            "request_id",
            "该请求ID已用于另一个不同的请求 was already used for a different request",
        )
        .into()),
    }
}

/// Stores the key of a call that succeeded, with its response, in the
/// call's transaction, after its effect and before its events.
///
/// A plain insert: when another call already committed a key with this
/// `(method, request_id)`, or holds one uncommitted (this insert then waits
/// for it on the key's unique index), the insert fails with a unique
/// violation and the whole call rolls back. The caller then asks
/// [`replay`] what that call answered (see `mutation::settle`).
pub async fn store(
    connection: &mut AnyConnection,
    method: &str,
    request_id: &str,
    request_hash: &str,
    response: &impl prost::Message,
) -> Result<(), IdempotencyError> {
    if request_id.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO idempotency_keys (method, request_id, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(method)
    .bind(request_id)
    .bind(request_hash)
    .bind(response.encode_to_vec())
    .bind(crate::time::now_micros())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_printable_ascii() {
        assert!(parse_request_id("").is_ok());
        assert!(parse_request_id("7f1c9a3e-5a43-4c3f-9d55-0a0d2c7e8b11").is_ok());
        for bad in ["has space", "请求", &"x".repeat(129)] {
            assert_eq!(
                parse_request_id(bad).unwrap_err().violations[0].field,
                "request_id"
            );
        }
    }

    #[test]
    fn request_hashes_differ_when_the_request_differs() {
        let first = prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        };
        let second = prost_types::Timestamp {
            seconds: 2,
            nanos: 0,
        };
        assert_eq!(
            request_hash(&first, "staff:s-1"),
            request_hash(&first.clone(), "staff:s-1")
        );
        assert_ne!(
            request_hash(&first, "staff:s-1"),
            request_hash(&first, "staff:s-2")
        );
        assert_ne!(
            request_hash(&first, "staff:s-1"),
            request_hash(&second, "staff:s-1")
        );
    }
}
