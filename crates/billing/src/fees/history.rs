//! A fee schedule's history in the audit trail (`kernel::audit`): who set it, who changed its
//! rules or terms, and when the invoicing run froze it, with the schedule before and after.
//!
//! Finance must be able to say why a school was charged what it was, and an issued invoice is
//! only explainable by the rules it was computed from, so every write to a schedule records
//! one entry in the transaction of the change. The actions are the variants of [`Action`].

use kernel::{AcademicYear, Actor, Clock, DomainError, FeeScheduleId, Permission, TierId};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde::Serialize;

use super::entity::fee_schedules;
use super::rules::FeeRules;
use super::schedule::{BillingFrequency, FeeSchedule};

/// How fee schedules are named in the audit trail.
pub const AUDIT_ENTITY: &str = "FEE_SCHEDULE";

/// What was done to a fee schedule, as its trail names it (`Entry::action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Finance set the rules for a year and tier.
    Create,
    /// Finance changed an unlocked schedule.
    Update,
    /// The invoicing run froze the schedule to invoice from it (the run's actor).
    Lock,
}

impl Action {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "fee_schedule.create",
            Self::Update => "fee_schedule.update",
            Self::Lock => "fee_schedule.lock",
        }
    }
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

/// The schedule's history, oldest change first. Finance and partnership admins only
/// (`ManageBilling`), as for the ledger's trails: the schedule itself is a published price
/// list anyone with `ReadMemberships` may read, but its trail names the staff who priced it.
///
/// # Errors
/// `Forbidden` without `ManageBilling`; `NotFound` for a schedule that does not exist.
pub async fn history(
    db: &DatabaseConnection,
    actor: &Actor,
    id: FeeScheduleId,
) -> Result<Vec<kernel::audit::Entry>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    if fee_schedules::Entity::find_by_id(id.as_uuid())
        .count(db)
        .await?
        == 0
    {
        return Err(DomainError::NotFound {
            entity: "FeeSchedule",
        });
    }
    kernel::audit::trail(db, AUDIT_ENTITY, id.as_uuid()).await
}
