//! Page sizes and opaque, tamper-evident page tokens (AIP-158).
//!
//! A token carries the key of the last item served (keyset pagination, so
//! pages stay stable while rows are added) and a digest of the request it
//! continues, and is signed with HMAC-SHA256 under the deployment's secret. A
//! token that was altered, or that is presented with a different filter or
//! parent, is rejected as INVALID_ARGUMENT.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::config::{Config, ServiceName};
use crate::db::Backend;
use crate::error::InvalidArgument;
use crate::filter::{Comparison, SqlQuery, SqlValue};

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// `page_size` as the API defines it: 0 means the default, more than the
/// maximum is capped, negative is an error.
pub fn page_size(requested: i32) -> Result<i64, InvalidArgument> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        size if size < 0 => Err(InvalidArgument::new(
            "page_size",
            "不能为负数 must not be negative",
        )),
        size => Ok(i64::from(size).min(MAX_PAGE_SIZE)),
    }
}

/// Signs and checks page tokens.
#[derive(Clone)]
pub struct PageTokens {
    key: SecretString,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PageTokens { key: [redacted] }")
    }
}

const TAG_LENGTH: usize = 16;

impl PageTokens {
    pub fn new(key: SecretString) -> Self {
        Self { key }
    }

    /// The signer a service builds at start from its configuration. A
    /// deployment (PostgreSQL) still on the development key, which anyone
    /// with this repository knows, gets a warning: its page tokens can be
    /// forged. The local SQLite run uses that key by design and is not
    /// warned.
    pub fn from_config(config: &Config, service: ServiceName, backend: Backend) -> Self {
        if config.uses_development_page_token_secret() && backend == Backend::Postgres {
            tracing::warn!(
                service = service.as_str(),
                "page tokens are signed with the development key; set LOUYU_PAGE_TOKEN_SECRET"
            );
        }
        Self::new(config.page_token_secret.clone())
    }

    /// A token continuing after `last_key` for the request described by
    /// `scope` (method, parent and filter: anything that must not change
    /// between pages).
    pub fn encode(&self, scope: &str, last_key: &str) -> String {
        let mut payload = scope_digest(scope).to_vec();
        payload.extend_from_slice(last_key.as_bytes());
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(payload)
    }

    /// The last key of the previous page, or `None` for an empty token.
    pub fn decode(&self, scope: &str, token: &str) -> Result<Option<String>, InvalidArgument> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || {
            InvalidArgument::new(
                "page_token",
                "分页令牌无效或与本次请求不符 is not a token this request can continue from",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        if bytes.len() < SCOPE_DIGEST_LENGTH + TAG_LENGTH {
            return Err(invalid());
        }
        let (payload, tag) = bytes.split_at(bytes.len() - TAG_LENGTH);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| invalid())?;
        let (digest, last_key) = payload.split_at(SCOPE_DIGEST_LENGTH);
        if digest != scope_digest(scope) {
            return Err(invalid());
        }
        String::from_utf8(last_key.to_vec())
            .map(Some)
            .map_err(|_| invalid())
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(self.key.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length")
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LENGTH] {
        let mut mac = self.mac();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0; TAG_LENGTH];
        tag.copy_from_slice(&full[..TAG_LENGTH]);
        tag
    }
}

const SCOPE_DIGEST_LENGTH: usize = 8;

fn scope_digest(scope: &str) -> [u8; SCOPE_DIGEST_LENGTH] {
    let full = Sha256::digest(scope.as_bytes());
    let mut digest = [0; SCOPE_DIGEST_LENGTH];
    digest.copy_from_slice(&full[..SCOPE_DIGEST_LENGTH]);
    digest
}

/// Splits one page off the rows a store fetched with `LIMIT size + 1`: keeps
/// `size` rows and, when there were more, returns the token for the next page.
pub fn finish_page<T>(
    tokens: &PageTokens,
    scope: &str,
    size: i64,
    mut rows: Vec<T>,
    key_of: impl Fn(&T) -> String,
) -> (Vec<T>, String) {
    let size = usize::try_from(size).expect("page sizes are positive");
    if rows.len() <= size {
        return (rows, String::new());
    }
    rows.truncate(size);
    let next = rows
        .last()
        .map(|row| tokens.encode(scope, &key_of(row)))
        .unwrap_or_default();
    (rows, next)
}

/// One page of a List: how many, after which key, under which filter.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub size: i64,
    pub after: Option<String>,
    pub comparisons: Vec<Comparison>,
    /// What must not change between pages; signed into the page token.
    pub scope: String,
}

impl PageQuery {
    /// Parses a List request's paging and filter. `scope` names the method
    /// and parent; the filter is added to it.
    pub fn parse(
        tokens: &PageTokens,
        scope: &str,
        filter: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<Self, InvalidArgument> {
        let size = self::page_size(page_size)?;
        let scope = format!("{scope}|{filter}");
        let after = tokens.decode(&scope, page_token)?;
        let comparisons = crate::filter::parse(filter)?;
        Ok(Self {
            size,
            after,
            comparisons,
            scope,
        })
    }

    /// [`PageQuery::parse`] for a List request, scoped to its method and
    /// parent.
    pub fn of_request<M: louyu_proto::ListRequest>(
        tokens: &PageTokens,
        request: &M,
    ) -> Result<Self, InvalidArgument> {
        Self::parse(
            tokens,
            &format!("{}|{}", louyu_proto::method_of::<M>(), request.parent()),
            request.filter(),
            request.page_size(),
            request.page_token(),
        )
    }
}

/// Which way a List runs over its key column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// Runs a List query built as `SELECT … WHERE <conditions>`: adds the
/// keyset condition on `key_column` (a text column), the order and the
/// limit, and cuts the page.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_page<T, E: From<sqlx::Error>>(
    pool: &sqlx::AnyPool,
    tokens: &PageTokens,
    mut query: SqlQuery,
    key_column: &str,
    order: Order,
    page: &PageQuery,
    mut from_row: impl FnMut(&sqlx::any::AnyRow) -> Result<T, E>,
    key_of: impl Fn(&T) -> String,
) -> Result<(Vec<T>, String), E> {
    let (comparison, direction) = match order {
        Order::Ascending => (" > ", " ASC"),
        Order::Descending => (" < ", " DESC"),
    };
    if let Some(after) = &page.after {
        query
            .push(" AND ")
            .push(key_column)
            .push(comparison)
            .push_value(SqlValue::Text(after.clone()));
    }
    query
        .push(" ORDER BY ")
        .push(key_column)
        .push(direction)
        .push(" LIMIT ")
        .push_value(SqlValue::Integer(page.size + 1));
    let rows = query.build().fetch_all(pool).await?;
    let items = rows
        .iter()
        .map(&mut from_row)
        .collect::<Result<Vec<_>, E>>()?;
    Ok(finish_page(tokens, &page.scope, page.size, items, key_of))
}

/// The child rows of a page of parents (a demand's reports, a visit's
/// staff), read with one query for the whole page, `… AND parent IN (…)`,
/// never one per parent, and handed out by parent.
#[derive(Default)]
pub struct ChildRows {
    by_parent: HashMap<String, Vec<AnyRow>>,
}

impl std::fmt::Debug for ChildRows {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ChildRows")
            .field("parents", &self.by_parent.len())
            .finish_non_exhaustive()
    }
}

impl ChildRows {
    /// Runs `select` (`SELECT <columns, parent_column among them> FROM
    /// <table> WHERE <conditions>`) for the parents `parent_ids`, ordered by
    /// `order_by` within each parent. No parents, no query.
    pub async fn fetch<'e>(
        executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
        select: &str,
        parent_column: &str,
        parent_ids: &[String],
        order_by: &str,
    ) -> sqlx::Result<Self> {
        let mut query = SqlQuery::new(select);
        query.push(" AND ").push(parent_column).push(" IN (");
        let mut any_parent = false;
        for parent_id in parent_ids {
            if any_parent {
                query.push(", ");
            }
            query.push_value(SqlValue::Text(parent_id.clone()));
            any_parent = true;
        }
        if !any_parent {
            return Ok(Self::default());
        }
        query.push(") ORDER BY ").push(order_by);
        let mut by_parent: HashMap<String, Vec<AnyRow>> = HashMap::new();
        for row in query.build().fetch_all(executor).await? {
            let parent: String = row.try_get(parent_column)?;
            by_parent.entry(parent).or_default().push(row);
        }
        Ok(Self { by_parent })
    }

    /// The rows of one parent, in order; none when it has none.
    pub fn take(&mut self, parent_id: &str) -> Vec<AnyRow> {
        self.by_parent.remove(parent_id).unwrap_or_default()
    }

    /// The rows of one parent, in order, each made into a `T`.
    pub fn take_as<T, E>(
        &mut self,
        parent_id: &str,
        from_row: impl FnMut(&AnyRow) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        self.take(parent_id).iter().map(from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> PageTokens {
        PageTokens::new(SecretString::from("test-secret"))
    }

    #[test]
    fn a_token_decodes_to_the_key_it_was_made_from() {
        let token = tokens().encode(
            "ListBuildings|districts/jingan|",
            "districts/jingan/buildings/b-9",
        );
        let key = tokens()
            .decode("ListBuildings|districts/jingan|", &token)
            .unwrap();
        assert_eq!(key.as_deref(), Some("districts/jingan/buildings/b-9"));
    }

    #[test]
    fn a_tampered_token_is_rejected_naming_page_token() {
        let token = tokens().encode("scope", "key-1");
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[SCOPE_DIGEST_LENGTH] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        let error = tokens().decode("scope", &tampered).unwrap_err();
        assert_eq!(error.violations[0].field, "page_token");
        assert!(tokens().decode("scope", "not base64 !").is_err());
        assert!(tokens().decode("scope", "AAAA").is_err());
    }

    #[test]
    fn a_token_from_another_request_or_secret_is_rejected() {
        let token = tokens().encode("scope-a", "key");
        assert!(tokens().decode("scope-b", &token).is_err());
        let other = PageTokens::new(SecretString::from("other"));
        assert!(other.decode("scope-a", &token).is_err());
    }

    #[test]
    fn page_size_defaults_caps_and_rejects_negative() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(50_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size(-1).unwrap_err().violations[0].field, "page_size");
    }

    #[tokio::test]
    async fn child_rows_of_a_page_come_in_one_query_grouped_by_parent_in_order() {
        sqlx::any::install_default_drivers();
        // One connection: each connection to `:memory:` is a database of its own.
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE children (parent TEXT, position BIGINT, value TEXT); \
             INSERT INTO children VALUES ('b', 2, 'b2'), ('a', 1, 'a1'), ('b', 1, 'b1'), ('c', 1, 'c1');",
        )
        .execute(&pool)
        .await
        .unwrap();
        let mut children = ChildRows::fetch(
            &pool,
            "SELECT parent, value FROM children WHERE 1 = 1",
            "parent",
            &["a".to_owned(), "b".to_owned(), "d".to_owned()],
            "position",
        )
        .await
        .unwrap();
        let values = |rows: Vec<AnyRow>| -> Vec<String> {
            rows.iter()
                .map(|row| row.try_get("value").unwrap())
                .collect()
        };
        assert_eq!(values(children.take("b")), ["b1", "b2"]);
        assert_eq!(values(children.take("a")), ["a1"]);
        assert!(children.take("d").is_empty(), "a parent without children");
        assert!(children.take("c").is_empty(), "not asked for");
        let none = ChildRows::fetch(
            &pool,
            "SELECT parent FROM children WHERE 1 = 1",
            "parent",
            &[],
            "position",
        )
        .await
        .unwrap();
        assert!(none.by_parent.is_empty());
    }
}
