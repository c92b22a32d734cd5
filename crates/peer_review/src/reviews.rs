//! Reviews: scheduling, teams, self-review and the forward-only workflow.
//!
//! Who moves each step:
//! * PLANNING → SCHEDULED ([`schedule`]): the host school's leaders or staff, once the visit
//!   dates (inside the cycle's visit window) and a team with a lead are set;
//! * SCHEDULED → VISITED: the team's lead reviewer or staff, once the host has submitted its
//!   self-review and the visit has started;
//! * VISITED → REPORT_DRAFT: any reviewer on the team, or staff;
//! * REPORT_DRAFT → AGREED: the host school's leaders (the report is theirs) or staff, once
//!   the report has at least one finding; from here the report is never edited;
//! * AGREED → PUBLISHED_TO_PARTNERSHIP: the host school's leaders only, and only with their
//!   PARTNERSHIP consent recorded.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::outbox::EventKind;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, Permission, Problems, ReviewCycleId, ReviewId,
    ReviewerId, SchoolId, SelfReviewId,
};
use membership::{NameKey, Page, PageArgs, fetch_page};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};

use crate::common::{acts_for, forbidden, is_staff, not_found, to_json, user_of};
use crate::confidentiality::may_read_report;
use crate::cycles;
use crate::entity::{findings, reviewers, reviews, self_reviews, team_members};
use crate::loaders;
use crate::records::{Consent, self_review_from_row};
use crate::types::{ReviewStatus, TeamRole, TrainingStatus, bounded_text, required_text};

pub use crate::records::{AreaEvaluation, Review, ReviewReport, SelfReview, TeamMember};

/// A review with what deciding who may act on it needs.
pub(crate) struct Loaded {
    pub review: Review,
    pub team: Vec<TeamMember>,
}

impl Loaded {
    pub(crate) fn on_team(&self, actor: &Actor) -> bool {
        actor.can(Permission::TakePartInPeerReview)
            && actor
                .as_user()
                .is_some_and(|u| self.team.iter().any(|m| m.user_id == u.id))
    }

    pub(crate) fn leads(&self, actor: &Actor) -> bool {
        actor.can(Permission::TakePartInPeerReview)
            && actor.as_user().is_some_and(|u| {
                self.team
                    .iter()
                    .any(|m| m.user_id == u.id && m.role == TeamRole::Lead)
            })
    }

    pub(crate) fn hosts(&self, actor: &Actor) -> bool {
        acts_for(actor, self.review.host_school_id)
    }

    /// Refuses with `Forbidden`, or `NotFound` when the caller may not even read the report.
    pub(crate) fn require(
        &self,
        actor: &Actor,
        consents: &[Consent],
        allowed: bool,
        what: &str,
    ) -> Result<(), DomainError> {
        if allowed {
            Ok(())
        } else if may_read_report(actor, &self.review, &self.team, consents) {
            Err(forbidden(what))
        } else {
            Err(not_found("Review"))
        }
    }
}

pub(crate) async fn load(db: &impl ConnectionTrait, id: ReviewId) -> Result<Loaded, DomainError> {
    let review = reviews::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("Review"))
        .and_then(Review::from_row)?;
    let team = loaders::teams_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(Loaded { review, team })
}

/// The review with its consents, if the confidentiality rule lets `actor` read its report;
/// NOT_FOUND otherwise, as if it did not exist.
async fn readable(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ReviewId,
) -> Result<(Loaded, Vec<Consent>), DomainError> {
    actor.require(Permission::ReadPeerReview)?;
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    if !may_read_report(actor, &loaded.review, &loaded.team, &consents) {
        return Err(not_found("Review"));
    }
    Ok((loaded, consents))
}

/// The full report, if the confidentiality rule lets the caller read it.
pub async fn review(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ReviewId,
) -> Result<ReviewReport, DomainError> {
    let (loaded, consents) = readable(db, actor, id).await?;
    Ok(ReviewReport {
        self_review: loaders::self_reviews_of(db, &[id]).await?.remove(&id),
        findings: loaders::findings_of(db, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
        actions: loaders::actions_of(db, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
        consents,
        review: loaded.review,
        team: loaded.team,
    })
}

/// The reviews the caller may read: their schools' own, those they review, and those shared
/// with them; staff see every one. Sorted by host name.
pub async fn my_reviews(
    db: &DatabaseConnection,
    actor: &Actor,
    cycle: ReviewCycleId,
) -> Result<Vec<Review>, DomainError> {
    actor.require(Permission::ReadPeerReview)?;
    let Some(user) = actor.as_user() else {
        return Ok(Vec::new());
    };
    let on_team: Vec<uuid::Uuid> = team_members::Entity::find()
        .inner_join(reviewers::Entity)
        .filter(reviewers::Column::UserId.eq(user.id.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.review_id)
        .collect();
    let shared: Vec<uuid::Uuid> = crate::entity::consents::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(
                    crate::entity::consents::Column::Scope
                        .eq(crate::types::ConsentScope::Partnership.as_str()),
                )
                .add(
                    crate::entity::consents::Column::SchoolId
                        .is_in(user.schools.iter().map(SchoolId::as_uuid)),
                ),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.review_id)
        .collect();
    let mut select = reviews::Entity::find().filter(reviews::Column::CycleId.eq(cycle.as_uuid()));
    if !is_staff(actor) {
        select = select.filter(
            sea_orm::Condition::any()
                .add(
                    reviews::Column::HostSchoolId.is_in(user.schools.iter().map(SchoolId::as_uuid)),
                )
                .add(reviews::Column::Id.is_in(on_team))
                .add(reviews::Column::Id.is_in(shared)),
        );
    }
    let rows: Vec<Review> = select
        .all(db)
        .await?
        .into_iter()
        .map(Review::from_row)
        .collect::<Result<_, _>>()?;
    let ids: Vec<ReviewId> = rows.iter().map(|r| r.id).collect();
    let teams = loaders::teams_of(db, &ids).await?;
    let consents = loaders::consents_of(db, &ids).await?;
    let mut out: Vec<Review> = rows
        .into_iter()
        .filter(|r| {
            may_read_report(
                actor,
                r,
                teams.get(&r.id).map_or(&[], Vec::as_slice),
                consents.get(&r.id).map_or(&[], Vec::as_slice),
            )
        })
        .collect();
    out.sort_by_key(Review::sort_key);
    Ok(out)
}

/// Every review of a cycle, by host name (keyset): for partnership staff.
pub async fn reviews_of_cycle(
    db: &DatabaseConnection,
    actor: &Actor,
    cycle: ReviewCycleId,
    args: &PageArgs<NameKey>,
) -> Result<Page<Review>, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let page = fetch_page(
        db,
        reviews::Entity::find().filter(reviews::Column::CycleId.eq(cycle.as_uuid())),
        reviews::Column::HostName,
        reviews::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(Review::from_row)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// Moves `review` from `from` to the next status in one conditional UPDATE, so two
/// concurrent moves cannot both succeed.
async fn step(
    db: &impl ConnectionTrait,
    review: ReviewId,
    from: ReviewStatus,
    now: DateTime<Utc>,
    extra: Vec<(reviews::Column, sea_orm::sea_query::SimpleExpr)>,
) -> Result<(), DomainError> {
    let to = from
        .next()
        .expect("callers only step statuses that have a next");
    let mut update = reviews::Entity::update_many()
        .col_expr(reviews::Column::Status, Expr::value(to.as_str()))
        .col_expr(reviews::Column::UpdatedAt, Expr::value(now));
    for (col, value) in extra {
        update = update.col_expr(col, value);
    }
    let done = update
        .filter(reviews::Column::Id.eq(review.as_uuid()))
        .filter(reviews::Column::Status.eq(from.as_str()))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Conflict,
            "the review moved on meanwhile",
        ));
    }
    Ok(())
}

/// Records, in the step's transaction, that people should hear of it (notifications).
async fn announce(
    txn: &impl ConnectionTrait,
    kind: EventKind,
    review: ReviewId,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    kernel::outbox::record(txn, kind, review.as_uuid(), serde_json::json!({}), at).await?;
    Ok(())
}

/// How reviews are named in the audit trail (`kernel::audit`).
pub const AUDIT_ENTITY: &str = "REVIEW";

/// What the trail keeps of a review at each change: the review (report summary included),
/// its team and its self-review. Findings, actions and consents are not in it.
#[derive(Debug, serde::Serialize)]
struct Snapshot {
    review: Review,
    team: Vec<TeamMember>,
    self_review: Option<SelfReview>,
}

async fn snapshot(db: &impl ConnectionTrait, id: ReviewId) -> Result<Snapshot, DomainError> {
    let Loaded { review, team } = load(db, id).await?;
    Ok(Snapshot {
        review,
        team,
        self_review: loaders::self_reviews_of(db, &[id]).await?.remove(&id),
    })
}

/// Writes the trail entry of a change made in `txn`: the review as `before` and as the
/// transaction leaves it.
async fn audit(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    before: Snapshot,
) -> Result<(), DomainError> {
    let id = before.review.id;
    let after = snapshot(txn, id).await?;
    kernel::audit::record(
        txn,
        actor,
        clock,
        action,
        (AUDIT_ENTITY, id.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await
}

/// The review's history, oldest change first: who scheduled it, set its team, moved it on or
/// wrote its report, and when. For whoever may read the review's report.
pub async fn history(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ReviewId,
) -> Result<Vec<kernel::audit::Entry>, DomainError> {
    readable(db, actor, id).await?;
    kernel::audit::trail(db, AUDIT_ENTITY, id.as_uuid()).await
}

fn wrong_status(current: ReviewStatus, to: ReviewStatus) -> DomainError {
    DomainError::invalid(
        "status",
        ErrorCode::Conflict,
        format!("a review moves one step forward at a time: {current} cannot become {to}"),
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInput {
    pub visit_starts_on: NaiveDate,
    pub visit_ends_on: NaiveDate,
    pub enquiry_focus: String,
}

const FOCUS_MAX: usize = 2000;
const TEXT_MAX: usize = 20_000;

/// PLANNING → SCHEDULED: sets the visit dates and the enquiry focus.
pub async fn schedule(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewId,
    input: ScheduleInput,
) -> Result<Review, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.hosts(actor),
        "only the host school or partnership staff schedule a review",
    )?;
    if loaded.review.status != ReviewStatus::Planning {
        return Err(wrong_status(loaded.review.status, ReviewStatus::Scheduled));
    }
    let cycle = cycles::load(db, loaded.review.cycle_id).await?;
    let mut problems = Problems::new();
    let focus = problems.check(required_text(
        "enquiryFocus",
        &input.enquiry_focus,
        FOCUS_MAX,
    ));
    if input.visit_ends_on < input.visit_starts_on {
        problems.add(
            "visitEndsOn",
            ErrorCode::OutOfRange,
            "the visit ends before it starts",
        );
    }
    for (field, date) in [
        ("visitStartsOn", input.visit_starts_on),
        ("visitEndsOn", input.visit_ends_on),
    ] {
        if problems
            .check(kernel::dates::in_window(field, date))
            .is_some()
            && !cycle.windows.visits.contains(date)
        {
            problems.add(
                field,
                ErrorCode::OutOfRange,
                "outside the cycle's visit window",
            );
        }
    }
    match loaded.team.iter().find(|m| m.role == TeamRole::Lead) {
        None => problems.add("team", ErrorCode::Required, "the team has no lead reviewer"),
        Some(lead)
            if cycle.rules.require_lead_reviewer
                && lead.training != TrainingStatus::TrainedLeadReviewer =>
        {
            problems.add(
                "team",
                ErrorCode::Invalid,
                "the cycle requires the team to be led by a trained lead reviewer",
            );
        }
        Some(_) => {}
    }
    problems.finish()?;
    let focus = focus.expect("checked");
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, id).await?;
    step(
        &txn,
        id,
        ReviewStatus::Planning,
        clock.now(),
        vec![
            (
                reviews::Column::VisitStartsOn,
                Expr::value(input.visit_starts_on),
            ),
            (
                reviews::Column::VisitEndsOn,
                Expr::value(input.visit_ends_on),
            ),
            (reviews::Column::EnquiryFocus, Expr::value(focus)),
        ],
    )
    .await?;
    announce(&txn, EventKind::ReviewScheduled, id, clock.now()).await?;
    audit(&txn, actor, clock, "review.schedule", before).await?;
    txn.commit().await?;
    Ok(load(db, id).await?.review)
}

/// Moves a review to `to`, which must be the step after its current status (VISITED,
/// REPORT_DRAFT, AGREED or PUBLISHED_TO_PARTNERSHIP; SCHEDULED goes through [`schedule`]).
pub async fn advance(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewId,
    to: ReviewStatus,
) -> Result<Review, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let from = loaded.review.status;
    let allowed = match to {
        // Nobody may move a review back to planning, but to those who can see the review
        // that is a workflow error (the `wrong_status` conflict below), not a permission one.
        ReviewStatus::Planning => may_read_report(actor, &loaded.review, &loaded.team, &consents),
        ReviewStatus::Scheduled => false,
        ReviewStatus::Visited => is_staff(actor) || loaded.leads(actor),
        ReviewStatus::ReportDraft => is_staff(actor) || loaded.on_team(actor),
        ReviewStatus::Agreed => is_staff(actor) || loaded.hosts(actor),
        ReviewStatus::PublishedToPartnership => loaded.hosts(actor),
    };
    if to == ReviewStatus::Scheduled {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Invalid,
            "scheduling sets the visit dates: use schedule",
        ));
    }
    loaded.require(
        actor,
        &consents,
        allowed,
        &format!("this caller cannot move the review to {to}"),
    )?;
    if from.next() != Some(to) {
        return Err(wrong_status(from, to));
    }
    let now = clock.now();
    let mut extra = Vec::new();
    match to {
        ReviewStatus::Visited => {
            let mut problems = Problems::new();
            if loaders::self_reviews_of(db, &[id]).await?.is_empty() {
                problems.add(
                    "selfReview",
                    ErrorCode::Required,
                    "the host has not submitted its self-review",
                );
            }
            if loaded
                .review
                .visit_starts_on
                .is_some_and(|d| d > clock.today())
            {
                problems.add(
                    "status",
                    ErrorCode::Conflict,
                    "the visit has not started yet",
                );
            }
            problems.finish()?;
        }
        ReviewStatus::Agreed => {
            let n = findings::Entity::find()
                .filter(findings::Column::ReviewId.eq(id.as_uuid()))
                .count(db)
                .await?;
            if n == 0 {
                return Err(DomainError::invalid(
                    "findings",
                    ErrorCode::Required,
                    "a report needs at least one finding",
                ));
            }
            extra.push((reviews::Column::AgreedAt, Expr::value(now)));
            extra.push((
                reviews::Column::AgreedBy,
                Expr::value(user_of(actor).map(|u| u.as_uuid())),
            ));
        }
        ReviewStatus::PublishedToPartnership => {
            if !consents
                .iter()
                .any(|c| c.scope == crate::types::ConsentScope::Partnership)
            {
                return Err(DomainError::invalid(
                    "consent",
                    ErrorCode::Required,
                    "record the school's consent to share with the partnership first",
                ));
            }
            extra.push((reviews::Column::PublishedAt, Expr::value(now)));
        }
        _ => {}
    }
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, id).await?;
    step(&txn, id, from, now, extra).await?;
    audit(&txn, actor, clock, "review.advance", before).await?;
    let told = match to {
        ReviewStatus::ReportDraft => Some(EventKind::ReviewReportReady),
        ReviewStatus::PublishedToPartnership => Some(EventKind::ReviewPublished),
        _ => None,
    };
    if let Some(kind) = told {
        announce(&txn, kind, id, now).await?;
    }
    txn.commit().await?;
    Ok(load(db, id).await?.review)
}

/// Sets the review's team. Staff only, before the visit; nobody reviews their own school.
pub async fn set_team(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewId,
    members: &[(ReviewerId, TeamRole)],
) -> Result<Vec<TeamMember>, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let loaded = load(db, id).await?;
    let cycle = cycles::load(db, loaded.review.cycle_id).await?;
    let ids: Vec<ReviewerId> = members.iter().map(|(r, _)| *r).collect();
    let known = crate::reviewers::reviewers_by_ids(db, &ids).await?;
    let mut problems = Problems::new();
    if !matches!(
        loaded.review.status,
        ReviewStatus::Planning | ReviewStatus::Scheduled
    ) {
        problems.add(
            "status",
            ErrorCode::Conflict,
            "the team is fixed once the visit has happened",
        );
    }
    for (i, (r, _)) in members.iter().enumerate() {
        match known.get(r) {
            None => problems.add(
                &format!("members.{i}.reviewerId"),
                ErrorCode::NotFound,
                "no such reviewer",
            ),
            Some(v) if v.school_id == loaded.review.host_school_id => problems.add(
                &format!("members.{i}.reviewerId"),
                ErrorCode::Invalid,
                "a school cannot review itself",
            ),
            Some(_) => {}
        }
        if ids[..i].contains(r) {
            problems.add(
                &format!("members.{i}.reviewerId"),
                ErrorCode::Taken,
                "listed twice",
            );
        }
    }
    let leads: Vec<&ReviewerId> = members
        .iter()
        .filter(|(_, role)| *role == TeamRole::Lead)
        .map(|(r, _)| r)
        .collect();
    if leads.len() != 1 {
        problems.add(
            "members",
            ErrorCode::Invalid,
            "a team has exactly one lead reviewer",
        );
    } else if cycle.rules.require_lead_reviewer
        && known
            .get(leads[0])
            .is_some_and(|v| v.training != TrainingStatus::TrainedLeadReviewer)
    {
        problems.add(
            "members",
            ErrorCode::Invalid,
            "the cycle requires a trained lead reviewer to lead",
        );
    }
    problems.finish()?;
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, id).await?;
    // Re-checked under the write: the visit may have been recorded meanwhile.
    let touched = reviews::Entity::update_many()
        .col_expr(reviews::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(reviews::Column::Id.eq(id.as_uuid()))
        .filter(reviews::Column::Status.is_in([
            ReviewStatus::Planning.as_str(),
            ReviewStatus::Scheduled.as_str(),
        ]))
        .exec(&txn)
        .await?;
    if touched.rows_affected == 0 {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Conflict,
            "the team is fixed once the visit has happened",
        ));
    }
    team_members::Entity::delete_many()
        .filter(team_members::Column::ReviewId.eq(id.as_uuid()))
        .exec(&txn)
        .await?;
    team_members::Entity::insert_many(members.iter().map(|(r, role)| team_members::ActiveModel {
        review_id: Set(id.as_uuid()),
        reviewer_id: Set(r.as_uuid()),
        role: Set(role.as_str().to_owned()),
    }))
    .exec(&txn)
    .await?;
    audit(&txn, actor, clock, "review.set_team", before).await?;
    txn.commit().await?;
    Ok(loaders::teams_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfReviewInput {
    pub summary: String,
    pub evaluations: Vec<AreaEvaluation>,
}

/// The host school's self-review, submitted (or resubmitted) before the visit.
pub async fn submit_self_review(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewId,
    input: SelfReviewInput,
) -> Result<SelfReview, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    loaded.require(
        actor,
        &consents,
        loaded.hosts(actor),
        "only the host school writes its self-review",
    )?;
    let cycle = cycles::load(db, loaded.review.cycle_id).await?;
    let mut problems = Problems::new();
    if !matches!(
        loaded.review.status,
        ReviewStatus::Planning | ReviewStatus::Scheduled
    ) {
        problems.add(
            "status",
            ErrorCode::Conflict,
            "the self-review comes before the visit",
        );
    }
    let summary = problems.check(bounded_text("summary", &input.summary, TEXT_MAX));
    for (i, e) in input.evaluations.iter().enumerate() {
        if cycle.framework.area(&e.area).is_none() {
            problems.add(
                &format!("evaluations.{i}.area"),
                ErrorCode::Invalid,
                "not an area of the cycle's framework",
            );
        }
        if !cycle.framework.has_scale_value(&e.evaluation) {
            problems.add(
                &format!("evaluations.{i}.evaluation"),
                ErrorCode::Invalid,
                "not on the cycle's scale",
            );
        }
        if input.evaluations[..i].iter().any(|o| o.area == e.area) {
            problems.add(
                &format!("evaluations.{i}.area"),
                ErrorCode::Taken,
                "area evaluated twice",
            );
        }
    }
    problems.finish()?;
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, id).await?;
    self_reviews::Entity::delete_many()
        .filter(self_reviews::Column::ReviewId.eq(id.as_uuid()))
        .exec(&txn)
        .await?;
    let row = self_reviews::ActiveModel {
        id: Set(SelfReviewId::new().as_uuid()),
        review_id: Set(id.as_uuid()),
        summary: Set(summary.unwrap_or_default()),
        evaluations: Set(to_json(&input.evaluations)),
        submitted_by: Set(user_of(actor).map(|u| u.as_uuid())),
        submitted_at: Set(clock.now()),
    }
    .insert(&txn)
    .await?;
    audit(&txn, actor, clock, "review.self_review", before).await?;
    txn.commit().await?;
    self_review_from_row(row)
}

/// Sets the report's summary while the team drafts it.
pub async fn set_report_summary(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewId,
    summary: &str,
) -> Result<Review, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.on_team(actor),
        "only the review team writes the report",
    )?;
    let summary =
        bounded_text("summary", summary, TEXT_MAX).map_err(|e| DomainError::Invalid(vec![e]))?;
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, id).await?;
    let done = reviews::Entity::update_many()
        .col_expr(reviews::Column::ReportSummary, Expr::value(summary))
        .col_expr(reviews::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(reviews::Column::Id.eq(id.as_uuid()))
        .filter(reviews::Column::Status.is_in([
            ReviewStatus::Visited.as_str(),
            ReviewStatus::ReportDraft.as_str(),
        ]))
        .exec(&txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Conflict,
            "the report can only be written between the visit and its agreement",
        ));
    }
    audit(&txn, actor, clock, "review.report_summary", before).await?;
    txn.commit().await?;
    Ok(load(db, id).await?.review)
}
