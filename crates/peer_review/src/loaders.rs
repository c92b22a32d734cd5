//! Batch reads for the gateway's DataLoaders: one SQL statement each, no actor (the gateway
//! checks visibility on the parent, with [`crate::confidentiality::may_read_report`] for
//! anything inside a report).

use std::collections::HashMap;

use kernel::{DomainError, FollowUpActionId, ReviewId, SchoolId};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::entity::{
    actions, consents, findings, reviews, self_reviews, support_requests, team_members,
};
use crate::records::{
    Action, Consent, Finding, Review, SelfReview, SupportRequest, TeamMember, self_review_from_row,
    team_from_rows,
};

pub async fn reviews_by_ids(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Review>, DomainError> {
    reviews::Entity::find()
        .filter(reviews::Column::Id.is_in(ids.iter().map(ReviewId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| Review::from_row(r).map(|r| (r.id, r)))
        .collect()
}

/// The reviews each school hosted, newest cycle first.
pub async fn reviews_of_schools(
    db: &impl ConnectionTrait,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Review>>, DomainError> {
    let rows = reviews::Entity::find()
        .filter(reviews::Column::HostSchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .order_by_desc(reviews::Column::CreatedAt)
        .order_by_asc(reviews::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<Review>> = HashMap::new();
    for r in rows {
        let r = Review::from_row(r)?;
        out.entry(r.host_school_id).or_default().push(r);
    }
    Ok(out)
}

/// Each review's team with the reviewers' users and schools, lead first.
pub async fn teams_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Vec<TeamMember>>, DomainError> {
    let rows = team_members::Entity::find()
        .filter(team_members::Column::ReviewId.is_in(ids.iter().map(ReviewId::as_uuid)))
        .find_also_related(crate::entity::reviewers::Entity)
        .all(db)
        .await?;
    team_from_rows(rows)
}

pub async fn consents_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Vec<Consent>>, DomainError> {
    let rows = consents::Entity::find()
        .filter(consents::Column::ReviewId.is_in(ids.iter().map(ReviewId::as_uuid)))
        .order_by_asc(consents::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<ReviewId, Vec<Consent>> = HashMap::new();
    for r in rows {
        let c = Consent::from_row(&r)?;
        out.entry(c.review_id).or_default().push(c);
    }
    Ok(out)
}

pub async fn self_reviews_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, SelfReview>, DomainError> {
    self_reviews::Entity::find()
        .filter(self_reviews::Column::ReviewId.is_in(ids.iter().map(ReviewId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| self_review_from_row(r).map(|s| (s.review_id, s)))
        .collect()
}

/// Each review's findings, strengths first, in the order recorded.
pub async fn findings_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Vec<Finding>>, DomainError> {
    let rows = findings::Entity::find()
        .filter(findings::Column::ReviewId.is_in(ids.iter().map(ReviewId::as_uuid)))
        .order_by_desc(findings::Column::Kind)
        .order_by_asc(findings::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<ReviewId, Vec<Finding>> = HashMap::new();
    for r in rows {
        let f = Finding::from_row(r)?;
        out.entry(f.review_id).or_default().push(f);
    }
    Ok(out)
}

/// Each review's actions with their support request; one statement (a left join).
pub async fn actions_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewId],
) -> Result<HashMap<ReviewId, Vec<Action>>, DomainError> {
    let rows = actions::Entity::find()
        .filter(actions::Column::ReviewId.is_in(ids.iter().map(ReviewId::as_uuid)))
        .find_also_related(support_requests::Entity)
        .order_by_asc(actions::Column::DueOn)
        .order_by_asc(actions::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<ReviewId, Vec<Action>> = HashMap::new();
    for (a, s) in rows {
        let a = Action::from_row(a, s.map(SupportRequest::from_row).transpose()?)?;
        out.entry(a.review_id).or_default().push(a);
    }
    Ok(out)
}

pub async fn support_of_actions(
    db: &impl ConnectionTrait,
    ids: &[FollowUpActionId],
) -> Result<HashMap<FollowUpActionId, SupportRequest>, DomainError> {
    support_requests::Entity::find()
        .filter(support_requests::Column::ActionId.is_in(ids.iter().map(FollowUpActionId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| SupportRequest::from_row(r).map(|s| (s.action_id, s)))
        .collect()
}
