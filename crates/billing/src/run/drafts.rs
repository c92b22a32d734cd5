//! Draft invoicing runs: the year's membership invoices prepared for finance to review before
//! any is issued.
//!
//! [`prepare`] plans the run exactly as [`super::start`] would — the same checks, the fee
//! schedules frozen the same way — and keeps each planned invoice as a draft: one per account
//! and instalment, with no number. Finance reviews them and adjusts:
//! - [`exclude_school`] leaves a school out of this run (the supplementary run invoices it
//!   later, when finance is ready);
//! - [`set_po_number`] puts the account's purchase-order number on a draft;
//! - [`set_discount`] takes an amount off a school's line, with a label the invoice shows.
//!
//! [`issue`] then issues the drafts as they stand, taking invoice numbers only now, so the
//! series stays gap-free; later terms' instalments are scheduled for their days as in a
//! direct run. [`discard`] throws the drafts away (the schedules stay frozen, as after any
//! run attempt).
//!
//! **Discounts are netted into the line**, never a negative line: invoice lines are never
//! negative in this ledger (see [`crate::ledger::NewInvoiceLine`]), VAT is charged on each
//! line's net after discounts (the fee engine's rule), and the line's description names the
//! discount and its amount, so the invoice still shows it.
//!
//! **Once, and crash-safe.** Issuing first moves the run from DRAFT to IN_PROGRESS by a
//! conditional update, then issues through the same path as a direct run, idempotent per
//! account, year and instalment. A run interrupted half-way is finished, from its drafts, by
//! issuing again or by [`super::start`] (the resume job's call). Once the run is COMPLETED
//! its drafts stay, read-only: the record of what finance reviewed and of the discounts it
//! gave, which the supplementary run counts as billed (a discounted membership is not "priced
//! differently now"). Each adjustment holds the run row for its
//! transaction and requires it to be DRAFT, so no adjustment lands after issuing has read the
//! drafts.
//!
//! **What changed since preparing.** Drafts wait days for review while the directory moves
//! on. A school that another account pays for now refuses the issue, with nothing written, until
//! the drafts are discarded and prepared again (its invoice would go to the wrong payer). A
//! membership cancelled or lapsed since is left off its invoice, and the run's notes say so,
//! as a scheduled instalment does on its day.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, BillingAccountId, Clock, DomainError, ErrorCode, FieldError,
    InvoiceDraftId, MembershipId, Money, Permission, SchoolId,
};
use membership::{Page, PageArgs, fetch_page, school};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::plan::PlannedInvoice;
use super::{InvoicingRun, RunNote, RunStatus, year_error};
use crate::ledger::audit::{self, AuditEntity};
use crate::ledger::support::{CorruptRow, optional_text, required_text, stored};
use crate::ledger::{Instalment, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine};

pub(super) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_drafts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub academic_year: i32,
        pub account_id: Uuid,
        pub instalment: String,
        pub position: i32,
        pub due_on: Date,
        pub po_number: Option<String>,
        pub lines: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The longest discount label: it goes into the invoice line's description.
pub const DISCOUNT_LABEL_MAX: usize = 100;
/// How many drafts one INSERT writes when preparing.
const INSERT_CHUNK: usize = 200;

/// An amount finance takes off one school's line, e.g. "Hardship discount", £250.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftDiscount {
    pub label: String,
    pub amount: Money,
}

/// One school's line of a draft: the price the run worked out, and finance's adjustments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftLine {
    /// The line as the run planned it.
    pub planned: NewInvoiceLine,
    /// Left out of this run by finance.
    pub excluded: bool,
    pub discount: Option<DraftDiscount>,
}

impl DraftLine {
    /// The line's net as planned.
    #[must_use]
    pub fn planned_net(&self) -> Money {
        Money::from_pence(
            self.planned
                .unit_amount
                .pence()
                .saturating_mul(i64::from(self.planned.quantity)),
        )
    }

    /// The net the invoice will charge for it: nothing if excluded, else after its discount.
    #[must_use]
    pub fn net(&self) -> Money {
        if self.excluded {
            return Money::zero();
        }
        let off = self.discount.as_ref().map_or(0, |d| d.amount.pence());
        Money::from_pence(self.planned_net().pence().saturating_sub(off))
    }

    /// The invoice line it becomes: the discount netted into the amount and named in the
    /// description. Discounts are only allowed on lines of quantity one ([`set_discount`]).
    fn to_invoice_line(&self) -> NewInvoiceLine {
        let mut line = self.planned.clone();
        if let Some(discount) = &self.discount {
            line.unit_amount = self.net();
            line.description = format!(
                "{} (less {}: {})",
                line.description, discount.label, discount.amount
            );
        }
        line
    }
}

/// A membership invoice prepared and not yet issued: no number, changeable by finance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceDraft {
    pub id: InvoiceDraftId,
    pub year: AcademicYear,
    pub account_id: BillingAccountId,
    pub instalment: Instalment,
    /// Its place in the run's plan (by account, then instalment).
    pub position: i32,
    /// As planned on the day the drafts were prepared; issuing later moves it on by as many
    /// days, so the payment terms run from the invoice's date.
    pub due_on: NaiveDate,
    pub po_number: Option<String>,
    pub lines: Vec<DraftLine>,
    pub updated_at: DateTime<Utc>,
}

impl InvoiceDraft {
    fn from_row(row: entity::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!("invoice draft {}: {what}", row.id)))
        };
        Ok(Self {
            id: InvoiceDraftId::from_uuid(row.id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            account_id: BillingAccountId::from_uuid(row.account_id),
            instalment: stored("instalment", &row.instalment)?,
            position: row.position,
            due_on: row.due_on,
            po_number: row.po_number,
            lines: serde_json::from_str(&row.lines).map_err(|_| corrupt("lines"))?,
            updated_at: row.updated_at,
        })
    }

    /// The keyset sort key: review order.
    #[must_use]
    pub fn sort_key(&self) -> (i32, uuid::Uuid) {
        (self.position, self.id.as_uuid())
    }

    /// The net it will invoice: its lines not excluded, after their discounts.
    #[must_use]
    pub fn net(&self) -> Money {
        Money::from_pence(
            self.lines
                .iter()
                .map(|l| l.net().pence())
                .fold(0, i64::saturating_add),
        )
    }

    /// Every line excluded: issuing leaves it out altogether.
    #[must_use]
    pub fn is_left_out(&self) -> bool {
        self.lines.iter().all(|l| l.excluded)
    }

    /// The invoice to issue, due on `due_on`; `None` when every line is
    /// excluded.
    fn to_planned(&self, due_on: NaiveDate) -> Option<PlannedInvoice> {
        let included: Vec<&DraftLine> = self.lines.iter().filter(|l| !l.excluded).collect();
        if included.is_empty() {
            return None;
        }
        Some(PlannedInvoice {
            invoice: NewInvoice {
                account_id: self.account_id,
                year: self.year,
                instalment: self.instalment,
                due_on,
                lines: included.iter().map(|l| l.to_invoice_line()).collect(),
                po_number: self.po_number.clone(),
                source: InvoiceSource::MembershipRun,
                collection: InvoiceCollection::Send,
            },
            memberships: included
                .iter()
                .filter_map(|l| l.planned.membership_id)
                .collect(),
        })
    }

    fn model(&self, created_at: DateTime<Utc>) -> Result<entity::ActiveModel, DomainError> {
        Ok(entity::ActiveModel {
            id: Set(self.id.as_uuid()),
            academic_year: Set(self.year.start_year()),
            account_id: Set(self.account_id.as_uuid()),
            instalment: Set(self.instalment.as_str().to_owned()),
            position: Set(self.position),
            due_on: Set(self.due_on),
            po_number: Set(self.po_number.clone()),
            lines: Set(serde_json::to_string(&self.lines).map_err(DomainError::internal)?),
            created_at: Set(created_at),
            updated_at: Set(self.updated_at),
        })
    }
}

/// Whether `year` has drafts: prepared, being issued, or issued.
pub(super) async fn exist<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
) -> Result<bool, DomainError> {
    Ok(entity::Entity::find()
        .select_only()
        .column(entity::Column::Id)
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .into_tuple::<uuid::Uuid>()
        .one(db)
        .await?
        .is_some())
}

/// Prepares `year`'s run as drafts: checked, priced and frozen as [`super::start`] would, and
/// nothing issued. Preparing a year already prepared returns its run unchanged.
///
/// # Errors
/// As [`super::start`]: `Forbidden` without `ManageBilling`; `Invalid` on `academicYear` when
/// the year was invoiced, a run is under way, it has no active memberships, or a membership
/// has no fee schedule or paying account (nothing written).
pub async fn prepare(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<InvoicingRun, DomainError> {
    actor.require(Permission::ManageBilling)?;
    match super::find(db, year).await? {
        Some(run) if run.status == RunStatus::Draft => return Ok(run),
        Some(run) if run.status == RunStatus::Completed => {
            return Err(super::already_invoiced(&run));
        }
        Some(_) => return Err(under_way(year)),
        None => {}
    }
    let planned = super::plan_and_freeze(db, actor, clock, year).await?;
    let notes: Vec<RunNote> = planned.skipped.iter().map(RunNote::skipped).collect();
    let now = clock.now();
    let drafts: Vec<InvoiceDraft> = planned
        .invoices
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(InvoiceDraft {
                id: InvoiceDraftId::new(),
                year,
                account_id: p.invoice.account_id,
                instalment: p.invoice.instalment,
                position: i32::try_from(i).map_err(DomainError::internal)?,
                due_on: p.invoice.due_on,
                po_number: None,
                lines: p
                    .invoice
                    .lines
                    .into_iter()
                    .map(|planned| DraftLine {
                        planned,
                        excluded: false,
                        discount: None,
                    })
                    .collect(),
                updated_at: now,
            })
        })
        .collect::<Result<_, DomainError>>()?;

    let txn = db.begin_write().await?;
    let run = super::create(&txn, actor, clock, year, RunStatus::Draft, &notes).await?;
    for chunk in drafts.chunks(INSERT_CHUNK) {
        let models = chunk
            .iter()
            .map(|d| d.model(now))
            .collect::<Result<Vec<_>, _>>()?;
        entity::Entity::insert_many(models).exec(&txn).await?;
    }
    txn.commit().await?;
    tracing::info!(%year, run = %run.id, drafts = drafts.len(), "invoicing run prepared as drafts");
    Ok(run)
}

/// A page of `year`'s drafts, in review order. Finance and admins.
///
/// # Errors
/// `Forbidden` without `ManageBilling`.
pub async fn drafts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    year: AcademicYear,
    args: &PageArgs<(i32, uuid::Uuid)>,
) -> Result<Page<InvoiceDraft>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let select = entity::Entity::find().filter(entity::Column::AcademicYear.eq(year.start_year()));
    let page = fetch_page(
        db,
        select,
        entity::Column::Position,
        entity::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(InvoiceDraft::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// What `year`'s drafts add up to, for the review's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DraftTotals {
    /// Drafts that will be issued (not every line excluded).
    pub invoices: u32,
    /// Their net, after discounts.
    pub net: Money,
    /// Schools left out by finance.
    pub schools_excluded: u32,
    /// The discounts given.
    pub discounts: Money,
}

/// The totals of `year`'s drafts (one statement, read in full: they are a year's invoices).
///
/// # Errors
/// `Forbidden` without `ManageBilling`.
pub async fn totals<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    year: AcademicYear,
) -> Result<DraftTotals, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut totals = DraftTotals {
        invoices: 0,
        net: Money::zero(),
        schools_excluded: 0,
        discounts: Money::zero(),
    };
    let mut excluded = std::collections::HashSet::new();
    for draft in all_of(db, year).await? {
        if !draft.is_left_out() {
            totals.invoices += 1;
        }
        totals.net = Money::from_pence(totals.net.pence().saturating_add(draft.net().pence()));
        for line in &draft.lines {
            if line.excluded {
                excluded.extend(line.planned.school_id);
            } else if let Some(d) = &line.discount {
                totals.discounts =
                    Money::from_pence(totals.discounts.pence().saturating_add(d.amount.pence()));
            }
        }
    }
    totals.schools_excluded = u32::try_from(excluded.len()).unwrap_or(u32::MAX);
    Ok(totals)
}

async fn all_of<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
) -> Result<Vec<InvoiceDraft>, DomainError> {
    entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .order_by_asc(entity::Column::Position)
        .order_by_asc(entity::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(InvoiceDraft::from_row)
        .collect()
}

/// Sets or clears the purchase-order number the draft's invoice will carry.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `NotFound` for an unknown draft; `Invalid` on
/// `poNumber` over 50 characters; `Invalid` (CONFLICT) on `id` once the run is being issued.
pub async fn set_po_number(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceDraftId,
    po_number: Option<&str>,
) -> Result<InvoiceDraft, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let po = optional_text("poNumber", po_number, crate::ledger::invoices::PO_MAX)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    adjust(
        db,
        actor,
        clock,
        id,
        "invoice_draft.po_number_set",
        |draft| {
            draft.po_number = po;
            Ok(())
        },
    )
    .await
}

/// What finance asks to take off a school's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountInput {
    pub label: String,
    pub amount: Money,
}

/// Sets (or, with `None`, removes) the discount on `school`'s line of the draft.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `NotFound` for an unknown draft; `Invalid` on
/// `schoolId` when the draft has no line for the school, on `discount.label` when blank or
/// over 100 characters, on `discount.amount` when not a positive amount up to the line's net;
/// `Invalid` (CONFLICT) on `id` once the run is being issued.
pub async fn set_discount(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceDraftId,
    school: SchoolId,
    discount: Option<DiscountInput>,
) -> Result<InvoiceDraft, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let discount = discount.as_ref().map(check_discount).transpose()?;
    adjust(
        db,
        actor,
        clock,
        id,
        "invoice_draft.discount_set",
        |draft| {
            let line = draft
                .lines
                .iter_mut()
                .find(|l| l.planned.school_id == Some(school))
                .ok_or_else(|| {
                    DomainError::invalid(
                        "schoolId",
                        ErrorCode::NotFound,
                        "this draft has no line for the school",
                    )
                })?;
            if let Some(d) = &discount {
                let net = line.planned_net();
                if line.planned.quantity != 1 {
                    return Err(DomainError::invalid(
                        "schoolId",
                        ErrorCode::Invalid,
                        "a discount goes on a membership line of quantity one",
                    ));
                }
                if d.amount.pence() > net.pence() {
                    return Err(DomainError::invalid(
                        "discount.amountPence",
                        ErrorCode::OutOfRange,
                        format!("at most the line's net, {net}"),
                    ));
                }
            }
            line.discount = discount;
            Ok(())
        },
    )
    .await
}

fn check_discount(input: &DiscountInput) -> Result<DraftDiscount, DomainError> {
    let mut problems = Vec::new();
    let label = required_text("discount.label", &input.label, DISCOUNT_LABEL_MAX)
        .map_err(|e| problems.push(e))
        .ok();
    let amount = Money::bounded_input("discount.amountPence", input.amount)
        .map_err(|e| problems.push(e))
        .ok();
    match (label, amount) {
        (Some(label), Some(amount)) if problems.is_empty() => Ok(DraftDiscount { label, amount }),
        _ => Err(DomainError::Invalid(problems)),
    }
}

/// Leaves `school` out of `year`'s run (or, with `excluded` false, puts it back): every line
/// of it, on every draft. Answers the drafts changed.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `Invalid` on `schoolId` when no draft of the year
/// bills the school; `Invalid` (CONFLICT) on `academicYear` when the year has no run in
/// DRAFT.
pub async fn exclude_school(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
    school: SchoolId,
    excluded: bool,
) -> Result<Vec<InvoiceDraft>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let txn = db.begin_write().await?;
    hold_draft_run(&txn, year, "academicYear").await?;
    // The school's id is in the JSON of its lines: only those rows are read.
    let rows = entity::Entity::find()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .filter(entity::Column::Lines.contains(school.as_uuid().to_string()))
        .order_by_asc(entity::Column::Position)
        .all(&txn)
        .await?;
    let now = clock.now();
    let mut changed = Vec::new();
    for row in rows {
        let before = InvoiceDraft::from_row(row)?;
        let mut after = before.clone();
        let mut touched = false;
        for line in &mut after.lines {
            if line.planned.school_id == Some(school) {
                touched = true;
                line.excluded = excluded;
            }
        }
        if !touched {
            continue;
        }
        after.updated_at = now;
        save(
            &txn,
            actor,
            clock,
            "invoice_draft.school_excluded",
            &before,
            &after,
        )
        .await?;
        changed.push(after);
    }
    if changed.is_empty() {
        return Err(DomainError::invalid(
            "schoolId",
            ErrorCode::NotFound,
            format!("no {year} draft bills this school"),
        ));
    }
    txn.commit().await?;
    Ok(changed)
}

/// Throws `year`'s drafts away, so the run can be prepared again (after a roll or an account
/// was corrected) or made directly. The fee schedules stay frozen.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `Invalid` (CONFLICT) on `academicYear` when the year
/// has no run in DRAFT.
pub async fn discard(
    db: &DatabaseConnection,
    actor: &Actor,
    year: AcademicYear,
) -> Result<(), DomainError> {
    actor.require(Permission::ManageBilling)?;
    let txn = db.begin_write().await?;
    let gone = super::entity::Entity::delete_many()
        .filter(super::entity::Column::AcademicYear.eq(year.start_year()))
        .filter(super::entity::Column::Status.eq(RunStatus::Draft.as_str()))
        .exec(&txn)
        .await?;
    if gone.rows_affected == 0 {
        return Err(not_draft(year, "academicYear"));
    }
    entity::Entity::delete_many()
        .filter(entity::Column::AcademicYear.eq(year.start_year()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(%year, "invoicing run drafts discarded");
    Ok(())
}

/// Issues `year`'s drafts as they stand: numbers are taken now, in order.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `Invalid` on `academicYear`: NOT_FOUND when nothing
/// was prepared, CONFLICT when the year was invoiced or a run not made from drafts is under
/// way.
pub async fn issue(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<InvoicingRun, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let Some(mut run) = super::find(db, year).await? else {
        return Err(year_error(
            ErrorCode::NotFound,
            format!(
                "nothing is prepared for {year}: prepare its drafts (invoicingRunPrepare) first"
            ),
        ));
    };
    match run.status {
        RunStatus::Completed => return Err(super::already_invoiced(&run)),
        RunStatus::InProgress if !exist(db, year).await? => return Err(under_way(year)),
        RunStatus::InProgress => {}
        RunStatus::Draft => {
            check_payers(db, &all_of(db, year).await?).await?;
            // Claim the run: an adjustment holding the row finishes first, and a second
            // issue at the same moment finds it IN_PROGRESS and joins the same idempotent work.
            super::entity::Entity::update_many()
                .col_expr(
                    super::entity::Column::Status,
                    Expr::value(RunStatus::InProgress.as_str()),
                )
                .filter(super::entity::Column::Id.eq(run.id.as_uuid()))
                .filter(super::entity::Column::Status.eq(RunStatus::Draft.as_str()))
                .exec(db)
                .await?;
            run.status = RunStatus::InProgress;
        }
    }
    issue_prepared(db, actor, clock, run).await
}

/// Issues the drafts of `run` (IN_PROGRESS) and completes it; the drafts stay as its record.
pub(super) async fn issue_prepared(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    run: InvoicingRun,
) -> Result<InvoicingRun, DomainError> {
    let year = run.year;
    let today = clock.today();
    let mut drafts = all_of(db, year).await?;
    // The review took `waited` days: invoices issued now keep their payment terms from today.
    let waited = (today - run.started_at.date_naive()).max(chrono::TimeDelta::zero());
    // Finance's exclusions, then the memberships that ended since (noted apart).
    let mut excluded: BTreeMap<SchoolId, Vec<MembershipId>> = BTreeMap::new();
    for line in drafts.iter().flat_map(|d| &d.lines).filter(|l| l.excluded) {
        if let Some(school) = line.planned.school_id {
            excluded
                .entry(school)
                .or_default()
                .extend(line.planned.membership_id);
        }
    }
    let mut notes = run.notes.clone();
    notes.extend(drop_ended(db, &mut drafts).await?);
    let mut planned = Vec::new();
    for draft in &drafts {
        let issued_now =
            super::schedule::issue_on(draft.instalment, year).is_none_or(|d| d <= today);
        let due_on = if issued_now {
            draft.due_on + waited
        } else {
            draft.due_on
        };
        planned.extend(draft.to_planned(due_on));
    }
    if !excluded.is_empty() {
        let ids: Vec<SchoolId> = excluded.keys().copied().collect();
        let names: HashMap<SchoolId, school::School> = school::by_ids(db, &ids).await?;
        for id in ids {
            let name = names
                .get(&id)
                .map_or_else(|| id.to_string(), |s| format!("{} ({})", s.name, s.urn));
            notes.push(RunNote {
                school_id: Some(id),
                message: format!(
                    "{name}: left out of this run by finance; the supplementary run \
                     (invoicingSupplementRun) invoices it when you are ready"
                ),
            });
        }
    }
    tracing::info!(%year, run = %run.id, invoices = planned.len(), "issuing the prepared drafts");
    let done = super::issue_planned(db, actor, clock, &run, planned, notes).await?;
    // The drafts stay, read-only under the COMPLETED run: the record of what finance reviewed,
    // and of the discounts it gave, which the supplementary run counts as billed.
    super::complete(db, &run, done, clock.now()).await
}

/// The discounts the year's issued drafts gave, by membership: part of what each was billed,
/// so the supplementary run does not report a discounted membership as priced differently.
pub(super) async fn discounts_of_year<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
) -> Result<HashMap<MembershipId, Money>, DomainError> {
    let mut out: HashMap<MembershipId, Money> = HashMap::new();
    for draft in all_of(db, year).await? {
        for line in draft.lines.iter().filter(|l| !l.excluded) {
            if let (Some(m), Some(d)) = (line.planned.membership_id, &line.discount) {
                let sum = out.entry(m).or_insert_with(Money::zero);
                *sum = sum.checked_add(d.amount).map_err(DomainError::internal)?;
            }
        }
    }
    Ok(out)
}

/// Refuses to issue drafts whose school another account pays for now (moved since the
/// drafts were prepared): the invoice would go to the wrong payer. Every such school is named;
/// discarding and preparing again bills each to its payer.
async fn check_payers(db: &DatabaseConnection, drafts: &[InvoiceDraft]) -> Result<(), DomainError> {
    let schools: Vec<SchoolId> = drafts
        .iter()
        .flat_map(|d| &d.lines)
        .filter(|l| !l.excluded)
        .filter_map(|l| l.planned.school_id)
        .collect();
    let payers = crate::ledger::accounts::accounts_of_schools(db, &schools).await?;
    let mut moved = std::collections::BTreeSet::new();
    for draft in drafts {
        for line in draft.lines.iter().filter(|l| !l.excluded) {
            if let Some(school) = line.planned.school_id
                && payers.get(&school).map(|a| a.id) != Some(draft.account_id)
            {
                moved.insert(school);
            }
        }
    }
    if moved.is_empty() {
        return Ok(());
    }
    let ids: Vec<SchoolId> = moved.into_iter().collect();
    let names = school::names_by_ids(db, &ids).await?;
    Err(DomainError::Invalid(
        ids.iter()
            .map(|id| {
                FieldError::new(
                    "academicYear",
                    ErrorCode::Conflict,
                    format!(
                        "{} is paid for by another account since the drafts were prepared: \
                         discard them (invoicingRunDiscard) and prepare them again",
                        names.get(id).map_or("a school", String::as_str)
                    ),
                )
            })
            .collect(),
    ))
}

/// Drops from `drafts` the lines of memberships no longer ACTIVE (cancelled or lapsed since
/// the drafts were prepared), answering a note for each: a draft is not a promise to bill.
async fn drop_ended(
    db: &DatabaseConnection,
    drafts: &mut [InvoiceDraft],
) -> Result<Vec<RunNote>, DomainError> {
    let ids: Vec<MembershipId> = drafts
        .iter()
        .flat_map(|d| &d.lines)
        .filter(|l| !l.excluded)
        .filter_map(|l| l.planned.membership_id)
        .collect();
    let running = membership::memberships::by_ids(db, &ids).await?;
    let mut notes = Vec::new();
    for draft in drafts.iter_mut() {
        for line in draft.lines.iter_mut().filter(|l| !l.excluded) {
            let ended = line.planned.membership_id.is_some_and(|m| {
                running
                    .get(&m)
                    .is_none_or(|m| m.status != membership::memberships::MembershipStatus::Active)
            });
            if ended {
                // Left out of the invoice, and not counted as finance's exclusion.
                line.excluded = true;
                line.discount = None;
                notes.push(RunNote {
                    school_id: line.planned.school_id,
                    message: format!(
                        "{}: not invoiced, the membership is no longer active",
                        line.planned.description
                    ),
                });
            }
        }
    }
    Ok(notes)
}

/// Changes one draft in its own transaction, with an audit entry, while its run is DRAFT.
async fn adjust(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceDraftId,
    action: &str,
    change: impl FnOnce(&mut InvoiceDraft) -> Result<(), DomainError>,
) -> Result<InvoiceDraft, DomainError> {
    let txn = db.begin_write().await?;
    let row = entity::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "InvoiceDraft",
        })?;
    let before = InvoiceDraft::from_row(row)?;
    hold_draft_run(&txn, before.year, "id").await?;
    let mut after = before.clone();
    change(&mut after)?;
    after.updated_at = clock.now();
    save(&txn, actor, clock, action, &before, &after).await?;
    txn.commit().await?;
    Ok(after)
}

async fn save<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    before: &InvoiceDraft,
    after: &InvoiceDraft,
) -> Result<(), DomainError> {
    entity::Entity::update_many()
        .col_expr(
            entity::Column::PoNumber,
            Expr::value(after.po_number.clone()),
        )
        .col_expr(
            entity::Column::Lines,
            Expr::value(serde_json::to_string(&after.lines).map_err(DomainError::internal)?),
        )
        .col_expr(entity::Column::UpdatedAt, Expr::value(after.updated_at))
        .filter(entity::Column::Id.eq(after.id.as_uuid()))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        actor,
        clock,
        action,
        (AuditEntity::InvoiceDraft, after.id.as_uuid()),
        Some(before),
        Some(after),
    )
    .await
}

/// Holds `year`'s run row for the transaction, requiring it to be DRAFT: issuing claims the
/// same row, so it waits for this adjustment (PostgreSQL's row lock; SQLite's one writer).
async fn hold_draft_run<C: ConnectionTrait>(
    txn: &C,
    year: AcademicYear,
    field: &str,
) -> Result<(), DomainError> {
    let held = super::entity::Entity::update_many()
        .col_expr(
            super::entity::Column::Status,
            Expr::value(RunStatus::Draft.as_str()),
        )
        .filter(super::entity::Column::AcademicYear.eq(year.start_year()))
        .filter(super::entity::Column::Status.eq(RunStatus::Draft.as_str()))
        .exec(txn)
        .await?;
    if held.rows_affected == 0 {
        return Err(not_draft(year, field));
    }
    Ok(())
}

fn not_draft(year: AcademicYear, field: &str) -> DomainError {
    DomainError::Invalid(vec![FieldError::new(
        field,
        ErrorCode::Conflict,
        format!("{year} has no invoicing run in draft: drafts change only before they are issued"),
    )])
}

fn under_way(year: AcademicYear) -> DomainError {
    year_error(
        ErrorCode::Conflict,
        format!(
            "an invoicing run for {year} is under way: start it again (invoicingRunStart) to \
             finish it"
        ),
    )
}
