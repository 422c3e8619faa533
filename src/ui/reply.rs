//! What a handler hands back: a page, or why there is none. Every "why" is rendered here, once,
//! as the error page with its status, so a handler says `?` and never builds an error page.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use thiserror::Error;

use super::pages::{self, Section};

/// A page with its title, section of the site and the query its search box holds.
pub fn page(status: StatusCode, title: &str, section: Section, q: &str, body: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::layout(title, section, q, body).into_string(),
    )
        .into_response()
}

/// Why a page cannot be shown. The text is a sentence for the reader; it may hold what they
/// typed (a job name, a key), which the page escapes like any other value.
#[derive(Debug, Error)]
pub enum PageError {
    /// The request cannot be read: a parameter missing or malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing here by that name: a page, a job, an archive, a channel, a message.
    #[error("{0}")]
    NotFound(String),
    /// A store that holds what was asked for could not be read.
    #[error("{0}")]
    Unavailable(String),
    /// A search query that does not parse; its page keeps the query in the box to fix.
    #[error("the query {q} cannot be read: {problem}")]
    Query { q: String, problem: String },
}

pub type Reply = Result<Response, PageError>;

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::BadRequest(what) => page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                Section::Other,
                "",
                pages::problem("Bad request", &what),
            ),
            PageError::NotFound(what) => page(
                StatusCode::NOT_FOUND,
                "Not found",
                Section::Other,
                "",
                pages::problem("Not found", &what),
            ),
            PageError::Unavailable(what) => page(
                StatusCode::BAD_GATEWAY,
                "Store unavailable",
                Section::Other,
                "",
                pages::problem("Store unavailable", &what),
            ),
            PageError::Query { q, problem } => page(
                StatusCode::BAD_REQUEST,
                "Search",
                Section::Search,
                &q,
                pages::search::invalid(&q, &problem),
            ),
        }
    }
}
