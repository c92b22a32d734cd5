//! What every file download shares: the bearer credential (the same as GraphQL's), the
//! caller's rate limit, and the headers of a private file.
//!
//! Refusals say as little as GraphQL's: no or a bad credential is 401, an id that does not
//! exist and one the caller may not see are both 404, so a URL does not tell who attended
//! what. A document that cannot be produced yet (a review report not agreed) is 409 with
//! the reason.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::{Actor, DomainError};

use crate::app::AppState;
use crate::auth::AuthError;
use crate::graphql::relay::decode;
use crate::http::rate_limit::Verdict;

/// A refusal to send, boxed: a response is large, and most downloads are not refused.
#[derive(Debug)]
pub struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl From<StatusCode> for Refused {
    fn from(status: StatusCode) -> Self {
        status.into_response().into()
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A file to send.
#[derive(Debug)]
pub struct File {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// Without the extension, e.g. `delegates-CPD-101-2027-03-02`.
    pub name: String,
}

/// The two formats reports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Csv,
}

impl Format {
    /// `delegates.pdf` → (`delegates`, PDF).
    #[must_use]
    pub fn split(file: &str) -> Option<(&str, Self)> {
        if let Some(stem) = file.strip_suffix(".pdf") {
            Some((stem, Self::Pdf))
        } else {
            file.strip_suffix(".csv").map(|stem| (stem, Self::Csv))
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Csv => "text/csv; charset=utf-8; header=present",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Csv => "csv",
        }
    }
}

/// An authenticated caller of a download route.
#[derive(Debug)]
pub struct Caller {
    pub actor: Actor,
    verdict: Option<Verdict>,
}

/// The caller, or the response refusing them (401, 503, or 429 past their rate limit).
pub async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Refused> {
    let actor = match state.auth.authenticate(headers).await {
        Ok(actor) => actor,
        Err(AuthError::Unavailable(err)) => {
            tracing::error!(error = %err, "authentication unavailable");
            return Err(StatusCode::SERVICE_UNAVAILABLE.into());
        }
        Err(_) => {
            return Err((
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
            )
                .into_response()
                .into());
        }
    };
    let verdict = state.rate_limits.check_caller(&actor.caller_id());
    if let Some(v) = verdict.as_ref().filter(|v| v.retry_after.is_some()) {
        let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
        v.apply(response.headers_mut());
        return Err(response.into());
    }
    Ok(Caller { actor, verdict })
}

/// The id in a download URL (a Relay global id of `T`), or 404.
pub fn id<T: crate::graphql::relay::GlobalId>(text: &str) -> Result<T, Refused> {
    decode(text)
        .filter(|(entity, _)| entity == T::ENTITY)
        .map(|(_, uuid)| T::from_uuid(uuid))
        .ok_or_else(|| StatusCode::NOT_FOUND.into())
}

/// 400 with a plain-text reason (a malformed query parameter).
pub fn bad_request(reason: &str) -> Refused {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        reason.to_owned(),
    )
        .into_response()
        .into()
}

impl Caller {
    /// The file, or the refusal `result` carries; `what` names the document in the log.
    pub fn respond(&self, result: Result<File, DomainError>, what: &str) -> Response {
        let mut response = match result {
            Ok(file) => private_file(file),
            Err(DomainError::NotFound { .. } | DomainError::Forbidden(_)) => {
                StatusCode::NOT_FOUND.into_response()
            }
            Err(DomainError::Invalid(problems)) => (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                problems
                    .iter()
                    .map(|p| p.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
                .into_response(),
            Err(err) => {
                tracing::error!(error = %err.chain(), document = what, "document failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        };
        if let Some(verdict) = &self.verdict {
            verdict.apply(response.headers_mut());
        }
        response
    }
}

/// The bytes with their type, a download name, and no caching anywhere (they name people).
fn private_file(file: File) -> Response {
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.format.content_type()),
    );
    let name: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "{}; filename=\"{name}.{}\"",
        match file.format {
            Format::Pdf => "inline",
            Format::Csv => "attachment",
        },
        file.format.extension()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Renders off the async runtime: a long table is milliseconds of CPU.
pub async fn render<T: Send + 'static>(
    data: T,
    format: Format,
    name: String,
    draw: impl FnOnce(&T, Format) -> Vec<u8> + Send + 'static,
) -> Result<File, DomainError> {
    tokio::task::spawn_blocking(move || File {
        bytes: draw(&data, format),
        format,
        name,
    })
    .await
    .map_err(DomainError::internal)
}

/// The files a route serves: a stem and the formats it comes in.
pub type Files = &'static [(&'static str, &'static [Format])];

/// The parts of a report route every handler starts with: the caller, the id, and which of
/// the route's files is asked for (404 for any other name).
pub async fn start<T: crate::graphql::relay::GlobalId>(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    file: &str,
    files: Files,
) -> Result<(Caller, T, &'static str, Format), Refused> {
    let caller = caller(state, headers).await?;
    let id = self::id::<T>(id)?;
    let (stem, format) = Format::split(file).ok_or(Refused::from(StatusCode::NOT_FOUND))?;
    let stem = files
        .iter()
        .find(|(name, formats)| *name == stem && formats.contains(&format))
        .map(|(name, _)| *name)
        .ok_or(Refused::from(StatusCode::NOT_FOUND))?;
    Ok((caller, id, stem, format))
}
