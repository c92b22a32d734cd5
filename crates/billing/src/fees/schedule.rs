//! Fee schedules in the database: one per academic year and membership tier.
//!
//! Finance staff (and partnership admins) write schedules; once a year has been invoiced
//! against a schedule, the invoicing run locks it ([`lock_schedule`], inside the run's own
//! transaction) and it can no longer change: an issued invoice must always be explainable by
//! the rules it was computed from.
//!
//! Reading schedules needs `ReadBilling` *or* `ReadMemberships`. Fee schedules are a
//! partnership's published price list, not anyone's account: a school weighing up a tier, or
//! an integrator with `membership:read`, may see them. Balances and invoices stay behind
//! `ReadBilling` and the school-records check in the ledger.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, FeeScheduleId, Permission, Problems, TierId,
};
use membership::school::CorruptRow;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, NotSet,
    PaginatorTrait, QueryFilter, QueryOrder, Set, SqlErr,
};
use serde::{Deserialize, Serialize};

use super::entity::{fee_schedules, tiers};
use super::history::{AUDIT_ENTITY, Action};
use super::rules::{FeeRules, FeeRulesInput};

/// How the year's fee is invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BillingFrequency {
    /// One invoice for the year.
    #[serde(rename = "ANNUAL")]
    Annual,
    /// Three instalments: autumn, spring, summer.
    #[serde(rename = "TERMLY")]
    Termly,
}

impl BillingFrequency {
    pub const ALL: [Self; 2] = [Self::Annual, Self::Termly];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Annual => "ANNUAL",
            Self::Termly => "TERMLY",
        }
    }
}

impl fmt::Display for BillingFrequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BillingFrequency {
    type Err = CorruptRow;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| CorruptRow(format!("unknown billing frequency `{s}`")))
    }
}

/// The fee rules for one academic year and tier, and how they are invoiced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeSchedule {
    pub id: FeeScheduleId,
    pub year: AcademicYear,
    pub tier_id: TierId,
    pub name: String,
    pub rules: FeeRules,
    pub frequency: BillingFrequency,
    /// Days from the invoice date to its due date.
    pub payment_terms_days: u16,
    /// When the year was first invoiced against this schedule; it cannot change after.
    pub locked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl FeeSchedule {
    #[must_use]
    pub const fn is_locked(&self) -> bool {
        self.locked_at.is_some()
    }

    fn from_row(row: fee_schedules::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!("fee schedule {}: {what}", row.id)))
        };
        Ok(Self {
            id: FeeScheduleId::from_uuid(row.id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            tier_id: TierId::from_uuid(row.tier_id),
            rules: FeeRules::from_json(&row.rules).map_err(|e| corrupt(&e.to_string()))?,
            frequency: row
                .billing_frequency
                .parse()
                .map_err(|_| corrupt("billing frequency"))?,
            payment_terms_days: u16::try_from(row.payment_terms_days)
                .map_err(|_| corrupt("payment terms"))?,
            name: row.name,
            locked_at: row.locked_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new fee schedule. The rules arrive unvalidated: their problems are reported under
/// `rules.` with everything else wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeeSchedule {
    pub year: AcademicYear,
    pub tier_id: TierId,
    pub name: String,
    pub rules: FeeRulesInput,
    pub frequency: BillingFrequency,
    pub payment_terms_days: u16,
}

/// Changes to an unlocked schedule; `None` leaves a field as it is. The year and tier never
/// change: a different year or tier is a different schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeeSchedulePatch {
    pub name: Option<String>,
    pub rules: Option<FeeRulesInput>,
    pub frequency: Option<BillingFrequency>,
    pub payment_terms_days: Option<u16>,
}

const NAME_MAX: usize = 200;
/// A year: longer terms are a typo for a membership fee.
const PAYMENT_TERMS_MAX: u16 = 365;

fn check_name(problems: &mut Problems, name: &str) -> Option<String> {
    let name = name.trim();
    if name.is_empty() {
        problems.add("name", ErrorCode::Required, "must not be blank");
        None
    } else if name.chars().count() > NAME_MAX {
        problems.add(
            "name",
            ErrorCode::TooLong,
            format!("must be at most {NAME_MAX} characters"),
        );
        None
    } else {
        Some(name.to_owned())
    }
}

fn check_rules(problems: &mut Problems, rules: FeeRulesInput) -> Option<FeeRules> {
    match FeeRules::new(rules) {
        Ok(rules) => Some(rules),
        Err(invalid) => {
            for e in invalid.under("rules") {
                problems.check::<()>(Err(e));
            }
            None
        }
    }
}

fn check_terms(problems: &mut Problems, days: u16) {
    if days > PAYMENT_TERMS_MAX {
        problems.add(
            "paymentTermsDays",
            ErrorCode::OutOfRange,
            format!("must be at most {PAYMENT_TERMS_MAX} days"),
        );
    }
}

fn violation(err: &DbErr) -> Option<SqlErr> {
    err.sql_err()
}

fn taken(year: AcademicYear) -> DomainError {
    DomainError::invalid(
        "tierId",
        ErrorCode::Taken,
        format!("this tier already has a fee schedule for {year}"),
    )
}

fn no_tier() -> DomainError {
    DomainError::invalid("tierId", ErrorCode::NotFound, "no such membership tier")
}
/// What the trail keeps of a schedule at each change: everything a fee is computed from (the
/// rules document as stored), and when it was frozen. The row's timestamps are left out: the
/// entry's own time says when it changed.
#[derive(Debug, Serialize)]
pub(crate) struct Snapshot {
    name: String,
    year: AcademicYear,
    tier_id: TierId,
    frequency: BillingFrequency,
    payment_terms_days: u16,
    rules: FeeRules,
    locked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&FeeSchedule> for Snapshot {
    fn from(schedule: &FeeSchedule) -> Self {
        Self {
            name: schedule.name.clone(),
            year: schedule.year,
            tier_id: schedule.tier_id,
            frequency: schedule.frequency,
            payment_terms_days: schedule.payment_terms_days,
            rules: schedule.rules.clone(),
            locked_at: schedule.locked_at,
        }
    }
}

/// Writes the trail entry of a change made in `txn`: the schedule as `before` (`None` when
/// the change created it) and as `after`, the transaction leaves it.
pub(crate) async fn audit<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: Action,
    before: Option<&FeeSchedule>,
    after: &FeeSchedule,
) -> Result<(), DomainError> {
    kernel::audit::record(
        txn,
        actor,
        clock,
        action.as_str(),
        (AUDIT_ENTITY, after.id.as_uuid()),
        before.map(Snapshot::from).as_ref(),
        Some(&Snapshot::from(after)),
    )
    .await
}

/// Sets a schedule's rules for a year and tier.
pub async fn create_schedule(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewFeeSchedule,
) -> Result<FeeSchedule, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut problems = Problems::new();
    let name = check_name(&mut problems, &input.name);
    let rules = check_rules(&mut problems, input.rules);
    check_terms(&mut problems, input.payment_terms_days);
    let (name, rules) = problems.finish_with((name, rules))?;

    let txn = db.begin_write().await?;
    if tiers::Entity::find_by_id(input.tier_id.as_uuid())
        .count(&txn)
        .await?
        == 0
    {
        return Err(no_tier());
    }
    let duplicate = fee_schedules::Entity::find()
        .filter(fee_schedules::Column::AcademicYear.eq(input.year.start_year()))
        .filter(fee_schedules::Column::TierId.eq(input.tier_id.as_uuid()))
        .count(&txn)
        .await?;
    if duplicate > 0 {
        return Err(taken(input.year));
    }
    let now = clock.now();
    let id = FeeScheduleId::new();
    let row = fee_schedules::ActiveModel {
        id: Set(id.as_uuid()),
        academic_year: Set(input.year.start_year()),
        tier_id: Set(input.tier_id.as_uuid()),
        name: Set(name),
        rules: Set(rules.to_json()),
        billing_frequency: Set(input.frequency.as_str().to_owned()),
        payment_terms_days: Set(i32::from(input.payment_terms_days)),
        locked_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    // The pre-checks give the usual answers; the constraints close the races they leave.
    let inserted = match row.insert(&txn).await {
        Ok(row) => row,
        Err(err) => {
            return Err(match violation(&err) {
                Some(SqlErr::UniqueConstraintViolation(_)) => taken(input.year),
                Some(SqlErr::ForeignKeyConstraintViolation(_)) => no_tier(),
                _ => err.into(),
            });
        }
    };
    let schedule = FeeSchedule::from_row(inserted)?;
    audit(&txn, actor, clock, Action::Create, None, &schedule).await?;
    txn.commit().await?;
    tracing::debug!(schedule = %id, year = %input.year, tier = %input.tier_id, actor = ?actor.as_user().map(|u| u.id), "fee schedule created");
    Ok(schedule)
}

/// Changes a schedule that has not been invoiced yet. A locked schedule answers `Conflict`
/// on `id`: invoices were issued from it, so next year's changes go into next year's.
pub async fn update_schedule(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: FeeScheduleId,
    patch: FeeSchedulePatch,
) -> Result<FeeSchedule, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut problems = Problems::new();
    let name = patch
        .name
        .as_deref()
        .and_then(|n| check_name(&mut problems, n));
    let rules = patch.rules.and_then(|r| check_rules(&mut problems, r));
    if let Some(days) = patch.payment_terms_days {
        check_terms(&mut problems, days);
    }
    problems.finish()?;

    let changes = fee_schedules::ActiveModel {
        id: NotSet,
        academic_year: NotSet,
        tier_id: NotSet,
        name: name.map_or(NotSet, Set),
        rules: rules.map_or(NotSet, |r| Set(r.to_json())),
        billing_frequency: patch
            .frequency
            .map_or(NotSet, |f| Set(f.as_str().to_owned())),
        payment_terms_days: patch
            .payment_terms_days
            .map_or(NotSet, |d| Set(i32::from(d))),
        locked_at: NotSet,
        created_at: NotSet,
        updated_at: Set(clock.now()),
    };
    let txn = db.begin_write().await?;
    // Read in the transaction for the trail's "before"; the conditional update below still
    // decides whether the change lands.
    let before = fee_schedules::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .map(FeeSchedule::from_row)
        .transpose()?;
    // Conditional on being unlocked, so a concurrent lock by an invoicing run either lands
    // first (and this refuses) or after (and invoices this version).
    let updated = fee_schedules::Entity::update_many()
        .set(changes)
        .filter(fee_schedules::Column::Id.eq(id.as_uuid()))
        .filter(fee_schedules::Column::LockedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    let row = fee_schedules::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "FeeSchedule",
        })?;
    if updated == 0 {
        let year = AcademicYear::starting(row.academic_year)
            .map_or_else(|_| row.academic_year.to_string(), |y| y.to_string());
        return Err(DomainError::invalid(
            "id",
            ErrorCode::Conflict,
            format!("the {year} fee schedule has been invoiced and can no longer change"),
        ));
    }
    let schedule = FeeSchedule::from_row(row)?;
    audit(
        &txn,
        actor,
        clock,
        Action::Update,
        before.as_ref(),
        &schedule,
    )
    .await?;
    txn.commit().await?;
    tracing::debug!(schedule = %id, actor = ?actor.as_user().map(|u| u.id), "fee schedule updated");
    Ok(schedule)
}

/// Freezes a schedule because invoices are being issued from it. Generic over the
/// connection so the invoicing run calls it inside its own transaction, which then holds the
/// lock and its trail entry together; locking an already locked schedule keeps the first lock
/// time and writes no entry. Returns the schedule as locked, so the run invoices exactly the
/// rules it froze. `actor` is whoever started the run, as the trail records it.
pub async fn lock_schedule<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: FeeScheduleId,
    clock: &dyn Clock,
) -> Result<FeeSchedule, DomainError> {
    let now = clock.now();
    let before = fee_schedules::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await?
        .map(FeeSchedule::from_row)
        .transpose()?;
    let locked = fee_schedules::Entity::update_many()
        .set(fee_schedules::ActiveModel {
            locked_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        })
        .filter(fee_schedules::Column::Id.eq(id.as_uuid()))
        .filter(fee_schedules::Column::LockedAt.is_null())
        .exec(conn)
        .await?
        .rows_affected;
    let row = fee_schedules::Entity::find_by_id(id.as_uuid())
        .one(conn)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "FeeSchedule",
        })?;
    let schedule = FeeSchedule::from_row(row)?;
    if locked > 0 {
        audit(conn, actor, clock, Action::Lock, before.as_ref(), &schedule).await?;
    }
    Ok(schedule)
}

/// Every tier's schedule for `year`, by name.
pub async fn schedules_for_year(
    db: &DatabaseConnection,
    actor: &Actor,
    year: AcademicYear,
) -> Result<Vec<FeeSchedule>, DomainError> {
    if !(actor.can(Permission::ReadBilling) || actor.can(Permission::ReadMemberships)) {
        return Err(DomainError::Forbidden(
            "reading fee schedules needs ReadBilling or ReadMemberships".to_owned(),
        ));
    }
    fee_schedules::Entity::find()
        .filter(fee_schedules::Column::AcademicYear.eq(year.start_year()))
        .order_by_asc(fee_schedules::Column::Name)
        .order_by_asc(fee_schedules::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(FeeSchedule::from_row)
        .collect()
}

/// The schedule for a year and tier, if set: what membership fees and invoicing use. No
/// actor: callers have already decided the caller may act on the membership.
pub async fn schedule_for(
    db: &DatabaseConnection,
    year: AcademicYear,
    tier_id: TierId,
) -> Result<Option<FeeSchedule>, DomainError> {
    fee_schedules::Entity::find()
        .filter(fee_schedules::Column::AcademicYear.eq(year.start_year()))
        .filter(fee_schedules::Column::TierId.eq(tier_id.as_uuid()))
        .one(db)
        .await?
        .map(FeeSchedule::from_row)
        .transpose()
}

/// Schedules by id, for batch loading. Missing ids are absent from the map.
pub async fn schedules_by_ids(
    db: &DatabaseConnection,
    ids: &[FeeScheduleId],
) -> Result<HashMap<FeeScheduleId, FeeSchedule>, DomainError> {
    fee_schedules::Entity::find()
        .filter(fee_schedules::Column::Id.is_in(ids.iter().map(FeeScheduleId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| FeeSchedule::from_row(row).map(|s| (s.id, s)))
        .collect()
}
