//! What the fee engine needs to know about a school, gathered by the caller.
//!
//! The engine is pure: it reads no database and no clock. Callers build [`SchoolFacts`] from
//! the directory (and, for facts the directory does not hold yet, from their own records), so
//! a quote can be recomputed and checked from exactly the facts it was given.

use membership::school::School;
use membership::school::types::{EstablishmentType, Phase, Roll};

/// The facts about one school that fee rules may select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchoolFacts {
    pub phase: Phase,
    pub establishment_type: EstablishmentType,
    pub has_sixth_form: bool,
    /// The number on roll at the census the directory holds; `None` when not recorded.
    pub roll: Option<Roll>,
    /// Whether the partnership treats the school as new (Haringey's "small new schools"
    /// minimum). The directory records no opening date, so the caller decides.
    pub is_new_school: bool,
}

impl SchoolFacts {
    /// The directory's facts about `school`. `has_sixth_form` is passed in because the
    /// directory's `School` does not carry it yet; the school is not treated as new.
    #[must_use]
    pub fn from_school(school: &School, has_sixth_form: bool) -> Self {
        Self {
            phase: school.phase,
            establishment_type: school.establishment_type,
            has_sixth_form,
            roll: school.roll,
            is_new_school: false,
        }
    }

    /// The same facts for a school the partnership treats as new.
    #[must_use]
    pub const fn new_school(self, is_new_school: bool) -> Self {
        Self {
            is_new_school,
            ..self
        }
    }

    /// The number on roll, if recorded.
    #[must_use]
    pub fn number_on_roll(&self) -> Option<u32> {
        self.roll.map(|r| r.number_on_roll)
    }
}

/// How a headteacher would name a phase in a sentence: "primary", "all-through".
pub(crate) const fn phase_words(phase: Phase) -> &'static str {
    match phase {
        Phase::Nursery => "nursery",
        Phase::Infant => "infant",
        Phase::Junior => "junior",
        Phase::Primary => "primary",
        Phase::Middle => "middle",
        Phase::Secondary => "secondary",
        Phase::AllThrough => "all-through",
        Phase::Special => "special",
        Phase::Pru => "pupil referral unit",
        Phase::SixthFormFe => "sixth-form/FE",
    }
}

/// How finance staff would name an establishment type in a sentence.
pub(crate) const fn establishment_words(kind: EstablishmentType) -> &'static str {
    match kind {
        EstablishmentType::Community => "community school",
        EstablishmentType::VoluntaryAided => "voluntary aided school",
        EstablishmentType::VoluntaryControlled => "voluntary controlled school",
        EstablishmentType::Foundation => "foundation school",
        EstablishmentType::Academy => "academy",
        EstablishmentType::FreeSchool => "free school",
        EstablishmentType::Independent => "independent school",
        EstablishmentType::FurtherEducation => "further education college",
        EstablishmentType::LocalAuthorityNursery => "local authority nursery",
    }
}
