//! Review cycles: one per academic year, with the framework, the windows, the grouping rules
//! and the participating schools.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, Permission, Problems, ReviewCycleId,
    SchoolId,
};
use membership::{NameKey, Page, PageArgs, fetch_page};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect, Set,
};

use crate::common::{from_json, not_found, parse, to_json};
use crate::entity::{cycles, participants};
use crate::grouping::{Constraints, GroupSize};
use crate::types::{CycleWindows, DateWindow, Framework, GroupsStatus, required_text};

/// The rules groups are formed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupingRules {
    /// 3 (triads) to 7.
    pub target_group_size: u8,
    pub allow_same_hard_partnership: bool,
    pub avoid_last_year_groups: bool,
    pub require_lead_reviewer: bool,
}

impl Default for GroupingRules {
    fn default() -> Self {
        Self {
            target_group_size: 3,
            allow_same_hard_partnership: false,
            avoid_last_year_groups: true,
            require_lead_reviewer: true,
        }
    }
}

impl GroupingRules {
    #[must_use]
    pub fn constraints(self) -> Constraints {
        Constraints {
            sizes: GroupSize::new(usize::from(self.target_group_size)).unwrap_or(GroupSize::TRIADS),
            allow_same_hard_partnership: self.allow_same_hard_partnership,
            avoid_last_year_groups: self.avoid_last_year_groups,
            require_lead_reviewer: self.require_lead_reviewer,
        }
    }

    fn validate(self, problems: &mut Problems) {
        if GroupSize::new(usize::from(self.target_group_size)).is_none() {
            problems.add(
                "rules.targetGroupSize",
                ErrorCode::OutOfRange,
                "groups have 3 to 7 schools",
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub id: ReviewCycleId,
    pub academic_year: AcademicYear,
    pub name: String,
    pub framework: Framework,
    pub windows: CycleWindows,
    pub rules: GroupingRules,
    pub groups_status: GroupsStatus,
    pub groups_confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Cycle {
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.name.clone(), self.id.as_uuid())
    }

    pub(crate) fn from_row(row: cycles::Model) -> Result<Self, DomainError> {
        let w = |opens_on, closes_on| DateWindow {
            opens_on,
            closes_on,
        };
        Ok(Self {
            id: ReviewCycleId::from_uuid(row.id),
            academic_year: AcademicYear::starting(row.academic_year)
                .map_err(DomainError::internal)?,
            framework: from_json(row.framework, "cycle framework")?,
            windows: CycleWindows {
                self_review: w(row.self_review_opens_on, row.self_review_closes_on),
                visits: w(row.visits_open_on, row.visits_close_on),
                follow_up: w(row.follow_up_opens_on, row.follow_up_closes_on),
            },
            rules: GroupingRules {
                target_group_size: u8::try_from(row.target_group_size)
                    .map_err(DomainError::internal)?,
                allow_same_hard_partnership: row.allow_same_hard_partnership,
                avoid_last_year_groups: row.avoid_last_year_groups,
                require_lead_reviewer: row.require_lead_reviewer,
            },
            groups_status: parse(&row.groups_status, "groups status")?,
            groups_confirmed_at: row.groups_confirmed_at,
            name: row.name,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCycle {
    /// The starting calendar year: 2026 is 2026/27.
    pub academic_year: i32,
    pub name: String,
    pub framework: Framework,
    pub windows: CycleWindows,
    pub rules: GroupingRules,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleChanges {
    pub name: Option<String>,
    pub framework: Option<Framework>,
    pub windows: Option<CycleWindows>,
    pub rules: Option<GroupingRules>,
}

const NAME_MAX: usize = 200;
/// Participants per INSERT (3 columns each).
const PARTICIPANTS_PER_INSERT: usize = 5_000;

fn set_windows(row: &mut cycles::ActiveModel, w: CycleWindows) {
    row.self_review_opens_on = Set(w.self_review.opens_on);
    row.self_review_closes_on = Set(w.self_review.closes_on);
    row.visits_open_on = Set(w.visits.opens_on);
    row.visits_close_on = Set(w.visits.closes_on);
    row.follow_up_opens_on = Set(w.follow_up.opens_on);
    row.follow_up_closes_on = Set(w.follow_up.closes_on);
}

fn set_rules(row: &mut cycles::ActiveModel, r: GroupingRules) {
    row.target_group_size = Set(i32::from(r.target_group_size));
    row.allow_same_hard_partnership = Set(r.allow_same_hard_partnership);
    row.avoid_last_year_groups = Set(r.avoid_last_year_groups);
    row.require_lead_reviewer = Set(r.require_lead_reviewer);
}

pub async fn create_cycle(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewCycle,
) -> Result<Cycle, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let mut problems = Problems::new();
    let year = AcademicYear::starting(input.academic_year).ok();
    if year.is_none() {
        problems.add(
            "academicYear",
            ErrorCode::OutOfRange,
            "not an academic year",
        );
    }
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    input.framework.validate(&mut problems);
    if let Some(year) = year {
        input.windows.validate(year, &mut problems);
        if cycles::Entity::find()
            .filter(cycles::Column::AcademicYear.eq(year.start_year()))
            .count(db)
            .await?
            > 0
        {
            problems.add(
                "academicYear",
                ErrorCode::Taken,
                format!("{year} already has a review cycle"),
            );
        }
    }
    input.rules.validate(&mut problems);
    let (year, name) = problems.finish_with((year, name))?;
    let now = clock.now();
    let mut row = cycles::ActiveModel {
        id: Set(ReviewCycleId::new().as_uuid()),
        academic_year: Set(year.start_year()),
        name: Set(name),
        framework: Set(to_json(&input.framework)),
        groups_status: Set(GroupsStatus::None.as_str().to_owned()),
        groups_confirmed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_windows(&mut row, input.windows);
    set_rules(&mut row, input.rules);
    match row.insert(db).await {
        Ok(row) => Cycle::from_row(row),
        Err(err)
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(DomainError::invalid(
                "academicYear",
                ErrorCode::Taken,
                format!("{year} already has a review cycle"),
            ))
        }
        Err(err) => Err(err.into()),
    }
}

/// Changes a cycle. Once its groups are confirmed the framework and the grouping rules are
/// fixed (reviews were planned under them); the name and windows may still change.
pub async fn update_cycle(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewCycleId,
    changes: CycleChanges,
) -> Result<Cycle, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let txn = db.begin_write().await?;
    let existing = cycles::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(not_found("ReviewCycle"))?;
    let current = Cycle::from_row(existing.clone())?;
    let mut problems = Problems::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, NAME_MAX)));
    if let Some(f) = &changes.framework {
        f.validate(&mut problems);
    }
    if let Some(w) = &changes.windows {
        w.validate(current.academic_year, &mut problems);
    }
    if let Some(r) = changes.rules {
        r.validate(&mut problems);
    }
    if current.groups_status == GroupsStatus::Confirmed {
        for (field, changed) in [
            ("framework", changes.framework.is_some()),
            ("rules", changes.rules.is_some()),
        ] {
            if changed {
                problems.add(
                    field,
                    ErrorCode::Conflict,
                    "the cycle's groups are confirmed: reviews were planned under it",
                );
            }
        }
    }
    problems.finish()?;
    let mut row: cycles::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(f) = &changes.framework {
        row.framework = Set(to_json(f));
    }
    if let Some(w) = changes.windows {
        set_windows(&mut row, w);
    }
    if let Some(r) = changes.rules {
        set_rules(&mut row, r);
    }
    row.updated_at = Set(clock.now());
    let row = row.update(&txn).await?;
    txn.commit().await?;
    Cycle::from_row(row)
}

pub async fn cycle(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ReviewCycleId,
) -> Result<Cycle, DomainError> {
    actor.require(Permission::ReadPeerReview)?;
    load(db, id).await
}

pub(crate) async fn load(
    db: &impl ConnectionTrait,
    id: ReviewCycleId,
) -> Result<Cycle, DomainError> {
    cycles::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(not_found("ReviewCycle"))
        .and_then(Cycle::from_row)
}

/// Cycles by name (keyset).
pub async fn cycles(
    db: &DatabaseConnection,
    actor: &Actor,
    args: &PageArgs<NameKey>,
) -> Result<Page<Cycle>, DomainError> {
    actor.require(Permission::ReadPeerReview)?;
    let page = fetch_page(
        db,
        cycles::Entity::find(),
        cycles::Column::Name,
        cycles::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(Cycle::from_row)
        .collect::<Result<_, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// Replaces the cycle's participating schools; only before its groups are confirmed.
pub async fn set_participants(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ReviewCycleId,
    schools: &[SchoolId],
) -> Result<Vec<SchoolId>, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let mut wanted: Vec<SchoolId> = schools.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let known = membership::school::by_ids(db, &wanted).await?;
    let mut problems = Problems::new();
    for (i, s) in schools.iter().enumerate() {
        if !known.contains_key(s) {
            problems.add(
                &format!("schoolIds.{i}"),
                ErrorCode::NotFound,
                "no such school",
            );
        }
    }
    problems.finish()?;
    let txn = db.begin_write().await?;
    let cycle = cycles::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(not_found("ReviewCycle"))?;
    if cycle.groups_status == GroupsStatus::Confirmed.as_str() {
        return Err(DomainError::invalid(
            "schoolIds",
            ErrorCode::Conflict,
            "the cycle's groups are confirmed",
        ));
    }
    participants::Entity::delete_many()
        .filter(participants::Column::CycleId.eq(id.as_uuid()))
        .exec(&txn)
        .await?;
    let now = clock.now();
    // A national cycle has 25,000 schools: one INSERT of them all would bind 75,000
    // parameters, past PostgreSQL's 65,535 and SQLite's 32,766.
    for chunk in wanted.chunks(PARTICIPANTS_PER_INSERT) {
        participants::Entity::insert_many(chunk.iter().map(|s| participants::ActiveModel {
            cycle_id: Set(id.as_uuid()),
            school_id: Set(s.as_uuid()),
            added_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(wanted)
}

/// Each cycle's participating schools; one statement.
pub async fn participants_of(
    db: &impl ConnectionTrait,
    ids: &[ReviewCycleId],
) -> Result<HashMap<ReviewCycleId, Vec<SchoolId>>, DomainError> {
    let rows = participants::Entity::find()
        .filter(participants::Column::CycleId.is_in(ids.iter().map(ReviewCycleId::as_uuid)))
        .all(db)
        .await?;
    let mut out: HashMap<ReviewCycleId, Vec<SchoolId>> = HashMap::new();
    for r in rows {
        out.entry(ReviewCycleId::from_uuid(r.cycle_id))
            .or_default()
            .push(SchoolId::from_uuid(r.school_id));
    }
    Ok(out)
}

pub async fn cycles_by_ids(
    db: &DatabaseConnection,
    ids: &[ReviewCycleId],
) -> Result<HashMap<ReviewCycleId, Cycle>, DomainError> {
    cycles::Entity::find()
        .filter(cycles::Column::Id.is_in(ids.iter().map(ReviewCycleId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| Cycle::from_row(r).map(|c| (c.id, c)))
        .collect()
}
