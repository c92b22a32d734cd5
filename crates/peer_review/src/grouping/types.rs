//! The inputs and outputs of group formation.

use kernel::{PartnershipId, SchoolId};
use membership::school::types::Phase;
use serde::{Deserialize, Serialize};

/// A hard partnership (MAT, federation) a school belongs to: its schools share governance,
/// so they cannot impartially review each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardPartnership {
    pub id: PartnershipId,
    pub name: String,
}

/// A participating school, with the facts group formation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub school: SchoolId,
    pub name: String,
    pub phase: Phase,
    pub hard_partnerships: Vec<HardPartnership>,
    /// The school has at least one trained lead reviewer.
    pub has_trained_lead: bool,
    /// Any key shared by the schools that were grouped together last year.
    pub last_year_group: Option<u64>,
}

/// Allowed group sizes: the Schools Partnership Programme's clusters of 3–7, with a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSize {
    target: usize,
}

impl GroupSize {
    pub const MIN: usize = 3;
    pub const MAX: usize = 7;
    /// Triads by default.
    pub const TRIADS: Self = Self { target: 3 };

    /// `None` unless `target` is within 3–7.
    #[must_use]
    pub fn new(target: usize) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&target)
            .then_some(Self { target })
    }

    #[must_use]
    pub const fn target(self) -> usize {
        self.target
    }
}

/// The rules a cycle forms its groups under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraints {
    pub sizes: GroupSize,
    /// Schools of one MAT/federation may review each other (the conflict is accepted).
    pub allow_same_hard_partnership: bool,
    /// Avoid pairing schools that were grouped together last year.
    pub avoid_last_year_groups: bool,
    /// Every review needs a trained lead reviewer from a visiting school to lead it, so a
    /// group needs two schools with one (each leads the review the other hosts).
    pub require_lead_reviewer: bool,
}

impl Default for Constraints {
    fn default() -> Self {
        Self {
            sizes: GroupSize::TRIADS,
            allow_same_hard_partnership: false,
            avoid_last_year_groups: true,
            require_lead_reviewer: true,
        }
    }
}

/// Phases whose schools can meaningfully review each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhaseBand {
    /// Nursery, infant, junior, primary and middle schools.
    Primary,
    /// Secondary, all-through and sixth-form/FE.
    Secondary,
    /// Special schools and pupil referral units.
    Specialist,
}

impl PhaseBand {
    pub const ALL: [Self; 3] = [Self::Primary, Self::Secondary, Self::Specialist];

    #[must_use]
    pub const fn of(phase: Phase) -> Self {
        match phase {
            Phase::Nursery | Phase::Infant | Phase::Junior | Phase::Primary | Phase::Middle => {
                Self::Primary
            }
            Phase::Secondary | Phase::AllThrough | Phase::SixthFormFe => Self::Secondary,
            Phase::Special | Phase::Pru => Self::Specialist,
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Secondary => "secondary",
            Self::Specialist => "specialist",
        }
    }
}

/// The constraints of group formation, in the order they are relaxed (first = first given up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Constraint {
    LastYearGroup,
    LeadReviewer,
    HardPartnership,
    Phase,
}

impl Constraint {
    pub const RELAXATION_ORDER: [Self; 4] = [
        Self::LastYearGroup,
        Self::LeadReviewer,
        Self::HardPartnership,
        Self::Phase,
    ];
}

/// A rule a group breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Violation {
    /// Fewer than 3 or more than 7 schools (never proposed; found when staff edit).
    Size {
        size: usize,
    },
    /// Schools from another phase band than the group's.
    MixedPhase {
        schools: Vec<SchoolId>,
    },
    SameHardPartnership {
        partnership: PartnershipId,
        name: String,
        schools: Vec<SchoolId>,
    },
    LastYearPeers {
        schools: Vec<SchoolId>,
    },
    /// Reviews whose visiting schools have no trained lead reviewer to lead them: every
    /// host when the group has none, the lead's own school when it has one.
    NoLeadReviewer {
        unled: Vec<SchoolId>,
    },
}

impl Violation {
    /// The constraint broken (size is not a relaxable constraint: staff must fix it).
    #[must_use]
    pub fn constraint(&self) -> Option<Constraint> {
        match self {
            Self::Size { .. } => None,
            Self::MixedPhase { .. } => Some(Constraint::Phase),
            Self::SameHardPartnership { .. } => Some(Constraint::HardPartnership),
            Self::LastYearPeers { .. } => Some(Constraint::LastYearGroup),
            Self::NoLeadReviewer { .. } => Some(Constraint::LeadReviewer),
        }
    }

    #[must_use]
    pub fn schools(&self) -> Vec<SchoolId> {
        match self {
            Self::Size { .. } => Vec::new(),
            Self::NoLeadReviewer { unled: schools }
            | Self::MixedPhase { schools }
            | Self::SameHardPartnership { schools, .. }
            | Self::LastYearPeers { schools } => schools.clone(),
        }
    }

    /// A sentence for staff.
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Size { size } => format!(
                "the group has {size} schools; groups need {} to {}",
                GroupSize::MIN,
                GroupSize::MAX
            ),
            Self::MixedPhase { schools } => {
                format!("{} school(s) are from another phase", schools.len())
            }
            Self::SameHardPartnership { name, schools, .. } => {
                format!(
                    "{} schools of {name} would review each other",
                    schools.len()
                )
            }
            Self::LastYearPeers { schools } => {
                format!("{} schools were grouped together last year", schools.len())
            }
            Self::NoLeadReviewer { unled } => format!(
                "{} review(s) in the group would have no trained lead reviewer among the \
                 visiting schools: a group needs two schools with one",
                unled.len()
            ),
        }
    }
}

/// Every rule `members` break as a group of phase band `band`. Used for proposals and to
/// re-check a group after staff move a school.
#[must_use]
pub fn check_group(
    band: PhaseBand,
    members: &[&Candidate],
    constraints: &Constraints,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if !(GroupSize::MIN..=GroupSize::MAX).contains(&members.len()) {
        out.push(Violation::Size {
            size: members.len(),
        });
    }
    let other_phase: Vec<SchoolId> = members
        .iter()
        .filter(|c| PhaseBand::of(c.phase) != band)
        .map(|c| c.school)
        .collect();
    if !other_phase.is_empty() {
        out.push(Violation::MixedPhase {
            schools: other_phase,
        });
    }
    if !constraints.allow_same_hard_partnership {
        let mut seen: Vec<&HardPartnership> = Vec::new();
        for c in members {
            for p in &c.hard_partnerships {
                if seen.iter().any(|s| s.id == p.id) {
                    continue;
                }
                seen.push(p);
                let schools: Vec<SchoolId> = members
                    .iter()
                    .filter(|m| m.hard_partnerships.iter().any(|q| q.id == p.id))
                    .map(|m| m.school)
                    .collect();
                if schools.len() > 1 {
                    out.push(Violation::SameHardPartnership {
                        partnership: p.id,
                        name: p.name.clone(),
                        schools,
                    });
                }
            }
        }
    }
    if constraints.avoid_last_year_groups {
        let mut seen = Vec::new();
        for c in members {
            let Some(key) = c.last_year_group else {
                continue;
            };
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let schools: Vec<SchoolId> = members
                .iter()
                .filter(|m| m.last_year_group == Some(key))
                .map(|m| m.school)
                .collect();
            if schools.len() > 1 {
                out.push(Violation::LastYearPeers { schools });
            }
        }
    }
    if constraints.require_lead_reviewer {
        let unled = unled_hosts(members.iter().map(|c| (c.school, c.has_trained_lead)));
        if !unled.is_empty() {
            out.push(Violation::NoLeadReviewer { unled });
        }
    }
    out
}

/// The hosts whose visitors include no school with a trained lead reviewer, from each
/// member and whether it has one. A school never reviews itself, so with one lead school
/// that school's own review is unled; with two or more, none is.
pub(crate) fn unled_hosts(
    members: impl Iterator<Item = (SchoolId, bool)> + Clone,
) -> Vec<SchoolId> {
    let leads: Vec<SchoolId> = members
        .clone()
        .filter(|(_, lead)| *lead)
        .map(|(s, _)| s)
        .collect();
    match leads.as_slice() {
        [] => members.map(|(s, _)| s).collect(),
        [only] => vec![*only],
        _ => Vec::new(),
    }
}

/// A constraint given up for one group, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relaxation {
    pub constraint: Constraint,
    /// The schools concerned (empty when the group as a whole is concerned).
    pub schools: Vec<SchoolId>,
    pub explanation: String,
}

/// Why a school is in its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Grouped with schools of its phase band.
    Phase { band: PhaseBand },
    /// Too few schools of its own band take part to form a group.
    MovedAcrossPhase { from: PhaseBand, to: PhaseBand },
    /// Its trained lead reviewer can lead the group's other reviews.
    ProvidesLeadReviewer,
    /// Relaxed: shares a hard partnership with these group members.
    SharesHardPartnership {
        partnership: PartnershipId,
        with: Vec<SchoolId>,
    },
    /// Relaxed: was grouped with these members last year.
    WithLastYearPeer { with: Vec<SchoolId> },
}

impl Reason {
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            Self::Phase { band } => format!("grouped with other {} schools", band.label()),
            Self::MovedAcrossPhase { from, to } => format!(
                "too few {} schools take part to form a group, so placed with {} schools",
                from.label(),
                to.label()
            ),
            Self::ProvidesLeadReviewer => {
                "has a trained lead reviewer to lead the group's reviews".into()
            }
            Self::SharesHardPartnership { with, .. } => format!(
                "shares a trust or federation with {} group member(s): conflict of interest accepted",
                with.len()
            ),
            Self::WithLastYearPeer { with } => {
                format!("was grouped with {} of these schools last year", with.len())
            }
        }
    }
}

/// One school's place in a proposed group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub school: SchoolId,
    pub reasons: Vec<Reason>,
}

/// One visit of a group's rota: `host` is reviewed by every other school of the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotaVisit {
    pub host: SchoolId,
    pub reviewers: Vec<SchoolId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedGroup {
    pub band: PhaseBand,
    /// In rota order.
    pub placements: Vec<Placement>,
    pub relaxed: Vec<Relaxation>,
    pub rota: Vec<RotaVisit>,
}

impl ProposedGroup {
    #[must_use]
    pub fn schools(&self) -> Vec<SchoolId> {
        self.placements.iter().map(|p| p.school).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub groups: Vec<ProposedGroup>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("{count} school(s) take part; a group needs at least 3")]
    TooFewSchools { count: usize },
    #[error("school {0} is listed twice")]
    DuplicateSchool(SchoolId),
}
