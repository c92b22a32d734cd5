//! A panic while answering a request becomes a coded `INTERNAL` error, not a dropped connection.
//!
//! Services report failures as errors (no `unwrap` in production code, `Problems::finish_with`
//! where a checked value is taken apart), so a panic is a bug we have not found or one in a
//! dependency. Without this layer hyper drops the connection with no answer — every request
//! multiplexed on it fails, the client cannot tell a bug from a network fault, and the
//! metrics never count it. With it the caller gets a 500 with the GraphQL error shape and
//! `extensions.code = INTERNAL`, like any other internal error, and the panic is logged inside
//! the request's span with its message (never sent to the caller).

use std::any::Any;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::graphql::errors::Code;
use crate::http::graphql::error_body;

/// The layer; it must sit inside the tracing and metrics layers so the panic is logged in
/// the request's span and counted as a 500.
#[must_use]
pub fn layer() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(answer as fn(Box<dyn Any + Send + 'static>) -> Response)
}

#[allow(
    clippy::needless_pass_by_value,
    reason = "CatchPanicLayer hands the payload over by value"
)]
fn answer(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)");
    tracing::error!(panic = message, "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json")],
        error_body("internal error", Code::Internal).to_string(),
    )
        .into_response()
}
