//! Termly instalments issued on their own dates.
//!
//! The run issues what is due now (the annual invoice, the autumn instalment, and any later
//! instalment whose term has already begun) and schedules the rest: each later instalment is
//! kept, priced as the run priced it, until the first day of its term, when
//! [`issue_due_instalments`] (the `issue-scheduled-instalments` job) issues it. An instalment
//! is thus dated when it is billed: the spring one in January, the summer one in April, in
//! the next financial year.
//!
//! **What can change before the day.** Prices do not: they are frozen at the run, like the
//! fee schedule they came from. Who pays can: a school moved to another account since the run
//! has its line issued to its new payer (one invoice per membership and instalment, keyed as
//! the supplementary run keys them, so never twice). A membership that ended (cancelled or
//! lapsed) before the day is not billed for that term; the row's note says so.
//!
//! **Once.** Issuing claims the row (PENDING → ISSUED by a conditional update) in the
//! transaction that issues its invoices, and the invoice itself is unique per (account, year,
//! instalment): two replicas, or a retry after a crash, issue nothing twice.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId, MembershipId,
    Money, Permission, SchoolId, Term,
};
use membership::memberships::{self, MembershipStatus};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use super::plan::PlannedInvoice;
use crate::ledger::support::{CorruptRow, is_unique_violation, named_enum, stored};
use crate::ledger::{
    self, Instalment, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine,
};

pub(super) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "scheduled_instalments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub account_id: Uuid,
        pub academic_year: i32,
        pub instalment: String,
        pub issue_on: Date,
        pub due_on: Date,
        pub lines: String,
        pub status: String,
        pub invoice_id: Option<Uuid>,
        pub note: Option<String>,
        pub created_at: DateTimeUtc,
        pub settled_at: Option<DateTimeUtc>,
        pub po_number: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

named_enum!(
    /// Where a scheduled instalment is.
    ScheduleStatus {
        /// Waiting for its term.
        Pending => "PENDING",
        Issued => "ISSUED",
        /// Every membership it billed ended before its term: nothing was issued.
        Cancelled => "CANCELLED",
    }
);

/// An instalment invoice the run planned for a later date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduledInstalment {
    pub id: uuid::Uuid,
    pub account_id: BillingAccountId,
    pub year: AcademicYear,
    pub instalment: Instalment,
    pub issue_on: NaiveDate,
    pub due_on: NaiveDate,
    pub lines: Vec<NewInvoiceLine>,
    /// The purchase-order number finance put on the draft of this instalment, if any.
    pub po_number: Option<String>,
    pub status: ScheduleStatus,
    /// The invoice issued to the account (lines moved to a new payer are invoiced to it).
    pub invoice_id: Option<InvoiceId>,
    /// What issuing changed from the plan.
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

impl ScheduledInstalment {
    fn from_row(row: entity::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!(
                "scheduled instalment {}: {what}",
                row.id
            )))
        };
        Ok(Self {
            id: row.id,
            account_id: BillingAccountId::from_uuid(row.account_id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            instalment: stored("instalment", &row.instalment)?,
            issue_on: row.issue_on,
            due_on: row.due_on,
            lines: serde_json::from_str(&row.lines).map_err(|_| corrupt("lines"))?,
            po_number: row.po_number,
            status: stored("schedule status", &row.status)?,
            invoice_id: row.invoice_id.map(InvoiceId::from_uuid),
            note: row.note,
            created_at: row.created_at,
            settled_at: row.settled_at,
        })
    }

    /// The lines' net, as they will be invoiced.
    #[must_use]
    pub fn net(&self) -> Money {
        Money::from_pence(
            self.lines
                .iter()
                .map(|l| l.unit_amount.pence().saturating_mul(i64::from(l.quantity)))
                .fold(0_i64, i64::saturating_add),
        )
    }
}

/// The day an instalment of `year` is issued: its term's first day. `None` for those issued
/// at the run (annual, autumn, and anything not a termly instalment).
#[must_use]
pub fn issue_on(instalment: Instalment, year: AcademicYear) -> Option<NaiveDate> {
    match instalment {
        Instalment::Spring => Some(Term::Spring.dates(year).0),
        Instalment::Summer => Some(Term::Summer.dates(year).0),
        Instalment::Annual | Instalment::Autumn | Instalment::None => None,
    }
}

/// What [`schedule`] did with a planned instalment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheduled {
    /// Kept for its date (a new row, or its lines added to the account's pending one).
    Kept,
    /// Its memberships were already in the account's pending row (a rerun).
    Already,
    /// The account's instalment was already issued: the caller issues it now instead.
    Closed,
}

/// Keeps `planned` for `issue_on`: a new row for its account and instalment, or its lines
/// added to the account's pending row (a late joiner on a trust's account).
pub(super) async fn schedule(
    db: &DatabaseConnection,
    planned: &PlannedInvoice,
    issue_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Scheduled, DomainError> {
    let invoice = &planned.invoice;
    let txn = db.begin_write().await?;
    let existing = entity::Entity::find()
        .filter(entity::Column::AccountId.eq(invoice.account_id.as_uuid()))
        .filter(entity::Column::AcademicYear.eq(invoice.year.start_year()))
        .filter(entity::Column::Instalment.eq(invoice.instalment.as_str()))
        .one(&txn)
        .await?;
    let outcome = match existing {
        None => {
            insert_rows(&txn, vec![new_row(planned, issue_on, now)?]).await?;
            Scheduled::Kept
        }
        Some(row) => keep_with(&txn, row, planned).await?,
    };
    txn.commit().await?;
    Ok(outcome)
}

/// [`schedule`] for a whole run's later instalments at once, answering each one's outcome in
/// order: one transaction, the new rows written [`INSERT_CHUNK`] to a statement. A run over
/// a national partnership schedules tens of thousands; one transaction each (a commit, and a
/// WAL flush, apiece on PostgreSQL) was a fifth of its time at 25,000 schools.
pub(super) async fn schedule_all(
    db: &DatabaseConnection,
    year: AcademicYear,
    planned: &[(&PlannedInvoice, NaiveDate)],
    now: DateTime<Utc>,
) -> Result<Vec<Scheduled>, DomainError> {
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let txn = db.begin_write().await?;
    let mut existing: HashMap<(uuid::Uuid, String), entity::Model> = entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|row| ((row.account_id, row.instalment.clone()), row))
        .collect();
    let mut outcomes = Vec::with_capacity(planned.len());
    let mut new_rows = Vec::new();
    for &(p, issue_on) in planned {
        let key = (
            p.invoice.account_id.as_uuid(),
            p.invoice.instalment.as_str().to_owned(),
        );
        match existing.remove(&key) {
            None => {
                new_rows.push(new_row(p, issue_on, now)?);
                outcomes.push(Scheduled::Kept);
            }
            Some(row) => outcomes.push(keep_with(&txn, row, p).await?),
        }
    }
    insert_rows(&txn, new_rows).await?;
    txn.commit().await?;
    Ok(outcomes)
}

/// Rows per INSERT of [`schedule_all`]: 13 columns, well inside both databases' limits.
const INSERT_CHUNK: usize = 500;

fn new_row(
    planned: &PlannedInvoice,
    issue_on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<entity::ActiveModel, DomainError> {
    let invoice = &planned.invoice;
    Ok(entity::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        account_id: Set(invoice.account_id.as_uuid()),
        academic_year: Set(invoice.year.start_year()),
        instalment: Set(invoice.instalment.as_str().to_owned()),
        issue_on: Set(issue_on),
        due_on: Set(invoice.due_on),
        lines: Set(serde_json::to_string(&invoice.lines).map_err(DomainError::internal)?),
        status: Set(ScheduleStatus::Pending.as_str().to_owned()),
        invoice_id: Set(None),
        note: Set(None),
        created_at: Set(now),
        settled_at: Set(None),
        po_number: Set(invoice.po_number.clone()),
    })
}

/// Writes new rows; another run scheduling the same instalment meanwhile is a conflict to
/// retry, never a second row.
async fn insert_rows<C: ConnectionTrait>(
    txn: &C,
    rows: Vec<entity::ActiveModel>,
) -> Result<(), DomainError> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(INSERT_CHUNK).collect();
        match entity::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await
        {
            Err(err) if is_unique_violation(&err) => {
                return Err(DomainError::invalid(
                    "academicYear",
                    ErrorCode::Conflict,
                    "another invoicing run scheduled the same instalment at the same \
                     moment: run it again",
                ));
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// `planned` for an account and instalment that already has a row: its new memberships'
/// lines added while the row is pending, else nothing to do.
async fn keep_with<C: ConnectionTrait>(
    txn: &C,
    row: entity::Model,
    planned: &PlannedInvoice,
) -> Result<Scheduled, DomainError> {
    let invoice = &planned.invoice;
    if row.status != ScheduleStatus::Pending.as_str() {
        return Ok(Scheduled::Closed);
    }
    let current = ScheduledInstalment::from_row(row.clone())?;
    let have: HashSet<MembershipId> = current
        .lines
        .iter()
        .filter_map(|l| l.membership_id)
        .collect();
    let new: Vec<NewInvoiceLine> = invoice
        .lines
        .iter()
        .filter(|l| l.membership_id.is_none_or(|m| !have.contains(&m)))
        .cloned()
        .collect();
    if new.is_empty() {
        return Ok(Scheduled::Already);
    }
    let mut lines = current.lines;
    lines.extend(new);
    // Only if nobody changed the row meanwhile (PostgreSQL runs two of these side by side;
    // SQLite one after the other).
    let updated = entity::Entity::update_many()
        .col_expr(
            entity::Column::Lines,
            Expr::value(serde_json::to_string(&lines).map_err(DomainError::internal)?),
        )
        .col_expr(
            entity::Column::DueOn,
            Expr::value(current.due_on.max(invoice.due_on)),
        )
        .filter(entity::Column::Id.eq(row.id))
        .filter(entity::Column::Lines.eq(row.lines))
        .filter(entity::Column::Status.eq(ScheduleStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(DomainError::invalid(
            "academicYear",
            ErrorCode::Conflict,
            "the instalment changed while it was being scheduled: run it again",
        ));
    }
    Ok(Scheduled::Kept)
}

/// The memberships pending instalments will bill in `year`, with their net: billed already,
/// as far as the supplementary run is concerned.
pub(super) async fn pending_memberships<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
) -> Result<HashMap<MembershipId, Money>, DomainError> {
    let rows = entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .filter(entity::Column::Status.eq(ScheduleStatus::Pending.as_str()))
        .all(db)
        .await?;
    let mut out: HashMap<MembershipId, Money> = HashMap::new();
    for row in rows {
        for line in ScheduledInstalment::from_row(row)?.lines {
            if let Some(m) = line.membership_id {
                let net = line
                    .unit_amount
                    .pence()
                    .checked_mul(i64::from(line.quantity))
                    .map(Money::from_pence)
                    .ok_or_else(|| DomainError::internal(CorruptRow("line net".into())))?;
                let sum = out.entry(m).or_insert_with(Money::zero);
                *sum = sum.checked_add(net).map_err(DomainError::internal)?;
            }
        }
    }
    Ok(out)
}

/// A year's scheduled instalments, by issue date then account. Finance and admins.
///
/// # Errors
/// `Forbidden` without `ManageBilling`.
pub async fn scheduled_instalments<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    year: AcademicYear,
) -> Result<Vec<ScheduledInstalment>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .order_by_asc(entity::Column::IssueOn)
        .order_by_asc(entity::Column::AccountId)
        .all(db)
        .await?
        .into_iter()
        .map(ScheduledInstalment::from_row)
        .collect()
}

/// What one sweep of [`issue_due_instalments`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuedInstalments {
    /// Scheduled instalments issued (each one invoice, plus one per line that moved payer).
    pub issued: u32,
    /// Scheduled instalments none of whose memberships were still running.
    pub cancelled: u32,
    /// The invoices issued, for the payment provider to mirror once they committed.
    pub invoices: Vec<InvoiceId>,
}

/// Issues every PENDING instalment whose day has come, each in its own transaction, as
/// Trellis. Safe to rerun and to run on two replicas at once.
pub async fn issue_due_instalments(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<IssuedInstalments, DomainError> {
    let due = entity::Entity::find()
        .filter(entity::Column::Status.eq(ScheduleStatus::Pending.as_str()))
        .filter(entity::Column::IssueOn.lte(clock.today()))
        .order_by_asc(entity::Column::IssueOn)
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?;
    let mut done = IssuedInstalments::default();
    for row in due {
        match issue_one(db, clock, ScheduledInstalment::from_row(row)?).await? {
            Some((ScheduleStatus::Issued, invoices)) => {
                done.issued += 1;
                done.invoices.extend(invoices);
            }
            Some((ScheduleStatus::Cancelled, _)) => done.cancelled += 1,
            _ => {}
        }
    }
    Ok(done)
}

/// Issues one scheduled instalment, answering how it ended and the invoices it issued;
/// `None` when another worker had already.
async fn issue_one(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    scheduled: ScheduledInstalment,
) -> Result<Option<(ScheduleStatus, Vec<InvoiceId>)>, DomainError> {
    let actor = Actor::System;
    let today = clock.today();
    // Read outside the transaction: the directory and memberships are not ours to lock, and
    // a change to them a moment later is the next term's business.
    let membership_ids: Vec<MembershipId> = scheduled
        .lines
        .iter()
        .filter_map(|l| l.membership_id)
        .collect();
    let running: HashSet<MembershipId> = memberships::by_ids(db, &membership_ids)
        .await?
        .into_values()
        .filter(|m| m.status == MembershipStatus::Active)
        .map(|m| m.id)
        .collect();
    let schools: Vec<SchoolId> = scheduled.lines.iter().filter_map(|l| l.school_id).collect();
    let payers = ledger::accounts::accounts_of_schools(db, &schools).await?;

    let mut notes = Vec::new();
    let mut stay = Vec::new();
    let mut moved: Vec<(BillingAccountId, NewInvoiceLine)> = Vec::new();
    for line in scheduled.lines.iter().cloned() {
        if line.membership_id.is_some_and(|m| !running.contains(&m)) {
            notes.push(format!(
                "not billed, its membership ended: {}",
                line.description
            ));
            continue;
        }
        match line.school_id.and_then(|s| payers.get(&s)) {
            Some(payer) if payer.id != scheduled.account_id => {
                notes.push(format!("invoiced to its new payer: {}", line.description));
                moved.push((payer.id, line));
            }
            _ => stay.push(line),
        }
    }
    // Keep the payment terms the run gave, counted from the day it is actually issued.
    let terms = scheduled.due_on - scheduled.issue_on;
    let due_on = scheduled.due_on.max(today + terms);

    let txn = db.begin_write().await?;
    let now = clock.now();
    let claimed = entity::Entity::update_many()
        .col_expr(
            entity::Column::Status,
            Expr::value(ScheduleStatus::Issued.as_str()),
        )
        .col_expr(entity::Column::SettledAt, Expr::value(now))
        .filter(entity::Column::Id.eq(scheduled.id))
        .filter(entity::Column::Status.eq(ScheduleStatus::Pending.as_str()))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(None);
    }
    let mut invoice_id = None;
    let mut issued_ids = Vec::new();
    if !stay.is_empty() {
        let issued = ledger::issue_invoice(
            &txn,
            &actor,
            clock,
            NewInvoice {
                account_id: scheduled.account_id,
                year: scheduled.year,
                instalment: scheduled.instalment,
                due_on,
                lines: stay,
                po_number: scheduled.po_number.clone(),
                source: InvoiceSource::MembershipRun,
                collection: InvoiceCollection::Send,
            },
        )
        .await?;
        invoice_id = Some(issued.invoice.id.as_uuid());
        issued_ids.push(issued.invoice.id);
    }
    let moved_any = !moved.is_empty();
    for (payer, line) in moved {
        let Some(membership) = line.membership_id else {
            continue;
        };
        let keyed = super::keyed::issue_keyed_in(
            &txn,
            &actor,
            clock,
            membership,
            scheduled.instalment,
            NewInvoice {
                account_id: payer,
                year: scheduled.year,
                instalment: Instalment::None,
                due_on,
                lines: vec![line],
                po_number: None,
                source: InvoiceSource::MembershipRun,
                collection: InvoiceCollection::Send,
            },
        )
        .await?;
        if let super::keyed::KeyedIssue::Issued(invoice) = &keyed {
            issued_ids.push(invoice.id);
        }
        if matches!(keyed, super::keyed::KeyedIssue::Raced) {
            txn.rollback().await?;
            return Err(DomainError::invalid(
                "academicYear",
                ErrorCode::Conflict,
                "a supplementary run issued the same instalment at the same moment",
            ));
        }
    }
    let status = if invoice_id.is_some() || moved_any {
        ScheduleStatus::Issued
    } else {
        ScheduleStatus::Cancelled
    };
    entity::Entity::update_many()
        .col_expr(entity::Column::Status, Expr::value(status.as_str()))
        .col_expr(entity::Column::InvoiceId, Expr::value(invoice_id))
        .col_expr(
            entity::Column::Note,
            Expr::value((!notes.is_empty()).then(|| notes.join("; "))),
        )
        .filter(entity::Column::Id.eq(scheduled.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(
        account = %scheduled.account_id,
        year = %scheduled.year,
        instalment = %scheduled.instalment.as_str(),
        status = status.as_str(),
        "scheduled instalment issued"
    );
    Ok(Some((status, issued_ids)))
}
