//! `/notifications/unsubscribe/{token}`: the link in every email a person may stop.
//!
//! GET shows a page with one button, because mail scanners follow links and must not
//! unsubscribe anyone; POST (the button, or a mail client's one-click unsubscribe, RFC 8058)
//! mutes the message's category for its recipient. The token is the credential; an unknown
//! one says so without telling whose it might be.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family: Arial, sans-serif; max-width: 640px\"><h1>{title}</h1>{body}</body></html>"
    ))
}

/// Tokens are URL-safe base64: anything else cannot be one, and is never echoed.
fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 64
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub async fn confirm(Path(token): Path<String>) -> Response {
    if !plausible(&token) {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Link not recognised",
                "<p>This unsubscribe link is not one Trellis made.</p>",
            ),
        )
            .into_response();
    }
    page(
        "Stop these emails?",
        &format!(
            "<form method=\"post\" action=\"{token}\"><p>You will still see these messages in Trellis; \
             only the emails stop. You can turn them back on in your notification preferences.</p>\
             <button type=\"submit\">Stop these emails</button></form>"
        ),
    )
    .into_response()
}

pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if !plausible(&token) {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Link not recognised",
                "<p>This unsubscribe link is not one Trellis made.</p>",
            ),
        )
            .into_response();
    }
    match notifications::inbox::unsubscribe(&state.db, state.clock.as_ref(), &token).await {
        Ok(Some(category)) => page(
            "Unsubscribed",
            &format!(
                "<p>You will no longer receive emails about {}.</p>",
                notifications::compose::category_label(category)
            ),
        )
        .into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            page(
                "Link not recognised",
                "<p>This unsubscribe link is not one Trellis made.</p>",
            ),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
