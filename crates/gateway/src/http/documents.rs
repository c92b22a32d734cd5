//! Invoices and credit notes as PDF documents: `GET /documents/invoices/{invoiceId}/invoice.pdf`
//! and `GET /documents/credit-notes/{creditNoteId}/credit-note.pdf`, what
//! `Invoice.documentUrl` and `CreditNote.documentUrl` link to.
//!
//! Rendered by Trellis with the configured letterhead (`Config::letterhead`), whether or not
//! Stripe holds a copy, so an offline partnership has a document to send. Who may have one
//! is the ledger's rule, in `billing::ledger::document`; everyone else gets 404.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Response};
use kernel::{CreditNoteId, InvoiceId};

use crate::app::AppState;
use crate::http::download::{Files, Format, render, start};

/// `GET /documents/invoices/{invoiceId}/invoice.pdf`
pub async fn invoice(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    const FILES: Files = &[("invoice", &[Format::Pdf])];
    let (caller, id, _, format) =
        match start::<InvoiceId>(&state, &headers, &id, &file, FILES).await {
            Ok(parts) => parts,
            Err(refused) => return refused.into_response(),
        };
    let result =
        match billing::ledger::document::invoice_document(&state.db, &caller.actor, id).await {
            Ok(document) => {
                let name = format!("invoice-{}", document.invoice.number);
                let letterhead = state.letterhead.clone();
                render(document, format, name, move |d, _| d.pdf(&letterhead)).await
            }
            Err(err) => Err(err),
        };
    caller.respond(result, "invoice")
}

/// `GET /documents/credit-notes/{creditNoteId}/credit-note.pdf`
pub async fn credit_note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    const FILES: Files = &[("credit-note", &[Format::Pdf])];
    let (caller, id, _, format) =
        match start::<CreditNoteId>(&state, &headers, &id, &file, FILES).await {
            Ok(parts) => parts,
            Err(refused) => return refused.into_response(),
        };
    let result =
        match billing::ledger::document::credit_note_document(&state.db, &caller.actor, id).await {
            Ok(document) => {
                let name = format!("credit-note-{}", document.note.number);
                let letterhead = state.letterhead.clone();
                render(document, format, name, move |d, _| d.pdf(&letterhead)).await
            }
            Err(err) => Err(err),
        };
    caller.respond(result, "credit note")
}
