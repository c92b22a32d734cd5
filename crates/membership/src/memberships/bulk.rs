//! Activating many memberships at once: the renewal season's chore. Each school confirms its
//! renewal and accepts the year's principles itself; partnership staff then put in force
//! every membership that is ready with one call ([`activate_ready`]), or a list they chose
//! ([`activate_many`]), instead of one call per school.
//!
//! The rule is [`super::activate`]'s, applied to each: PENDING, every principle accepted, and
//! for a renewal the school's confirmation. Both run in one transaction that locks the rows
//! they change, update them in chunks with a fixed number of statements, and write one trail
//! entry per membership.

use std::collections::HashMap;

use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, MembershipId, Permission, Problems,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};

use super::entity::memberships;
use super::history::{Action, audit_many};
use super::queries::{by_ids, hydrate};
use super::types::{Membership, MembershipStatus};

/// At most this many ids per [`activate_many`] call: a partnership's whole membership.
pub const MAX_BULK: usize = 1_000;

/// Rows per UPDATE: well inside SQLite's bound-parameter limit.
const CHUNK: usize = 200;

const FIELD: &str = "membershipIds";

/// Why `m` cannot be activated now, if it cannot.
fn blocker(m: &Membership) -> Option<String> {
    if !m.status.can_transition(MembershipStatus::Active) {
        return Some(format!(
            "the membership is {} and cannot become ACTIVE",
            m.status
        ));
    }
    let missing = m.missing_principles();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|p| p.label()).collect();
        return Some(format!(
            "the school has not yet accepted the principle(s) of {}",
            names.join(" and ")
        ));
    }
    if m.renewed_from.is_some() && m.decided_at.is_none() {
        return Some("the school has not yet confirmed its renewal".to_owned());
    }
    None
}

/// Activates the listed memberships, all or none. Partnership admins. Each id that is
/// unknown (or another school's, to a caller who may not see it) is `NOT_FOUND`, and each
/// that is not ready `CONFLICT` saying why, on `membershipIds.<index>`; then nothing changes.
/// Ids given twice count once; more than [`MAX_BULK`] is `OUT_OF_RANGE`.
pub async fn activate_many(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    ids: &[MembershipId],
) -> Result<Vec<Membership>, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(DomainError::invalid(
            FIELD,
            ErrorCode::OutOfRange,
            format!("give between 1 and {MAX_BULK} memberships"),
        ));
    }
    let txn = db.begin_write().await?;
    let rows = memberships::Entity::find()
        .filter(memberships::Column::Id.is_in(ids.iter().map(MembershipId::as_uuid)))
        .lock_exclusive()
        .all(&txn)
        .await?;
    let found: HashMap<MembershipId, Membership> = hydrate(&txn, rows)
        .await?
        .into_iter()
        .filter(|m| actor.may_see_school_records(m.school_id))
        .map(|m| (m.id, m))
        .collect();
    let mut problems = Problems::new();
    let mut chosen: Vec<&Membership> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("{FIELD}.{i}");
        match found.get(id) {
            None => problems.add(&field, ErrorCode::NotFound, "no such membership"),
            Some(m) => match blocker(m) {
                Some(why) => problems.add(&field, ErrorCode::Conflict, why),
                None if chosen.iter().any(|c| c.id == m.id) => {}
                None => chosen.push(m),
            },
        }
    }
    problems.finish()?;
    let chosen: Vec<Membership> = chosen.into_iter().cloned().collect();
    let done = activate_all(&txn, actor, clock, &chosen).await?;
    txn.commit().await?;
    Ok(done)
}

/// Activates every membership of `year` that is ready: PENDING, every principle accepted, and
/// for a renewal confirmed by the school. Partnership admins. Returns those it activated, by
/// school; a second call activates nothing new.
pub async fn activate_ready(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<Vec<Membership>, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let txn = db.begin_write().await?;
    let rows = memberships::Entity::find()
        .filter(memberships::Column::AcademicYear.eq(year.start_year()))
        .filter(memberships::Column::Status.eq(MembershipStatus::Pending.as_str()))
        .lock_exclusive()
        .all(&txn)
        .await?;
    let ready: Vec<Membership> = hydrate(&txn, rows)
        .await?
        .into_iter()
        .filter(|m| actor.may_see_school_records(m.school_id) && blocker(m).is_none())
        .collect();
    let done = activate_all(&txn, actor, clock, &ready).await?;
    txn.commit().await?;
    Ok(done)
}

/// PENDING → ACTIVE for each of `list` (all checked and locked by the caller), with one trail
/// entry each.
async fn activate_all(
    txn: &DatabaseTransaction,
    actor: &Actor,
    clock: &dyn Clock,
    list: &[Membership],
) -> Result<Vec<Membership>, DomainError> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let now = clock.now();
    for chunk in list.chunks(CHUNK) {
        let done = memberships::Entity::update_many()
            .col_expr(
                memberships::Column::Status,
                Expr::value(MembershipStatus::Active.as_str()),
            )
            .col_expr(memberships::Column::UpdatedAt, Expr::value(now))
            .filter(memberships::Column::Id.is_in(chunk.iter().map(|m| m.id.as_uuid())))
            .filter(memberships::Column::Status.eq(MembershipStatus::Pending.as_str()))
            .exec(txn)
            .await?;
        if done.rows_affected != chunk.len() as u64 {
            return Err(DomainError::invalid(
                FIELD,
                ErrorCode::Conflict,
                "a membership changed meanwhile; reload them and try again",
            ));
        }
    }
    let ids: Vec<MembershipId> = list.iter().map(|m| m.id).collect();
    let after = by_ids(txn, &ids).await?;
    let mut activated: Vec<Membership> = list
        .iter()
        .filter_map(|m| after.get(&m.id).cloned())
        .collect();
    let pairs: Vec<(Option<&Membership>, &Membership)> = list
        .iter()
        .zip(&activated)
        .map(|(before, after)| (Some(before), after))
        .collect();
    audit_many(txn, actor, clock, Action::Activate, &pairs).await?;
    activated.sort_by_key(|m| (m.school_id, m.id));
    tracing::debug!(count = activated.len(), "memberships activated in bulk");
    Ok(activated)
}
