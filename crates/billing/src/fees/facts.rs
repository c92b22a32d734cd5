//! What the fee engine needs to know about a school, gathered by the caller.
//!
//! The engine is pure: it reads no database and no clock. Callers build [`SchoolFacts`] from
//! the directory with [`SchoolFacts::of`] (every selector's fact is recorded there: the sixth
//! form, the opening date newness follows from, and the roll history), so a quote can be
//! recomputed and checked from exactly the facts it was given.

use chrono::NaiveDate;
use kernel::AcademicYear;
use membership::school::School;
use membership::school::types::{EstablishmentType, Phase, Roll, RollCensus};

/// The facts about one school that fee rules may select on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchoolFacts {
    pub phase: Phase,
    pub establishment_type: EstablishmentType,
    pub has_sixth_form: bool,
    /// The school's newest roll at each census, as the directory's history holds them.
    pub rolls: CensusRolls,
    /// Whether the school is new in the year priced (Haringey's "small new schools"
    /// minimum): see [`is_new_school`].
    pub is_new_school: bool,
}

/// How many academic years a school counts as new: the year it opened and the two after.
/// A new school fills up year group by year group, so by its fourth year its roll (and the
/// per-pupil fee) has caught up and a minimum for new schools no longer fits it.
pub const NEW_SCHOOL_YEARS: i32 = 3;

/// Whether a school that opened on `opened_on` is new in `year`: it opened during `year` or
/// the [`NEW_SCHOOL_YEARS`]` - 1` academic years before. Not new when the opening date is
/// unknown (most schools on record opened long ago) or after `year` ends.
#[must_use]
pub fn is_new_school(opened_on: Option<NaiveDate>, year: AcademicYear) -> bool {
    let Some(opened_on) = opened_on else {
        return false;
    };
    let earliest = NaiveDate::from_ymd_opt(year.start_year() - (NEW_SCHOOL_YEARS - 1), 9, 1);
    earliest.is_some_and(|earliest| opened_on >= earliest) && opened_on <= year.last_day()
}

/// A school's newest roll at each census.
///
/// Kept per census because a schedule prices on one census: an October schedule must read
/// the October roll even after a January roll was recorded (a school's current roll is
/// whichever census came last, which would price October schedules on January figures or
/// refuse them). Which census a quote used is stated in its working and [`super::Quote::roll`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CensusRolls {
    october: Option<Roll>,
    january: Option<Roll>,
}

impl CensusRolls {
    /// The newest roll of each census in `history` taken on or before `by`. A fee for a year
    /// is priced on a census taken by the year's end at the latest: a later census describes
    /// a later year, so recomputing an old year's quote gives the figure it had.
    #[must_use]
    pub fn newest(history: impl IntoIterator<Item = Roll>, by: NaiveDate) -> Self {
        let mut rolls = Self::default();
        for roll in history.into_iter().filter(|r| r.census_date <= by) {
            let slot = match roll.census {
                RollCensus::October => &mut rolls.october,
                RollCensus::January => &mut rolls.january,
            };
            if slot.is_none_or(|held| held.census_date < roll.census_date) {
                *slot = Some(roll);
            }
        }
        rolls
    }

    /// The school's roll at `census`, if one is recorded.
    #[must_use]
    pub const fn at(&self, census: RollCensus) -> Option<Roll> {
        match census {
            RollCensus::October => self.october,
            RollCensus::January => self.january,
        }
    }

    /// The roll rules read: the one at their `census`, or, for rules that name no census
    /// (a `rollBelow` selector on a flat fee), the newest of either.
    #[must_use]
    pub fn read(&self, census: Option<RollCensus>) -> Option<Roll> {
        match census {
            Some(census) => self.at(census),
            None => match (self.october, self.january) {
                (Some(o), Some(j)) => Some(if j.census_date > o.census_date { j } else { o }),
                (o, j) => o.or(j),
            },
        }
    }

    /// Only `roll`: for callers (and tests) that hold a single census figure.
    #[must_use]
    pub fn only(roll: Roll) -> Self {
        Self::newest([roll], roll.census_date)
    }
}

impl SchoolFacts {
    /// Everything the directory records about `school` that fee rules select on, as it
    /// stands for `year`: phase, type, sixth form, newness from its opening date, and the
    /// newest roll of each census in `roll_history` taken by the end of `year`.
    #[must_use]
    pub fn of(
        school: &School,
        roll_history: impl IntoIterator<Item = Roll>,
        year: AcademicYear,
    ) -> Self {
        Self {
            phase: school.phase,
            establishment_type: school.establishment_type,
            has_sixth_form: school.has_sixth_form,
            rolls: CensusRolls::newest(roll_history, year.last_day()),
            is_new_school: is_new_school(school.opened_on, year),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_school_is_new_in_the_year_it_opens_and_the_two_after() {
        let y = |start| AcademicYear::starting(start).expect("year");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let opened = Some(d(2024, 9, 1));
        assert!(!is_new_school(opened, y(2023)), "not open yet");
        assert!(is_new_school(opened, y(2024)));
        assert!(is_new_school(opened, y(2026)));
        assert!(!is_new_school(opened, y(2027)), "a fourth year is not new");
        assert!(
            is_new_school(Some(d(2027, 8, 31)), y(2026)),
            "opened in the year"
        );
        assert!(
            !is_new_school(Some(d(2024, 8, 31)), y(2026)),
            "opened in 2023/24"
        );
        assert!(!is_new_school(None, y(2026)), "unknown opening date");
    }
}
