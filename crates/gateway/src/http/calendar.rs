//! `GET /calendar/{secret}.ics`: a school's or a person's confirmed sessions as an iCalendar
//! feed, for calendar applications, which cannot send a bearer token: the secret in the URL
//! is the credential (made by `calendarFeedCreate`, revocable). An unknown or revoked secret
//! is 404, the same either way.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

pub async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(secret) = file.strip_suffix(".ics") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match notifications::feeds::render(&state.db, secret, state.clock.now()).await {
        Ok(Some(calendar)) => {
            let mut response = calendar.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            // The URL is a secret: no shared cache may keep the answer.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            response
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "calendar feed failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
