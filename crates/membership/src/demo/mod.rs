//! The demo directory: what a newcomer sees on first run.
//!
//! Built from the source documents in `shared/seeds`: Barnet's 2015 letter proposing fifteen
//! school-improvement partnerships and naming seven further alliances, Holly Park's own page
//! about its group (the letter's Partnership 6), and the Heath Hill Partnership of four
//! St Albans schools. The schools and partnerships are real; their URNs, rolls, postcodes and
//! inspection outcomes are invented, and every school is marked `is_demo`.
//!
//! Seeding goes through the same services as the API, as [`Actor::System`], so demo data
//! obeys every rule real data does. After the directory come the 2026/27 memberships
//! ([`seed_memberships`]).

mod data;
mod memberships;

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveDate;
use kernel::{Actor, Clock, DomainError, Role, SchoolId};

use crate::partnership::{self, MemberChange, MemberInput, NewPartnership};
use crate::people::{NewUser, users};
use crate::school::inspection::{AreaGrade, Inspection, Outcome, ReportCard};
use crate::school::types::RollCensus;
use crate::school::{self, NewSchool, RollInput};
use data::{DemoOfsted, PARTNERSHIPS, SCHOOLS};
pub use memberships::{
    CANCELLED_REASON, CANCELLED_SCHOOL, DEMO_YEAR, MID_YEAR_SCHOOL, MID_YEAR_START,
    MembershipSeedReport, PENDING_SCHOOL, seed_memberships,
};

/// Demo secondaries that teach a sixth form (all of them do in reality). The seed documents
/// do not say, so it is set here rather than in the transcribed rows.
pub const SIXTH_FORMS: &[&str] = &[
    "east-barnet",
    "qe-boys",
    "henrietta-barnett",
    "mill-hill-county-high",
    "qe-girls",
    "hendon",
    "christs-college",
    "st-marylebone",
    "alexandra-park",
];

/// The demo users, as listed in the README.
pub const DEMO_USERS: &[(&str, &str, Role, Option<&str>)] = &[
    (
        "admin@trellis.example",
        "Ada Admin",
        Role::PartnershipAdmin,
        None,
    ),
    ("finance@trellis.example", "Fin Ance", Role::Finance, None),
    (
        "head@holly-park.example",
        "Holly Park Headteacher",
        Role::SchoolLeader,
        Some("holly-park"),
    ),
    (
        "staff@holly-park.example",
        "Holly Park Teacher",
        Role::SchoolStaff,
        Some("holly-park"),
    ),
];

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub schools: usize,
    pub partnerships: usize,
    /// Schools' places in partnerships.
    pub memberships: usize,
    pub users: usize,
    /// Tiers and memberships of the partnership organisation per academic year.
    pub enrolments: MembershipSeedReport,
    /// The directory already had schools, so nothing was loaded.
    pub skipped: bool,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            write!(f, "demo data not loaded: the directory already has schools")
        } else {
            write!(
                f,
                "demo data loaded: {} schools, {} partnerships ({} member places), {} users; {}",
                self.schools, self.partnerships, self.memberships, self.users, self.enrolments
            )
        }
    }
}

fn date((y, m, d): (i32, u32, u32)) -> Result<NaiveDate, DomainError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DomainError::internal(BadDemoDate(y, m, d)))
}

#[derive(Debug, thiserror::Error)]
#[error("demo data has an impossible date {0}-{1}-{2}")]
struct BadDemoDate(i32, u32, u32);

#[derive(Debug, thiserror::Error)]
#[error("demo data names unknown school `{0}`")]
struct UnknownDemoSchool(String);

/// Loads the demo directory into an empty database; does nothing if there are schools.
pub async fn seed(
    db: &sea_orm::DatabaseConnection,
    clock: &dyn Clock,
) -> Result<SeedReport, DomainError> {
    if !school::is_empty(db).await? {
        return Ok(SeedReport {
            schools: 0,
            partnerships: 0,
            memberships: 0,
            users: 0,
            enrolments: MembershipSeedReport::default(),
            skipped: true,
        });
    }
    let system = Actor::System;
    // The October 2025 census: the roll 2026/27 fees would be billed on.
    let census_date = date((2025, 10, 2))?;
    let mut ids: HashMap<&str, SchoolId> = HashMap::new();
    for s in SCHOOLS {
        let created = school::create(
            db,
            clock,
            &system,
            NewSchool {
                urn: s.urn.to_owned(),
                name: s.name.to_owned(),
                phase: s.phase,
                establishment_type: s.establishment_type,
                local_authority: s.local_authority.to_owned(),
                postcode: s.postcode.to_owned(),
                roll: Some(RollInput {
                    number_on_roll: i64::from(s.number_on_roll),
                    census: RollCensus::October,
                    census_date,
                }),
                designations: s.designations.to_vec(),
                has_sixth_form: SIXTH_FORMS.contains(&s.key),
                opened_on: None,
                is_demo: true,
            },
        )
        .await?;
        let inspection = match &s.ofsted {
            DemoOfsted::None => None,
            DemoOfsted::Graded { on, grade } => Some(Inspection {
                inspected_on: date(*on)?,
                outcome: Outcome::Graded(*grade),
            }),
            DemoOfsted::ReportCard {
                on,
                areas,
                safeguarding_met,
            } => Some(Inspection {
                inspected_on: date(*on)?,
                outcome: Outcome::ReportCard(ReportCard {
                    areas: areas
                        .iter()
                        .map(|&(area, grade)| AreaGrade { area, grade })
                        .collect(),
                    safeguarding_met: *safeguarding_met,
                }),
            }),
        };
        if let Some(inspection) = inspection {
            school::record_inspection(db, clock, &system, created.id, inspection).await?;
        }
        ids.insert(s.key, created.id);
    }
    let school_id = |key: &str| {
        ids.get(key)
            .copied()
            .ok_or_else(|| DomainError::internal(UnknownDemoSchool(key.to_owned())))
    };

    let mut memberships = 0;
    for p in PARTNERSHIPS {
        let created = partnership::create(
            db,
            clock,
            &system,
            NewPartnership {
                name: p.name.to_owned(),
                kind: p.kind,
                area: p.area.to_owned(),
                description: p.description.to_owned(),
            },
        )
        .await?;
        for &(key, role) in p.members {
            let input = MemberInput {
                partnership: created.id,
                school: school_id(key)?,
                role,
                joined_on: None,
            };
            partnership::put_member(db, clock, &system, input, MemberChange::Add).await?;
            memberships += 1;
        }
    }

    for &(email, name, role, school) in DEMO_USERS {
        let schools = school.map(school_id).transpose()?.into_iter().collect();
        users::create(
            db,
            clock,
            &system,
            NewUser {
                email: email.to_owned(),
                name: name.to_owned(),
                role,
                schools,
            },
        )
        .await?;
    }
    let enrolments = seed_memberships(db, clock).await?;
    Ok(SeedReport {
        schools: SCHOOLS.len(),
        partnerships: PARTNERSHIPS.len(),
        memberships,
        users: DEMO_USERS.len(),
        enrolments,
        skipped: false,
    })
}
