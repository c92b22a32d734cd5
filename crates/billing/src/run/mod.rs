//! The membership invoicing run: every active membership of an academic year, priced by its
//! tier's fee schedule, invoiced to the account that pays for the school — annually or in
//! three termly instalments, the later two issued on the first day of their terms
//! ([`schedule`]).
//!
//! Safe to repeat by construction: each invoice is idempotent by account, year and
//! instalment ([`crate::ledger::issue_invoices`], which commits them in chunks), and the run
//! row records progress, so a run interrupted half-way (a crash, a deploy) completes on rerun
//! without duplicating anything, while a *finished* year is refused rather than silently run
//! again. Before the first invoice is written the whole run is planned ([`plan`]), so one
//! school that cannot be priced for want of a fee schedule or a paying account stops the run
//! with nothing written.
//! A school without a roll for its schedule's census is its own problem, not everyone's: it is
//! left out, named in the run's notes, and invoiced by the [`supplement`]ary run once its roll
//! is recorded. Each schedule reads the roll of its own census from the school's roll history,
//! so a January census recorded after October does not unprice an October schedule.

pub mod drafts;
mod entity;
mod keyed;
pub mod plan;
pub mod schedule;
mod supplement;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, FieldError, InvoicingRunId, Money,
    Permission, SchoolId, UserId,
};
use membership::{memberships, school};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::fees;
use crate::ledger;
pub use plan::{MEMBERSHIP_CFR_CODE, Plan, PlannedInvoice, RunInputs, Skipped};
pub use schedule::{
    IssuedInstalments, ScheduleStatus, ScheduledInstalment, issue_due_instalments,
    scheduled_instalments,
};
pub use supplement::{Supplement, SupplementPlan, supplement, supplement_preview};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Prepared as drafts ([`drafts`]) for finance to review: nothing issued, no number taken.
    Draft,
    /// Started and not yet finished: running now, or interrupted (start it again to finish).
    InProgress,
    Completed,
}

impl RunStatus {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "DRAFT" => Some(Self::Draft),
            "IN_PROGRESS" => Some(Self::InProgress),
            "COMPLETED" => Some(Self::Completed),
            _ => None,
        }
    }
}

/// Something finance should know about a run that did not stop it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunNote {
    pub school_id: Option<SchoolId>,
    pub message: String,
}

impl RunNote {
    /// The note of a membership a run left out.
    fn skipped(skipped: &Skipped) -> Self {
        Self {
            school_id: Some(skipped.school),
            message: format!(
                "{}: not invoiced; record the roll, then run the supplementary invoicing",
                skipped.reason
            ),
        }
    }
}

/// The invoicing of one academic year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicingRun {
    pub id: InvoicingRunId,
    pub year: AcademicYear,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub started_by: Option<UserId>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Invoices this run issued.
    pub invoices_created: u32,
    /// Invoices it found already issued (by an interrupted attempt) and left alone.
    pub invoices_existing: u32,
    /// The total of every invoice of the run, created or found.
    pub total: Money,
    pub notes: Vec<RunNote>,
}

impl InvoicingRun {
    fn from_row(row: &entity::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(school::CorruptRow(format!(
                "invoicing run {}: {what}",
                row.id
            )))
        };
        Ok(Self {
            id: InvoicingRunId::from_uuid(row.id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            status: RunStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            started_at: row.started_at,
            started_by: row.started_by.map(UserId::from_uuid),
            completed_at: row.completed_at,
            invoices_created: u32::try_from(row.invoices_created).map_err(|_| corrupt("count"))?,
            invoices_existing: u32::try_from(row.invoices_existing)
                .map_err(|_| corrupt("count"))?,
            total: Money::from_pence(row.total_pence),
            notes: serde_json::from_str(&row.notes).map_err(|_| corrupt("notes"))?,
        })
    }
}

/// Invoices every active membership of `year`, or finishes an interrupted run of it.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `Invalid` on `academicYear` when the year was already
/// invoiced, has no active memberships, or any membership has no fee schedule or no paying
/// account (one error per membership, nothing written). A membership priced per pupil whose
/// school has no roll for the census is left out and named in the notes instead.
pub async fn start(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<InvoicingRun, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let existing = find(db, year).await?;
    match &existing {
        Some(run) if run.status == RunStatus::Completed => return Err(already_invoiced(run)),
        Some(run) if run.status == RunStatus::Draft => {
            return Err(year_error(
                ErrorCode::Conflict,
                format!(
                    "{year} was prepared as drafts on {}: review and issue them \
                     (invoicingRunIssue), or discard them (invoicingRunDiscard) first",
                    run.started_at.format("%-d %b %Y")
                ),
            ));
        }
        // An issue of drafts interrupted half-way finishes as drafts, adjustments and all.
        Some(run) if drafts::exist(db, year).await? => {
            return drafts::issue_prepared(db, actor, clock, run.clone()).await;
        }
        _ => {}
    }

    let planned = plan_and_freeze(db, actor, clock, year).await?;
    let run = match existing {
        Some(run) => run,
        None => create(db, actor, clock, year, RunStatus::InProgress, &[]).await?,
    };
    tracing::info!(%year, run = %run.id, invoices = planned.invoices.len(), skipped = planned.skipped.len(), "invoicing run");
    let notes: Vec<RunNote> = planned.skipped.iter().map(RunNote::skipped).collect();
    let done = issue_planned(db, actor, clock, &run, planned.invoices, notes).await?;
    complete(db, &run, done, clock.now()).await
}

/// What issuing a run's planned invoices came to, for its row.
struct Issued {
    created: u32,
    found: u32,
    total: Money,
    notes: Vec<RunNote>,
}

/// Issues what is due now of `invoices` and schedules the later instalments: the body of a
/// run, whether planned just now or prepared as drafts. Safe to repeat: each invoice is
/// idempotent by account, year and instalment, and each scheduled row by the same three.
async fn issue_planned(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    run: &InvoicingRun,
    invoices: Vec<PlannedInvoice>,
    mut notes: Vec<RunNote>,
) -> Result<Issued, DomainError> {
    let year = run.year;
    let mut created = 0_u32;
    let mut found = 0_u32;
    let mut total = Money::zero();
    let today = clock.today();
    let mut waiting: std::collections::BTreeMap<chrono::NaiveDate, u32> =
        std::collections::BTreeMap::new();
    // Later terms' instalments are issued on their own day (see `schedule`): all kept at once.
    let later: Vec<(&PlannedInvoice, chrono::NaiveDate)> = invoices
        .iter()
        .filter_map(|p| {
            schedule::issue_on(p.invoice.instalment, year)
                .filter(|d| *d > today)
                .map(|day| (p, day))
        })
        .collect();
    let outcomes = schedule::schedule_all(db, year, &later, clock.now()).await?;
    let mut kept: HashSet<(kernel::BillingAccountId, ledger::Instalment)> = HashSet::new();
    for ((p, day), outcome) in later.iter().zip(outcomes) {
        match outcome {
            schedule::Scheduled::Kept | schedule::Scheduled::Already => {
                *waiting.entry(*day).or_default() += 1;
                kept.insert((p.invoice.account_id, p.invoice.instalment));
            }
            // Issued by an earlier attempt of this run: found below.
            schedule::Scheduled::Closed => {}
        }
    }
    // What is due now, in chunks of `ledger::issuing::ISSUE_CHUNK` invoices per transaction.
    let due: Vec<ledger::NewInvoice> = invoices
        .into_iter()
        .map(|p| p.invoice)
        .filter(|i| !kept.contains(&(i.account_id, i.instalment)))
        .collect();
    for outcome in ledger::issue_invoices(db, actor, clock, due).await? {
        if outcome.created {
            created += 1;
        } else {
            found += 1;
            notes.push(RunNote {
                school_id: None,
                message: format!(
                    "{} was already issued (an earlier attempt of this run) and was left as it is",
                    outcome.invoice.number
                ),
            });
        }
        total = total
            .checked_add(outcome.invoice.total)
            .map_err(DomainError::internal)?;
    }

    for (day, count) in waiting {
        notes.push(RunNote {
            school_id: None,
            message: format!(
                "{count} instalment invoice(s) are scheduled for {}, the first day of their \
                 term, and will be issued then",
                day.format("%-d %B %Y")
            ),
        });
    }
    Ok(Issued {
        created,
        found,
        total,
        notes,
    })
}

/// Marks `run` completed with what it issued.
async fn complete<C: sea_orm::ConnectionTrait>(
    db: &C,
    run: &InvoicingRun,
    done: Issued,
    now: DateTime<Utc>,
) -> Result<InvoicingRun, DomainError> {
    let row = entity::ActiveModel {
        id: Set(run.id.as_uuid()),
        status: Set(RunStatus::Completed.as_str().to_owned()),
        completed_at: Set(Some(now)),
        invoices_created: Set(i32::try_from(done.created).map_err(DomainError::internal)?),
        invoices_existing: Set(i32::try_from(done.found).map_err(DomainError::internal)?),
        total_pence: Set(done.total.pence()),
        notes: Set(serde_json::to_string(&done.notes).map_err(DomainError::internal)?),
        ..Default::default()
    };
    InvoicingRun::from_row(&row.update(db).await?)
}

/// The refusal of a year already invoiced.
fn already_invoiced(run: &InvoicingRun) -> DomainError {
    year_error(
        ErrorCode::Conflict,
        format!(
            "{} was invoiced on {}; memberships activated since are invoiced by the supplementary run (invoicingSupplementRun), and a credit note or a manual invoice (invoiceCreate) changes what was issued",
            run.year,
            run.completed_at
                .unwrap_or(run.started_at)
                .format("%-d %b %Y")
        ),
    )
}

/// The run of `year`, if one was started. Finance and admins.
///
/// # Errors
/// `Forbidden` without `ManageBilling`.
pub async fn of_year(
    db: &DatabaseConnection,
    actor: &Actor,
    year: AcademicYear,
) -> Result<Option<InvoicingRun>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    find(db, year).await
}

/// Every run, newest year first. Finance and admins.
///
/// # Errors
/// `Forbidden` without `ManageBilling`.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
) -> Result<Vec<InvoicingRun>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    entity::Entity::find()
        .order_by_desc(entity::Column::AcademicYear)
        .all(db)
        .await?
        .into_iter()
        .map(|row| InvoicingRun::from_row(&row))
        .collect()
}

/// What the run would issue for `year`, and whom it would leave out, without issuing
/// anything: finance's preview.
///
/// # Errors
/// As [`start`] for memberships that cannot be invoiced.
pub async fn preview(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<Plan, DomainError> {
    actor.require(Permission::ManageBilling)?;
    plan_year(db, clock, year).await
}

/// Checks the whole year can be invoiced before writing anything, then freezes the prices
/// and plans again from the frozen schedules: a schedule edited between the check and the
/// lock can then never be invoiced at its old price and locked at its new one.
async fn plan_and_freeze(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<Plan, DomainError> {
    plan_year(db, clock, year).await?;
    // One transaction, so each lock commits with its trail entry (credited to whoever
    // started the run).
    let schedules = fees::schedules_for_year(db, &Actor::System, year).await?;
    let txn = db.begin_write().await?;
    for schedule in schedules {
        fees::lock_schedule(&txn, actor, schedule.id, clock).await?;
    }
    txn.commit().await?;
    plan_year(db, clock, year).await
}

/// Plans the year's active memberships.
async fn plan_year(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<Plan, DomainError> {
    let active = memberships::active_for_year(db, year).await?;
    if active.is_empty() {
        return Err(year_error(
            ErrorCode::NotFound,
            format!("{year} has no active memberships to invoice"),
        ));
    }
    plan_memberships(db, clock, year, &active).await
}

/// Loads everything the planner needs for `active` in a fixed number of statements, and
/// plans.
async fn plan_memberships(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    active: &[memberships::Membership],
) -> Result<Plan, DomainError> {
    let school_ids: Vec<SchoolId> = active.iter().map(|m| m.school_id).collect();
    let schools = school::by_ids(db, &school_ids).await?;
    let rolls: HashMap<_, Vec<_>> = school::roll_history_of(db, &school_ids)
        .await?
        .into_iter()
        .map(|(id, history)| (id, history.into_iter().map(|r| r.roll).collect()))
        .collect();
    let tier_ids: Vec<_> = active
        .iter()
        .map(|m| m.tier_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let tier_codes: HashMap<_, _> = memberships::tiers_by_ids(db, &tier_ids)
        .await?
        .into_iter()
        .map(|(id, tier)| (id, tier.code))
        .collect();
    let schedules: HashMap<_, _> = fees::schedules_for_year(db, &Actor::System, year)
        .await?
        .into_iter()
        .map(|s| (s.tier_id, s))
        .collect();
    let accounts: HashMap<_, _> = ledger::accounts::accounts_of_schools(db, &school_ids)
        .await?
        .into_iter()
        .map(|(school, account)| (school, account.id))
        .collect();
    plan::plan(&RunInputs {
        year,
        today: clock.today(),
        memberships: active,
        schools: &schools,
        rolls: &rolls,
        schedules: &schedules,
        accounts: &accounts,
        tier_codes: &tier_codes,
    })
    .map_err(DomainError::Invalid)
}

async fn find(
    db: &DatabaseConnection,
    year: AcademicYear,
) -> Result<Option<InvoicingRun>, DomainError> {
    entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .one(db)
        .await?
        .map(|row| InvoicingRun::from_row(&row))
        .transpose()
}

async fn create<C: sea_orm::ConnectionTrait>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
    status: RunStatus,
    notes: &[RunNote],
) -> Result<InvoicingRun, DomainError> {
    let row = entity::ActiveModel {
        id: Set(InvoicingRunId::new().as_uuid()),
        academic_year: Set(year.start_year()),
        status: Set(status.as_str().to_owned()),
        started_at: Set(clock.now()),
        started_by: Set(actor.as_user().map(|u| u.id.as_uuid())),
        completed_at: Set(None),
        invoices_created: Set(0),
        invoices_existing: Set(0),
        total_pence: Set(0),
        notes: Set(serde_json::to_string(notes).map_err(DomainError::internal)?),
    };
    match row.insert(db).await {
        Ok(row) => InvoicingRun::from_row(&row),
        // Another start of the same year won the race: it is invoicing; this one stops.
        Err(err) if is_unique_violation(&err) => Err(year_error(
            ErrorCode::Conflict,
            format!("an invoicing run for {year} is already under way"),
        )),
        Err(err) => Err(err.into()),
    }
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

fn year_error(code: ErrorCode, message: String) -> DomainError {
    DomainError::Invalid(vec![FieldError::new("academicYear", code, message)])
}
