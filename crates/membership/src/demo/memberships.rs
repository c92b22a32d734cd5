//! Demo memberships for 2026/27: two tiers and a membership for nearly every demo school.
//!
//! Barnet schools are FULL members and schools from other local authorities (the Brent,
//! Haringey and Hertfordshire schools of the alliances and the Heath Hill Partnership)
//! ASSOCIATE members, as HEP-style partnerships price schools outside their borough. Almost
//! every membership is ACTIVE with both principles accepted; three show the other cases a
//! newcomer should be able to find: one still PENDING, one mid-year joiner and one CANCELLED.
//! Everything goes through the membership services as [`Actor::System`], so the acceptances
//! are recorded with no person behind them.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use kernel::{AcademicYear, Actor, Clock, DomainError, SchoolId, TierId};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::data::SCHOOLS;
use crate::memberships::{self, Enrolment, NewTier, Principle};
use crate::school::entity::schools;

/// The academic year the demo memberships are for.
pub const DEMO_YEAR: i32 = 2026;
/// Enrolled, but has not accepted the principles yet.
pub const PENDING_SCHOOL: &str = "cunningham-hill-junior";
/// Joined after Christmas: a mid-year joiner whose fee is pro-rated.
pub const MID_YEAR_SCHOOL: &str = "millbrook-park";
pub const MID_YEAR_START: (i32, u32, u32) = (2027, 1, 5);
/// Left the partnership for the year.
pub const CANCELLED_SCHOOL: &str = "kingsmead";
pub const CANCELLED_REASON: &str =
    "Joined its own local authority's school-improvement service for 2026/27";

/// The local authority whose schools are full members.
const HOME_AUTHORITY: &str = "Barnet";

/// What seeding memberships did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipSeedReport {
    pub tiers: usize,
    pub active: usize,
    pub pending: usize,
    pub cancelled: usize,
    /// Tiers existed already, so nothing was loaded.
    pub skipped: bool,
}

impl fmt::Display for MembershipSeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            write!(
                f,
                "demo memberships not loaded: membership tiers already exist"
            )
        } else {
            write!(
                f,
                "{} membership tiers, 2026/27 memberships: {} active, {} pending, {} cancelled",
                self.tiers, self.active, self.pending, self.cancelled
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("demo membership data is inconsistent: {0}")]
struct BadDemoMemberships(&'static str);

/// Creates the demo tiers and 2026/27 memberships for the demo schools present in the
/// directory. Does nothing when any tier exists, so it never mixes with real data.
pub async fn seed_memberships(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<MembershipSeedReport, DomainError> {
    if !memberships::tiers(db).await?.is_empty() {
        return Ok(MembershipSeedReport {
            skipped: true,
            ..MembershipSeedReport::default()
        });
    }
    let system = Actor::System;
    let year = AcademicYear::starting(DEMO_YEAR)
        .map_err(|_| DomainError::internal(BadDemoMemberships("year")))?;
    let full = memberships::create_tier(
        db,
        &system,
        clock,
        NewTier {
            code: "FULL".into(),
            name: "Full membership".into(),
            description: "For schools in the borough: the whole core offer, peer review and \
                          every network."
                .into(),
        },
    )
    .await?;
    let associate = memberships::create_tier(
        db,
        &system,
        clock,
        NewTier {
            code: "ASSOCIATE".into(),
            name: "Associate membership".into(),
            description: "For schools outside the borough: networks, training at member \
                          prices and peer review."
                .into(),
        },
    )
    .await?;

    let ids = demo_school_ids(db).await?;
    let mid_year_start =
        NaiveDate::from_ymd_opt(MID_YEAR_START.0, MID_YEAR_START.1, MID_YEAR_START.2)
            .ok_or_else(|| DomainError::internal(BadDemoMemberships("mid-year start")))?;
    let mut report = MembershipSeedReport {
        tiers: 2,
        ..MembershipSeedReport::default()
    };
    for s in SCHOOLS {
        let Some(&school_id) = ids.get(s.urn) else {
            continue;
        };
        let tier_id: TierId = if s.local_authority == HOME_AUTHORITY {
            full.id
        } else {
            associate.id
        };
        let starts_on = (s.key == MID_YEAR_SCHOOL).then_some(mid_year_start);
        let enrolled = memberships::enrol(
            db,
            &system,
            clock,
            Enrolment {
                school_id,
                year,
                tier_id,
                starts_on,
            },
        )
        .await?;
        match s.key {
            PENDING_SCHOOL => report.pending += 1,
            CANCELLED_SCHOOL => {
                memberships::cancel(db, &system, clock, enrolled.id, CANCELLED_REASON.into())
                    .await?;
                report.cancelled += 1;
            }
            _ => {
                memberships::accept_principles(db, &system, clock, enrolled.id, Principle::ALL)
                    .await?;
                memberships::activate(db, &system, clock, enrolled.id).await?;
                report.active += 1;
            }
        }
    }
    Ok(report)
}

/// The demo schools in the directory, by URN, in one query.
async fn demo_school_ids(
    db: &DatabaseConnection,
) -> Result<HashMap<String, SchoolId>, DomainError> {
    Ok(schools::Entity::find()
        .filter(schools::Column::IsDemo.eq(true))
        .filter(schools::Column::Urn.is_in(SCHOOLS.iter().map(|s| s.urn)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (row.urn, SchoolId::from_uuid(row.id)))
        .collect())
}
