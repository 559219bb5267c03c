//! Idempotent creates (AIP-155). A caller that repeats a request with the
//! same `request_id` gets the first call's response, byte for byte; a
//! different request under an id already used is rejected.
//!
//! The key is stored in the same transaction as the change, so a request
//! either happened once, with its key, or not at all.

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

/// A digest of the request, to tell a retry from a different request under
/// the same id. Callers clear `request_id` in the message first.
pub fn request_hash(message: &impl prost::Message) -> String {
    let digest = Sha256::digest(message.encode_to_vec());
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

/// What a mutation does next, once its key is claimed.
#[derive(Debug)]
pub enum NextAction {
    /// The key is this transaction's: act, then [`remember`] the response.
    StartProcessing,
    /// An earlier call with this key committed: return its response.
    ReturnSavedResponse(Vec<u8>),
}

/// Claims `(method, request_id)` inside the write transaction, before the
/// call reads anything to decide.
///
/// The claim is an insert of the key with an empty response. A concurrent
/// call with the same key blocks on the key's unique index until this
/// transaction ends (PostgreSQL; SQLite serialises writers anyway): if this
/// one commits, the other finds the key and replays the stored response; if
/// it rolls back, the other claims the key and acts. No one ever reads the
/// empty response, because the claim and [`remember`] commit together.
pub async fn claim(
    connection: &mut AnyConnection,
    method: &str,
    request_id: &str,
    request_hash: &str,
) -> Result<NextAction, IdempotencyError> {
    if request_id.is_empty() {
        return Ok(NextAction::StartProcessing);
    }
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (method, request_id, request_hash, response, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (method, request_id) DO NOTHING",
    )
    .bind(method)
    .bind(request_id)
    .bind(request_hash)
    .bind(Vec::<u8>::new())
    .bind(crate::time::now_micros())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if claimed == 1 {
        return Ok(NextAction::StartProcessing);
    }
    match replay(connection, method, request_id, request_hash).await? {
        Some(response) => Ok(NextAction::ReturnSavedResponse(response)),
        // The key is there but unreadable: it cannot happen, since a key
        // becomes visible only with its response.
        None => Err(IdempotencyError::Database(sqlx::Error::RowNotFound)),
    }
}

/// Stores the response of a call whose key this transaction claimed, so
/// that its retries get it back.
pub async fn remember(
    connection: &mut AnyConnection,
    method: &str,
    request_id: &str,
    response: &impl prost::Message,
) -> Result<(), IdempotencyError> {
    if request_id.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE idempotency_keys SET response = $1 WHERE method = $2 AND request_id = $3")
        .bind(response.encode_to_vec())
        .bind(method)
        .bind(request_id)
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
        assert_eq!(request_hash(&first), request_hash(&first.clone()));
        assert_ne!(request_hash(&first), request_hash(&second));
    }
}
