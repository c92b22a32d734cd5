//! A fee schedule's history in the audit trail (`kernel::audit`): who set it, who changed its
//! rules or terms, and when the invoicing run froze it, with the schedule before and after.
//!
//! Finance must be able to say why a school was charged what it was, and an issued invoice is
//! only explainable by the rules it was computed from, so every write to a schedule records
//! one entry in the transaction of the change (`schedule.rs` writes it, with the schedule
//! before and after). The actions are the variants of [`Action`].

use kernel::{Actor, DomainError, FeeScheduleId, Permission};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use super::entity::fee_schedules;

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
