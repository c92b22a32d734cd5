//! Proposals persisted, edited by staff and confirmed into reviews.
//!
//! A proposal is stored as the cycle's groups with their explanation while the cycle's
//! `groups_status` is PROPOSED; staff move schools between groups (each move answers with the
//! rules the changed groups now break, as warnings), and confirming checks the rules that
//! cannot be waived and creates every group's reviews with its host rota and teams.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, Permission, Problems, ReviewCycleId, ReviewGroupId,
    ReviewId, SchoolId,
};
use membership::partnership;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::common::{from_json, not_found, to_json};
use crate::cycles::{self, Cycle};
use crate::entity::{cycles as cycle_rows, group_members, groups, reviews, team_members};
use crate::grouping::{
    Candidate, GroupSize, HardPartnership, PhaseBand, Reason, Relaxation, Violation, check_group,
    propose_groups,
};
use crate::reviewers::reviewers_of_schools;
use crate::types::{GroupsStatus, ReviewStatus, TeamRole, TrainingStatus};

/// Groups or members per INSERT (5 columns each).
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub school_id: SchoolId,
    /// The school's turn to host (0 first).
    pub rota_position: u32,
    pub reasons: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: ReviewGroupId,
    pub cycle_id: ReviewCycleId,
    pub position: u32,
    pub relaxations: Vec<Relaxation>,
    /// In rota order.
    pub members: Vec<GroupMember>,
    pub created_at: DateTime<Utc>,
}

/// A rule a group breaks after staff edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupWarning {
    pub group: ReviewGroupId,
    pub violation: Violation,
}

/// A cycle's groups as they stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Groups {
    pub cycle_id: ReviewCycleId,
    pub status: GroupsStatus,
    pub groups: Vec<Group>,
    /// Rules the groups break now, re-checked against today's directory and reviewers.
    pub warnings: Vec<GroupWarning>,
}

/// The facts group formation needs about the cycle's participants; a handful of statements
/// whatever the number of schools. Read outside the write transaction: the directory's
/// loaders take the pool, and a proposal is a suggestion staff review before confirming.
async fn candidates(
    db: &DatabaseConnection,
    cycle: &Cycle,
    schools: &[SchoolId],
) -> Result<Vec<Candidate>, DomainError> {
    let directory = membership::school::by_ids(db, schools).await?;
    let places = partnership::memberships_of(db, schools).await?;
    let reviewers = reviewers_of_schools(db, schools).await?;
    let last_year = last_year_groups(db, cycle, schools).await?;
    let mut out = Vec::with_capacity(schools.len());
    for s in schools {
        let school = directory.get(s).ok_or(not_found("School"))?;
        let hard_partnerships = places
            .get(s)
            .into_iter()
            .flatten()
            .map(|place| &place.partnership)
            .filter(|p| p.kind.shares_governance())
            .map(|p| HardPartnership {
                id: p.id,
                name: p.name.clone(),
            })
            .collect();
        out.push(Candidate {
            school: *s,
            name: school.name.clone(),
            phase: school.phase,
            hard_partnerships,
            has_trained_lead: reviewers.get(s).is_some_and(|r| {
                r.iter()
                    .any(|r| r.training == TrainingStatus::TrainedLeadReviewer)
            }),
            last_year_group: last_year.get(s).copied(),
        });
    }
    Ok(out)
}

/// Each school's group in the previous year's cycle, as a key shared by its members.
async fn last_year_groups(
    db: &impl ConnectionTrait,
    cycle: &Cycle,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, u64>, DomainError> {
    let Some(previous) = cycle_rows::Entity::find()
        .filter(cycle_rows::Column::AcademicYear.eq(cycle.academic_year.start_year() - 1))
        .one(db)
        .await?
    else {
        return Ok(HashMap::new());
    };
    let rows = group_members::Entity::find()
        .filter(group_members::Column::CycleId.eq(previous.id))
        .filter(group_members::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let bytes = r.group_id.as_bytes();
            let mut key = [0u8; 8];
            key.copy_from_slice(&bytes[8..]);
            (SchoolId::from_uuid(r.school_id), u64::from_le_bytes(key))
        })
        .collect())
}

async fn load_groups(
    db: &impl ConnectionTrait,
    cycle: ReviewCycleId,
) -> Result<Vec<Group>, DomainError> {
    let rows = groups::Entity::find()
        .filter(groups::Column::CycleId.eq(cycle.as_uuid()))
        .order_by_asc(groups::Column::Position)
        .all(db)
        .await?;
    let members = group_members::Entity::find()
        .filter(group_members::Column::CycleId.eq(cycle.as_uuid()))
        .order_by_asc(group_members::Column::RotaPosition)
        .all(db)
        .await?;
    let mut by_group: HashMap<uuid::Uuid, Vec<GroupMember>> = HashMap::new();
    for m in members {
        by_group.entry(m.group_id).or_default().push(GroupMember {
            school_id: SchoolId::from_uuid(m.school_id),
            rota_position: u32::try_from(m.rota_position).map_err(DomainError::internal)?,
            reasons: from_json(m.reasons, "placement reasons")?,
        });
    }
    rows.into_iter()
        .map(|g| {
            Ok(Group {
                id: ReviewGroupId::from_uuid(g.id),
                cycle_id: cycle,
                position: u32::try_from(g.position).map_err(DomainError::internal)?,
                relaxations: from_json(g.relaxations, "relaxations")?,
                members: by_group.remove(&g.id).unwrap_or_default(),
                created_at: g.created_at,
            })
        })
        .collect()
}

/// The band a group of mixed schools is judged as: the band most of its schools are in.
fn band_of(members: &[&Candidate]) -> PhaseBand {
    PhaseBand::ALL
        .into_iter()
        .max_by_key(|b| {
            (
                members
                    .iter()
                    .filter(|c| PhaseBand::of(c.phase) == *b)
                    .count(),
                std::cmp::Reverse(*b),
            )
        })
        .unwrap_or(PhaseBand::Primary)
}

async fn view(db: &DatabaseConnection, cycle: &Cycle) -> Result<Groups, DomainError> {
    let groups = load_groups(db, cycle.id).await?;
    let schools: Vec<SchoolId> = groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.school_id))
        .collect();
    let facts = candidates(db, cycle, &schools).await?;
    let by_id: HashMap<SchoolId, &Candidate> = facts.iter().map(|c| (c.school, c)).collect();
    let constraints = cycle.rules.constraints();
    let mut warnings = Vec::new();
    for g in &groups {
        let members: Vec<&Candidate> = g
            .members
            .iter()
            .filter_map(|m| by_id.get(&m.school_id).copied())
            .collect();
        for violation in check_group(band_of(&members), &members, &constraints) {
            warnings.push(GroupWarning {
                group: g.id,
                violation,
            });
        }
    }
    Ok(Groups {
        cycle_id: cycle.id,
        status: cycle.groups_status,
        groups,
        warnings,
    })
}

/// The cycle's groups (proposed or confirmed) with what they break now.
pub async fn groups_of_cycle(
    db: &DatabaseConnection,
    actor: &Actor,
    cycle: ReviewCycleId,
) -> Result<Groups, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let cycle = cycles::load(db, cycle).await?;
    view(db, &cycle).await
}

/// Proposes groups for the cycle's participants and stores them, replacing an unconfirmed
/// earlier proposal.
pub async fn propose(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    cycle: ReviewCycleId,
) -> Result<Groups, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let before = cycles::load(db, cycle).await?;
    let schools = cycles::participants_of(db, &[cycle])
        .await?
        .remove(&cycle)
        .unwrap_or_default();
    let input = candidates(db, &before, &schools).await?;
    let proposal = propose_groups(&input, &before.rules.constraints())
        .map_err(|e| DomainError::invalid("cycleId", ErrorCode::Invalid, e.to_string()))?;
    let txn = db.begin_write().await?;
    let row = cycle_rows::Entity::find_by_id(cycle.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(not_found("ReviewCycle"))?;
    let current = Cycle::from_row(row.clone())?;
    if current.groups_status == GroupsStatus::Confirmed {
        return Err(DomainError::invalid(
            "cycleId",
            ErrorCode::Conflict,
            "the cycle's groups are already confirmed",
        ));
    }
    if current.rules != before.rules {
        return Err(DomainError::invalid(
            "cycleId",
            ErrorCode::Conflict,
            "the cycle's rules changed meanwhile; propose again",
        ));
    }
    groups::Entity::delete_many()
        .filter(groups::Column::CycleId.eq(cycle.as_uuid()))
        .exec(&txn)
        .await?;
    let now = clock.now();
    // All groups, then all members, in multi-row INSERTs: a national cycle has thousands of
    // groups, and a statement per group made the proposal's write the slow part.
    let mut group_rows = Vec::with_capacity(proposal.groups.len());
    let mut member_rows = Vec::new();
    for (position, group) in proposal.groups.iter().enumerate() {
        let id = ReviewGroupId::new();
        group_rows.push(groups::ActiveModel {
            id: Set(id.as_uuid()),
            cycle_id: Set(cycle.as_uuid()),
            position: Set(i32::try_from(position).map_err(DomainError::internal)?),
            relaxations: Set(to_json(&group.relaxed)),
            created_at: Set(now),
        });
        member_rows.extend(group.placements.iter().enumerate().map(|(i, p)| {
            group_members::ActiveModel {
                group_id: Set(id.as_uuid()),
                school_id: Set(p.school.as_uuid()),
                cycle_id: Set(cycle.as_uuid()),
                rota_position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
                reasons: Set(to_json(&p.reasons)),
            }
        }));
    }
    for chunk in group_rows.chunks(ROWS_PER_INSERT) {
        groups::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in member_rows.chunks(ROWS_PER_INSERT) {
        group_members::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    let mut row: cycle_rows::ActiveModel = row.into();
    row.groups_status = Set(GroupsStatus::Proposed.as_str().to_owned());
    row.updated_at = Set(now);
    let row = row.update(&txn).await?;
    txn.commit().await?;
    view(db, &Cycle::from_row(row)?).await
}

/// Moves a school to another group of the same (unconfirmed) proposal. The answer lists
/// what the groups break afterwards; nothing is refused for breaking a rule until confirm.
pub async fn move_school(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    cycle: ReviewCycleId,
    school: SchoolId,
    to: ReviewGroupId,
) -> Result<Groups, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let txn = db.begin_write().await?;
    let row = cycle_rows::Entity::find_by_id(cycle.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(not_found("ReviewCycle"))?;
    let mut problems = Problems::new();
    if row.groups_status != GroupsStatus::Proposed.as_str() {
        problems.add(
            "cycleId",
            ErrorCode::Conflict,
            "only a proposal can be edited",
        );
    }
    let member = group_members::Entity::find()
        .filter(group_members::Column::CycleId.eq(cycle.as_uuid()))
        .filter(group_members::Column::SchoolId.eq(school.as_uuid()))
        .one(&txn)
        .await?;
    if member.is_none() {
        problems.add(
            "schoolId",
            ErrorCode::NotFound,
            "the school is in no group of this cycle",
        );
    }
    let target = groups::Entity::find_by_id(to.as_uuid())
        .filter(groups::Column::CycleId.eq(cycle.as_uuid()))
        .one(&txn)
        .await?;
    if target.is_none() {
        problems.add(
            "groupId",
            ErrorCode::NotFound,
            "no such group in this cycle",
        );
    }
    problems.finish()?;
    let member = member.expect("checked");
    if member.group_id != to.as_uuid() {
        let last = group_members::Entity::find()
            .filter(group_members::Column::GroupId.eq(to.as_uuid()))
            .order_by_desc(group_members::Column::RotaPosition)
            .one(&txn)
            .await?
            .map_or(0, |m| m.rota_position + 1);
        group_members::Entity::delete_many()
            .filter(group_members::Column::GroupId.eq(member.group_id))
            .filter(group_members::Column::SchoolId.eq(school.as_uuid()))
            .exec(&txn)
            .await?;
        group_members::ActiveModel {
            group_id: Set(to.as_uuid()),
            school_id: Set(school.as_uuid()),
            cycle_id: Set(cycle.as_uuid()),
            rota_position: Set(last),
            reasons: Set(to_json(&Vec::<Reason>::new())),
        }
        .insert(&txn)
        .await?;
    }
    let mut row: cycle_rows::ActiveModel = row.into();
    row.updated_at = Set(clock.now());
    let row = row.update(&txn).await?;
    txn.commit().await?;
    view(db, &Cycle::from_row(row)?).await
}

/// Confirms the proposal: every group must have 3–7 schools and, where the cycle requires
/// it, a trained lead reviewer from a visiting school for every review (two lead schools). Creates each group's reviews (every school hosts once,
/// reviewed by the others) with a team of the best-trained reviewer of each visiting school.
pub async fn confirm(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    cycle: ReviewCycleId,
) -> Result<Vec<ReviewId>, DomainError> {
    actor.require(Permission::ManagePeerReview)?;
    let current = cycles::load(db, cycle).await?;
    let state = view(db, &current).await?;
    let schools: Vec<SchoolId> = state
        .groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.school_id))
        .collect();
    let names = membership::school::by_ids(db, &schools).await?;
    let txn = db.begin_write().await?;
    let now = clock.now();
    // The conditional update is the lock: a second confirm finds nothing to update.
    let claimed = cycle_rows::Entity::update_many()
        .col_expr(
            cycle_rows::Column::GroupsStatus,
            sea_orm::sea_query::Expr::value(GroupsStatus::Confirmed.as_str()),
        )
        .col_expr(
            cycle_rows::Column::GroupsConfirmedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            cycle_rows::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(cycle_rows::Column::Id.eq(cycle.as_uuid()))
        .filter(cycle_rows::Column::GroupsStatus.eq(GroupsStatus::Proposed.as_str()))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        let exists = cycle_rows::Entity::find_by_id(cycle.as_uuid())
            .one(&txn)
            .await?;
        return Err(match exists {
            None => not_found("ReviewCycle"),
            Some(_) => DomainError::invalid(
                "cycleId",
                ErrorCode::Conflict,
                "there is no unconfirmed proposal to confirm",
            ),
        });
    }
    // A move committed between the check above and the claim would go unchecked: compare.
    let mut members_now: Vec<(uuid::Uuid, uuid::Uuid)> = group_members::Entity::find()
        .filter(group_members::Column::CycleId.eq(cycle.as_uuid()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|m| (m.group_id, m.school_id))
        .collect();
    let mut members_checked: Vec<(uuid::Uuid, uuid::Uuid)> = state
        .groups
        .iter()
        .flat_map(|g| {
            g.members
                .iter()
                .map(|m| (g.id.as_uuid(), m.school_id.as_uuid()))
        })
        .collect();
    members_now.sort_unstable();
    members_checked.sort_unstable();
    if members_now != members_checked {
        return Err(DomainError::invalid(
            "cycleId",
            ErrorCode::Conflict,
            "the groups changed while confirming; try again",
        ));
    }
    let mut problems = Problems::new();
    for w in &state.warnings {
        let position = state
            .groups
            .iter()
            .find(|g| g.id == w.group)
            .map_or(0, |g| g.position);
        match &w.violation {
            Violation::Size { size } => problems.add(
                &format!("groups.{position}"),
                ErrorCode::OutOfRange,
                format!(
                    "the group has {size} schools; groups need {} to {}",
                    GroupSize::MIN,
                    GroupSize::MAX
                ),
            ),
            Violation::NoLeadReviewer { unled } => problems.add(
                &format!("groups.{position}"),
                ErrorCode::Invalid,
                format!(
                    "the cycle requires every review to be led by a trained lead reviewer from \
                     a visiting school, and {} review(s) of this group would have none: move a \
                     school with one into the group (a group needs two), train one, or relax \
                     the rule for this cycle",
                    unled.len()
                ),
            ),
            _ => {}
        }
    }
    problems.finish()?;
    let reviewers = reviewers_of_schools(&txn, &schools).await?;
    let mut created = Vec::new();
    for g in &state.groups {
        for host in &g.members {
            let id = ReviewId::new();
            reviews::ActiveModel {
                id: Set(id.as_uuid()),
                cycle_id: Set(cycle.as_uuid()),
                group_id: Set(g.id.as_uuid()),
                host_school_id: Set(host.school_id.as_uuid()),
                host_name: Set(names
                    .get(&host.school_id)
                    .map(|s| s.name.clone())
                    .unwrap_or_default()),
                status: Set(ReviewStatus::Planning.as_str().to_owned()),
                visit_starts_on: Set(None),
                visit_ends_on: Set(None),
                enquiry_focus: Set(String::new()),
                report_summary: Set(String::new()),
                agreed_at: Set(None),
                agreed_by: Set(None),
                published_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            // The best-trained reviewer of each visiting school, the best of them leading.
            let mut team: Vec<_> = g
                .members
                .iter()
                .filter(|m| m.school_id != host.school_id)
                .filter_map(|m| reviewers.get(&m.school_id).and_then(|r| r.first()))
                .collect();
            team.sort_by_key(|r| r.training);
            let rows: Vec<team_members::ActiveModel> = team
                .iter()
                .enumerate()
                .map(|(i, r)| team_members::ActiveModel {
                    review_id: Set(id.as_uuid()),
                    reviewer_id: Set(r.id.as_uuid()),
                    role: Set(if i == 0 {
                        TeamRole::Lead
                    } else {
                        TeamRole::Member
                    }
                    .as_str()
                    .to_owned()),
                })
                .collect();
            if !rows.is_empty() {
                team_members::Entity::insert_many(rows).exec(&txn).await?;
            }
            created.push(id);
        }
    }
    txn.commit().await?;
    Ok(created)
}

/// Each group, by id; two statements (groups, members).
pub async fn groups_by_ids(
    db: &DatabaseConnection,
    ids: &[ReviewGroupId],
) -> Result<HashMap<ReviewGroupId, Group>, DomainError> {
    let rows = groups::Entity::find()
        .filter(groups::Column::Id.is_in(ids.iter().map(ReviewGroupId::as_uuid)))
        .all(db)
        .await?;
    let members = group_members::Entity::find()
        .filter(group_members::Column::GroupId.is_in(ids.iter().map(ReviewGroupId::as_uuid)))
        .order_by_asc(group_members::Column::RotaPosition)
        .all(db)
        .await?;
    let mut by_group: HashMap<uuid::Uuid, Vec<GroupMember>> = HashMap::new();
    for m in members {
        by_group.entry(m.group_id).or_default().push(GroupMember {
            school_id: SchoolId::from_uuid(m.school_id),
            rota_position: u32::try_from(m.rota_position).map_err(DomainError::internal)?,
            reasons: from_json(m.reasons, "placement reasons")?,
        });
    }
    rows.into_iter()
        .map(|g| {
            let id = ReviewGroupId::from_uuid(g.id);
            Ok((
                id,
                Group {
                    id,
                    cycle_id: ReviewCycleId::from_uuid(g.cycle_id),
                    position: u32::try_from(g.position).map_err(DomainError::internal)?,
                    relaxations: from_json(g.relaxations, "relaxations")?,
                    members: by_group.remove(&g.id).unwrap_or_default(),
                    created_at: g.created_at,
                },
            ))
        })
        .collect()
}
