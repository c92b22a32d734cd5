//! Finance reports: aged debt, unallocated receipts, and per-account statements.
//!
//! Every report needs `ReadBilling`; school users see only the account(s) paying for their
//! schools. Amounts are the ledger as it stands now.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use kernel::{AcademicYear, Actor, BillingAccountId, DomainError, Money};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::accounts::{BillingAccount, accounts_by_ids, schools_of_account, visible_account_ids};
use super::entity::{allocations, credit_notes, invoices, payments, refunds};
use super::invoices::Invoice;
use super::payments::Payment;
use super::status::InvoiceStatus;
use super::support::Sight;

/// One account's unpaid invoices by how late they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgedDebtRow {
    pub account: BillingAccount,
    /// Not yet due, or less than 30 days past due.
    pub current: Money,
    /// 30–59 days past due.
    pub d30: Money,
    /// 60–89 days past due.
    pub d60: Money,
    /// 90 days or more past due.
    pub d90_plus: Money,
    pub total: Money,
}

/// Money owed, aged by days past the due date on `as_of`, per account (by account name).
///
/// Counts OPEN and PARTIALLY_PAID invoices issued by `as_of`; UNCOLLECTIBLE ones are written
/// off and no longer chased, so they are left out.
pub async fn aged_debt<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    as_of: NaiveDate,
) -> Result<Vec<AgedDebtRow>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select = invoices::Entity::find()
        .filter(invoices::Column::Status.is_in([
            InvoiceStatus::Open.as_str(),
            InvoiceStatus::PartiallyPaid.as_str(),
        ]))
        .filter(
            invoices::Column::IssuedAt.lt(as_of
                .succ_opt()
                .unwrap_or(as_of)
                .and_time(NaiveTime::MIN)
                .and_utc()),
        );
    if let Some(ids) = visible_account_ids(db, &sight).await? {
        select = select.filter(invoices::Column::AccountId.is_in(ids));
    }
    let rows = select.all(db).await?;
    let mut buckets: BTreeMap<BillingAccountId, [i64; 4]> = BTreeMap::new();
    for row in rows {
        let invoice = Invoice::from_row(row)?;
        let days = invoice.days_overdue(as_of);
        let bucket = match days {
            ..30 => 0,
            30..60 => 1,
            60..90 => 2,
            _ => 3,
        };
        buckets.entry(invoice.account_id).or_default()[bucket] += invoice.outstanding.pence();
    }
    let ids: Vec<BillingAccountId> = buckets.keys().copied().collect();
    let mut accounts = accounts_by_ids(db, &ids).await?;
    let mut out: Vec<AgedDebtRow> = buckets
        .into_iter()
        .filter_map(|(id, b)| {
            accounts.remove(&id).map(|account| AgedDebtRow {
                account,
                current: Money::from_pence(b[0]),
                d30: Money::from_pence(b[1]),
                d60: Money::from_pence(b[2]),
                d90_plus: Money::from_pence(b[3]),
                total: Money::from_pence(b.iter().sum()),
            })
        })
        .filter(|row| row.total.is_positive())
        .collect();
    out.sort_by_key(|a| a.account.sort_key());
    Ok(out)
}

/// Receipts with money neither allocated nor refunded, oldest first: what finance must match.
pub async fn unallocated_receipts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> Result<Vec<Payment>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select = payments::Entity::find().filter(
        Expr::col(payments::Column::AmountPence)
            .sub(Expr::col(payments::Column::AllocatedPence))
            .sub(Expr::col(payments::Column::RefundedPence))
            .gt(0),
    );
    if let Some(ids) = visible_account_ids(db, &sight).await? {
        select = select.filter(payments::Column::AccountId.is_in(ids));
    }
    let rows = select
        .order_by_asc(payments::Column::ReceivedOn)
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await?;
    rows.into_iter().map(Payment::from_row).collect()
}

/// One account's year: invoices against payments and credits.
///
/// The invoice identity `invoiced = paid + credited + outstanding` covers the year's
/// invoices (VOID ones excluded: nothing was invoiced). `paid` is summed from the
/// allocations and `credited` from the credit notes, independently of the invoices' own
/// running totals, so a statement that balances is a real check. Refunds come only out of
/// unallocated money (account credit), never out of invoices, so they sit outside the
/// invoice identity, in the receipt identity `received = allocated + refunded +
/// account_credit` (all time, per account). `received` and `refunded` count what was dated
/// in the academic year; `account_credit` is the credit held now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub account_id: BillingAccountId,
    pub year: AcademicYear,
    pub invoiced: Money,
    pub paid: Money,
    pub credited: Money,
    pub outstanding: Money,
    pub received: Money,
    pub refunded: Money,
    pub account_credit: Money,
}

/// The statement of an account for a year.
pub async fn account_statement<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    account_id: BillingAccountId,
    year: AcademicYear,
) -> Result<Statement, DomainError> {
    let sight = Sight::of(actor)?;
    if !matches!(sight, Sight::All)
        && !sight.sees(&schools_of_account(db, account_id.as_uuid()).await?)
    {
        return Err(DomainError::NotFound {
            entity: "BillingAccount",
        });
    }
    if accounts_by_ids(db, &[account_id]).await?.is_empty() {
        return Err(DomainError::NotFound {
            entity: "BillingAccount",
        });
    }
    let invoice_rows = invoices::Entity::find()
        .filter(invoices::Column::AccountId.eq(account_id.as_uuid()))
        .filter(invoices::Column::AcademicYear.eq(year.start_year()))
        .filter(invoices::Column::Status.ne(InvoiceStatus::Void.as_str()))
        .all(db)
        .await?;
    let ids: Vec<uuid::Uuid> = invoice_rows.iter().map(|r| r.id).collect();
    let invoiced: i64 = invoice_rows.iter().map(|r| r.total_pence).sum();
    let outstanding: i64 = invoice_rows
        .iter()
        .map(|r| r.total_pence - r.paid_pence - r.credited_pence)
        .sum();
    let paid: i64 = allocations::Entity::find()
        .filter(allocations::Column::InvoiceId.is_in(ids.clone()))
        .all(db)
        .await?
        .iter()
        .map(|a| a.amount_pence)
        .sum();
    let credited: i64 = credit_notes::Entity::find()
        .filter(credit_notes::Column::InvoiceId.is_in(ids))
        .all(db)
        .await?
        .iter()
        .map(|c| c.total_pence)
        .sum();
    let receipts = payments::Entity::find()
        .filter(payments::Column::AccountId.eq(account_id.as_uuid()))
        .all(db)
        .await?;
    let received: i64 = receipts
        .iter()
        .filter(|p| year.contains(p.received_on))
        .map(|p| p.amount_pence)
        .sum();
    let account_credit: i64 = receipts
        .iter()
        .map(|p| p.amount_pence - p.allocated_pence - p.refunded_pence)
        .sum();
    let refunded: i64 = refunds::Entity::find()
        .filter(refunds::Column::AccountId.eq(account_id.as_uuid()))
        .filter(refunds::Column::RefundedOn.between(year.first_day(), year.last_day()))
        .all(db)
        .await?
        .iter()
        .map(|r| r.amount_pence)
        .sum();
    Ok(Statement {
        account_id,
        year,
        invoiced: Money::from_pence(invoiced),
        paid: Money::from_pence(paid),
        credited: Money::from_pence(credited),
        outstanding: Money::from_pence(outstanding),
        received: Money::from_pence(received),
        refunded: Money::from_pence(refunded),
        account_credit: Money::from_pence(account_credit),
    })
}
