//! What every gRPC handler shares, so that a handler is parse, call, reply:
//! the reply itself, a required message field, and one page of a List.

use louyu_proto::{ListRequest, ListResponse};
use tonic::{Response, Status};

use crate::error::{InvalidArgument, ServiceError, into_status};
use crate::page::{PageQuery, PageTokens};

pub use crate::error::reply;

/// What every unary handler returns.
pub type Reply<T> = Result<Response<T>, Status>;

/// A message field the request must carry. A missing one is a field
/// violation like any other, so callers collect it with the rest.
pub fn required<'a, T>(field: &str, value: Option<&'a T>) -> Result<&'a T, InvalidArgument> {
    value.ok_or_else(|| InvalidArgument::new(field, "必须填写 is required"))
}

/// Answers a List request: its page (with the token scoped to the method and
/// parent), the items `fetch` reads for it, and the next token.
pub async fn list<M, R, E>(
    tokens: &PageTokens,
    request: &M,
    fetch: impl AsyncFnOnce(&PageQuery) -> Result<(Vec<R::Item>, String), E>,
) -> Reply<R>
where
    M: ListRequest,
    R: ListResponse,
    E: ServiceError,
{
    let page = PageQuery::of_request(tokens, request)?;
    let (items, next_page_token) = fetch(&page).await.map_err(into_status)?;
    Ok(Response::new(R::from_page(items, next_page_token)))
}
