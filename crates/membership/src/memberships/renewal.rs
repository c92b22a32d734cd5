//! Renewal, HFL-style: next year's memberships are opened pre-filled from this year's, and
//! each school confirms or declines by a notice date; silence past it lapses the renewal.
//!
//! **Confirming does not activate.** A confirmed renewal stays PENDING, with the decision
//! recorded, until the school has accepted the principles for the new year and partnership
//! staff [`super::activate`] it, exactly as for a first enrolment. Principles are accepted
//! per year on purpose: what a school signs up to can change between years, and an
//! acceptance should be made by someone in post when it is made.

use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, MembershipId, Permission, Problems,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::entity::memberships;
use super::history::{Action, audit, audit_many};
use super::lifecycle::{conflict, lock_visible, status_of, transition};
use super::queries::{by_ids, hydrate, load};
use super::types::{Membership, MembershipStatus, RenewalDecision, RenewalReport};

/// The reason recorded on a renewal the school declined.
pub const DECLINED_AT_RENEWAL: &str = "declined at renewal";

/// Rows per INSERT: well inside SQLite's bound-parameter limit.
const CHUNK: usize = 200;

// `lapse_unanswered` moves rows in bulk without going through `transition`; this keeps it
// honest to the transition table.
const _: () = assert!(MembershipStatus::Pending.can_transition(MembershipStatus::Lapsed));

/// Opens a PENDING renewal for the year after `from` for every school ACTIVE in `from`:
/// same tier, starting on the new year's first day, to be answered by `notice_by`.
///
/// Safe to rerun, and safe to run twice at once: a school that already has a membership for
/// the new year is skipped by the unique index on (school, year), never duplicated.
pub async fn open_renewals(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    from: AcademicYear,
    notice_by: chrono::NaiveDate,
) -> Result<RenewalReport, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let to = AcademicYear::starting(from.start_year() + 1).map_err(|_| {
        DomainError::invalid(
            "fromYear",
            ErrorCode::OutOfRange,
            "no later year can be opened",
        )
    })?;
    let mut problems = Problems::new();
    problems.check(kernel::dates::in_window("noticeBy", notice_by));
    if notice_by < clock.today() {
        problems.add(
            "noticeBy",
            ErrorCode::OutOfRange,
            "the notice date has passed",
        );
    }
    if notice_by > to.last_day() {
        problems.add(
            "noticeBy",
            ErrorCode::OutOfRange,
            format!("must be no later than the end of {to}, {}", to.last_day()),
        );
    }
    problems.finish()?;

    let txn = db.begin_write().await?;
    let current = memberships::Entity::find()
        .filter(memberships::Column::AcademicYear.eq(from.start_year()))
        .filter(memberships::Column::Status.eq(MembershipStatus::Active.as_str()))
        .order_by_asc(memberships::Column::Id)
        .all(&txn)
        .await?;
    let now = clock.now();
    let mut opened = 0;
    let mut proposed = Vec::with_capacity(current.len());
    for chunk in current.chunks(CHUNK) {
        let ids: Vec<uuid::Uuid> = chunk
            .iter()
            .map(|_| MembershipId::new().as_uuid())
            .collect();
        proposed.extend_from_slice(&ids);
        opened += memberships::Entity::insert_many(chunk.iter().zip(ids).map(|(m, id)| {
            memberships::ActiveModel {
                id: Set(id),
                school_id: Set(m.school_id),
                academic_year: Set(to.start_year()),
                tier_id: Set(m.tier_id),
                status: Set(MembershipStatus::Pending.as_str().to_owned()),
                starts_on: Set(to.first_day()),
                ends_on: Set(to.last_day()),
                notice_by: Set(Some(notice_by)),
                renewed_from: Set(Some(m.id)),
                decided_at: Set(None),
                decided_by: Set(None),
                cancelled_reason: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
        }))
        .on_conflict(
            OnConflict::columns([
                memberships::Column::SchoolId,
                memberships::Column::AcademicYear,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    // The school's leaders are told of each renewal this call opened (not those that
    // already existed), in the same transaction, and each such renewal's trail starts here.
    let mut created = Vec::with_capacity(proposed.len());
    for chunk in proposed.chunks(CHUNK) {
        let ids: Vec<MembershipId> = chunk.iter().copied().map(MembershipId::from_uuid).collect();
        let mut opened_now: Vec<_> = by_ids(&txn, &ids).await?.into_values().collect();
        opened_now.sort_by_key(|m| m.id);
        let changes: Vec<_> = opened_now.iter().map(|m| (None, m)).collect();
        audit_many(&txn, actor, clock, Action::RenewalOpen, &changes).await?;
        created.extend(opened_now.iter().map(|m| m.id.as_uuid()));
    }
    kernel::outbox::record_many(
        &txn,
        kernel::outbox::EventKind::RenewalOpened,
        &created,
        now,
    )
    .await?;
    txn.commit().await?;
    let total = u64::try_from(current.len()).unwrap_or(u64::MAX);
    tracing::info!(%from, %to, opened, "renewals opened");
    Ok(RenewalReport {
        opened,
        already_open: total.saturating_sub(opened),
    })
}

/// The school's answer to a PENDING renewal, on or before its notice date. Confirm records
/// the decision (see the module docs for why it does not activate); Decline cancels the
/// renewal. A confirmed renewal may still be declined until the notice date.
pub async fn respond_to_renewal(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: MembershipId,
    decision: RenewalDecision,
) -> Result<Membership, DomainError> {
    actor.require(Permission::RespondToMembership)?;
    let today = clock.today();
    let txn = db.begin_write().await?;
    let row = lock_visible(&txn, actor, id).await?;
    let Some(notice_by) = row.notice_by else {
        return Err(conflict(
            "this membership is an enrolment, not a renewal: there is nothing to confirm or decline",
        ));
    };
    let status = status_of(&row)?;
    if status != MembershipStatus::Pending {
        return Err(conflict(format!(
            "the renewal is {status}; only a PENDING renewal can be answered"
        )));
    }
    if today > notice_by {
        return Err(conflict(format!(
            "the notice date, {notice_by}, has passed; please contact the partnership"
        )));
    }
    let before = load(&txn, id).await?;
    let now = clock.now();
    let by = actor.as_user().map(|u| u.id.as_uuid());
    match decision {
        RenewalDecision::Confirm => {
            if row.decided_at.is_some() {
                return Err(conflict("the renewal has already been confirmed"));
            }
            let done = memberships::Entity::update_many()
                .col_expr(memberships::Column::DecidedAt, Expr::value(Some(now)))
                .col_expr(memberships::Column::DecidedBy, Expr::value(by))
                .col_expr(memberships::Column::UpdatedAt, Expr::value(now))
                .filter(memberships::Column::Id.eq(row.id))
                .filter(memberships::Column::Status.eq(status.as_str()))
                .filter(memberships::Column::DecidedAt.is_null())
                .exec(&txn)
                .await?;
            if done.rows_affected != 1 {
                return Err(conflict(
                    "the renewal changed meanwhile; reload it and try again",
                ));
            }
        }
        RenewalDecision::Decline => {
            transition(&txn, &row, MembershipStatus::Cancelled, now, |u| {
                u.col_expr(memberships::Column::DecidedAt, Expr::value(Some(now)))
                    .col_expr(memberships::Column::DecidedBy, Expr::value(by))
                    .col_expr(
                        memberships::Column::CancelledReason,
                        Expr::value(DECLINED_AT_RENEWAL),
                    )
            })
            .await?;
        }
    }
    let membership = load(&txn, id).await?;
    let action = Action::RenewalRespond;
    audit(&txn, actor, clock, action, Some(&before), &membership).await?;
    txn.commit().await?;
    tracing::debug!(membership = %id, ?decision, "renewal answered");
    Ok(membership)
}

/// Lapses every renewal of `year` still unanswered after its notice date; returns how many.
/// One transaction that locks the unanswered renewals (`FOR UPDATE` on PostgreSQL; SQLite
/// serialises writers), lapses them with one UPDATE per chunk and writes each one's trail
/// entry, so a school answering at the same moment either gets in first or finds its renewal
/// lapsed, never half of each.
pub async fn lapse_unanswered(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<u64, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let txn = db.begin_write().await?;
    let rows = memberships::Entity::find()
        .filter(memberships::Column::AcademicYear.eq(year.start_year()))
        .filter(memberships::Column::Status.eq(MembershipStatus::Pending.as_str()))
        .filter(memberships::Column::NoticeBy.lt(clock.today()))
        .filter(memberships::Column::DecidedAt.is_null())
        .order_by_asc(memberships::Column::Id)
        .lock_exclusive()
        .all(&txn)
        .await?;
    if rows.is_empty() {
        // Hourly and nearly always nothing: only a lapse worth telling is logged at info.
        txn.commit().await?;
        tracing::debug!(%year, "no unanswered renewals to lapse");
        return Ok(0);
    }
    let before = hydrate(&txn, rows).await?;
    let mut lapsed = 0;
    for chunk in before.chunks(CHUNK) {
        let ids: Vec<MembershipId> = chunk.iter().map(|m| m.id).collect();
        // The rows are locked, so the status filter only restates what was just read.
        lapsed += memberships::Entity::update_many()
            .col_expr(
                memberships::Column::Status,
                Expr::value(MembershipStatus::Lapsed.as_str()),
            )
            .col_expr(memberships::Column::UpdatedAt, Expr::value(clock.now()))
            .filter(memberships::Column::Id.is_in(ids.iter().map(MembershipId::as_uuid)))
            .filter(memberships::Column::Status.eq(MembershipStatus::Pending.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
        let after = by_ids(&txn, &ids).await?;
        let changes: Vec<_> = chunk
            .iter()
            .filter_map(|old| Some((Some(old), after.get(&old.id)?)))
            .collect();
        audit_many(&txn, actor, clock, Action::RenewalLapse, &changes).await?;
    }
    txn.commit().await?;
    tracing::info!(%year, lapsed, "unanswered renewals lapsed");
    Ok(lapsed)
}

/// PENDING renewals still unanswered whose notice date falls from `from` to `to`: those the
/// reminder before the notice date is for. No actor: the notifications domain reads it for
/// the schools' own leaders.
pub async fn unanswered_due_between<C: sea_orm::ConnectionTrait>(
    db: &C,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<Vec<Membership>, DomainError> {
    let rows = memberships::Entity::find()
        .filter(memberships::Column::Status.eq(MembershipStatus::Pending.as_str()))
        .filter(memberships::Column::DecidedAt.is_null())
        .filter(memberships::Column::NoticeBy.between(from, to))
        .order_by_asc(memberships::Column::Id)
        .all(db)
        .await?;
    super::queries::hydrate(db, rows).await
}
