//! The ledger export as a file: `GET /exports/ledger.csv?academicYear=2026/27[&layout=XERO]`
//! (or `financialYear=2026/27`), the same CSV as GraphQL's `ledgerExport`, for finance and
//! admins with the same bearer credential.
//!
//! A national partnership's year is tens of megabytes of CSV (25,000 schools' invoices and
//! receipts), past the GraphQL response limit that keeps one query from holding the server's
//! memory; a download has no such limit and is what a finance officer saves to import into
//! Xero or Sage anyway. `ledgerExport` answers `RESPONSE_TOO_LARGE` for such a year, and its
//! description names this route.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use billing::ledger::{ExportLayout, Period, export_csv};
use kernel::{AcademicYear, FinancialYear, Permission};
use serde::Deserialize;

use crate::app::AppState;
use crate::http::download::{self, File, Format, Refused};

/// The query string of `/exports/ledger.csv`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerQuery {
    academic_year: Option<String>,
    financial_year: Option<String>,
    layout: Option<String>,
}

impl LedgerQuery {
    fn period(&self) -> Result<Period, Refused> {
        match (&self.academic_year, &self.financial_year) {
            (Some(year), None) => year.parse::<AcademicYear>().map(Period::from).map_err(|_| {
                download::bad_request("academicYear is an academic year such as 2026/27")
            }),
            (None, Some(year)) => year
                .parse::<FinancialYear>()
                .map(Period::from)
                .map_err(|_| {
                    download::bad_request("financialYear is a financial year such as 2026/27")
                }),
            _ => Err(download::bad_request(
                "give exactly one of academicYear and financialYear",
            )),
        }
    }

    fn layout(&self) -> Result<ExportLayout, Refused> {
        match self.layout.as_deref() {
            None | Some("LEDGER") => Ok(ExportLayout::Ledger),
            Some("XERO") => Ok(ExportLayout::Xero),
            Some("SAGE50") => Ok(ExportLayout::Sage50),
            Some(_) => Err(download::bad_request("layout is LEDGER, XERO or SAGE50")),
        }
    }
}

/// `GET /exports/ledger.csv`: 401 without a credential, 403 for anyone but finance and
/// admins, 400 for a malformed year or layout.
pub async fn ledger(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LedgerQuery>,
) -> Response {
    let caller = match download::caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    // Nothing here is a record a URL could reveal the existence of: a plain 403.
    if caller.actor.require(Permission::ManageBilling).is_err() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (period, layout) = match (query.period(), query.layout()) {
        (Ok(period), Ok(layout)) => (period, layout),
        (Err(refused), _) | (_, Err(refused)) => return refused.into_response(),
    };
    let name = format!(
        "ledger-{}-{}",
        match period {
            Period::Academic(_) => "academic-year",
            Period::Financial(_) => "financial-year",
        },
        period.first_day().format("%Y")
    );
    let result = export_csv(&state.db, &caller.actor, period, layout)
        .await
        .map(|csv| File {
            bytes: csv.into_bytes(),
            format: Format::Csv,
            name,
        });
    caller.respond(result, "ledger export")
}
