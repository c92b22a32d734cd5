//! `GET /certificates/{attendeeId}`: a certificate of participation as a PDF, for an attendee
//! the register marked ATTENDED on a course (what `Attendee.certificateUrl` links to).
//!
//! The same bearer credential as GraphQL. The attending school's people, the session's
//! provider and partnership staff get the PDF; anyone else gets 404, as for an id that does
//! not exist, so the route does not tell who attended what. The document is built from
//! `traded::certificate` with `pdf-writer`, in a standard font (nothing embedded), and is the
//! same every time it is produced: a reprint is the same certificate.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use documents::win_ansi;
use kernel::AttendeeId;
use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str, TextStr};
use traded::Certificate;

use crate::app::AppState;
use crate::http::download::{self, File, Format};

/// A4 portrait, in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;

pub async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let caller = match download::caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    let attendee = match download::id::<AttendeeId>(&id) {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    let result = traded::certificate(&state.db, &caller.actor, state.clock.as_ref(), attendee)
        .await
        .map(|certificate| File {
            bytes: pdf(&certificate),
            format: Format::Pdf,
            name: format!("certificate-{}", certificate.number),
        });
    caller.respond(result, "certificate")
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
