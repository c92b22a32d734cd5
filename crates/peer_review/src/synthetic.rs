//! A peer-review cycle over a synthetic national directory (`trellis seed --synthetic`,
//! `membership::synthetic`): every active member school of the year takes part, each head is
//! a registered reviewer, and one head in three is a trained lead reviewer (as
//! `benches/grouping.rs` assumes). The proposal itself is the real one
//! ([`crate::groups::propose`]), so seeding measures it: issue #18 asks for 25,000
//! participants in under 10 s.
//!
//! Reviewers are written in batched INSERTs like the directory (25,000 through
//! `register_reviewer` would be a statement or three each); the cycle and its participants go
//! through the services.

use std::fmt;

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError, ReviewCycleId, ReviewerId, Role, SchoolId};
use membership::memberships;
use membership::people::users;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::cycles::{self, GroupingRules, NewCycle};
use crate::entity::reviewers;
use crate::types::{CycleWindows, DateWindow, TrainingStatus};

/// Reviewers per INSERT (7 columns each).
const CHUNK: usize = 1_000;

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticCycle {
    pub cycle: ReviewCycleId,
    pub participants: u32,
    pub reviewers: u32,
    pub lead_reviewers: u32,
}

impl fmt::Display for SyntheticCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic peer review: a cycle of {} schools, {} reviewers ({} trained leads)",
            self.participants, self.reviewers, self.lead_reviewers
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("no date {0}")]
struct NoSuchDate(String);

fn day(year: i32, month: u32, d: u32) -> Result<NaiveDate, DomainError> {
    NaiveDate::from_ymd_opt(year, month, d)
        .ok_or_else(|| DomainError::internal(NoSuchDate(format!("{year}-{month}-{d}"))))
}

/// Opens `year`'s cycle with every active member school of the year as a participant and
/// each school's head as a reviewer. Groups are not proposed here: the caller times
/// [`crate::groups::propose`].
///
/// # Errors
/// When `year` already has a cycle (`academicYear` TAKEN); database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SyntheticCycle, DomainError> {
    let system = Actor::System;
    let mut schools: Vec<SchoolId> = memberships::active_for_year(db, year)
        .await?
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    schools.sort_unstable();
    schools.dedup();
    let heads = users::active_with_role_at(db, Role::SchoolLeader, &schools).await?;
    let y = year.start_year();
    let cycle = cycles::create_cycle(
        db,
        clock,
        &system,
        NewCycle {
            academic_year: y,
            name: format!("Peer review {year}"),
            framework: crate::demo::demo_framework(),
            windows: CycleWindows {
                self_review: DateWindow {
                    opens_on: day(y, 9, 14)?,
                    closes_on: day(y, 11, 27)?,
                },
                visits: DateWindow {
                    opens_on: day(y, 10, 5)?,
                    closes_on: day(y + 1, 3, 26)?,
                },
                follow_up: DateWindow {
                    opens_on: day(y, 11, 2)?,
                    closes_on: day(y + 1, 7, 16)?,
                },
            },
            rules: GroupingRules::default(),
        },
    )
    .await?;

    let now = clock.now();
    let trained_on = day(y - 1, 6, 20)?;
    let mut rows = Vec::with_capacity(schools.len());
    let mut leads = 0_u32;
    for (i, school) in schools.iter().enumerate() {
        let Some(head) = heads.get(school).and_then(|h| h.first()) else {
            continue;
        };
        let lead = i % 3 == 0;
        leads += u32::from(lead);
        rows.push(reviewers::ActiveModel {
            id: Set(ReviewerId::new().as_uuid()),
            user_id: Set(head.id.as_uuid()),
            school_id: Set(school.as_uuid()),
            training_status: Set(if lead {
                TrainingStatus::TrainedLeadReviewer
            } else {
                TrainingStatus::ImprovementChampion
            }
            .as_str()
            .to_owned()),
            trained_on: Set(Some(trained_on)),
            created_at: Set(now),
            updated_at: Set(now),
        });
    }
    let made = u32::try_from(rows.len()).unwrap_or(u32::MAX);
    let txn = db.begin_write().await?;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        reviewers::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    cycles::set_participants(db, clock, &system, cycle.id, &schools).await?;
    Ok(SyntheticCycle {
        cycle: cycle.id,
        participants: u32::try_from(schools.len()).unwrap_or(u32::MAX),
        reviewers: made,
        lead_reviewers: leads,
    })
}
