//! A review and its report as every reader receives them: the review, its team and
//! self-review, and the report's findings, actions, support requests and consents. The
//! workflows ([`crate::reviews`], [`crate::report`]), the batch reads ([`crate::loaders`]) and
//! the rule on who may read a report ([`crate::confidentiality`]) all build on these, so none
//! of them needs another for its types.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{
    DomainError, FindingId, FollowUpActionId, ReviewCycleId, ReviewGroupId, ReviewId, ReviewerId,
    SchoolId, SelfReviewId, SharingConsentId, SupportRequestId, UserId,
};
use membership::NameKey;

use crate::common::{from_json, parse};
use crate::entity::{
    actions, consents, findings, reviewers, reviews, self_reviews, support_requests, team_members,
};
use crate::types::{
    ActionStatus, ConsentScope, FindingKind, ReviewStatus, TeamRole, TrainingStatus,
};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Review {
    pub id: ReviewId,
    pub cycle_id: ReviewCycleId,
    pub group_id: ReviewGroupId,
    pub host_school_id: SchoolId,
    pub host_name: String,
    pub status: ReviewStatus,
    pub visit_starts_on: Option<NaiveDate>,
    pub visit_ends_on: Option<NaiveDate>,
    pub enquiry_focus: String,
    pub report_summary: String,
    pub agreed_at: Option<DateTime<Utc>>,
    pub agreed_by: Option<UserId>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Review {
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.host_name.clone(), self.id.as_uuid())
    }

    pub(crate) fn from_row(row: reviews::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: ReviewId::from_uuid(row.id),
            cycle_id: ReviewCycleId::from_uuid(row.cycle_id),
            group_id: ReviewGroupId::from_uuid(row.group_id),
            host_school_id: SchoolId::from_uuid(row.host_school_id),
            status: parse(&row.status, "review status")?,
            host_name: row.host_name,
            visit_starts_on: row.visit_starts_on,
            visit_ends_on: row.visit_ends_on,
            enquiry_focus: row.enquiry_focus,
            report_summary: row.report_summary,
            agreed_at: row.agreed_at,
            agreed_by: row.agreed_by.map(UserId::from_uuid),
            published_at: row.published_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A reviewer on a review's team.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TeamMember {
    pub review_id: ReviewId,
    pub reviewer_id: ReviewerId,
    pub user_id: UserId,
    pub school_id: SchoolId,
    pub training: TrainingStatus,
    pub role: TeamRole,
}

/// One area's evaluation on the cycle's scale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AreaEvaluation {
    pub area: String,
    pub evaluation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SelfReview {
    pub id: SelfReviewId,
    pub review_id: ReviewId,
    pub summary: String,
    pub evaluations: Vec<AreaEvaluation>,
    pub submitted_by: Option<UserId>,
    pub submitted_at: DateTime<Utc>,
}

/// Everything a reader of the report sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewReport {
    pub review: Review,
    pub team: Vec<TeamMember>,
    pub self_review: Option<SelfReview>,
    pub findings: Vec<Finding>,
    pub actions: Vec<Action>,
    pub consents: Vec<Consent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: FindingId,
    pub review_id: ReviewId,
    pub kind: FindingKind,
    /// Key of an area of the cycle's framework.
    pub area: String,
    /// A short label grouping like findings across reviews (e.g. "curriculum sequencing in
    /// foundation subjects"), lower-cased; may be empty.
    pub theme: String,
    pub summary: String,
    pub evidence: String,
    /// Key of a value of the cycle's scale.
    pub evaluation: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl Finding {
    pub(crate) fn from_row(r: findings::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: FindingId::from_uuid(r.id),
            review_id: ReviewId::from_uuid(r.review_id),
            kind: parse(&r.kind, "finding kind")?,
            area: r.area,
            theme: r.theme,
            summary: r.summary,
            evidence: r.evidence,
            evaluation: r.evaluation,
            created_by: r.created_by.map(UserId::from_uuid),
            created_at: r.created_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportRequest {
    pub id: SupportRequestId,
    pub action_id: FollowUpActionId,
    pub providing_school_id: SchoolId,
    pub request: String,
    pub requested_by: Option<UserId>,
    pub requested_at: DateTime<Utc>,
    /// Time the providing school gave, once recorded.
    pub minutes_provided: Option<u32>,
    pub recorded_by: Option<UserId>,
    pub recorded_at: Option<DateTime<Utc>>,
}

impl SupportRequest {
    pub(crate) fn from_row(r: support_requests::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: SupportRequestId::from_uuid(r.id),
            action_id: FollowUpActionId::from_uuid(r.action_id),
            providing_school_id: SchoolId::from_uuid(r.providing_school_id),
            request: r.request,
            requested_by: r.requested_by.map(UserId::from_uuid),
            requested_at: r.requested_at,
            minutes_provided: r
                .minutes_provided
                .map(u32::try_from)
                .transpose()
                .map_err(DomainError::internal)?,
            recorded_by: r.recorded_by.map(UserId::from_uuid),
            recorded_at: r.recorded_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub id: FollowUpActionId,
    pub review_id: ReviewId,
    pub finding_id: Option<FindingId>,
    pub description: String,
    /// Who at the host school owns it (a name or post, e.g. "Deputy head (curriculum)").
    pub owner: String,
    pub due_on: NaiveDate,
    pub status: ActionStatus,
    pub support: Option<SupportRequest>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Action {
    pub(crate) fn from_row(
        r: actions::Model,
        support: Option<SupportRequest>,
    ) -> Result<Self, DomainError> {
        Ok(Self {
            id: FollowUpActionId::from_uuid(r.id),
            review_id: ReviewId::from_uuid(r.review_id),
            finding_id: r.finding_id.map(FindingId::from_uuid),
            status: parse(&r.status, "action status")?,
            description: r.description,
            owner: r.owner,
            due_on: r.due_on,
            support,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: SharingConsentId,
    pub review_id: ReviewId,
    pub scope: ConsentScope,
    /// The school shared with, for scope SCHOOL.
    pub school_id: Option<SchoolId>,
    pub recorded_by: Option<UserId>,
    pub recorded_at: DateTime<Utc>,
}

impl Consent {
    pub(crate) fn from_row(r: &consents::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: SharingConsentId::from_uuid(r.id),
            review_id: ReviewId::from_uuid(r.review_id),
            scope: parse(&r.scope, "consent scope")?,
            school_id: r.school_id.map(SchoolId::from_uuid),
            recorded_by: r.recorded_by.map(UserId::from_uuid),
            recorded_at: r.recorded_at,
        })
    }
}

pub(crate) fn self_review_from_row(row: self_reviews::Model) -> Result<SelfReview, DomainError> {
    Ok(SelfReview {
        id: SelfReviewId::from_uuid(row.id),
        review_id: ReviewId::from_uuid(row.review_id),
        summary: row.summary,
        evaluations: from_json(row.evaluations, "self-review evaluations")?,
        submitted_by: row.submitted_by.map(UserId::from_uuid),
        submitted_at: row.submitted_at,
    })
}

pub(crate) fn team_from_rows(
    rows: Vec<(team_members::Model, Option<reviewers::Model>)>,
) -> Result<HashMap<ReviewId, Vec<TeamMember>>, DomainError> {
    let mut out: HashMap<ReviewId, Vec<TeamMember>> = HashMap::new();
    for (m, r) in rows {
        let r = r.ok_or_else(|| {
            DomainError::internal(crate::common::CorruptRow(
                "team member without reviewer".into(),
            ))
        })?;
        let review_id = ReviewId::from_uuid(m.review_id);
        out.entry(review_id).or_default().push(TeamMember {
            review_id,
            reviewer_id: ReviewerId::from_uuid(m.reviewer_id),
            user_id: UserId::from_uuid(r.user_id),
            school_id: SchoolId::from_uuid(r.school_id),
            training: parse(&r.training_status, "training status")?,
            role: parse(&m.role, "team role")?,
        });
    }
    for team in out.values_mut() {
        team.sort_by_key(|m| (m.role, m.reviewer_id));
    }
    Ok(out)
}
