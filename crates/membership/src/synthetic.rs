//! A national-size directory for measuring Trellis at scale (`trellis seed --synthetic`).
//!
//! The demo has 130 schools; a partnership the size of England's register has 25,000. This
//! builds one deterministically from a seed: schools in the register's phase mix with rolls
//! to match, clustered 25 to a partnership by local authority, every school an ACTIVE member
//! of the year (nine in ten FULL, the rest ASSOCIATE) with its principles accepted, and a head
//! teacher's login per school. Same seed, same directory — names, rolls, phases and ids.
//!
//! Rows are written in batched INSERTs (hundreds per statement, one transaction per table),
//! not through the services one school at a time: 25,000 schools through `school::create`
//! would be a quarter of a million statements. What the services would check is true by
//! construction here — unique URNs and emails, rolls in range, one lead per partnership — and
//! the tests read the result back through the services. The audit trail is not written: the
//! data is synthetic, and no person changed it.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{AcademicYear, Clock, DomainError, Role};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Set};
use uuid::Uuid;

use crate::memberships::entity::{memberships, principles, tiers};
use crate::memberships::{MembershipStatus, Principle, Tier};
use crate::partnership::entity::{members, partnerships};
use crate::partnership::types::{MemberRole, PartnershipKind};
use crate::people::entity::{user_schools, users};
use crate::school::entity::{rolls, schools};
use crate::school::types::{EstablishmentType, Phase, RollCensus, RollSource, SchoolStatus};

/// The most schools a synthetic directory has: England's state-funded register (about
/// 24,500), with room. The invoicing run loads a year's schools, rolls and accounts with one
/// `IN` list each, and SQLite binds at most 32,766 parameters to a statement.
pub const MAX_SCHOOLS: u32 = 30_000;
/// Schools per partnership.
const CLUSTER: u32 = 25;
/// Rows per INSERT: well inside SQLite's and PostgreSQL's bound-parameter limits for the
/// widest table here (schools, 17 columns).
const CHUNK: usize = 500;
/// Local authorities the schools are spread over.
const AUTHORITIES: &[(&str, &str)] = &[
    ("Barnet", "N"),
    ("Haringey", "N"),
    ("Enfield", "EN"),
    ("Hertfordshire", "AL"),
    ("Kent", "ME"),
    ("Essex", "CM"),
    ("Lancashire", "PR"),
    ("Birmingham", "B"),
    ("Leeds", "LS"),
    ("Manchester", "M"),
    ("Bristol, City of", "BS"),
    ("Devon", "EX"),
    ("Norfolk", "NR"),
    ("Cumbria", "CA"),
    ("Surrey", "GU"),
    ("Nottinghamshire", "NG"),
];
const NAMES: &[&str] = &[
    "Holly",
    "Oak",
    "Brook",
    "Church",
    "Saint Mary's",
    "Fern",
    "Coppice",
    "Whitings",
    "Moss Hall",
    "Hollickwood",
    "Danegrove",
    "Monkfrith",
    "Ravenscroft",
    "Alder",
    "Birch",
    "Cedar",
    "Elm",
    "Hazel",
    "Rowan",
    "Willow",
    "Ash",
    "Beech",
    "Larch",
    "Maple",
];

/// What to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Synthetic {
    pub schools: u32,
    /// The same seed builds the same directory.
    pub seed: u64,
    /// The year every school is a member of.
    pub year: AcademicYear,
}

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticReport {
    pub schools: u32,
    pub partnerships: u32,
    pub memberships: u32,
    pub users: u32,
}

impl fmt::Display for SyntheticReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic directory: {} schools in {} partnerships, {} active memberships, {} users",
            self.schools, self.partnerships, self.memberships, self.users
        )
    }
}

#[derive(Debug, thiserror::Error)]
enum SyntheticError {
    #[error("the directory already has schools: a synthetic directory goes into an empty database")]
    NotEmpty,
    #[error("--schools must be between 1 and {MAX_SCHOOLS}")]
    Size,
    #[error("the directory has no {0} tier: seed the synthetic directory first")]
    NoTier(&'static str),
}

/// SplitMix64: a few lines of well-known, seedable arithmetic, so the same seed gives the same
/// directory on every machine (no dependency on a random crate's stream staying stable). The
/// other domains' synthetic data (the offer's usage) draws from it too.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(
            (u128::from(self.next()) << 64 | u128::from(self.next())).to_le_bytes(),
        )
        .into_uuid()
    }
}

/// The register's phase mix (England, 2025: about 16,800 primaries, 3,400 secondaries, 1,000
/// special schools, 400 nurseries, the rest all-through and sixth-form colleges), with the
/// roll range and establishment types of each.
fn phase(rng: &mut Rng) -> (Phase, EstablishmentType, i32) {
    let roll = |rng: &mut Rng, low: u64, high: u64| {
        i32::try_from(low + rng.below(high - low)).unwrap_or(i32::MAX)
    };
    let academy_or = |rng: &mut Rng, other: EstablishmentType| {
        if rng.below(100) < 45 {
            EstablishmentType::Academy
        } else {
            other
        }
    };
    match rng.below(1000) {
        0..=699 => (
            Phase::Primary,
            academy_or(rng, EstablishmentType::Community),
            roll(rng, 60, 700),
        ),
        700..=759 => (
            Phase::Infant,
            EstablishmentType::Community,
            roll(rng, 60, 360),
        ),
        760..=809 => (
            Phase::Junior,
            EstablishmentType::VoluntaryAided,
            roll(rng, 90, 480),
        ),
        810..=939 => (
            Phase::Secondary,
            academy_or(rng, EstablishmentType::Foundation),
            roll(rng, 500, 2000),
        ),
        940..=979 => (
            Phase::Special,
            EstablishmentType::Community,
            roll(rng, 40, 250),
        ),
        980..=989 => (
            Phase::Nursery,
            EstablishmentType::LocalAuthorityNursery,
            roll(rng, 30, 150),
        ),
        990..=994 => (
            Phase::AllThrough,
            EstablishmentType::Academy,
            roll(rng, 800, 2200),
        ),
        _ => (
            Phase::SixthFormFe,
            EstablishmentType::FurtherEducation,
            roll(rng, 300, 2500),
        ),
    }
}

/// One school as generated.
struct School {
    id: Uuid,
    index: u32,
    authority: usize,
}

/// Builds the synthetic directory into an empty database.
///
/// # Errors
/// `Invalid` when the directory has schools or the size is out of range; database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    what: Synthetic,
) -> Result<SyntheticReport, DomainError> {
    if !(1..=MAX_SCHOOLS).contains(&what.schools) {
        return Err(DomainError::invalid(
            "schools",
            kernel::ErrorCode::OutOfRange,
            SyntheticError::Size.to_string(),
        ));
    }
    if !crate::school::is_empty(db).await? {
        return Err(DomainError::invalid(
            "schools",
            kernel::ErrorCode::Conflict,
            SyntheticError::NotEmpty.to_string(),
        ));
    }
    let now = clock.now();
    let census_date = NaiveDate::from_ymd_opt(what.year.start_year() - 1, 10, 2)
        .ok_or_else(|| DomainError::internal(SyntheticError::Size))?;
    let mut rng = Rng::new(what.seed);
    let txn = db.begin_write().await?;

    // Schools and their October rolls.
    let mut generated = Vec::new();
    let mut school_rows = Vec::new();
    let mut roll_rows = Vec::new();
    for index in 0..what.schools {
        let id = rng.uuid();
        let (phase, establishment_type, roll) = phase(&mut rng);
        let authority = usize::try_from(rng.below(AUTHORITIES.len() as u64)).unwrap_or(0);
        let (la, area) = AUTHORITIES[authority];
        let name = NAMES[usize::try_from(rng.below(NAMES.len() as u64)).unwrap_or(0)];
        school_rows.push(schools::ActiveModel {
            id: Set(id),
            urn: Set(format!("{}", 200_000 + index)),
            name: Set(format!("{name} {} School {}", phase_word(phase), index + 1)),
            phase: Set(phase.as_str().to_owned()),
            establishment_type: Set(establishment_type.as_str().to_owned()),
            local_authority: Set(la.to_owned()),
            postcode: Set(format!(
                "{area}{} {}AB",
                1 + rng.below(20),
                1 + rng.below(9)
            )),
            number_on_roll: Set(Some(roll)),
            roll_census: Set(Some(RollCensus::October.as_str().to_owned())),
            roll_census_date: Set(Some(census_date)),
            is_demo: Set(false),
            has_sixth_form: Set(phase == Phase::Secondary && rng.below(2) == 0),
            status: Set(SchoolStatus::Open.as_str().to_owned()),
            closed_on: Set(None),
            opened_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        roll_rows.push(rolls::ActiveModel {
            id: Set(rng.uuid()),
            school_id: Set(id),
            census: Set(RollCensus::October.as_str().to_owned()),
            census_date: Set(census_date),
            number_on_roll: Set(roll),
            source: Set(RollSource::Manual.as_str().to_owned()),
            recorded_at: Set(now),
        });
        generated.push(School {
            id,
            index,
            authority,
        });
    }
    insert_chunked::<schools::Entity, _>(&txn, school_rows).await?;
    insert_chunked::<rolls::Entity, _>(&txn, roll_rows).await?;

    // Partnerships: each local authority's schools, 25 at a time, in generated order.
    let mut partnership_rows = Vec::new();
    let mut member_rows = Vec::new();
    for (authority, (la, _)) in AUTHORITIES.iter().enumerate() {
        let theirs: Vec<&School> = generated
            .iter()
            .filter(|s| s.authority == authority)
            .collect();
        for (n, cluster) in theirs.chunks(CLUSTER as usize).enumerate() {
            let id = rng.uuid();
            partnership_rows.push(partnerships::ActiveModel {
                id: Set(id),
                name: Set(format!("{la} Cluster {}", n + 1)),
                kind: Set(PartnershipKind::Loose.as_str().to_owned()),
                area: Set((*la).to_owned()),
                description: Set(format!(
                    "{} schools of {la}, grouped for the synthetic national dataset.",
                    cluster.len()
                )),
                created_at: Set(now),
                updated_at: Set(now),
            });
            for (i, school) in cluster.iter().enumerate() {
                member_rows.push(members::ActiveModel {
                    partnership_id: Set(id),
                    school_id: Set(school.id),
                    role: Set(if i == 0 {
                        MemberRole::Lead
                    } else {
                        MemberRole::Member
                    }
                    .as_str()
                    .to_owned()),
                    joined_on: Set(None),
                });
            }
        }
    }
    let partnerships_made = u32::try_from(partnership_rows.len()).unwrap_or(u32::MAX);
    insert_chunked::<partnerships::Entity, _>(&txn, partnership_rows).await?;
    insert_chunked::<members::Entity, _>(&txn, member_rows).await?;

    // Tiers and the year's memberships, every principle accepted.
    let full = tier(&txn, &mut rng, "FULL", "Full membership", now).await?;
    let associate = tier(&txn, &mut rng, "ASSOCIATE", "Associate membership", now).await?;
    let mut membership_rows = Vec::new();
    let mut principle_rows = Vec::new();
    for school in &generated {
        let id = rng.uuid();
        membership_rows.push(memberships::ActiveModel {
            id: Set(id),
            school_id: Set(school.id),
            academic_year: Set(what.year.start_year()),
            tier_id: Set(if school.index % 10 == 9 {
                associate
            } else {
                full
            }),
            status: Set(MembershipStatus::Active.as_str().to_owned()),
            starts_on: Set(what.year.first_day()),
            ends_on: Set(what.year.last_day()),
            notice_by: Set(None),
            renewed_from: Set(None),
            decided_at: Set(None),
            decided_by: Set(None),
            cancelled_reason: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for principle in Principle::ALL {
            principle_rows.push(principles::ActiveModel {
                membership_id: Set(id),
                principle: Set(principle.as_str().to_owned()),
                accepted_by: Set(None),
                accepted_at: Set(now),
            });
        }
    }
    insert_chunked::<memberships::Entity, _>(&txn, membership_rows).await?;
    insert_chunked::<principles::Entity, _>(&txn, principle_rows).await?;

    // A head teacher per school, and one finance officer and one admin for the partnership.
    let mut user_rows = Vec::new();
    let mut link_rows = Vec::new();
    for school in &generated {
        let id = rng.uuid();
        user_rows.push(user(
            id,
            &format!("head{}@synthetic.example", school.index + 1),
            Role::SchoolLeader,
            now,
        ));
        link_rows.push(user_schools::ActiveModel {
            user_id: Set(id),
            school_id: Set(school.id),
        });
    }
    user_rows.push(user(
        rng.uuid(),
        "finance@synthetic.example",
        Role::Finance,
        now,
    ));
    user_rows.push(user(
        rng.uuid(),
        "admin@synthetic.example",
        Role::PartnershipAdmin,
        now,
    ));
    let users_made = u32::try_from(user_rows.len()).unwrap_or(u32::MAX);
    insert_chunked::<users::Entity, _>(&txn, user_rows).await?;
    insert_chunked::<user_schools::Entity, _>(&txn, link_rows).await?;
    txn.commit().await?;

    Ok(SyntheticReport {
        schools: what.schools,
        partnerships: partnerships_made,
        memberships: what.schools,
        users: users_made,
    })
}

/// The FULL and ASSOCIATE tiers a synthetic directory's memberships are on, for the other
/// domains' synthetic data (fee schedules, the offer's allowances).
///
/// # Errors
/// When either is missing (not a synthetic or demo directory); database errors.
pub async fn member_tiers(db: &DatabaseConnection) -> Result<(Tier, Tier), DomainError> {
    let tier = |code: &'static str| async move {
        crate::memberships::tier_by_code(db, code)
            .await?
            .ok_or_else(|| DomainError::internal(SyntheticError::NoTier(code)))
    };
    Ok((tier("FULL").await?, tier("ASSOCIATE").await?))
}

fn phase_word(phase: Phase) -> &'static str {
    match phase {
        Phase::Nursery => "Nursery",
        Phase::Infant => "Infant",
        Phase::Junior => "Junior",
        Phase::Secondary => "High",
        Phase::Special => "Special",
        Phase::AllThrough => "All-Through",
        Phase::SixthFormFe => "Sixth Form",
        _ => "Primary",
    }
}

fn user(id: Uuid, email: &str, role: Role, now: DateTime<Utc>) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        name: Set(email.split('@').next().unwrap_or(email).to_owned()),
        role: Set(role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_seen_at: Set(None),
    }
}

async fn tier<C: ConnectionTrait>(
    db: &C,
    rng: &mut Rng,
    code: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, DomainError> {
    let id = rng.uuid();
    tiers::Entity::insert(tiers::ActiveModel {
        id: Set(id),
        code: Set(code.to_owned()),
        name: Set(name.to_owned()),
        description: Set(format!("{name} (synthetic)")),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(db)
    .await?;
    Ok(id)
}

/// Inserts `rows` in statements of [`CHUNK`].
async fn insert_chunked<E, C>(db: &C, rows: Vec<E::ActiveModel>) -> Result<(), DomainError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<E::ActiveModel> = rows.by_ref().take(CHUNK).collect();
        E::insert_many(chunk).exec_without_returning(db).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_numbers() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let first: Vec<u64> = (0..5).map(|_| a.next()).collect();
        assert_eq!(first, (0..5).map(|_| b.next()).collect::<Vec<_>>());
        assert_ne!(first, (0..5).map(|_| Rng(8).next()).collect::<Vec<_>>());
    }

    #[test]
    fn the_phase_mix_is_the_registers() {
        let mut rng = Rng(1);
        let mut primary = 0;
        let mut secondary = 0;
        for _ in 0..10_000 {
            match phase(&mut rng).0 {
                Phase::Primary | Phase::Infant | Phase::Junior => primary += 1,
                Phase::Secondary => secondary += 1,
                _ => {}
            }
        }
        assert!((7_800..8_300).contains(&primary), "{primary}");
        assert!((1_150..1_450).contains(&secondary), "{secondary}");
    }
}
