//! `GET /certificates/{attendeeId}`: a certificate of participation as a PDF, for an attendee
//! the register marked ATTENDED on a course (what `Attendee.certificateUrl` links to).
//!
//! The same bearer credential as GraphQL. The attending school's people, the session's
//! provider and partnership staff get the PDF; anyone else gets 404, as for an id that does
//! not exist, so the route does not tell who attended what. The document is built from
//! `traded::certificate` with `pdf-writer`, in a standard font (nothing embedded), and is the
//! same every time it is produced: a reprint is the same certificate.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::{AttendeeId, DomainError};
use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str, TextStr};
use traded::Certificate;

use crate::app::AppState;
use crate::auth::AuthError;

/// A4 portrait, in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;

pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let actor = match state.auth.authenticate(&headers).await {
        Ok(actor) => actor,
        Err(AuthError::Unavailable(err)) => {
            tracing::error!(error = %err, "authentication unavailable");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(_) => {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
            )
                .into_response();
        }
    };
    let Some(attendee) = crate::graphql::relay::decode(&id)
        .filter(|(entity, _)| entity == AttendeeId::ENTITY)
        .map(|(_, uuid)| AttendeeId::from_uuid(uuid))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match traded::certificate(&state.db, &actor, state.clock.as_ref(), attendee).await {
        Ok(certificate) => {
            let mut response = pdf(&certificate).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            );
            if let Ok(disposition) = HeaderValue::from_str(&format!(
                "inline; filename=\"certificate-{}.pdf\"",
                certificate.number
            )) {
                headers.insert(header::CONTENT_DISPOSITION, disposition);
            }
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            response
        }
        Err(DomainError::NotFound { .. } | DomainError::Forbidden(_)) => {
            StatusCode::NOT_FOUND.into_response()
        }
        Err(err) => {
            tracing::error!(error = %err.chain(), "certificate failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `text` in the standard fonts' WinAnsi encoding; what it cannot show becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '–' => 0x96,
            '—' => 0x97,
            '€' => 0x80,
            c if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) => {
                u8::try_from(u32::from(c)).unwrap_or(b'?')
            }
            _ => b'?',
        })
        .collect()
}

/// Roughly centred: Helvetica's average glyph is about half its size wide.
#[allow(
    clippy::cast_precision_loss,
    reason = "lines are a few dozen characters"
)]
fn centred_x(text: &[u8], size: f32) -> f32 {
    ((WIDTH - text.len() as f32 * size * 0.5) / 2.0).max(40.0)
}

fn line(content: &mut Content, font: Name<'_>, size: f32, y: f32, text: &str) {
    let bytes = win_ansi(text);
    content
        .begin_text()
        .set_font(font, size)
        .next_line(centred_x(&bytes, size), y)
        .show(Str(&bytes))
        .end_text();
}

fn dates(certificate: &Certificate) -> String {
    let days: Vec<String> = certificate
        .dates
        .iter()
        .map(|d| d.format("%-d %B %Y").to_string())
        .collect();
    match days.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The certificate as a one-page PDF.
#[must_use]
pub fn pdf(certificate: &Certificate) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let page_id = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);
    let (f1, f2) = (Name(b"F1"), Name(b"F2"));

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
    page.parent(tree);
    page.contents(contents);
    let mut resources = page.resources();
    resources.fonts().pair(f1, regular).pair(f2, bold);
    resources.finish();
    page.finish();
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr(&format!(
            "Certificate of participation {}",
            certificate.number
        )))
        .creator(TextStr("Trellis"));

    let hours = certificate.minutes / 60;
    let minutes = certificate.minutes % 60;
    let length = if minutes == 0 {
        format!("{hours} hours of learning")
    } else {
        format!("{hours} hours {minutes} minutes of learning")
    };
    let mut content = Content::new();
    content
        .set_line_width(2.0)
        .rect(36.0, 36.0, WIDTH - 72.0, HEIGHT - 72.0)
        .stroke();
    line(
        &mut content,
        f2,
        28.0,
        700.0,
        "Certificate of participation",
    );
    line(&mut content, f1, 14.0, 640.0, "This is to certify that");
    line(&mut content, f2, 24.0, 595.0, &certificate.attendee_name);
    line(&mut content, f1, 14.0, 550.0, "took part in");
    line(&mut content, f2, 18.0, 510.0, &certificate.service_title);
    line(
        &mut content,
        f1,
        12.0,
        480.0,
        &format!("provided by {}", certificate.provider_name),
    );
    line(&mut content, f1, 12.0, 440.0, &dates(certificate));
    line(&mut content, f1, 12.0, 420.0, &length);
    line(
        &mut content,
        f1,
        10.0,
        120.0,
        &format!(
            "Certificate {} - issued {}",
            certificate.number,
            certificate.issued_at.format("%-d %B %Y")
        ),
    );
    line(
        &mut content,
        f1,
        10.0,
        104.0,
        &format!("Course reference {}", certificate.service_code),
    );
    pdf.stream(contents, &content.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_outside_win_ansi_is_replaced() {
        assert_eq!(win_ansi("Zoë’s – ok"), b"Zo\xeb\x92s \x96 ok".to_vec());
        assert_eq!(win_ansi("日本"), b"??".to_vec());
    }
}
