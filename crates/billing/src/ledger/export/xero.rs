//! Xero's "Sales invoices" import template (Business › Invoices › Import), one row per line.
//!
//! * Import it with amounts **tax exclusive**: `UnitAmount` is net, `TaxAmount` the line's
//!   VAT as Trellis computed it (Xero keeps a supplied tax amount within rounding).
//! * Credit notes go in the same file as negative-quantity lines under their own number
//!   (`CN-2026-000001`, `Reference` = the credited invoice): Xero imports a document whose
//!   total is negative as a credit note. Their date is their issue date, as is their due date.
//! * `AccountCode` is [`SALES_ACCOUNT`], Xero's default UK chart's "Sales" account: the
//!   partnership's income account. A line's CFR code is the *school's* expenditure code, not
//!   the partnership's income account, so it rides in tracking category `CFR` instead
//!   (`TrackingName1`/`TrackingOption1`; create that category in Xero first, or clear the
//!   columns). Remap in Xero's import if the chart differs.
//! * `TaxType` is the name of the UK VAT rate: `20% (VAT on Income)`, `5% (VAT on Income)`,
//!   `Zero Rated Income`, `Exempt Income`; another standard rate is named
//!   `<rate>% (VAT on Income)`, a rate to add in Xero before importing.
//! * `ContactName` is the account's name (Xero matches contacts by name), with its contact
//!   email and address; the invoice's `Reference` is its PO (or its lines' POs).
//! * VOID invoices (and credit notes of them) are left out; receipts and refunds are not in
//!   this template — Xero takes them from the bank feed, matched by invoice number.

use std::collections::HashMap;

use kernel::{DomainError, InvoiceId};

use super::{Out, Tax, YearData, dmy, pounds};
use crate::ledger::accounts::BillingAccount;
use crate::ledger::invoices::InvoiceLine;
use crate::ledger::status::InvoiceStatus;

/// The income account lines are coded to.
pub const SALES_ACCOUNT: &str = "200";

const HEADER: [&str; 29] = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "Total",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TaxAmount",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
];

fn tax_type(line: &InvoiceLine) -> String {
    match Tax::of(line) {
        Tax::Standard => "20% (VAT on Income)".into(),
        Tax::Reduced => "5% (VAT on Income)".into(),
        Tax::Other(bp) => format!("{}% (VAT on Income)", super::percent(bp)),
        Tax::Zero => "Zero Rated Income".into(),
        Tax::Exempt => "Exempt Income".into(),
    }
}

/// The contact columns: name, email, four address lines (the fifth and sixth joined onto
/// the fourth), city, region, postcode, country.
fn contact(account: Option<&BillingAccount>) -> [String; 10] {
    let Some(a) = account else {
        return Default::default();
    };
    let lines = &a.address.lines;
    let at = |i: usize| lines.get(i).cloned().unwrap_or_default();
    let rest = lines.get(3..).map(|l| l.join(", ")).unwrap_or_default();
    [
        a.name.clone(),
        a.contact_email.clone(),
        at(0),
        at(1),
        at(2),
        rest,
        String::new(),
        String::new(),
        a.address.postcode.clone(),
        "United Kingdom".into(),
    ]
}

/// Quantity and unit amount: the line's own when they multiply out to its net, else one of
/// the net (a rounded line would not add up otherwise).
fn quantity_unit(line: &InvoiceLine) -> (i64, i64) {
    let q = i64::from(line.quantity);
    if q > 0 && q * line.unit_amount.pence() == line.net.pence() {
        (q, line.unit_amount.pence())
    } else {
        (1, line.net.pence())
    }
}

fn tracking(cfr: Option<&str>) -> [&str; 2] {
    match cfr {
        Some(code) if !code.is_empty() => ["CFR", code],
        _ => ["", ""],
    }
}

pub(super) fn write(data: &YearData, out: &mut Out) -> Result<(), DomainError> {
    let err = |e: csv::Error| DomainError::internal(e);
    out.write_record(HEADER).map_err(err)?;
    let mut status: HashMap<InvoiceId, InvoiceStatus> = HashMap::new();
    for invoice in &data.invoices {
        status.insert(invoice.id, invoice.status);
        if invoice.status == InvoiceStatus::Void {
            continue;
        }
        let lines = data
            .lines
            .get(&invoice.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let reference = invoice.po_number.clone().unwrap_or_else(|| {
            let mut pos: Vec<&str> = lines
                .iter()
                .filter_map(|l| l.po_number.as_deref())
                .collect();
            pos.dedup();
            pos.join(" / ")
        });
        let contact = contact(data.account(invoice.account_id));
        for line in lines {
            let (quantity, unit) = quantity_unit(line);
            let [name, option] = tracking(line.cfr_code.as_deref());
            let mut row: Vec<&str> = contact.iter().map(String::as_str).collect();
            let (issued, due) = (dmy(invoice.issued_at.date_naive()), dmy(invoice.due_on));
            let (quantity, unit, tax) = (quantity.to_string(), pounds(unit), tax_type(line));
            let vat = pounds(line.vat.pence());
            row.extend([
                invoice.number.as_str(),
                &reference,
                &issued,
                &due,
                "",
                "",
                &line.description,
                &quantity,
                &unit,
                "",
                SALES_ACCOUNT,
                &tax,
                &vat,
                name,
                option,
                "",
                "",
                "GBP",
                "",
            ]);
            out.write_record(&row).map_err(err)?;
        }
    }
    let lines = data.lines_by_id();
    for note in &data.notes {
        if status.get(&note.invoice_id) == Some(&InvoiceStatus::Void) {
            continue;
        }
        let contact = contact(data.account(note.account_id));
        let issued = dmy(note.issued_at.date_naive());
        for line in &note.lines {
            let tax = lines
                .get(&line.invoice_line_id)
                .map_or_else(|| "Exempt Income".to_owned(), |l| tax_type(l));
            let [name, option] = tracking(line.cfr_code.as_deref());
            let (unit, vat) = (pounds(line.net.pence()), pounds(-line.vat.pence()));
            let mut row: Vec<&str> = contact.iter().map(String::as_str).collect();
            row.extend([
                note.number.as_str(),
                data.invoice_number(note.invoice_id),
                &issued,
                &issued,
                "",
                "",
                &line.description,
                "-1",
                &unit,
                "",
                SALES_ACCOUNT,
                &tax,
                &vat,
                name,
                option,
                "",
                "",
                "GBP",
                "",
            ]);
            out.write_record(&row).map_err(err)?;
        }
    }
    Ok(())
}
