//! The supplementary invoicing run: after the year's run, invoice the memberships it did not
//! bill — schools that joined (or were activated) since, pro-rata from their start date as the
//! fee schedule says, and schools the run left out for want of a census roll that has since
//! been recorded.
//!
//! **Which memberships.** Every ACTIVE membership of the year that no invoice of the year
//! (voided ones aside) bills. A membership the run *did* bill but that is priced differently
//! now (its tier or roll changed) is not re-invoiced: the difference is reported in the notes,
//! for finance to credit or invoice by hand, because an issued invoice is never rewritten.
//!
//! **Invoices.** One per membership and instalment, to the account paying for the school
//! today, numbered in the year's series like any other. An instalment of a term not yet begun
//! waits for its day like the run's ([`super::schedule`]): it joins the account's scheduled
//! instalment, or is issued now if the account's was already issued. They carry instalment NONE: the
//! account may already hold the year's run invoice for the same instalment (a trust paying for
//! an earlier member), which the one-per-(account, year, instalment) rule reserves for the
//! main run. The line still says which instalment it bills.
//!
//! **Once.** Each invoice is issued with an idempotency key Trellis derives from the
//! membership and the instalment, stored in the invoice's own transaction: a rerun, or two
//! finance officers pressing the button at once, issue nothing twice.
//!
//! **Drafts first.** [`supplement_preview`] plans exactly what [`supplement`] would issue,
//! with the same notes, and writes nothing.

use std::collections::HashMap;

use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError, ErrorCode, MembershipId, Money, Permission};
use membership::{memberships, school};
use sea_orm::DatabaseConnection;

use super::keyed::{KeyedIssue, issue_keyed_in};
use super::plan::PlannedInvoice;
use super::schedule::{self, Scheduled};
use super::{RunNote, RunStatus, find, plan_memberships, year_error};
use crate::ledger::{self, Instalment, NewInvoice};

/// What a supplementary run would issue, and what finance should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplementPlan {
    /// One per membership and instalment, with the instalment it bills (issued as NONE).
    pub invoices: Vec<PlannedInvoice>,
    /// Memberships left out (no roll yet) and memberships priced differently from what they
    /// were invoiced.
    pub notes: Vec<RunNote>,
}

/// What a supplementary run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supplement {
    pub year: AcademicYear,
    pub invoices_created: u32,
    /// Invoices a concurrent or interrupted run had already issued.
    pub invoices_existing: u32,
    /// The total of the invoices created.
    pub total: Money,
    /// Later terms' instalments kept for their day (see `schedule`).
    pub instalments_scheduled: u32,
    pub notes: Vec<RunNote>,
}

/// Plans the supplementary run of `year` without issuing anything. Finance and admins.
///
/// # Errors
/// `CONFLICT` on `academicYear` before the year's run has completed; otherwise as the run
/// for memberships without a fee schedule or a paying account.
pub async fn supplement_preview(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SupplementPlan, DomainError> {
    actor.require(Permission::ManageBilling)?;
    plan_supplement(db, clock, year).await
}

/// Invoices the memberships of `year` that no invoice bills yet. Finance and admins.
///
/// # Errors
/// As [`supplement_preview`].
pub async fn supplement(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<Supplement, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let plan = plan_supplement(db, clock, year).await?;
    let mut done = Supplement {
        year,
        invoices_created: 0,
        invoices_existing: 0,
        total: Money::zero(),
        instalments_scheduled: 0,
        notes: plan.notes,
    };
    let today = clock.today();
    for planned in plan.invoices {
        let membership = planned.memberships.first().copied().ok_or_else(|| {
            DomainError::internal(kernel::CorruptRow("a planned invoice bills nobody".into()))
        })?;
        let instalment = planned.invoice.instalment;
        // A later term's instalment waits for its day, as the run's do.
        if let Some(day) = schedule::issue_on(instalment, year).filter(|d| *d > today) {
            match schedule::schedule(db, &planned, day, clock.now()).await? {
                Scheduled::Kept => {
                    done.instalments_scheduled += 1;
                    continue;
                }
                Scheduled::Already => {
                    done.invoices_existing += 1;
                    continue;
                }
                // The account's instalment is out already: this one is issued now.
                Scheduled::Closed => {}
            }
        }
        let invoice = NewInvoice {
            instalment: Instalment::None,
            ..planned.invoice
        };
        let txn = db.begin_write().await?;
        // `issue_invoice` runs in a savepoint of this transaction: the invoice and its key
        // commit together or not at all.
        match issue_keyed_in(&txn, actor, clock, membership, instalment, invoice).await? {
            KeyedIssue::Issued(issued) => {
                txn.commit().await?;
                done.invoices_created += 1;
                done.total = done
                    .total
                    .checked_add(issued.total)
                    .map_err(DomainError::internal)?;
            }
            KeyedIssue::Existed | KeyedIssue::Raced => {
                txn.rollback().await?;
                done.invoices_existing += 1;
            }
        }
    }
    tracing::info!(%year, created = done.invoices_created, "supplementary invoicing run");
    Ok(done)
}

async fn plan_supplement(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SupplementPlan, DomainError> {
    match find(db, year).await? {
        Some(run) if run.status == RunStatus::Completed => {}
        Some(_) => {
            return Err(year_error(
                ErrorCode::Conflict,
                format!("the {year} invoicing run has not finished: finish it first"),
            ));
        }
        None => {
            return Err(year_error(
                ErrorCode::Conflict,
                format!("{year} has not been invoiced yet: start its invoicing run first"),
            ));
        }
    }
    let active = memberships::active_for_year(db, year).await?;
    let ids: Vec<MembershipId> = active.iter().map(|m| m.id).collect();
    // Billed: on an invoice, or on an instalment scheduled for its term.
    let mut billed_net = ledger::billed::invoiced_net_of_memberships(db, year, &ids).await?;
    for (membership, net) in schedule::pending_memberships(db, year).await? {
        let sum = billed_net.entry(membership).or_insert_with(Money::zero);
        *sum = sum.checked_add(net).map_err(DomainError::internal)?;
    }
    let (billed, pending): (Vec<_>, Vec<_>) = active
        .into_iter()
        .partition(|m| billed_net.contains_key(&m.id));

    let mut notes = Vec::new();
    let mut invoices = Vec::new();
    if !pending.is_empty() {
        let plan = plan_memberships(db, clock, year, &pending).await?;
        notes.extend(plan.skipped.iter().map(RunNote::skipped));
        invoices = one_per_membership(plan.invoices);
    }
    if !billed.is_empty() {
        notes.extend(differences(db, clock, year, &billed, &billed_net).await?);
    }
    Ok(SupplementPlan { invoices, notes })
}

/// Splits the run's per-account invoices into one per membership and instalment. They keep
/// the instalment they bill here, for the preview and the key; they are issued as NONE (see
/// the module docs).
fn one_per_membership(planned: Vec<PlannedInvoice>) -> Vec<PlannedInvoice> {
    let mut out = Vec::new();
    for invoice in planned {
        for line in invoice.invoice.lines {
            let Some(membership) = line.membership_id else {
                continue;
            };
            out.push(PlannedInvoice {
                invoice: NewInvoice {
                    account_id: invoice.invoice.account_id,
                    year: invoice.invoice.year,
                    instalment: invoice.invoice.instalment,
                    due_on: invoice.invoice.due_on,
                    lines: vec![line],
                    po_number: None,
                    source: invoice.invoice.source,
                    collection: invoice.invoice.collection,
                },
                memberships: vec![membership],
            });
        }
    }
    out
}

/// Notes for memberships invoiced at a different net from what they are priced at now.
async fn differences(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    billed: &[memberships::Membership],
    invoiced: &HashMap<MembershipId, Money>,
) -> Result<Vec<RunNote>, DomainError> {
    let Ok(now) = plan_memberships(db, clock, year, billed).await else {
        // A membership billed earlier that cannot be priced now (its schedule or account
        // went) is for finance to look at, but it must not stop the new members' invoices.
        return Ok(vec![RunNote {
            school_id: None,
            message: "some memberships already invoiced cannot be priced now, so their \
                      invoices were not compared with today's prices"
                .to_owned(),
        }]);
    };
    // A discount finance gave on a draft is part of what the membership was billed at.
    let discounts = super::drafts::discounts_of_year(db, year).await?;
    let mut priced: HashMap<MembershipId, i64> = HashMap::new();
    for line in now.invoices.iter().flat_map(|p| &p.invoice.lines) {
        if let Some(m) = line.membership_id {
            *priced.entry(m).or_default() += line.unit_amount.pence() * i64::from(line.quantity);
        }
    }
    let school_ids: Vec<_> = billed.iter().map(|m| m.school_id).collect();
    let schools = school::by_ids(db, &school_ids).await?;
    let mut notes = Vec::new();
    for membership in billed {
        let (Some(was), Some(now)) = (invoiced.get(&membership.id), priced.get(&membership.id))
        else {
            continue;
        };
        let given = discounts.get(&membership.id).map_or(0, |d| d.pence());
        if was.pence().saturating_add(given) == *now {
            continue;
        }
        let name = schools.get(&membership.school_id).map_or_else(
            || "A school".to_owned(),
            |s| format!("{} ({})", s.name, s.urn),
        );
        notes.push(RunNote {
            school_id: Some(membership.school_id),
            message: format!(
                "{name}: invoiced {} net for {year}, priced {} net now (its tier or roll \
                 changed): credit the invoice or raise a manual invoice for the difference",
                was,
                Money::from_pence(*now)
            ),
        });
    }
    Ok(notes)
}
