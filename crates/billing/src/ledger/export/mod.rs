//! The finance ledger's year (academic or financial, [`Period`]) as CSV, in one of three layouts ([`ExportLayout`]):
//!
//! * [`ExportLayout::Ledger`] (`ledger.rs`): Trellis' own, one row per invoice line,
//!   credit-note line, receipt and refund, with due dates, VAT, POs, URNs, a readable account
//!   code and which invoices each receipt paid;
//! * [`ExportLayout::Xero`] (`xero.rs`): Xero's "Sales invoices" import template;
//! * [`ExportLayout::Sage50`] (`sage.rs`): Sage 50 Accounts (UK) audit-trail transactions.
//!
//! Every layout reads the same data ([`YearData`]) in a fixed number of statements, whatever
//! the size of the year, and shows an actor only what their [`Sight`] allows (finance all of
//! it, a school leader their own accounts).
//!
//! **Account code.** Accounts carry no reference of their own, so one is derived, stable and
//! at most 8 uppercase characters (Sage 50's account-reference limit, used by every layout):
//! a school's own account (kind SCHOOL) is the school's URN (`100001`); any other account (a
//! trust, or a school account whose school is not in the directory) is `T` and the first 7
//! hex digits of its id (`T1A2B3C4`) — a name would change on a rename and duplicate the
//! customer in the accounts package.
//!
//! **Amounts** are pounds with two decimals and no symbol (`-1234.05`); dates are ISO in the
//! ledger layout and `dd/mm/yyyy` in the Xero and Sage ones (what those imports expect).
//! VOID invoices are listed by the ledger layout (so the gap-free numbering can be checked
//! from it) but left out of the Xero and Sage ones, which post what is owed.

mod ledger;
mod sage;
mod xero;

use std::collections::HashMap;

use chrono::NaiveDate;
use kernel::{Actor, BillingAccountId, DomainError, InvoiceId, InvoiceLineId, PaymentId, SchoolId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::accounts::{BillingAccount, accounts_by_ids, visible_account_ids};
use super::credit_notes::{CreditNote, load_where};
use super::entity::{credit_notes, invoices, payments, refunds};
use super::invoices::{Invoice, InvoiceLine, VatTreatment, lines_of_invoices};
use super::payments::allocations_of_payments;
use super::period::{Period, credit_notes_in, invoices_in};
use super::support::Sight;

/// Which CSV layout [`export_csv`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExportLayout {
    /// Trellis' own ledger columns.
    #[default]
    Ledger,
    /// Xero's sales-invoice import template.
    Xero,
    /// Sage 50 Accounts (UK) audit-trail transaction import.
    Sage50,
}

/// The export of `year` in `layout`, restricted to what the actor may see.
pub async fn export_csv<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    period: impl Into<Period>,
    layout: ExportLayout,
) -> Result<String, DomainError> {
    let data = YearData::load(db, actor, period.into()).await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    match layout {
        ExportLayout::Ledger => ledger::write(&data, &mut out),
        ExportLayout::Xero => xero::write(&data, &mut out),
        ExportLayout::Sage50 => sage::write(&data, &mut out),
    }?;
    let bytes = out
        .into_inner()
        .map_err(|e| DomainError::internal(e.into_error()))?;
    String::from_utf8(bytes).map_err(DomainError::internal)
}

type Out = csv::Writer<Vec<u8>>;

/// One receipt's net allocation to one invoice (releases by credit notes netted off).
pub(super) struct Paid {
    invoice_number: String,
    pence: i64,
}

/// Everything a layout writes, read in a fixed number of statements.
pub(super) struct YearData {
    invoices: Vec<Invoice>,
    lines: HashMap<InvoiceId, Vec<InvoiceLine>>,
    notes: Vec<CreditNote>,
    receipts: Vec<payments::Model>,
    refunds: Vec<refunds::Model>,
    accounts: HashMap<BillingAccountId, BillingAccount>,
    urns: HashMap<SchoolId, String>,
    /// Numbers of the year's invoices and of any other invoice a row names.
    invoice_numbers: HashMap<InvoiceId, String>,
    /// Each receipt's allocations by invoice, in the order they were first made.
    paid: HashMap<PaymentId, Vec<Paid>>,
}

impl YearData {
    async fn load<C: ConnectionTrait>(
        db: &C,
        actor: &Actor,
        period: Period,
    ) -> Result<Self, DomainError> {
        let sight = Sight::of(actor)?;
        let visible = visible_account_ids(db, &sight).await?;
        let (from, to) = (period.first_day(), period.last_day());
        let mut invoice_q = invoices::Entity::find().filter(invoices_in(period));
        let mut note_q = credit_notes_in(period);
        let mut payment_q =
            payments::Entity::find().filter(payments::Column::ReceivedOn.between(from, to));
        let mut refund_q =
            refunds::Entity::find().filter(refunds::Column::RefundedOn.between(from, to));
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
        let receipt_ids: Vec<PaymentId> = receipts
            .iter()
            .map(|p| PaymentId::from_uuid(p.id))
            .collect();
        let allocations = allocations_of_payments(db, &receipt_ids).await?;

        let mut account_ids: Vec<BillingAccountId> =
            invoices.iter().map(|i| i.account_id).collect();
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

        let mut school_ids: Vec<SchoolId> = accounts
            .values()
            .flat_map(|a| a.school_ids.iter().copied())
            .chain(lines.values().flatten().filter_map(|l| l.school_id))
            .collect();
        school_ids.sort();
        school_ids.dedup();
        let urns = membership::school::by_ids(db, &school_ids)
            .await?
            .into_iter()
            .map(|(id, s)| (id, s.urn.as_str().to_owned()))
            .collect();

        let mut invoice_numbers: HashMap<InvoiceId, String> =
            invoices.iter().map(|i| (i.id, i.number.clone())).collect();
        let mut missing: Vec<InvoiceId> = notes
            .iter()
            .map(|n| n.invoice_id)
            .chain(allocations.values().flatten().map(|a| a.invoice_id))
            .filter(|id| !invoice_numbers.contains_key(id))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            invoice_numbers.extend(
                super::invoices::invoices_by_ids(db, &missing)
                    .await?
                    .into_iter()
                    .map(|(id, i)| (id, i.number)),
            );
        }

        let mut paid: HashMap<PaymentId, Vec<Paid>> = HashMap::new();
        for (payment, allocations) in allocations {
            let mut order: Vec<InvoiceId> = Vec::new();
            let mut sums: HashMap<InvoiceId, i64> = HashMap::new();
            for a in allocations {
                if !sums.contains_key(&a.invoice_id) {
                    order.push(a.invoice_id);
                }
                *sums.entry(a.invoice_id).or_default() += a.amount.pence();
            }
            let list: Vec<Paid> = order
                .into_iter()
                .filter(|id| sums[id] != 0)
                .map(|id| Paid {
                    invoice_number: invoice_numbers.get(&id).cloned().unwrap_or_default(),
                    pence: sums[&id],
                })
                .collect();
            paid.insert(payment, list);
        }

        Ok(Self {
            invoices,
            lines,
            notes,
            receipts,
            refunds,
            accounts,
            urns,
            invoice_numbers,
            paid,
        })
    }

    fn account(&self, id: BillingAccountId) -> Option<&BillingAccount> {
        self.accounts.get(&id)
    }

    fn name(&self, id: BillingAccountId) -> &str {
        self.account(id).map_or("", |a| a.name.as_str())
    }

    /// The URN of the account's only school, if it pays for exactly one.
    fn account_urn(&self, id: BillingAccountId) -> Option<&str> {
        match self.account(id)?.school_ids.as_slice() {
            [only] => self.urns.get(only).map(String::as_str),
            _ => None,
        }
    }

    /// The line's school's URN, else the account's only school's.
    fn line_urn(&self, line: &InvoiceLine, account: BillingAccountId) -> Option<&str> {
        line.school_id
            .and_then(|s| self.urns.get(&s).map(String::as_str))
            .or_else(|| self.account_urn(account))
    }

    /// The account's stable reference (see the module docs).
    fn account_code(&self, id: BillingAccountId) -> String {
        let school_account = self
            .account(id)
            .is_some_and(|a| a.kind == super::accounts::AccountKind::School);
        match self.account_urn(id) {
            Some(urn) if school_account => urn.to_owned(),
            _ => {
                let hex = id.as_uuid().simple().to_string().to_uppercase();
                format!("T{}", &hex[..7])
            }
        }
    }

    fn invoice_number(&self, id: InvoiceId) -> &str {
        self.invoice_numbers.get(&id).map_or("", String::as_str)
    }

    /// Every invoice line by id (credit-note lines name the line they credit).
    fn lines_by_id(&self) -> HashMap<InvoiceLineId, &InvoiceLine> {
        self.lines.values().flatten().map(|l| (l.id, l)).collect()
    }

    /// A receipt's allocations as `TRL-2026-000001:120.00;TRL-2026-000004:30.00`.
    fn allocated_to(&self, payment: PaymentId) -> String {
        self.paid
            .get(&payment)
            .map(|list| {
                list.iter()
                    .map(|p| format!("{}:{}", p.invoice_number, pounds(p.pence)))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default()
    }
}

/// Pence as pounds with two decimals, no symbol or separators: `-1234.05`.
fn pounds(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let abs = pence.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Basis points as a percentage with two decimals: 2000 → `20.00`.
fn percent(bp: u32) -> String {
    pounds(i64::from(bp))
}

/// `dd/mm/yyyy`, as Xero and Sage read dates.
fn dmy(date: NaiveDate) -> String {
    date.format("%d/%m/%Y").to_string()
}

/// How a line is taxed, in the terms of the accounts packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tax {
    /// 20%.
    Standard,
    /// 5%.
    Reduced,
    /// Standard-rated at another rate (a custom rate in the package).
    Other(u32),
    Zero,
    Exempt,
}

impl Tax {
    fn of(line: &InvoiceLine) -> Self {
        match (line.vat_treatment, line.vat_rate_bp) {
            (VatTreatment::Exempt, _) => Self::Exempt,
            (VatTreatment::Standard, 0) => Self::Zero,
            (VatTreatment::Standard, 2_000) => Self::Standard,
            (VatTreatment::Standard, 500) => Self::Reduced,
            (VatTreatment::Standard, bp) => Self::Other(bp),
        }
    }
}

/// The first `max` characters of `text`.
fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::{dmy, percent, pounds, truncate};

    #[test]
    fn pounds_are_plain_decimals() {
        assert_eq!(pounds(0), "0.00");
        assert_eq!(pounds(5), "0.05");
        assert_eq!(pounds(-123_405), "-1234.05");
        assert_eq!(pounds(1_250_000), "12500.00");
        assert_eq!(percent(2_000), "20.00");
        assert_eq!(percent(550), "5.50");
    }

    #[test]
    fn dates_and_truncation() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).expect("date");
        assert_eq!(dmy(d), "01/09/2026");
        assert_eq!(truncate("£ab", 2), "£a");
    }
}
