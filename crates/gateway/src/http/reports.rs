//! Reports as files: `GET /reports/…`, CSV or PDF by the file name's extension.
//!
//! | route | what | who |
//! | --- | --- | --- |
//! | `/reports/sessions/{sessionId}/delegates.{csv,pdf}` | delegate list | the session's provider, partnership staff |
//! | `/reports/sessions/{sessionId}/sign-in.pdf` | sign-in sheets, a page per part | the same |
//! | `/reports/people/{userId}/cpd.{csv,pdf}[?year=2026/27]` | a person's CPD record | the person, their school's leaders, partnership admins |
//! | `/reports/services/{serviceId}/feedback.{csv,pdf}?year=2026/27&term=AUTUMN` | feedback summary for a term | the service's provider, partnership staff |
//! | `/reports/reviews/{reviewId}/report.{csv,pdf}` | the agreed peer-review report | whoever may read the report |
//!
//! Ids are the GraphQL global ids; the GraphQL types link to these routes
//! (`Session.delegateListUrl`, `User.cpdRecordUrl`, `Service.feedbackSummaryUrl`,
//! `Review.reportUrl`). The domains decide who may read each report and what it says
//! (`traded::reports`, `peer_review::document`); this module only authenticates, routes and
//! sends the bytes, rendering them off the async runtime.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kernel::{AcademicYear, ReviewId, ServiceId, SessionId, Term, UserId};
use serde::Deserialize;

use crate::app::AppState;
use crate::http::download::{self, Files, Format, Refused, render, start};

/// `GET /reports/sessions/{sessionId}/{delegates.csv|delegates.pdf|sign-in.pdf}`
pub async fn session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    const FILES: Files = &[
        ("delegates", &[Format::Csv, Format::Pdf]),
        ("sign-in", &[Format::Pdf]),
    ];
    let (caller, session, stem, format) =
        match start::<SessionId>(&state, &headers, &id, &file, FILES).await {
            Ok(parts) => parts,
            Err(refused) => return refused.into_response(),
        };
    let result = match traded::delegate_list(&state.db, &caller.actor, session).await {
        Ok(list) => {
            let day = documents::format::local_day(list.session.starts_at);
            let name = format!("{stem}-{}-{day}", list.service.code);
            render(list, format, name, move |list, format| {
                match (stem, format) {
                    ("sign-in", _) => list.sign_in_sheet(),
                    (_, Format::Pdf) => list.pdf(),
                    (_, Format::Csv) => list.csv(),
                }
            })
            .await
        }
        Err(err) => Err(err),
    };
    caller.respond(result, "delegate list")
}

#[derive(Debug, Deserialize)]
pub struct YearQuery {
    year: Option<String>,
    term: Option<String>,
}

fn year_of(text: Option<&str>) -> Result<Option<AcademicYear>, Refused> {
    text.map(|y| {
        y.parse::<AcademicYear>()
            .map_err(|_| download::bad_request("year is an academic year such as 2026/27"))
    })
    .transpose()
}

/// `GET /reports/people/{userId}/cpd.{csv,pdf}?year=2026/27` (every year without `year`).
pub async fn person(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
    Query(query): Query<YearQuery>,
) -> Response {
    const FILES: Files = &[("cpd", &[Format::Csv, Format::Pdf])];
    let (caller, user, _, format) = match start::<UserId>(&state, &headers, &id, &file, FILES).await
    {
        Ok(parts) => parts,
        Err(refused) => return refused.into_response(),
    };
    let year = match year_of(query.year.as_deref()) {
        Ok(year) => year,
        Err(refused) => return refused.into_response(),
    };
    let result = match traded::cpd_record(
        &state.db,
        &caller.actor,
        state.clock.as_ref(),
        user,
        year,
    )
    .await
    {
        Ok(record) => {
            let period = year.map_or_else(|| "all".to_owned(), |y| y.to_string());
            let name = format!("cpd-{}-{period}", record.name);
            render(record, format, name, |record, format| match format {
                Format::Pdf => record.pdf(),
                Format::Csv => record.csv(),
            })
            .await
        }
        Err(err) => Err(err),
    };
    caller.respond(result, "CPD record")
}

/// `GET /reports/services/{serviceId}/feedback.{csv,pdf}?year=2026/27&term=AUTUMN`
pub async fn service(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
    Query(query): Query<YearQuery>,
) -> Response {
    const FILES: Files = &[("feedback", &[Format::Csv, Format::Pdf])];
    let (caller, service, _, format) =
        match start::<ServiceId>(&state, &headers, &id, &file, FILES).await {
            Ok(parts) => parts,
            Err(refused) => return refused.into_response(),
        };
    let year = match year_of(query.year.as_deref()) {
        Ok(Some(year)) => year,
        Ok(None) => {
            return download::bad_request("year is required, e.g. year=2026/27").into_response();
        }
        Err(refused) => return refused.into_response(),
    };
    let term = match query.term.as_deref() {
        Some("AUTUMN") => Term::Autumn,
        Some("SPRING") => Term::Spring,
        Some("SUMMER") => Term::Summer,
        _ => {
            return download::bad_request("term is one of AUTUMN, SPRING or SUMMER")
                .into_response();
        }
    };
    let result = match traded::feedback_summary(&state.db, &caller.actor, service, year, term).await
    {
        Ok(summary) => {
            let name = format!(
                "feedback-{}-{}-{:?}",
                summary.service.code,
                year.start_year(),
                term
            );
            render(summary, format, name, |summary, format| match format {
                Format::Pdf => summary.pdf(),
                Format::Csv => summary.csv(),
            })
            .await
        }
        Err(err) => Err(err),
    };
    caller.respond(result, "feedback summary")
}

/// `GET /reports/reviews/{reviewId}/report.{csv,pdf}`
pub async fn review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    const FILES: Files = &[("report", &[Format::Csv, Format::Pdf])];
    let (caller, review, _, format) =
        match start::<ReviewId>(&state, &headers, &id, &file, FILES).await {
            Ok(parts) => parts,
            Err(refused) => return refused.into_response(),
        };
    let result = match peer_review::document::agreed_report(&state.db, &caller.actor, review).await
    {
        Ok(report) => {
            let name = format!("review-report-{}", report.report.review.host_name);
            render(report, format, name, |report, format| match format {
                Format::Pdf => report.pdf(),
                Format::Csv => report.csv(),
            })
            .await
        }
        Err(err) => Err(err),
    };
    caller.respond(result, "review report")
}
