//! Checked reads of peer review: each takes the caller and answers only what that caller may
//! see; an id the caller may not see is left out exactly like an unknown one. Who may read a
//! review is [`crate::confidentiality`]'s one rule.

use std::collections::HashMap;

use kernel::{Actor, DomainError, Permission, ReviewCycleId, ReviewGroupId, ReviewId};
use sea_orm::DatabaseConnection;

use crate::confidentiality::may_read_report;
use crate::cycles::{Cycle, cycles_by_ids};
use crate::groups::{Group, groups_by_ids};
use crate::loaders::{consents_of, reviews_by_ids, reviews_of_schools, teams_of};
use crate::records::Review;
use crate::reviewers::{Reviewer, reviewers_of_schools};

/// Review cycles: to everyone who takes part in peer review.
pub async fn visible_cycles(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ReviewCycleId],
) -> Result<HashMap<ReviewCycleId, Cycle>, DomainError> {
    if !actor.can(Permission::ReadPeerReview) {
        return Ok(HashMap::new());
    }
    cycles_by_ids(db, ids).await
}

/// Review groups: to the staff who run peer review only (who reviews whom is theirs until
/// the reviews say it).
pub async fn visible_groups(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ReviewGroupId],
) -> Result<HashMap<ReviewGroupId, Group>, DomainError> {
    if !actor.can(Permission::ManagePeerReview) {
        return Ok(HashMap::new());
    }
    groups_by_ids(db, ids).await
}

/// Reviews whose report the caller may read: three statements however many ids.
pub async fn visible_reviews(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Review>, DomainError> {
    if !actor.can(Permission::ReadPeerReview) {
        return Ok(HashMap::new());
    }
    let mut found = reviews_by_ids(db, ids).await?;
    let present: Vec<ReviewId> = found.keys().copied().collect();
    let teams = teams_of(db, &present).await?;
    let consents = consents_of(db, &present).await?;
    found.retain(|id, review| {
        may_read_report(
            actor,
            review,
            teams.get(id).map_or(&[][..], Vec::as_slice),
            consents.get(id).map_or(&[][..], Vec::as_slice),
        )
    });
    Ok(found)
}

/// The reviews each school hosts whose report the caller may read: three statements however
/// many schools.
pub async fn visible_reviews_of_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schools: &[kernel::SchoolId],
) -> Result<HashMap<kernel::SchoolId, Vec<Review>>, DomainError> {
    if !actor.can(Permission::ReadPeerReview) {
        return Ok(HashMap::new());
    }
    let mut hosted = reviews_of_schools(db, schools).await?;
    let ids: Vec<ReviewId> = hosted.values().flatten().map(|r| r.id).collect();
    let teams = teams_of(db, &ids).await?;
    let consents = consents_of(db, &ids).await?;
    for reviews in hosted.values_mut() {
        reviews.retain(|review| {
            may_read_report(
                actor,
                review,
                teams.get(&review.id).map_or(&[][..], Vec::as_slice),
                consents.get(&review.id).map_or(&[][..], Vec::as_slice),
            )
        });
    }
    Ok(hosted)
}

/// Each school's registered reviewers, to the staff who run peer review only (they build
/// teams from them; a school sees its reviewers through its own people's records).
pub async fn visible_reviewers_of_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schools: &[kernel::SchoolId],
) -> Result<HashMap<kernel::SchoolId, Vec<Reviewer>>, DomainError> {
    if !actor.can(Permission::ManagePeerReview) {
        return Ok(HashMap::new());
    }
    reviewers_of_schools(db, schools).await
}
