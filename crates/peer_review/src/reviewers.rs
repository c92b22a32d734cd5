//! School leaders registered as peer reviewers, with their training.

use std::collections::HashMap;

use chrono::NaiveDate;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, Permission, Problems, ReviewerId, SchoolId, UserId,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};

use crate::common::{not_found, parse};
use crate::entity::reviewers;
use crate::types::TrainingStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    pub id: ReviewerId,
    pub user_id: UserId,
    /// The school the reviewer leads in, and whose reviews they never join.
    pub school_id: SchoolId,
    pub training: TrainingStatus,
    pub trained_on: Option<NaiveDate>,
}

impl Reviewer {
    pub(crate) fn from_row(row: &reviewers::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: ReviewerId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            school_id: SchoolId::from_uuid(row.school_id),
            training: parse(&row.training_status, "training status")?,
            trained_on: row.trained_on,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReviewer {
    pub user: UserId,
    pub school: SchoolId,
    pub training: TrainingStatus,
    pub trained_on: Option<NaiveDate>,
}

fn check_training(
    problems: &mut Problems,
    clock: &dyn Clock,
    training: TrainingStatus,
    trained_on: Option<NaiveDate>,
) {
    match (training, trained_on) {
        (TrainingStatus::Untrained, Some(_)) => problems.add(
            "trainedOn",
            ErrorCode::Invalid,
            "an untrained reviewer has no training date",
        ),
        (TrainingStatus::Untrained, None) => {}
        (_, None) => problems.add("trainedOn", ErrorCode::Required, "when were they trained?"),
        (_, Some(d)) if kernel::dates::in_window("trainedOn", d).is_err() => {
            problems.check(kernel::dates::in_window("trainedOn", d));
        }
        (_, Some(d)) if d > clock.today() => {
            problems.add(
                "trainedOn",
                ErrorCode::OutOfRange,
                "the date is in the future",
            );
        }
        _ => {}
    }
}

/// Registers a school leader as a reviewer for the school they act for.
pub async fn register_reviewer(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewReviewer,
) -> Result<Reviewer, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let mut problems = Problems::new();
    check_training(&mut problems, clock, input.training, input.trained_on);
    let users = membership::people::users::by_ids(db, &[input.user]).await?;
    match users.get(&input.user) {
        None => problems.add("userId", ErrorCode::NotFound, "no such user"),
        Some(u) if u.role != kernel::Role::SchoolLeader => {
            problems.add("userId", ErrorCode::Invalid, "reviewers are school leaders");
        }
        Some(_) => {
            let schools = membership::people::users::schools_of(db, &[input.user]).await?;
            if !schools
                .get(&input.user)
                .is_some_and(|s| s.contains(&input.school))
            {
                problems.add(
                    "schoolId",
                    ErrorCode::Invalid,
                    "the user does not act for this school",
                );
            }
        }
    }
    if reviewers::Entity::find()
        .filter(reviewers::Column::UserId.eq(input.user.as_uuid()))
        .count(db)
        .await?
        > 0
    {
        problems.add("userId", ErrorCode::Taken, "already a reviewer");
    }
    problems.finish()?;
    let now = clock.now();
    let row = reviewers::ActiveModel {
        id: Set(ReviewerId::new().as_uuid()),
        user_id: Set(input.user.as_uuid()),
        school_id: Set(input.school.as_uuid()),
        training_status: Set(input.training.as_str().to_owned()),
        trained_on: Set(input.trained_on),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(row) => Reviewer::from_row(&row),
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(DomainError::invalid(
                "userId",
                ErrorCode::Taken,
                "already a reviewer",
            ))
        }
        Err(err) => Err(err.into()),
    }
}

/// Records new training (e.g. an improvement champion trained as a lead reviewer).
pub async fn update_training(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewerId,
    training: TrainingStatus,
    trained_on: Option<NaiveDate>,
) -> Result<Reviewer, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let mut problems = Problems::new();
    check_training(&mut problems, clock, training, trained_on);
    problems.finish()?;
    let row = reviewers::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("Reviewer"))?;
    let mut row: reviewers::ActiveModel = row.into();
    row.training_status = Set(training.as_str().to_owned());
    row.trained_on = Set(trained_on);
    row.updated_at = Set(clock.now());
    Reviewer::from_row(&row.update(db).await?)
}

pub async fn reviewers_by_ids(
    db: &impl ConnectionTrait,
    ids: &[ReviewerId],
) -> Result<HashMap<ReviewerId, Reviewer>, DomainError> {
    reviewers::Entity::find()
        .filter(reviewers::Column::Id.is_in(ids.iter().map(ReviewerId::as_uuid)))
        .all(db)
        .await?
        .iter()
        .map(|r| Reviewer::from_row(r).map(|v| (v.id, v)))
        .collect()
}

/// Each school's reviewers; one statement.
pub async fn reviewers_of_schools(
    db: &impl ConnectionTrait,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Reviewer>>, DomainError> {
    let rows = reviewers::Entity::find()
        .filter(reviewers::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<Reviewer>> = HashMap::new();
    for r in &rows {
        let v = Reviewer::from_row(r)?;
        out.entry(v.school_id).or_default().push(v);
    }
    for list in out.values_mut() {
        list.sort_by_key(|r| (r.training, r.id));
    }
    Ok(out)
}
