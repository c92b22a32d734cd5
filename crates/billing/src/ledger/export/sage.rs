//! Sage 50 Accounts (UK) audit-trail transaction import (File › Import › Audit Trail
//! Transactions), one transaction per row; Sage groups rows with the same type, account,
//! date and reference into one invoice with several splits.
//!
//! * `SI` per invoice line and `SC` per credit-note line, amounts positive (the type carries
//!   the sign), nominal [`SALES_NOMINAL`] (Sage's "Sales Type A"); `Reference` is the
//!   document number, `Extra Reference` the PO (an SC: the credited invoice's number).
//! * Receipts are `SA` (payment on account) to bank nominal [`BANK_NOMINAL`]: Sage cannot
//!   import an allocated sales receipt (`SR`), so each is imported on account and allocated
//!   in Sage; `Details` names the invoices Trellis allocated it to, as far as 60 characters
//!   allow (the ledger layout's `allocated_to` has them all). Refunds are `SP`.
//! * Tax codes: `T1` standard 20%, `T5` reduced 5%, `T0` zero-rated, `T2` exempt, `T9`
//!   (outside the scope of VAT) on receipts and refunds; another standard rate is `T1` with
//!   its own tax amount.
//! * `Account Reference` is the stable account code of the module docs (at most 8
//!   uppercase characters); create the customers in Sage with those references first.
//! * Text is cut to Sage's field lengths (Reference and Extra Reference 30, Details 60)
//!   and kept on one line.
//! * VOID invoices (and credit notes of them) are left out.

use std::collections::HashMap;

use kernel::{BillingAccountId, DomainError, InvoiceId, PaymentId};

use super::{Out, Tax, YearData, dmy, pounds, truncate};
use crate::ledger::invoices::InvoiceLine;
use crate::ledger::status::InvoiceStatus;

/// The sales nominal account invoice and credit lines post to.
pub const SALES_NOMINAL: &str = "4000";
/// The bank nominal account receipts and refunds post to.
pub const BANK_NOMINAL: &str = "1200";
/// Sage's `User Name` column.
const USER: &str = "TRELLIS";

const HEADER: [&str; 15] = [
    "Type",
    "Account Reference",
    "Nominal A/C Ref",
    "Department Code",
    "Date",
    "Reference",
    "Details",
    "Net Amount",
    "Tax Code",
    "Tax Amount",
    "Exchange Rate",
    "Extra Reference",
    "User Name",
    "Project Refn",
    "Cost Code Refn",
];

fn tax_code(line: Option<&InvoiceLine>) -> &'static str {
    match line.map(Tax::of) {
        Some(Tax::Standard | Tax::Other(_)) => "T1",
        Some(Tax::Reduced) => "T5",
        Some(Tax::Zero) => "T0",
        Some(Tax::Exempt) => "T2",
        None => "T9",
    }
}

struct Row<'a> {
    kind: &'static str,
    account: BillingAccountId,
    nominal: &'static str,
    date: chrono::NaiveDate,
    reference: &'a str,
    details: &'a str,
    net: i64,
    tax_code: &'static str,
    tax: i64,
    extra: &'a str,
}

/// `text` cut to `max` characters, line breaks and other controls as spaces (Sage's fields
/// are single-line).
fn field(text: &str, max: usize) -> String {
    truncate(text, max)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn put(data: &YearData, out: &mut Out, row: &Row<'_>) -> Result<(), DomainError> {
    out.write_record([
        row.kind,
        &data.account_code(row.account),
        row.nominal,
        "0",
        &dmy(row.date),
        &field(row.reference, 30),
        &field(row.details, 60),
        &pounds(row.net),
        row.tax_code,
        &pounds(row.tax),
        "",
        &field(row.extra, 30),
        USER,
        "",
        "",
    ])
    .map_err(DomainError::internal)
}

pub(super) fn write(data: &YearData, out: &mut Out) -> Result<(), DomainError> {
    out.write_record(HEADER).map_err(DomainError::internal)?;
    let mut status: HashMap<InvoiceId, InvoiceStatus> = HashMap::new();
    for invoice in &data.invoices {
        status.insert(invoice.id, invoice.status);
        if invoice.status == InvoiceStatus::Void {
            continue;
        }
        for line in data
            .lines
            .get(&invoice.id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            put(
                data,
                out,
                &Row {
                    kind: "SI",
                    account: invoice.account_id,
                    nominal: SALES_NOMINAL,
                    date: invoice.issued_at.date_naive(),
                    reference: &invoice.number,
                    details: &line.description,
                    net: line.net.pence(),
                    tax_code: tax_code(Some(line)),
                    tax: line.vat.pence(),
                    extra: line
                        .po_number
                        .as_deref()
                        .or(invoice.po_number.as_deref())
                        .unwrap_or(""),
                },
            )?;
        }
    }
    let lines = data.lines_by_id();
    for note in &data.notes {
        if status.get(&note.invoice_id) == Some(&InvoiceStatus::Void) {
            continue;
        }
        for line in &note.lines {
            let credited = lines.get(&line.invoice_line_id).copied();
            put(
                data,
                out,
                &Row {
                    kind: "SC",
                    account: note.account_id,
                    nominal: SALES_NOMINAL,
                    date: note.issued_at.date_naive(),
                    reference: &note.number,
                    details: &line.description,
                    net: line.net.pence(),
                    // An unknown credited line (never expected) is taken as exempt.
                    tax_code: credited.map_or("T2", |l| tax_code(Some(l))),
                    tax: line.vat.pence(),
                    extra: data.invoice_number(note.invoice_id),
                },
            )?;
        }
    }
    for p in &data.receipts {
        let allocated = data.allocated_to(PaymentId::from_uuid(p.id));
        let details = if allocated.is_empty() {
            "Receipt on account".to_owned()
        } else {
            format!("Receipt for {allocated}")
        };
        put(
            data,
            out,
            &Row {
                kind: "SA",
                account: BillingAccountId::from_uuid(p.account_id),
                nominal: BANK_NOMINAL,
                date: p.received_on,
                reference: &p.reference,
                details: &details,
                net: p.amount_pence,
                tax_code: tax_code(None),
                tax: 0,
                extra: &p.method,
            },
        )?;
    }
    for r in &data.refunds {
        put(
            data,
            out,
            &Row {
                kind: "SP",
                account: BillingAccountId::from_uuid(r.account_id),
                nominal: BANK_NOMINAL,
                date: r.refunded_on,
                reference: r.provider_refund_ref.as_deref().unwrap_or("REFUND"),
                details: &r.reason,
                net: r.amount_pence,
                tax_code: tax_code(None),
                tax: 0,
                extra: "",
            },
        )?;
    }
    Ok(())
}
