//! Issuing a term's booking invoices: one per billing account, every pending charge a line.

use std::collections::{HashMap, HashSet};

use chrono::{Days, NaiveDate};
use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, BillingAccountId, Clock, DomainError, ErrorCode, Money};
use kernel::{InvoiceId, Permission, Term};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entity::charges;
use super::types::{Charge, ChargeStatus, term_str};
use crate::fees;
use crate::ledger::audit::{self, AuditEntity};
use crate::ledger::invoices::{MAX_LINES, lines_of_invoices};
use crate::ledger::issuing::issue_with_line_pos;
use crate::ledger::support::{CorruptRow, lock_account};
use crate::ledger::{
    Instalment, Invoice, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine,
};

/// Payment terms for an account none of whose schools has a fee schedule this year (a
/// school buying services without a membership).
pub const DEFAULT_TERMS_DAYS: u16 = 30;

/// What [`issue_term_invoices`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermInvoicing {
    pub year: AcademicYear,
    pub term: Term,
    /// The invoices this call issued (none when an earlier call had issued everything).
    pub invoices: Vec<Invoice>,
    /// How many charges those invoices bill.
    pub charges_invoiced: u32,
    pub total: Money,
}

/// The terms whose last day is before `today` and that still have pending charges: what
/// the scheduled job issues (one statement).
pub async fn terms_to_issue(
    db: &DatabaseConnection,
    today: NaiveDate,
) -> Result<Vec<(AcademicYear, Term)>, DomainError> {
    let rows: Vec<(i32, String)> = charges::Entity::find()
        .select_only()
        .column(charges::Column::AcademicYear)
        .column(charges::Column::Term)
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::new();
    for (year, term) in rows {
        let year = AcademicYear::starting(year).map_err(DomainError::internal)?;
        let term = Term::ALL
            .into_iter()
            .find(|t| term_str(*t) == term)
            .ok_or_else(|| DomainError::internal(CorruptRow(format!("charge term `{term}`"))))?;
        if term.dates(year).1 < today {
            out.push((year, term));
        }
    }
    out.sort();
    Ok(out)
}

/// Issues the term's booking invoices (ManageBilling): for each billing account with pending
/// charges in `term` of `year`, one invoice (split every [`MAX_LINES`] lines) whose lines
/// are those charges with their school, booking and PO number; the invoice's own PO is the
/// one every line shares, if they share one. Due after the account's payment terms (the
/// longest of its schools' fee schedules this year, else [`DEFAULT_TERMS_DAYS`]) from the
/// later of today and the day after the term.
///
/// One transaction per account under its ledger lock: a rerun completes an interrupted run,
/// and two runs at once bill each charge once (the second finds nothing pending).
///
/// # Errors
/// `Forbidden` without ManageBilling; `Invalid` on `term` while the term has not ended.
pub async fn issue_term_invoices(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
    term: Term,
) -> Result<TermInvoicing, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let today = clock.today();
    let (_, last_day) = term.dates(year);
    if last_day >= today {
        return Err(DomainError::invalid(
            "term",
            ErrorCode::Conflict,
            format!(
                "the {} term of {year} ends on {}: its invoices are issued after that",
                term_str(term).to_lowercase(),
                last_day.format("%-d %b %Y")
            ),
        ));
    }
    let accounts: Vec<uuid::Uuid> = charges::Entity::find()
        .select_only()
        .column(charges::Column::AccountId)
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .filter(charges::Column::AcademicYear.eq(year.start_year()))
        .filter(charges::Column::Term.eq(term_str(term)))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut outcome = TermInvoicing {
        year,
        term,
        invoices: Vec::new(),
        charges_invoiced: 0,
        total: Money::zero(),
    };
    if accounts.is_empty() {
        return Ok(outcome);
    }
    let terms = payment_terms(db, year).await?;
    let start = today.max(last_day + Days::new(1));
    for account in accounts {
        let account = BillingAccountId::from_uuid(account);
        let days = terms.get(&account).copied().unwrap_or(DEFAULT_TERMS_DAYS);
        let due_on = start + Days::new(u64::from(days));
        let (invoices, count) =
            issue_account(db, actor, clock, account, year, term, due_on).await?;
        for invoice in invoices {
            outcome.total = outcome
                .total
                .checked_add(invoice.total)
                .map_err(DomainError::internal)?;
            outcome.invoices.push(invoice);
        }
        outcome.charges_invoiced += count;
    }
    tracing::info!(%year, term = term_str(term), invoices = outcome.invoices.len(), charges = outcome.charges_invoiced, "termly booking invoices issued");
    Ok(outcome)
}

/// Each account's payment terms in `year`: the longest of its schools' fee schedules.
async fn payment_terms(
    db: &DatabaseConnection,
    year: AcademicYear,
) -> Result<HashMap<BillingAccountId, u16>, DomainError> {
    let memberships = membership::memberships::active_for_year(db, year).await?;
    let schedules: HashMap<_, _> = fees::schedules_for_year(db, &Actor::System, year)
        .await?
        .into_iter()
        .map(|s| (s.tier_id, s.payment_terms_days))
        .collect();
    let schools: Vec<_> = memberships
        .iter()
        .map(|m| m.school_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let accounts = crate::ledger::accounts::accounts_of_schools(db, &schools).await?;
    let mut out: HashMap<BillingAccountId, u16> = HashMap::new();
    for m in &memberships {
        if let (Some(account), Some(days)) = (accounts.get(&m.school_id), schedules.get(&m.tier_id))
        {
            let entry = out.entry(account.id).or_insert(*days);
            *entry = (*entry).max(*days);
        }
    }
    Ok(out)
}

/// One account's invoices for the term, in one transaction under its ledger lock.
async fn issue_account(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    account: BillingAccountId,
    year: AcademicYear,
    term: Term,
    due_on: NaiveDate,
) -> Result<(Vec<Invoice>, u32), DomainError> {
    let txn = db.begin_write().await?;
    lock_account(&txn, account).await?;
    // Under the lock: what a concurrent run invoiced or a cancellation changed is settled.
    let rows = charges::Entity::find()
        .filter(charges::Column::AccountId.eq(account.as_uuid()))
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .filter(charges::Column::AcademicYear.eq(year.start_year()))
        .filter(charges::Column::Term.eq(term_str(term)))
        .order_by_asc(charges::Column::OccurredOn)
        .order_by_asc(charges::Column::Id)
        .all(&txn)
        .await?;
    let pending = rows
        .into_iter()
        .map(Charge::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let mut invoices = Vec::new();
    let mut count = 0_u32;
    for chunk in pending.chunks(MAX_LINES) {
        let lines = chunk
            .iter()
            .map(|c| NewInvoiceLine {
                description: c.description.clone(),
                quantity: c.quantity,
                unit_amount: c.unit_amount,
                vat_treatment: c.vat_treatment,
                vat_rate_bp: c.vat_rate_bp,
                cfr_code: c.cfr_code.clone(),
                school_id: Some(c.school_id),
                membership_id: None,
                booking_id: Some(c.booking_id),
            })
            .collect();
        let pos: Vec<Option<String>> = chunk.iter().map(|c| c.po_number.clone()).collect();
        let common_po = match pos.split_first() {
            Some((first @ Some(_), rest)) if rest.iter().all(|p| p == first) => first.clone(),
            _ => None,
        };
        let issued = issue_with_line_pos(
            &txn,
            actor,
            clock,
            NewInvoice {
                account_id: account,
                year,
                instalment: Instalment::None,
                due_on,
                lines,
                po_number: common_po,
                source: InvoiceSource::Booking,
                collection: InvoiceCollection::Send,
            },
            &pos,
        )
        .await?
        .invoice;
        mark_invoiced(&txn, actor, clock, chunk, issued.id).await?;
        count += u32::try_from(chunk.len()).map_err(DomainError::internal)?;
        invoices.push(issued);
    }
    txn.commit().await?;
    Ok((invoices, count))
}

/// Moves the charges of one issued invoice from PENDING to INVOICED, each naming its line.
async fn mark_invoiced(
    txn: &sea_orm::DatabaseTransaction,
    actor: &Actor,
    clock: &dyn Clock,
    chunk: &[Charge],
    invoice: InvoiceId,
) -> Result<(), DomainError> {
    let lines = lines_of_invoices(txn, &[invoice])
        .await?
        .remove(&invoice)
        .unwrap_or_default();
    let now = clock.now();
    for charge in chunk {
        let line = lines
            .iter()
            .find(|l| l.booking_id == Some(charge.booking_id))
            .ok_or_else(|| {
                DomainError::internal(CorruptRow(format!(
                    "invoice {invoice} has no line for charge {}",
                    charge.id
                )))
            })?;
        let result = charges::Entity::update_many()
            .set(charges::ActiveModel {
                status: Set(ChargeStatus::Invoiced.as_str().to_owned()),
                invoice_id: Set(Some(invoice.as_uuid())),
                invoice_line_id: Set(Some(line.id.as_uuid())),
                updated_at: Set(now),
                ..Default::default()
            })
            .filter(charges::Column::Id.eq(charge.id.as_uuid()))
            .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
            .exec(txn)
            .await?;
        if result.rows_affected != 1 {
            return Err(DomainError::internal(CorruptRow(format!(
                "charge {} changed under its account lock",
                charge.id
            ))));
        }
        let mut after = charge.clone();
        after.status = ChargeStatus::Invoiced;
        after.invoice_id = Some(invoice);
        after.invoice_line_id = Some(line.id);
        after.updated_at = now;
        audit::record(
            txn,
            actor,
            clock,
            "charge.invoice",
            (AuditEntity::Charge, charge.id.as_uuid()),
            Some(charge),
            Some(&after),
        )
        .await?;
    }
    Ok(())
}
