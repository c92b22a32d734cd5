//! The CSV export for the finance ledger: a year's invoices, credit notes, payments and
//! refunds, one row per invoice line, credit-note line, receipt and refund.
//!
//! Columns: `type, number, date, status, account_id, account_name, invoice_number,
//! description, cfr_code, net, vat, gross, reference`. Amounts are pounds with two decimals
//! (what ledger imports expect); money going back out (credit-note lines, refunds) is
//! negative, so a column sums to the year's net position. Invoices of every status are
//! listed, VOID included, so the gap-free numbering can be checked from the export alone.

use std::collections::HashMap;

use kernel::{AcademicYear, Actor, BillingAccountId, DomainError, InvoiceId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::accounts::{accounts_by_ids, visible_account_ids};
use super::credit_notes::load_where;
use super::entity::{credit_notes, invoices, payments, refunds};
use super::invoices::{Invoice, lines_of_invoices};
use super::support::Sight;

/// Pence as pounds with two decimals, no symbol or separators: `-1234.05`.
fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let abs = pence.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

const HEADER: [&str; 13] = [
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
];

/// The export of `year`, restricted to what the actor may see.
pub async fn export_csv<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    year: AcademicYear,
) -> Result<String, DomainError> {
    let sight = Sight::of(actor)?;
    let visible = visible_account_ids(db, &sight).await?;
    let mut invoice_q =
        invoices::Entity::find().filter(invoices::Column::AcademicYear.eq(year.start_year()));
    let mut note_q =
        sea_orm::Condition::all().add(credit_notes::Column::AcademicYear.eq(year.start_year()));
    let mut payment_q = payments::Entity::find()
        .filter(payments::Column::ReceivedOn.between(year.first_day(), year.last_day()));
    let mut refund_q = refunds::Entity::find()
        .filter(refunds::Column::RefundedOn.between(year.first_day(), year.last_day()));
    if let Some(ids) = visible {
        invoice_q = invoice_q.filter(invoices::Column::AccountId.is_in(ids.clone()));
        note_q = note_q.add(credit_notes::Column::AccountId.is_in(ids.clone()));
        payment_q = payment_q.filter(payments::Column::AccountId.is_in(ids.clone()));
        refund_q = refund_q.filter(refunds::Column::AccountId.is_in(ids));
    }
    let invoices: Vec<Invoice> = invoice_q
        .order_by_asc(invoices::Column::Number)
        .all(db)
        .await?
        .into_iter()
        .map(Invoice::from_row)
        .collect::<Result<_, _>>()?;
    let invoice_ids: Vec<InvoiceId> = invoices.iter().map(|i| i.id).collect();
    let lines = lines_of_invoices(db, &invoice_ids).await?;
    let notes = load_where(db, note_q).await?;
    let receipts = payment_q
        .order_by_asc(payments::Column::ReceivedOn)
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await?;
    let refunds = refund_q
        .order_by_asc(refunds::Column::RefundedOn)
        .order_by_asc(refunds::Column::Id)
        .all(db)
        .await?;

    let mut account_ids: Vec<BillingAccountId> = invoices.iter().map(|i| i.account_id).collect();
    account_ids.extend(notes.iter().map(|n| n.account_id));
    account_ids.extend(
        receipts
            .iter()
            .map(|p| BillingAccountId::from_uuid(p.account_id)),
    );
    account_ids.extend(
        refunds
            .iter()
            .map(|r| BillingAccountId::from_uuid(r.account_id)),
    );
    account_ids.sort();
    account_ids.dedup();
    let accounts = accounts_by_ids(db, &account_ids).await?;
    let name = |id: BillingAccountId| {
        accounts
            .get(&id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let invoice_numbers: HashMap<InvoiceId, String> =
        invoices.iter().map(|i| (i.id, i.number.clone())).collect();
    let mut extra_numbers: HashMap<InvoiceId, String> = HashMap::new();
    let missing: Vec<InvoiceId> = notes
        .iter()
        .map(|n| n.invoice_id)
        .filter(|id| !invoice_numbers.contains_key(id))
        .collect();
    if !missing.is_empty() {
        extra_numbers = super::invoices::invoices_by_ids(db, &missing)
            .await?
            .into_iter()
            .map(|(id, i)| (id, i.number))
            .collect();
    }

    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| DomainError::internal(e);
    out.write_record(HEADER).map_err(csv_err)?;
    for invoice in &invoices {
        for line in lines
            .get(&invoice.id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            out.write_record([
                "INVOICE_LINE",
                &invoice.number,
                &invoice.issued_at.date_naive().to_string(),
                invoice.status.as_str(),
                &invoice.account_id.to_string(),
                &name(invoice.account_id),
                &invoice.number,
                &line.description,
                line.cfr_code.as_deref().unwrap_or(""),
                &pounds(line.net.pence()),
                &pounds(line.vat.pence()),
                &pounds(line.gross().pence()),
                invoice.po_number.as_deref().unwrap_or(""),
            ])
            .map_err(csv_err)?;
        }
    }
    for note in &notes {
        let invoice_number = invoice_numbers
            .get(&note.invoice_id)
            .or_else(|| extra_numbers.get(&note.invoice_id))
            .cloned()
            .unwrap_or_default();
        for line in &note.lines {
            out.write_record([
                "CREDIT_NOTE_LINE",
                &note.number,
                &note.issued_at.date_naive().to_string(),
                "",
                &note.account_id.to_string(),
                &name(note.account_id),
                &invoice_number,
                &line.description,
                line.cfr_code.as_deref().unwrap_or(""),
                &pounds(-line.net.pence()),
                &pounds(-line.vat.pence()),
                &pounds(-(line.net.pence() + line.vat.pence())),
                &note.reason,
            ])
            .map_err(csv_err)?;
        }
    }
    for p in &receipts {
        let account = BillingAccountId::from_uuid(p.account_id);
        out.write_record([
            "PAYMENT",
            "",
            &p.received_on.to_string(),
            &p.method,
            &account.to_string(),
            &name(account),
            "",
            "",
            "",
            "",
            "",
            &pounds(p.amount_pence),
            &p.reference,
        ])
        .map_err(csv_err)?;
    }
    for r in &refunds {
        let account = BillingAccountId::from_uuid(r.account_id);
        out.write_record([
            "REFUND",
            "",
            &r.refunded_on.to_string(),
            "",
            &account.to_string(),
            &name(account),
            "",
            &r.reason,
            "",
            "",
            "",
            &pounds(-r.amount_pence),
            r.provider_refund_ref.as_deref().unwrap_or(""),
        ])
        .map_err(csv_err)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| DomainError::internal(e.into_error()))?;
    String::from_utf8(bytes).map_err(DomainError::internal)
}

#[cfg(test)]
mod tests {
    use super::pounds;

    #[test]
    fn pounds_are_plain_decimals() {
        assert_eq!(pounds(0), "0.00");
        assert_eq!(pounds(5), "0.05");
        assert_eq!(pounds(-123_405), "-1234.05");
        assert_eq!(pounds(1_250_000), "12500.00");
    }
}
