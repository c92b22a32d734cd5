//! A review's report: findings, follow-up actions with school-to-school support, and the
//! host's consents to share it.
//!
//! Findings are written by the team between the visit and agreement; actions are agreed as
//! part of the report and then followed up by the host; once AGREED nothing in the report
//! changes except actions' progress and support. The time a providing school gives is
//! recorded here in minutes with the school; paying or crediting it is billing's business,
//! done by the gateway from [`support_provided_by`].

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, FindingId, FollowUpActionId, Permission, Problems,
    ReviewId, SchoolId, SharingConsentId, SupportRequestId,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::common::{acts_for, forbidden, is_staff, not_found, parse, user_of};
use crate::cycles;
use crate::entity::{actions, consents, findings, reviews, support_requests};
use crate::loaders;
use crate::reviews::{Loaded, load};
use crate::types::{
    ActionStatus, ConsentScope, FindingKind, ReviewStatus, bounded_text, required_text,
};

pub use crate::records::{Action, Consent, Finding, SupportRequest};

const TEXT_MAX: usize = 10_000;

/// Opens the write transaction of a report edit with the review row locked and its status
/// re-checked, so an agreement committed meanwhile cannot be followed by an edit (on
/// PostgreSQL the status change waits for this lock; SQLite serialises writers anyway).
async fn locked_in(
    db: &DatabaseConnection,
    review: ReviewId,
    allowed: &[ReviewStatus],
) -> Result<DatabaseTransaction, DomainError> {
    let txn = db.begin_write().await?;
    let row = reviews::Entity::find_by_id(review.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(not_found("Review"))?;
    let status: ReviewStatus = parse(&row.status, "review status")?;
    if allowed.contains(&status) {
        Ok(txn)
    } else {
        Err(report_locked(status))
    }
}
const SHORT_MAX: usize = 200;

async fn loaded_with_consents(
    db: &DatabaseConnection,
    id: ReviewId,
) -> Result<(Loaded, Vec<Consent>), DomainError> {
    let loaded = load(db, id).await?;
    let consents = loaders::consents_of(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok((loaded, consents))
}

fn report_locked(status: ReviewStatus) -> DomainError {
    DomainError::invalid(
        "status",
        ErrorCode::Conflict,
        if status.report_is_agreed() {
            "the report is agreed and can no longer be edited".to_owned()
        } else {
            format!("findings are written between the visit and agreement, not at {status}")
        },
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinding {
    pub kind: FindingKind,
    pub area: String,
    pub theme: String,
    pub summary: String,
    pub evidence: String,
    pub evaluation: Option<String>,
}

/// The team records a strength or an area for development.
pub async fn add_finding(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    review: ReviewId,
    input: NewFinding,
) -> Result<Finding, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let (loaded, consents) = loaded_with_consents(db, review).await?;
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.on_team(actor),
        "only the review team records findings",
    )?;
    if !matches!(
        loaded.review.status,
        ReviewStatus::Visited | ReviewStatus::ReportDraft
    ) {
        return Err(report_locked(loaded.review.status));
    }
    let cycle = cycles::load(db, loaded.review.cycle_id).await?;
    let mut problems = Problems::new();
    if cycle.framework.area(&input.area).is_none() {
        problems.add(
            "area",
            ErrorCode::Invalid,
            "not an area of the cycle's framework",
        );
    }
    if let Some(e) = &input.evaluation
        && !cycle.framework.has_scale_value(e)
    {
        problems.add("evaluation", ErrorCode::Invalid, "not on the cycle's scale");
    }
    let theme = problems.check(bounded_text("theme", &input.theme, SHORT_MAX));
    let summary = problems.check(required_text("summary", &input.summary, TEXT_MAX));
    let evidence = problems.check(required_text("evidence", &input.evidence, TEXT_MAX));
    problems.finish()?;
    let txn = locked_in(
        db,
        review,
        &[ReviewStatus::Visited, ReviewStatus::ReportDraft],
    )
    .await?;
    let row = findings::ActiveModel {
        id: Set(FindingId::new().as_uuid()),
        review_id: Set(review.as_uuid()),
        kind: Set(input.kind.as_str().to_owned()),
        area: Set(input.area),
        theme: Set(theme.unwrap_or_default().to_lowercase()),
        summary: Set(summary.unwrap_or_default()),
        evidence: Set(evidence.unwrap_or_default()),
        evaluation: Set(input.evaluation),
        created_by: Set(user_of(actor).map(|u| u.as_uuid())),
        created_at: Set(clock.now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Finding::from_row(row)
}

/// Removes a finding from a report still being drafted.
pub async fn remove_finding(
    db: &DatabaseConnection,
    actor: &Actor,
    finding: FindingId,
) -> Result<(), DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let row = findings::Entity::find_by_id(finding.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("ReviewFinding"))?;
    let (loaded, consents) = loaded_with_consents(db, ReviewId::from_uuid(row.review_id)).await?;
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.on_team(actor),
        "only the review team edits findings",
    )?;
    // The status is re-checked in the statement itself, so an agreement racing this delete
    // cannot lose a finding from an agreed report.
    let done = findings::Entity::delete_many()
        .filter(findings::Column::Id.eq(finding.as_uuid()))
        .filter(
            findings::Column::ReviewId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(reviews::Column::Id)
                    .from(reviews::Entity)
                    .and_where(reviews::Column::Status.is_in([
                        ReviewStatus::Visited.as_str(),
                        ReviewStatus::ReportDraft.as_str(),
                    ]))
                    .to_owned(),
            ),
        )
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        return Err(report_locked(loaded.review.status));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAction {
    pub finding: Option<FindingId>,
    pub description: String,
    pub owner: String,
    pub due_on: NaiveDate,
}

/// Adds an agreed follow-up action while the report is drafted (team, host or staff).
pub async fn add_action(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    review: ReviewId,
    input: NewAction,
) -> Result<Action, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let (loaded, consents) = loaded_with_consents(db, review).await?;
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.on_team(actor) || loaded.hosts(actor),
        "only the review team and the host agree actions",
    )?;
    if loaded.review.status != ReviewStatus::ReportDraft {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Conflict,
            "actions are agreed while the report is drafted",
        ));
    }
    let cycle = cycles::load(db, loaded.review.cycle_id).await?;
    let mut problems = Problems::new();
    let description = problems.check(required_text("description", &input.description, TEXT_MAX));
    let owner = problems.check(required_text("owner", &input.owner, SHORT_MAX));
    if problems
        .check(kernel::dates::in_window("dueOn", input.due_on))
        .is_some()
        && !cycle.windows.follow_up.contains(input.due_on)
    {
        problems.add(
            "dueOn",
            ErrorCode::OutOfRange,
            "outside the cycle's follow-up window",
        );
    }
    if let Some(f) = input.finding
        && findings::Entity::find_by_id(f.as_uuid())
            .filter(findings::Column::ReviewId.eq(review.as_uuid()))
            .one(db)
            .await?
            .is_none()
    {
        problems.add(
            "findingId",
            ErrorCode::NotFound,
            "no such finding in this review",
        );
    }
    problems.finish()?;
    let txn = locked_in(db, review, &[ReviewStatus::ReportDraft]).await?;
    let now = clock.now();
    let row = actions::ActiveModel {
        id: Set(FollowUpActionId::new().as_uuid()),
        review_id: Set(review.as_uuid()),
        finding_id: Set(input.finding.map(|f| f.as_uuid())),
        description: Set(description.unwrap_or_default()),
        owner: Set(owner.unwrap_or_default()),
        due_on: Set(input.due_on),
        status: Set(ActionStatus::Open.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Action::from_row(row, None)
}

async fn load_action(
    db: &DatabaseConnection,
    id: FollowUpActionId,
) -> Result<actions::Model, DomainError> {
    actions::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("FollowUpAction"))
}

async fn action_out(db: &DatabaseConnection, id: FollowUpActionId) -> Result<Action, DomainError> {
    let row = load_action(db, id).await?;
    let support = loaders::support_of_actions(db, &[id]).await?.remove(&id);
    Action::from_row(row, support)
}

/// The host follows up its actions once the report is agreed.
pub async fn set_action_status(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: FollowUpActionId,
    status: ActionStatus,
) -> Result<Action, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let row = load_action(db, id).await?;
    let (loaded, consents) = loaded_with_consents(db, ReviewId::from_uuid(row.review_id)).await?;
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.hosts(actor),
        "only the host school follows up its actions",
    )?;
    if !loaded.review.status.report_is_agreed() {
        return Err(DomainError::invalid(
            "status",
            ErrorCode::Conflict,
            "actions are followed up once the report is agreed",
        ));
    }
    let mut row: actions::ActiveModel = row.into();
    row.status = Set(status.as_str().to_owned());
    row.updated_at = Set(clock.now());
    row.update(db).await?;
    action_out(db, id).await
}

/// The host asks another school for support with an action (one request per action).
pub async fn request_support(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    action: FollowUpActionId,
    providing_school: SchoolId,
    request: &str,
) -> Result<SupportRequest, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let row = load_action(db, action).await?;
    let (loaded, consents) = loaded_with_consents(db, ReviewId::from_uuid(row.review_id)).await?;
    loaded.require(
        actor,
        &consents,
        is_staff(actor) || loaded.hosts(actor),
        "only the host school asks for support",
    )?;
    let mut problems = Problems::new();
    if !loaded.review.status.report_is_agreed() {
        problems.add(
            "actionId",
            ErrorCode::Conflict,
            "support follows an agreed report",
        );
    }
    if providing_school == loaded.review.host_school_id {
        problems.add(
            "providingSchoolId",
            ErrorCode::Invalid,
            "a school cannot support itself",
        );
    } else if membership::school::by_ids(db, &[providing_school])
        .await?
        .is_empty()
    {
        problems.add("providingSchoolId", ErrorCode::NotFound, "no such school");
    }
    let request = problems.check(required_text("request", request, TEXT_MAX));
    if support_requests::Entity::find()
        .filter(support_requests::Column::ActionId.eq(action.as_uuid()))
        .one(db)
        .await?
        .is_some()
    {
        problems.add(
            "actionId",
            ErrorCode::Taken,
            "support was already requested",
        );
    }
    problems.finish()?;
    let inserted = support_requests::ActiveModel {
        id: Set(SupportRequestId::new().as_uuid()),
        action_id: Set(action.as_uuid()),
        providing_school_id: Set(providing_school.as_uuid()),
        request: Set(request.unwrap_or_default()),
        requested_by: Set(user_of(actor).map(|u| u.as_uuid())),
        requested_at: Set(clock.now()),
        minutes_provided: Set(None),
        recorded_by: Set(None),
        recorded_at: Set(None),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => SupportRequest::from_row(row),
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(DomainError::invalid(
                "actionId",
                ErrorCode::Taken,
                "support was already requested",
            ))
        }
        Err(err) => Err(err.into()),
    }
}

/// Longest single record of support time: a full term of one day a week.
pub const MAX_SUPPORT_MINUTES: u32 = 13 * 7 * 60;

/// The providing school (or staff) records the time it gave. Only the providing school's
/// leaders learn of the action this way; the report itself stays confidential.
pub async fn record_support_time(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: SupportRequestId,
    minutes: u32,
) -> Result<SupportRequest, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let row = support_requests::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("SupportRequest"))?;
    let provider = SchoolId::from_uuid(row.providing_school_id);
    if !(is_staff(actor) || acts_for(actor, provider)) {
        return Err(not_found("SupportRequest"));
    }
    if minutes == 0 || minutes > MAX_SUPPORT_MINUTES {
        return Err(DomainError::invalid(
            "minutesProvided",
            ErrorCode::OutOfRange,
            format!("between 1 and {MAX_SUPPORT_MINUTES} minutes"),
        ));
    }
    let mut row: support_requests::ActiveModel = row.into();
    row.minutes_provided = Set(Some(i32::try_from(minutes).map_err(DomainError::internal)?));
    row.recorded_by = Set(user_of(actor).map(|u| u.as_uuid()));
    row.recorded_at = Set(Some(clock.now()));
    SupportRequest::from_row(row.update(db).await?)
}

/// Support a school has provided, with the time recorded: what billing pays or credits the
/// providing school for. Finance and partnership staff, or the providing school's leaders.
pub async fn support_provided_by(
    db: &DatabaseConnection,
    actor: &Actor,
    school: SchoolId,
) -> Result<Vec<SupportRequest>, DomainError> {
    if !(actor.can(Permission::ManageBilling) || is_staff(actor) || acts_for(actor, school)) {
        return Err(forbidden(
            "support records are for finance, staff and the providing school",
        ));
    }
    support_requests::Entity::find()
        .filter(support_requests::Column::ProvidingSchoolId.eq(school.as_uuid()))
        .order_by_asc(support_requests::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(SupportRequest::from_row)
        .collect()
}

/// One support request, for whoever may read support records of its providing school.
pub async fn support_request(
    db: &DatabaseConnection,
    actor: &Actor,
    id: SupportRequestId,
) -> Result<SupportRequest, DomainError> {
    let request = support_requests::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "SupportRequest",
        })
        .and_then(SupportRequest::from_row)?;
    if actor.can(Permission::ManageBilling)
        || is_staff(actor)
        || acts_for(actor, request.providing_school_id)
    {
        Ok(request)
    } else {
        Err(DomainError::NotFound {
            entity: "SupportRequest",
        })
    }
}

/// The host school records its consent to share its agreed report: with one named school,
/// or with the partnership (which then allows publishing it).
pub async fn record_consent(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    review: ReviewId,
    scope: ConsentScope,
    school: Option<SchoolId>,
) -> Result<Consent, DomainError> {
    actor.require(Permission::TakePartInPeerReview)?;
    let (loaded, consents) = loaded_with_consents(db, review).await?;
    loaded.require(
        actor,
        &consents,
        loaded.hosts(actor),
        "only the host school consents to sharing its report",
    )?;
    let mut problems = Problems::new();
    if !loaded.review.status.report_is_agreed() {
        problems.add(
            "status",
            ErrorCode::Conflict,
            "only an agreed report can be shared",
        );
    }
    match (scope, school) {
        (ConsentScope::Partnership, Some(_)) => {
            problems.add(
                "schoolId",
                ErrorCode::Invalid,
                "partnership-wide consent names no school",
            );
        }
        (ConsentScope::School, None) => {
            problems.add(
                "schoolId",
                ErrorCode::Required,
                "which school may read the report?",
            );
        }
        (ConsentScope::School, Some(s)) => {
            if s == loaded.review.host_school_id {
                problems.add(
                    "schoolId",
                    ErrorCode::Invalid,
                    "the host reads its own report",
                );
            } else if membership::school::by_ids(db, &[s]).await?.is_empty() {
                problems.add("schoolId", ErrorCode::NotFound, "no such school");
            }
        }
        (ConsentScope::Partnership, None) => {}
    }
    if consents
        .iter()
        .any(|c| c.scope == scope && c.school_id == school)
    {
        problems.add(
            "scope",
            ErrorCode::Taken,
            "this consent is already recorded",
        );
    }
    problems.finish()?;
    let row = consents::ActiveModel {
        id: Set(SharingConsentId::new().as_uuid()),
        review_id: Set(review.as_uuid()),
        scope: Set(scope.as_str().to_owned()),
        school_id: Set(school.map(|s| s.as_uuid())),
        recorded_by: Set(user_of(actor).map(|u| u.as_uuid())),
        recorded_at: Set(clock.now()),
    }
    .insert(db)
    .await?;
    Consent::from_row(&row)
}
