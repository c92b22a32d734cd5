//! A membership's life: enrolment, principles, activation, cancellation and lapsing.
//!
//! Each change is one transaction that locks the membership row (`FOR UPDATE` on PostgreSQL;
//! SQLite serialises writers) and then writes with a conditional `UPDATE … WHERE status = the
//! status just read`, so two racing requests cannot both move the same membership. Status
//! changes go through [`transition`], which asks [`MembershipStatus::can_transition`].

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{Actor, Clock, DomainError, ErrorCode, MembershipId, Permission, Problems, SchoolId};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set, UpdateMany,
};

use super::entity::{memberships, principles, tiers};
use super::history::{Action, audit};
use super::queries::load;
use super::types::{Enrolment, Membership, MembershipStatus, Principle};
use crate::school::CorruptRow;
use crate::school::entity::schools;
use crate::validate::{is_unique_violation, required_text};

const REASON_MAX: usize = 500;

fn not_found() -> DomainError {
    DomainError::NotFound {
        entity: "Membership",
    }
}

/// Locks the membership for this transaction; `NotFound` when it is another school's, so a
/// school leader learns nothing about memberships they may not see.
pub(super) async fn lock_visible(
    txn: &DatabaseTransaction,
    actor: &Actor,
    id: MembershipId,
) -> Result<memberships::Model, DomainError> {
    let row = memberships::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(not_found)?;
    if actor.may_see_school_records(SchoolId::from_uuid(row.school_id)) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

pub(super) fn status_of(row: &memberships::Model) -> Result<MembershipStatus, DomainError> {
    row.status
        .parse()
        .map_err(|_| DomainError::internal(CorruptRow(format!("membership {}: status", row.id))))
}

pub(super) fn conflict(message: impl Into<String>) -> DomainError {
    DomainError::invalid("id", ErrorCode::Conflict, message)
}

/// Moves `row` to `to`, with `also` setting further columns in the same statement.
pub(super) async fn transition(
    txn: &DatabaseTransaction,
    row: &memberships::Model,
    to: MembershipStatus,
    now: DateTime<Utc>,
    also: impl FnOnce(UpdateMany<memberships::Entity>) -> UpdateMany<memberships::Entity>,
) -> Result<(), DomainError> {
    let from = status_of(row)?;
    if !from.can_transition(to) {
        return Err(conflict(format!(
            "the membership is {from} and cannot become {to}"
        )));
    }
    let update = memberships::Entity::update_many()
        .col_expr(memberships::Column::Status, Expr::value(to.as_str()))
        .col_expr(memberships::Column::UpdatedAt, Expr::value(now));
    let done = also(update)
        .filter(memberships::Column::Id.eq(row.id))
        .filter(memberships::Column::Status.eq(from.as_str()))
        .exec(txn)
        .await?;
    if done.rows_affected == 1 {
        Ok(())
    } else {
        Err(conflict(
            "the membership changed meanwhile; reload it and try again",
        ))
    }
}

/// Enrols a school for a year as PENDING: it becomes ACTIVE once it has accepted the
/// principles and partnership staff [`activate`] it.
pub async fn enrol(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: Enrolment,
) -> Result<Membership, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    if !actor.may_see_school_records(input.school_id) {
        return Err(DomainError::invalid(
            "schoolId",
            ErrorCode::NotFound,
            "no such school",
        ));
    }
    let year = input.year;
    let starts_on = input.starts_on.unwrap_or_else(|| year.first_day());
    let mut problems = Problems::new();
    if problems
        .check(kernel::dates::in_window("startsOn", starts_on))
        .is_some()
        && !year.contains(starts_on)
    {
        problems.add(
            "startsOn",
            ErrorCode::OutOfRange,
            format!(
                "must lie within {year}: {} to {}",
                year.first_day(),
                year.last_day()
            ),
        );
    }
    let txn = db.begin_write().await?;
    if schools::Entity::find_by_id(input.school_id.as_uuid())
        .count(&txn)
        .await?
        == 0
    {
        problems.add("schoolId", ErrorCode::NotFound, "no such school");
    } else if memberships::Entity::find()
        .filter(memberships::Column::SchoolId.eq(input.school_id.as_uuid()))
        .filter(memberships::Column::AcademicYear.eq(year.start_year()))
        .count(&txn)
        .await?
        > 0
    {
        problems.add(
            "schoolId",
            ErrorCode::Taken,
            format!("the school already has a membership for {year}"),
        );
    }
    match tiers::Entity::find_by_id(input.tier_id.as_uuid())
        .one(&txn)
        .await?
    {
        Some(tier) if tier.active => {}
        Some(_) => problems.add(
            "tierId",
            ErrorCode::NotFound,
            "the tier is no longer offered",
        ),
        None => problems.add("tierId", ErrorCode::NotFound, "no such tier"),
    }
    problems.finish()?;

    let now = clock.now();
    let id = MembershipId::new();
    let row = memberships::ActiveModel {
        id: Set(id.as_uuid()),
        school_id: Set(input.school_id.as_uuid()),
        academic_year: Set(year.start_year()),
        tier_id: Set(input.tier_id.as_uuid()),
        status: Set(MembershipStatus::Pending.as_str().to_owned()),
        starts_on: Set(starts_on),
        ends_on: Set(year.last_day()),
        notice_by: Set(None),
        renewed_from: Set(None),
        decided_at: Set(None),
        decided_by: Set(None),
        cancelled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(&txn).await {
        Ok(_) => {}
        // A concurrent enrolment of the same school and year: the unique index decides.
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "schoolId",
                ErrorCode::Taken,
                format!("the school already has a membership for {year}"),
            ));
        }
        Err(err) => return Err(err.into()),
    }
    let membership = load(&txn, id).await?;
    audit(&txn, actor, clock, Action::Enrol, None, &membership).await?;
    txn.commit().await?;
    tracing::debug!(membership = %id, school = %input.school_id, %year, "school enrolled");
    Ok(membership)
}

/// Records that the school accepts `accepted` principles, and who accepted them. Accepting
/// one already accepted changes nothing (the first acceptance stands).
pub async fn accept_principles(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: MembershipId,
    accepted: &[Principle],
) -> Result<Membership, DomainError> {
    actor.require(Permission::RespondToMembership)?;
    if accepted.is_empty() {
        return Err(DomainError::invalid(
            "principles",
            ErrorCode::Required,
            "name at least one principle to accept",
        ));
    }
    let txn = db.begin_write().await?;
    let row = lock_visible(&txn, actor, id).await?;
    let before = load(&txn, id).await?;
    let status = status_of(&row)?;
    if status.is_final() {
        return Err(conflict(format!(
            "the membership is {status}; principles can no longer be accepted"
        )));
    }
    let already: Vec<String> = principles::Entity::find()
        .filter(principles::Column::MembershipId.eq(row.id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|p| p.principle)
        .collect();
    let mut new: Vec<Principle> = accepted
        .iter()
        .copied()
        .filter(|p| !already.iter().any(|a| a == p.as_str()))
        .collect();
    new.sort();
    new.dedup();
    if !new.is_empty() {
        let now = clock.now();
        let by = actor.as_user().map(|u| u.id.as_uuid());
        principles::Entity::insert_many(new.iter().map(|p| principles::ActiveModel {
            membership_id: Set(row.id),
            principle: Set(p.as_str().to_owned()),
            accepted_by: Set(by),
            accepted_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
        memberships::Entity::update_many()
            .col_expr(memberships::Column::UpdatedAt, Expr::value(now))
            .filter(memberships::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    let membership = load(&txn, id).await?;
    // Accepting only what was already accepted changes nothing, so leaves no entry.
    if !new.is_empty() {
        let action = Action::AcceptPrinciples;
        audit(&txn, actor, clock, action, Some(&before), &membership).await?;
    }
    txn.commit().await?;
    Ok(membership)
}

/// PENDING → ACTIVE, once the school has accepted every principle.
pub async fn activate(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: MembershipId,
) -> Result<Membership, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let txn = db.begin_write().await?;
    let row = lock_visible(&txn, actor, id).await?;
    let current = load(&txn, id).await?;
    // Asked before the principles, so a cancelled membership is not told to accept them.
    if !current.status.can_transition(MembershipStatus::Active) {
        return Err(conflict(format!(
            "the membership is {} and cannot become ACTIVE",
            current.status
        )));
    }
    let missing = current.missing_principles();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|p| p.label()).collect();
        return Err(conflict(format!(
            "the school has not yet accepted the principle(s) of {}",
            names.join(" and ")
        )));
    }
    transition(&txn, &row, MembershipStatus::Active, clock.now(), |u| u).await?;
    let membership = load(&txn, id).await?;
    audit(
        &txn,
        actor,
        clock,
        Action::Activate,
        Some(&current),
        &membership,
    )
    .await?;
    txn.commit().await?;
    tracing::debug!(membership = %id, "membership activated");
    Ok(membership)
}

/// Ends a PENDING or ACTIVE membership on purpose. The reason is kept for the record.
pub async fn cancel(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: MembershipId,
    reason: String,
) -> Result<Membership, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let reason =
        required_text("reason", &reason, REASON_MAX).map_err(|e| DomainError::Invalid(vec![e]))?;
    let txn = db.begin_write().await?;
    let row = lock_visible(&txn, actor, id).await?;
    let before = load(&txn, id).await?;
    transition(&txn, &row, MembershipStatus::Cancelled, clock.now(), |u| {
        u.col_expr(memberships::Column::CancelledReason, Expr::value(reason))
    })
    .await?;
    let membership = load(&txn, id).await?;
    audit(
        &txn,
        actor,
        clock,
        Action::Cancel,
        Some(&before),
        &membership,
    )
    .await?;
    txn.commit().await?;
    tracing::debug!(membership = %id, "membership cancelled");
    Ok(membership)
}

/// Marks a membership that ran out: an ACTIVE one after its year ended, a PENDING renewal
/// left unanswered past its notice date, or any other PENDING one after its year ended.
pub async fn lapse(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: MembershipId,
) -> Result<Membership, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let today = clock.today();
    let txn = db.begin_write().await?;
    let row = lock_visible(&txn, actor, id).await?;
    // The last day the membership still stands; final statuses are refused by `transition`.
    let runs_until = match status_of(&row)? {
        MembershipStatus::Active => Some(row.ends_on),
        // An unanswered renewal runs out at its notice date; a confirmed one, like an
        // enrolment, waits for activation until the year ends.
        MembershipStatus::Pending => Some(match row.notice_by {
            Some(notice_by) if row.decided_at.is_none() => notice_by.min(row.ends_on),
            _ => row.ends_on,
        }),
        MembershipStatus::Lapsed | MembershipStatus::Cancelled => None,
    };
    if let Some(until) = runs_until
        && today <= until
    {
        return Err(conflict(format!(
            "the membership stands until {until} and cannot lapse before then"
        )));
    }
    let before = load(&txn, id).await?;
    transition(&txn, &row, MembershipStatus::Lapsed, clock.now(), |u| u).await?;
    let membership = load(&txn, id).await?;
    audit(
        &txn,
        actor,
        clock,
        Action::Lapse,
        Some(&before),
        &membership,
    )
    .await?;
    txn.commit().await?;
    Ok(membership)
}
