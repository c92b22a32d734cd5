//! A membership's history in the audit trail (`kernel::audit`): who enrolled the school, who
//! accepted the principles, activated, cancelled or lapsed the membership, opened or answered
//! its renewal, and when, with the membership before and after each change.
//!
//! Finance asks "why is this school (not) being invoiced this year?", so every write to a
//! membership records one entry in the transaction of the change, and the change and its
//! entry commit or vanish together. The actions are the variants of [`Action`]. Bulk writes
//! (opening a year's renewals, lapsing the unanswered ones) record one entry per membership
//! they changed, in their own transaction.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{AcademicYear, Actor, Clock, DomainError, MembershipId, SchoolId, TierId, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

use super::queries::get;
use super::types::{Membership, PrincipleAcceptance};

/// How memberships are named in the audit trail.
pub const AUDIT_ENTITY: &str = "MEMBERSHIP";

/// What was done to a membership, as its trail names it (`Entry::action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Partnership staff enrolled the school for a year.
    Enrol,
    /// A leader of the school accepted one or more principles.
    AcceptPrinciples,
    /// Partnership staff activated the membership.
    Activate,
    /// Partnership staff cancelled the membership.
    Cancel,
    /// Partnership staff lapsed a membership that ran out.
    Lapse,
    /// Next year's membership was opened for renewal from this year's.
    RenewalOpen,
    /// The school confirmed or declined its renewal.
    RenewalRespond,
    /// The renewal went unanswered past its notice date and lapsed.
    RenewalLapse,
}

impl Action {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enrol => "membership.enrol",
            Self::AcceptPrinciples => "membership.accept_principles",
            Self::Activate => "membership.activate",
            Self::Cancel => "membership.cancel",
            Self::Lapse => "membership.lapse",
            Self::RenewalOpen => "membership.renewal_open",
            Self::RenewalRespond => "membership.renewal_respond",
            Self::RenewalLapse => "membership.renewal_lapse",
        }
    }
}

/// One accepted principle, as the trail keeps it.
#[derive(Debug, Serialize)]
struct Acceptance {
    principle: &'static str,
    accepted_by: Option<UserId>,
    accepted_at: DateTime<Utc>,
}

impl From<&PrincipleAcceptance> for Acceptance {
    fn from(a: &PrincipleAcceptance) -> Self {
        Self {
            principle: a.principle.as_str(),
            accepted_by: a.accepted_by,
            accepted_at: a.accepted_at,
        }
    }
}

/// What the trail keeps of a membership at each change: everything a reader of the
/// membership sees (status, year, tier, school, dates, renewal answer, cancellation reason,
/// principles accepted). The row's timestamps are left out: the entry's own time says when.
#[derive(Debug, Serialize)]
struct Snapshot {
    school_id: SchoolId,
    year: AcademicYear,
    tier_id: TierId,
    status: &'static str,
    starts_on: NaiveDate,
    ends_on: NaiveDate,
    notice_by: Option<NaiveDate>,
    renewed_from: Option<MembershipId>,
    decided_at: Option<DateTime<Utc>>,
    decided_by: Option<UserId>,
    cancelled_reason: Option<String>,
    principles: Vec<Acceptance>,
}

impl From<&Membership> for Snapshot {
    fn from(m: &Membership) -> Self {
        Self {
            school_id: m.school_id,
            year: m.year,
            tier_id: m.tier_id,
            status: m.status.as_str(),
            starts_on: m.starts_on,
            ends_on: m.ends_on,
            notice_by: m.notice_by,
            renewed_from: m.renewed_from,
            decided_at: m.decided_at,
            decided_by: m.decided_by,
            cancelled_reason: m.cancelled_reason.clone(),
            principles: m.principles.iter().map(Acceptance::from).collect(),
        }
    }
}

/// Writes the trail entry of a change made in `txn`: the membership as `before` (`None` when
/// the change created it) and as `after`, the transaction leaves it.
pub(super) async fn audit<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: Action,
    before: Option<&Membership>,
    after: &Membership,
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

/// [`audit`] for many memberships changed alike in `txn` (a year's renewals opened or
/// lapsed): one INSERT however many, `(before, after)` per membership.
pub(super) async fn audit_many<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: Action,
    changes: &[(Option<&Membership>, &Membership)],
) -> Result<(), DomainError> {
    let snapshots: Vec<(uuid::Uuid, Option<Snapshot>, Snapshot)> = changes
        .iter()
        .map(|(before, after)| {
            (
                after.id.as_uuid(),
                before.map(Snapshot::from),
                Snapshot::from(*after),
            )
        })
        .collect();
    kernel::audit::record_many(
        txn,
        actor,
        clock,
        action.as_str(),
        AUDIT_ENTITY,
        snapshots
            .iter()
            .map(|(id, before, after)| (*id, before.as_ref(), Some(after))),
    )
    .await
}

/// The membership's history, oldest change first. For whoever may read the membership (its
/// school's people, partnership staff, integrators with `membership:read`: [`get`]);
/// `NotFound` for anyone else, as if it did not exist.
///
/// # Errors
/// As [`get`], or the database's.
pub async fn history(
    db: &DatabaseConnection,
    actor: &Actor,
    id: MembershipId,
) -> Result<Vec<kernel::audit::Entry>, DomainError> {
    get(db, actor, id).await?;
    kernel::audit::trail(db, AUDIT_ENTITY, id.as_uuid()).await
}
