//! Finance reports: aged debt, unallocated receipts, and per-account statements.
//!
//! Every report needs `ReadBilling`; school users see only the account(s) paying for their
//! schools. Amounts are the ledger as it stands now.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};
use kernel::money::{SumError, checked_add_i64, checked_left, checked_sum_i64};
use kernel::{AcademicYear, Actor, BillingAccountId, DomainError, Money};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::accounts::{BillingAccount, accounts_by_ids, schools_of_account, visible_account_ids};
use super::entity::{allocations, credit_notes, invoices, payments, refunds};
use super::invoices::Invoice;
use super::payments::Payment;
use super::period::{Period, invoices_in};
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
        let slot = &mut buckets.entry(invoice.account_id).or_default()[bucket];
        *slot = checked_add_i64("aged debt bucket", *slot, invoice.outstanding.pence())?;
    }
    let ids: Vec<BillingAccountId> = buckets.keys().copied().collect();
    let mut accounts = accounts_by_ids(db, &ids).await?;
    let mut out: Vec<AgedDebtRow> = Vec::with_capacity(buckets.len());
    for (id, b) in buckets {
        let Some(account) = accounts.remove(&id) else {
            continue;
        };
        let row = AgedDebtRow {
            account,
            current: Money::from_pence(b[0]),
            d30: Money::from_pence(b[1]),
            d60: Money::from_pence(b[2]),
            d90_plus: Money::from_pence(b[3]),
            total: Money::from_pence(checked_sum_i64("aged debt total", b)?),
        };
        if row.total.is_positive() {
            out.push(row);
        }
    }
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

/// One account's year (academic or financial): invoices against payments and credits.
///
/// The invoice identity `invoiced = paid + credited + outstanding` covers the year's
/// invoices (VOID ones excluded: nothing was invoiced). `paid` is summed from the
/// allocations and `credited` from the credit notes, independently of the invoices' own
/// running totals, so a statement that balances is a real check. Refunds come only out of
/// unallocated money (account credit), never out of invoices, so they sit outside the
/// invoice identity, in the receipt identity `received = allocated + refunded +
/// account_credit` (all time, per account). `received` and `refunded` count what was dated
/// in the period; `account_credit` is the credit held now. Which invoices a period covers is
/// [`Period`]'s rule: an academic year's by the year they bill, a financial year's by the day
/// they were issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub account_id: BillingAccountId,
    pub period: Period,
    pub invoiced: Money,
    pub paid: Money,
    pub credited: Money,
    pub outstanding: Money,
    pub received: Money,
    pub refunded: Money,
    pub account_credit: Money,
}

/// The statement of an account for an academic or financial year.
pub async fn account_statement<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    account_id: BillingAccountId,
    period: impl Into<Period>,
) -> Result<Statement, DomainError> {
    let period = period.into();
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
        .filter(invoices_in(period))
        .filter(invoices::Column::Status.ne(InvoiceStatus::Void.as_str()))
        .all(db)
        .await?;
    let ids: Vec<uuid::Uuid> = invoice_rows.iter().map(|r| r.id).collect();
    // Every total is summed checked: inputs are bounded, so only corrupt rows could overflow,
    // and then the statement is an error naming the total, never a wrapped figure.
    let invoiced = checked_sum_i64(
        "statement invoiced",
        invoice_rows.iter().map(|r| r.total_pence),
    )?;
    let outstanding = checked_sum_i64(
        "statement outstanding",
        invoice_rows
            .iter()
            .map(|r| {
                checked_left(
                    "invoice outstanding",
                    r.total_pence,
                    r.paid_pence,
                    r.credited_pence,
                )
            })
            .collect::<Result<Vec<_>, _>>()?,
    )?;
    let paid = checked_sum_i64(
        "statement paid",
        allocations::Entity::find()
            .filter(allocations::Column::InvoiceId.is_in(ids.clone()))
            .all(db)
            .await?
            .iter()
            .map(|a| a.amount_pence),
    )?;
    let credited = checked_sum_i64(
        "statement credited",
        credit_notes::Entity::find()
            .filter(credit_notes::Column::InvoiceId.is_in(ids))
            .all(db)
            .await?
            .iter()
            .map(|c| c.total_pence),
    )?;
    let receipts = payments::Entity::find()
        .filter(payments::Column::AccountId.eq(account_id.as_uuid()))
        .all(db)
        .await?;
    let received = checked_sum_i64(
        "statement received",
        receipts
            .iter()
            .filter(|p| (period.first_day()..=period.last_day()).contains(&p.received_on))
            .map(|p| p.amount_pence),
    )?;
    let account_credit = checked_sum_i64(
        "statement account credit",
        receipts
            .iter()
            .map(|p| {
                checked_left(
                    "receipt unallocated",
                    p.amount_pence,
                    p.allocated_pence,
                    p.refunded_pence,
                )
            })
            .collect::<Result<Vec<_>, _>>()?,
    )?;
    let refunded = checked_sum_i64(
        "statement refunded",
        refunds::Entity::find()
            .filter(refunds::Column::AccountId.eq(account_id.as_uuid()))
            .filter(refunds::Column::RefundedOn.between(period.first_day(), period.last_day()))
            .all(db)
            .await?
            .iter()
            .map(|r| r.amount_pence),
    )?;
    Ok(Statement {
        account_id,
        period,
        invoiced: Money::from_pence(invoiced),
        paid: Money::from_pence(paid),
        credited: Money::from_pence(credited),
        outstanding: Money::from_pence(outstanding),
        received: Money::from_pence(received),
        refunded: Money::from_pence(refunded),
        account_credit: Money::from_pence(account_credit),
    })
}

/// What a school was invoiced for its membership in one academic year, by instalment:
/// gross (net + VAT) of its membership lines on issued invoices (void ones left out).
/// Credit notes are not netted off: this is the fee as invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MembershipFees {
    /// Billed once for the year.
    pub annual: Money,
    pub autumn: Money,
    pub spring: Money,
    pub summer: Money,
}

impl Default for MembershipFees {
    fn default() -> Self {
        Self {
            annual: Money::zero(),
            autumn: Money::zero(),
            spring: Money::zero(),
            summer: Money::zero(),
        }
    }
}

impl MembershipFees {
    /// The fee for one term: the termly instalment plus a third of an annual one (the
    /// pennies a third leaves over go to autumn, when an annual fee is billed).
    pub fn for_term(&self, term: kernel::Term) -> Result<Money, DomainError> {
        let annual = self.annual.pence();
        let third = annual / 3;
        let (termly, share) = match term {
            // annual - 2 * third cannot overflow: 2 * (annual / 3) lies between annual and 0.
            kernel::Term::Autumn => (self.autumn, annual - 2 * third),
            kernel::Term::Spring => (self.spring, third),
            kernel::Term::Summer => (self.summer, third),
        };
        checked_add_i64("termly membership fee", termly.pence(), share).map(Money::from_pence)
    }

    /// The year's fee.
    pub fn total(&self) -> Result<Money, DomainError> {
        Money::checked_sum(
            "membership fee",
            [self.annual, self.autumn, self.spring, self.summer],
        )
    }
}

/// Each school's membership fee for `year`, in **one statement** (membership lines joined to
/// their invoices, summed by school and instalment). For the offer's value statement, set
/// against what the school used. No actor: the gateway checks who may see billing.
pub async fn membership_fees_of_schools<C: ConnectionTrait>(
    db: &C,
    schools: &[kernel::SchoolId],
    year: AcademicYear,
) -> Result<std::collections::HashMap<kernel::SchoolId, MembershipFees>, DomainError> {
    use sea_orm::sea_query::{Alias, Query};

    use super::entity::invoice_lines;
    use super::invoices::Instalment;
    use super::support::stored;

    let mut out = std::collections::HashMap::new();
    if schools.is_empty() {
        return Ok(out);
    }
    let select = Query::select()
        .column((invoice_lines::Entity, invoice_lines::Column::SchoolId))
        .column((invoices::Entity, invoices::Column::Instalment))
        .expr_as(
            Expr::cust("CAST(SUM(invoice_lines.net_pence + invoice_lines.vat_pence) AS BIGINT)"),
            Alias::new("total"),
        )
        .from(invoice_lines::Entity)
        .inner_join(
            invoices::Entity,
            Expr::col((invoices::Entity, invoices::Column::Id))
                .equals((invoice_lines::Entity, invoice_lines::Column::InvoiceId)),
        )
        .and_where(
            Expr::col((invoice_lines::Entity, invoice_lines::Column::SchoolId))
                .is_in(schools.iter().map(kernel::SchoolId::as_uuid)),
        )
        .and_where(
            Expr::col((invoice_lines::Entity, invoice_lines::Column::MembershipId)).is_not_null(),
        )
        .and_where(
            Expr::col((invoices::Entity, invoices::Column::AcademicYear)).eq(year.start_year()),
        )
        .and_where(
            Expr::col((invoices::Entity, invoices::Column::Status))
                .is_not_in([InvoiceStatus::Void.as_str(), InvoiceStatus::Draft.as_str()]),
        )
        .group_by_col((invoice_lines::Entity, invoice_lines::Column::SchoolId))
        .group_by_col((invoices::Entity, invoices::Column::Instalment))
        .to_owned();
    // The database sums; a sum too large for BIGINT (only possible from corrupt rows, inputs
    // being bounded) fails the statement, reported as the total it is.
    let rows = db
        .query_all(&select)
        .await
        .map_err(|e| DomainError::internal(SumError(format!("membership fees: {e}"))))?;
    for row in rows {
        let school = kernel::SchoolId::from_uuid(row.try_get::<uuid::Uuid>("", "school_id")?);
        let instalment: Instalment =
            stored("instalment", &row.try_get::<String>("", "instalment")?)?;
        let total = Money::from_pence(row.try_get::<i64>("", "total")?);
        let fees: &mut MembershipFees = out.entry(school).or_default();
        let slot = match instalment {
            Instalment::Annual | Instalment::None => &mut fees.annual,
            Instalment::Autumn => &mut fees.autumn,
            Instalment::Spring => &mut fees.spring,
            Instalment::Summer => &mut fees.summer,
        };
        *slot = Money::checked_sum("membership fee", [*slot, total])?;
    }
    Ok(out)
}

#[cfg(test)]
mod membership_fee_tests {
    use kernel::{Money, Term};

    use super::MembershipFees;

    #[test]
    fn an_annual_fee_is_shared_across_terms_to_the_penny() {
        let fees = MembershipFees {
            annual: Money::from_pence(1_000),
            autumn: Money::from_pence(300),
            ..MembershipFees::default()
        };
        let terms = Term::ALL.map(|t| fees.for_term(t).expect("fits").pence());
        assert_eq!(terms, [634, 333, 333]);
        assert_eq!(
            terms.iter().sum::<i64>(),
            fees.total().expect("fits").pence()
        );
    }

    #[test]
    fn a_fee_too_large_to_add_is_an_error_not_a_wrapped_figure() {
        let fees = MembershipFees {
            annual: Money::from_pence(4),
            autumn: Money::from_pence(i64::MAX),
            ..MembershipFees::default()
        };
        assert!(fees.total().is_err());
        assert!(fees.for_term(Term::Autumn).is_err());
    }
}
