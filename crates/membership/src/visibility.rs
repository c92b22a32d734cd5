//! Checked reads of the directory and membership records: each takes the caller and answers
//! only what that caller may see, so a reader (`node(id:)`, an export, a job) cannot forget
//! the rule. An id the caller may not see is left out exactly like an unknown one.

use std::collections::HashMap;

use kernel::{Actor, ApiKeyId, DomainError, MembershipId, PartnershipId, Permission, SchoolId};
use kernel::{TierId, UserId};
use sea_orm::DatabaseConnection;

use crate::memberships::{self, Membership, MembershipWithTier, SchoolWithMemberships, Tier};
use crate::partnership::{self, Partnership};
use crate::people::{ApiKey, User, api_keys, users};
use crate::school::{self, School};

/// Schools: the directory is for everyone signed in with `ReadDirectory`.
pub async fn visible_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, School>, DomainError> {
    if !actor.can(Permission::ReadDirectory) {
        return Ok(HashMap::new());
    }
    school::by_ids(db, ids).await
}

/// Partnerships: part of the directory, as schools.
pub async fn visible_partnerships(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[PartnershipId],
) -> Result<HashMap<PartnershipId, Partnership>, DomainError> {
    if !actor.can(Permission::ReadDirectory) {
        return Ok(HashMap::new());
    }
    partnership::by_ids(db, ids).await
}

/// Whether `actor` may read the account of `user`: those who manage users, and each user
/// their own.
#[must_use]
pub fn may_read_user(actor: &Actor, user: UserId) -> bool {
    actor.can(Permission::ManageUsers) || actor.as_user().is_some_and(|u| u.id == user)
}

/// Users: to those who manage users every one, to a user themself.
pub async fn visible_users(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[UserId],
) -> Result<HashMap<UserId, User>, DomainError> {
    let wanted: Vec<UserId> = ids
        .iter()
        .copied()
        .filter(|id| may_read_user(actor, *id))
        .collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    users::by_ids(db, &wanted).await
}

/// API keys: to those who manage them only (a key's holder never reads keys through Trellis).
pub async fn visible_api_keys(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ApiKeyId],
) -> Result<HashMap<ApiKeyId, ApiKey>, DomainError> {
    if !actor.can(Permission::ManageApiKeys) {
        return Ok(HashMap::new());
    }
    api_keys::by_ids(db, ids).await
}

/// Membership tiers: the published price list's kinds, to all who read memberships.
pub async fn visible_tiers(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[TierId],
) -> Result<HashMap<TierId, Tier>, DomainError> {
    if !actor.can(Permission::ReadMemberships) {
        return Ok(HashMap::new());
    }
    memberships::tiers_by_ids(db, ids).await
}

/// Memberships: each to those who may read its school's ([`memberships::may_read`]).
pub async fn visible_memberships(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[MembershipId],
) -> Result<HashMap<MembershipId, Membership>, DomainError> {
    if !actor.can(Permission::ReadMemberships) {
        return Ok(HashMap::new());
    }
    let mut found = memberships::by_ids(db, ids).await?;
    found.retain(|_, m| memberships::may_read(actor, m.school_id));
    Ok(found)
}

/// Each school's memberships with their tiers, newest year first, for the schools whose
/// memberships the caller may read; the others are left out.
pub async fn visible_memberships_of_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<MembershipWithTier>>, DomainError> {
    let readable: Vec<SchoolId> = schools
        .iter()
        .copied()
        .filter(|s| memberships::may_read(actor, *s))
        .collect();
    if readable.is_empty() {
        return Ok(HashMap::new());
    }
    memberships::of_schools_with_tiers(db, &readable).await
}

/// Schools (as [`visible_schools`] answers them), each with its memberships (as
/// [`visible_memberships_of_schools`]: empty for a school whose memberships the caller may
/// not read), in id order and **one statement**: a dashboard opening on the caller's
/// schools shows each one's membership without a second round trip.
pub async fn visible_schools_with_memberships(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[SchoolId],
) -> Result<Vec<SchoolWithMemberships>, DomainError> {
    if !actor.can(Permission::ReadDirectory) {
        return Ok(Vec::new());
    }
    let readable: Vec<SchoolId> = ids
        .iter()
        .copied()
        .filter(|s| memberships::may_read(actor, *s))
        .collect();
    memberships::schools_with_memberships(db, ids, &readable).await
}
