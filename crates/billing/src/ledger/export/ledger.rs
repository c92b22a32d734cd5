//! Trellis' own ledger layout: one row per invoice line, credit-note line, receipt and
//! refund, every status of invoice included.
//!
//! The first 13 columns are the original export's (`type, number, date, status, account_id,
//! account_name, invoice_number, description, cfr_code, net, vat, gross, reference`); the
//! rest were added at the end so readers by header name keep working:
//! * `due_date` — an invoice line's invoice due date (ISO);
//! * `vat_rate` — percent (`20.00`), empty on exempt lines, receipts and refunds;
//! * `vat_treatment` — `STANDARD` or `EXEMPT` (a credit-note line: its invoice line's);
//! * `po_number` — the line's purchase order, else its invoice's;
//! * `urn` — the line's school, else (and for receipts and refunds) the account's only school;
//! * `account_code` — the stable account reference of the module docs;
//! * `allocated_to` — a receipt's net allocations, `TRL-2026-000001:120.00;…`.
//!
//! Money going back out (credit-note lines, refunds) is negative, so a column sums to the
//! year's net position.

use kernel::{BillingAccountId, DomainError, PaymentId};

use super::{Out, YearData, percent, pounds};
use crate::ledger::invoices::{InvoiceLine, VatTreatment};

const HEADER: [&str; 20] = [
    "type",
    "number",
    "date",
    "status",
    "account_id",
    "account_name",
    "invoice_number",
    "description",
    "cfr_code",
    "net",
    "vat",
    "gross",
    "reference",
    "due_date",
    "vat_rate",
    "vat_treatment",
    "po_number",
    "urn",
    "account_code",
    "allocated_to",
];

fn rate(line: &InvoiceLine) -> String {
    match line.vat_treatment {
        VatTreatment::Exempt => String::new(),
        VatTreatment::Standard => percent(line.vat_rate_bp),
    }
}

pub(super) fn write(data: &YearData, out: &mut Out) -> Result<(), DomainError> {
    let err = |e: csv::Error| DomainError::internal(e);
    out.write_record(HEADER).map_err(err)?;
    for invoice in &data.invoices {
        let account = invoice.account_id;
        for line in data
            .lines
            .get(&invoice.id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            out.write_record([
                "INVOICE_LINE",
                &invoice.number,
                &invoice.issued_at.date_naive().to_string(),
                invoice.status.as_str(),
                &account.to_string(),
                data.name(account),
                &invoice.number,
                &line.description,
                line.cfr_code.as_deref().unwrap_or(""),
                &pounds(line.net.pence()),
                &pounds(line.vat.pence()),
                &pounds(line.gross().pence()),
                invoice.po_number.as_deref().unwrap_or(""),
                &invoice.due_on.to_string(),
                &rate(line),
                line.vat_treatment.as_str(),
                line.po_number
                    .as_deref()
                    .or(invoice.po_number.as_deref())
                    .unwrap_or(""),
                data.line_urn(line, account).unwrap_or(""),
                &data.account_code(account),
                "",
            ])
            .map_err(err)?;
        }
    }
    let lines = data.lines_by_id();
    for note in &data.notes {
        let account = note.account_id;
        for line in &note.lines {
            let credited = lines.get(&line.invoice_line_id).copied();
            out.write_record([
                "CREDIT_NOTE_LINE",
                &note.number,
                &note.issued_at.date_naive().to_string(),
                "",
                &account.to_string(),
                data.name(account),
                data.invoice_number(note.invoice_id),
                &line.description,
                line.cfr_code.as_deref().unwrap_or(""),
                &pounds(-line.net.pence()),
                &pounds(-line.vat.pence()),
                &pounds(-(line.net.pence() + line.vat.pence())),
                &note.reason,
                "",
                &credited.map(rate).unwrap_or_default(),
                credited.map_or("", |l| l.vat_treatment.as_str()),
                credited.and_then(|l| l.po_number.as_deref()).unwrap_or(""),
                credited
                    .and_then(|l| data.line_urn(l, account))
                    .or_else(|| data.account_urn(account))
                    .unwrap_or(""),
                &data.account_code(account),
                "",
            ])
            .map_err(err)?;
        }
    }
    for p in &data.receipts {
        let account = BillingAccountId::from_uuid(p.account_id);
        out.write_record([
            "PAYMENT",
            "",
            &p.received_on.to_string(),
            &p.method,
            &account.to_string(),
            data.name(account),
            "",
            "",
            "",
            "",
            "",
            &pounds(p.amount_pence),
            &p.reference,
            "",
            "",
            "",
            "",
            data.account_urn(account).unwrap_or(""),
            &data.account_code(account),
            &data.allocated_to(PaymentId::from_uuid(p.id)),
        ])
        .map_err(err)?;
    }
    for r in &data.refunds {
        let account = BillingAccountId::from_uuid(r.account_id);
        out.write_record([
            "REFUND",
            "",
            &r.refunded_on.to_string(),
            "",
            &account.to_string(),
            data.name(account),
            "",
            &r.reason,
            "",
            "",
            "",
            &pounds(-r.amount_pence),
            r.provider_refund_ref.as_deref().unwrap_or(""),
            "",
            "",
            "",
            "",
            data.account_urn(account).unwrap_or(""),
            &data.account_code(account),
            "",
        ])
        .map_err(err)?;
    }
    Ok(())
}
