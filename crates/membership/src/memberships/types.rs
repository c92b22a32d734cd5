//! The membership vocabulary: tiers, statuses, principles and a membership as callers see it.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{AcademicYear, DomainError, MembershipId, SchoolId, TierId, UserId};

use super::entity::{memberships, principles, tiers};
use crate::NameKey;
use crate::school::CorruptRow;
use kernel::named_enum;

named_enum!(
    /// Where a membership is in its life. The allowed moves are [`MembershipStatus::can_transition`].
    MembershipStatus {
        /// Enrolled or offered for renewal; not yet in force.
        Pending => "PENDING",
        /// In force: the school gets the core offer and is invoiced.
        Active => "ACTIVE",
        /// Ran out: the year ended, or a renewal went unanswered past its notice date.
        Lapsed => "LAPSED",
        /// Ended on purpose: by partnership staff, or declined by the school at renewal.
        Cancelled => "CANCELLED",
    }
);

impl MembershipStatus {
    /// The one table of allowed status changes. Lapsed and cancelled are final: a record of
    /// what happened that year, which invoices and reports refer to, is never revived.
    #[must_use]
    pub const fn can_transition(self, to: Self) -> bool {
        matches!(
            (self, to),
            (Self::Pending, Self::Active | Self::Lapsed | Self::Cancelled)
                | (Self::Active, Self::Lapsed | Self::Cancelled)
        )
    }

    /// No transition leads out of this status.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Lapsed | Self::Cancelled)
    }
}

named_enum!(
    /// What a member school signs up to, besides paying.
    Principle {
        /// Sharing its performance data with the partnership.
        DataSharing => "DATA_SHARING",
        /// Taking part in peer review: challenging and being challenged by other schools.
        PeerChallenge => "PEER_CHALLENGE",
    }
);

impl Principle {
    /// How a message to a person names the principle.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::DataSharing => "data sharing",
            Self::PeerChallenge => "peer challenge",
        }
    }
}

/// One principle accepted for one membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipleAcceptance {
    pub principle: Principle,
    /// The person who accepted; `None` when Trellis itself recorded it (demo data, imports).
    pub accepted_by: Option<UserId>,
    pub accepted_at: DateTime<Utc>,
}

impl PrincipleAcceptance {
    pub(super) fn from_row(row: &principles::Model) -> Result<Self, DomainError> {
        Ok(Self {
            principle: row.principle.parse().map_err(|_| {
                DomainError::internal(CorruptRow(format!(
                    "membership {} principle {}",
                    row.membership_id, row.principle
                )))
            })?,
            accepted_by: row.accepted_by.map(UserId::from_uuid),
            accepted_at: row.accepted_at,
        })
    }
}

/// A membership tier: what kind of member a school is (e.g. FULL, or ASSOCIATE for schools
/// outside the borough). Fee schedules are set per tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub id: TierId,
    /// Stable handle, upper-case letters and underscores (FULL, ASSOCIATE).
    pub code: String,
    pub name: String,
    pub description: String,
    /// Inactive tiers keep their memberships but take no new enrolments.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Tier {
    pub(super) fn from_row(row: tiers::Model) -> Self {
        Self {
            id: TierId::from_uuid(row.id),
            code: row.code,
            name: row.name,
            description: row.description,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTier {
    pub code: String,
    pub name: String,
    pub description: String,
}

/// Changes to a tier; `None` leaves a field as it is. The code is a stable handle and
/// cannot change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// A membership with its tier, as a school's memberships are read: both come from the one
/// statement that reads the membership, so showing the tier costs nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipWithTier {
    pub membership: Membership,
    pub tier: Tier,
}

/// A school's membership for one academic year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: MembershipId,
    pub school_id: SchoolId,
    pub year: AcademicYear,
    pub tier_id: TierId,
    pub status: MembershipStatus,
    /// The year's first day, or later for a mid-year joiner (fees are pro-rated from it).
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Renewals only: the last day the school may confirm or decline.
    pub notice_by: Option<NaiveDate>,
    /// Renewals only: last year's membership this one was pre-filled from.
    pub renewed_from: Option<MembershipId>,
    /// When and by whom the school answered its renewal.
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<UserId>,
    pub cancelled_reason: Option<String>,
    /// In [`Principle::ALL`] order.
    pub principles: Vec<PrincipleAcceptance>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Membership {
    /// Joined after the year began, so fees are pro-rated.
    #[must_use]
    pub fn is_mid_year_joiner(&self) -> bool {
        self.starts_on > self.year.first_day()
    }

    #[must_use]
    pub fn has_accepted_all_principles(&self) -> bool {
        self.missing_principles().is_empty()
    }

    /// The principles not yet accepted, in [`Principle::ALL`] order.
    #[must_use]
    pub fn missing_principles(&self) -> Vec<Principle> {
        Principle::ALL
            .iter()
            .copied()
            .filter(|p| !self.principles.iter().any(|a| a.principle == *p))
            .collect()
    }

    /// Pre-filled from last year's membership for the school to confirm or decline.
    #[must_use]
    pub const fn is_renewal(&self) -> bool {
        self.renewed_from.is_some()
    }

    /// The keyset sort key of [`super::for_year`]: memberships are listed in creation order
    /// (ids are UUIDv7), so the text half of the key is always empty.
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (String::new(), self.id.as_uuid())
    }

    pub(super) fn from_row(
        row: memberships::Model,
        mut principles: Vec<PrincipleAcceptance>,
    ) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!("membership {}: {what}", row.id)))
        };
        principles.sort_by_key(|p| p.principle);
        Ok(Self {
            id: MembershipId::from_uuid(row.id),
            school_id: SchoolId::from_uuid(row.school_id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            tier_id: TierId::from_uuid(row.tier_id),
            status: row.status.parse().map_err(|_| corrupt("status"))?,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            notice_by: row.notice_by,
            renewed_from: row.renewed_from.map(MembershipId::from_uuid),
            decided_at: row.decided_at,
            decided_by: row.decided_by.map(UserId::from_uuid),
            cancelled_reason: row.cancelled_reason,
            principles,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A school joining for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enrolment {
    pub school_id: SchoolId,
    pub year: AcademicYear,
    pub tier_id: TierId,
    /// `None` is the year's first day; a later day makes a mid-year joiner.
    pub starts_on: Option<NaiveDate>,
}

/// Narrows a year's memberships. Empty means all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipFilter {
    pub status: Option<MembershipStatus>,
    pub tier_id: Option<TierId>,
}

/// A school's answer to its renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenewalDecision {
    Confirm,
    Decline,
}

/// What [`super::open_renewals`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenewalReport {
    /// Renewals created by this run.
    pub opened: u64,
    /// Schools that already had a membership for the next year (an earlier run, or a
    /// direct enrolment), left as they were.
    pub already_open: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use MembershipStatus::{Active, Cancelled, Lapsed, Pending};

    #[test]
    fn transition_table() {
        let expected = [
            (Pending, [false, true, true, true]),
            (Active, [false, false, true, true]),
            (Lapsed, [false, false, false, false]),
            (Cancelled, [false, false, false, false]),
        ];
        for (from, row) in expected {
            let got = [Pending, Active, Lapsed, Cancelled].map(|to| from.can_transition(to));
            assert_eq!(got, row, "from {from}");
            assert_eq!(
                from.is_final(),
                row.iter().all(|allowed| !allowed),
                "{from}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for s in MembershipStatus::ALL {
            assert_eq!(s.as_str().parse::<MembershipStatus>().ok(), Some(*s));
        }
        assert_eq!(Principle::DataSharing.as_str(), "DATA_SHARING");
        assert_eq!(
            "PEER_CHALLENGE".parse::<Principle>().ok(),
            Some(Principle::PeerChallenge)
        );
        assert!("SHARING".parse::<Principle>().is_err());
    }

    fn membership(starts_on: NaiveDate, principles: &[Principle]) -> Membership {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        Membership {
            id: MembershipId::new(),
            school_id: SchoolId::new(),
            year: AcademicYear::starting(2026).expect("year"),
            tier_id: TierId::new(),
            status: Pending,
            starts_on,
            ends_on: AcademicYear::starting(2026).expect("year").last_day(),
            notice_by: None,
            renewed_from: None,
            decided_at: None,
            decided_by: None,
            cancelled_reason: None,
            principles: principles
                .iter()
                .map(|&principle| PrincipleAcceptance {
                    principle,
                    accepted_by: None,
                    accepted_at: now,
                })
                .collect(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn mid_year_joiners_and_principles() {
        let d = |m, d| NaiveDate::from_ymd_opt(if m >= 9 { 2026 } else { 2027 }, m, d).expect("d");
        assert!(!membership(d(9, 1), &[]).is_mid_year_joiner());
        assert!(membership(d(9, 2), &[]).is_mid_year_joiner());
        assert!(membership(d(1, 5), &[]).is_mid_year_joiner());
        let none = membership(d(9, 1), &[]);
        assert_eq!(
            none.missing_principles(),
            vec![Principle::DataSharing, Principle::PeerChallenge]
        );
        let one = membership(d(9, 1), &[Principle::PeerChallenge]);
        assert!(!one.has_accepted_all_principles());
        assert_eq!(one.missing_principles(), vec![Principle::DataSharing]);
        let both = membership(d(9, 1), &[Principle::PeerChallenge, Principle::DataSharing]);
        assert!(both.has_accepted_all_principles());
    }
}
