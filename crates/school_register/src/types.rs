//! Value types of the school directory, each parsed once at the edge.

use std::fmt;

use chrono::NaiveDate;
use kernel::{ErrorCode, FieldError};
use serde::{Deserialize, Serialize};

pub use kernel::UnknownValue;
pub(crate) use kernel::named_enum;

named_enum!(
    /// Phase of education, as the DfE's Get Information About Schools records it.
    Phase {
        Nursery => "NURSERY",
        Infant => "INFANT",
        Junior => "JUNIOR",
        Primary => "PRIMARY",
        Middle => "MIDDLE",
        Secondary => "SECONDARY",
        AllThrough => "ALL_THROUGH",
        Special => "SPECIAL",
        /// Pupil referral unit / alternative provision.
        Pru => "PRU",
        SixthFormFe => "SIXTH_FORM_FE",
    }
);

impl Phase {
    /// Whether a school of this phase can have a sixth form: only one that teaches up to 16
    /// (secondary, all-through, special). A sixth-form college is all sixth form and is
    /// priced by its phase instead. The one rule behind `OfficialSixthForm (name)` read from
    /// GIAS and `hasSixthForm` set through the API, so the two never disagree.
    #[must_use]
    pub const fn may_have_sixth_form(self) -> bool {
        matches!(self, Self::Secondary | Self::AllThrough | Self::Special)
    }
}

/// How many years ahead of today a school's opening may be recorded. GIAS lists schools
/// "Proposed to open" with their expected `OpenDate`, typically within the next year or two;
/// an opening further off than this is a typo (2062 for 2026), not a plan.
pub const OPENING_HORIZON_YEARS: u32 = 3;

/// `opened_on` when it is a day a school can have opened (or be due to open) on, judged on
/// `today`: from 2000 (`kernel::dates::in_window`) to [`OPENING_HORIZON_YEARS`] ahead. Else an
/// `OUT_OF_RANGE` error on `field`.
pub fn opening_date(
    field: &str,
    opened_on: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, FieldError> {
    kernel::dates::in_window(field, opened_on)?;
    let horizon = today
        .checked_add_months(chrono::Months::new(12 * OPENING_HORIZON_YEARS))
        .unwrap_or(kernel::dates::LATEST);
    if opened_on > horizon {
        return Err(FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!(
                "a school's opening can be recorded at most {OPENING_HORIZON_YEARS} years ahead (until {horizon})"
            ),
        ));
    }
    Ok(opened_on)
}

named_enum!(
    /// How a school is constituted and funded.
    EstablishmentType {
        Community => "COMMUNITY",
        VoluntaryAided => "VOLUNTARY_AIDED",
        VoluntaryControlled => "VOLUNTARY_CONTROLLED",
        Foundation => "FOUNDATION",
        Academy => "ACADEMY",
        FreeSchool => "FREE_SCHOOL",
        Independent => "INDEPENDENT",
        FurtherEducation => "FURTHER_EDUCATION",
        LocalAuthorityNursery => "LOCAL_AUTHORITY_NURSERY",
    }
);

named_enum!(
    /// System-leadership designations a school or its head holds.
    Designation {
        /// National Leader of Education; the school is then a National Support School.
        NationalLeaderOfEducation => "NLE",
        NationalSupportSchool => "NSS",
        /// Local Leader of Education.
        LocalLeaderOfEducation => "LLE",
        TeachingSchool => "TEACHING_SCHOOL",
    }
);

named_enum!(
    /// The census a number on roll was taken from. Fee schedules name the census they use
    /// (Haringey bills on October, Kent's provider on January), so the roll keeps it.
    RollCensus {
        October => "OCTOBER",
        January => "JANUARY",
    }
);

named_enum!(
    /// Whether an establishment is open, as the DfE's register (GIAS) says. A school that
    /// closes stays in the directory, flagged: its memberships, invoices and reviews keep it.
    SchoolStatus {
        Open => "OPEN",
        OpenProposedToClose => "OPEN_PROPOSED_TO_CLOSE",
        ProposedToOpen => "PROPOSED_TO_OPEN",
        Closed => "CLOSED",
    }
);

named_enum!(
    /// Where a recorded roll came from.
    RollSource {
        /// Entered through `schoolCreate`/`schoolUpdate`.
        Manual => "MANUAL",
        /// The DfE register's `NumberOfPupils` (its January census).
        Gias => "GIAS",
        /// A census file (`URN,pupils`).
        CensusImport => "CENSUS_IMPORT",
    }
);

/// A school's Unique Reference Number: six digits, assigned by the DfE.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Urn(String);

impl Urn {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.len() == 6 && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0') {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError::new(
                "urn",
                ErrorCode::Invalid,
                "URN must be six digits, e.g. 101234",
            ))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Urn {
    type Error = FieldError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Urn> for String {
    fn from(urn: Urn) -> Self {
        urn.0
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UK postcode, normalised to upper case with one space before the inward code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Postcode(String);

impl Postcode {
    /// Accepts the shapes of the UK postcode format (A9 9AA, A99 9AA, A9A 9AA, AA9 9AA,
    /// AA99 9AA, AA9A 9AA) in any case and spacing.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let err = || {
            FieldError::new(
                "postcode",
                ErrorCode::Invalid,
                "not a UK postcode, e.g. N10 2HN",
            )
        };
        if !(5..=7).contains(&compact.len()) || !compact.is_ascii() {
            return Err(err());
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        let inward_ok = {
            let b = inward.as_bytes();
            b[0].is_ascii_digit() && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphabetic()
        };
        let o = outward.as_bytes();
        let outward_ok = o[0].is_ascii_alphabetic()
            && o.iter().all(u8::is_ascii_alphanumeric)
            && o.iter().any(u8::is_ascii_digit)
            && (2..=4).contains(&o.len());
        if inward_ok && outward_ok {
            Ok(Self(format!("{outward} {inward}")))
        } else {
            Err(err())
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The number of pupils on roll at a census.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roll {
    pub number_on_roll: u32,
    pub census: RollCensus,
    pub census_date: NaiveDate,
}

impl Roll {
    /// The largest school in England has under 4,000 pupils; 10,000 catches typos.
    pub const MAX: u32 = 10_000;

    pub fn new(
        number_on_roll: i64,
        census: RollCensus,
        census_date: NaiveDate,
    ) -> Result<Self, FieldError> {
        match u32::try_from(number_on_roll) {
            Ok(n) if n <= Self::MAX => Ok(Self {
                number_on_roll: n,
                census,
                census_date,
            }),
            _ => Err(FieldError::new(
                "roll.numberOnRoll",
                ErrorCode::OutOfRange,
                format!("number on roll must be between 0 and {}", Self::MAX),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urns_are_six_digits() {
        assert!(Urn::parse("101234").is_ok());
        assert_eq!(
            Urn::parse(" 101234 ")
                .map(|u| u.to_string())
                .ok()
                .as_deref(),
            Some("101234")
        );
        for bad in ["", "12345", "1234567", "12a456", "012345", "１２３４５６"] {
            assert!(Urn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn postcodes_are_normalised() {
        assert_eq!(
            Postcode::parse("n102hn").map(|p| p.0).ok().as_deref(),
            Some("N10 2HN")
        );
        assert_eq!(
            Postcode::parse("AL1 4AP").map(|p| p.0).ok().as_deref(),
            Some("AL1 4AP")
        );
        assert_eq!(
            Postcode::parse("ec1a1bb").map(|p| p.0).ok().as_deref(),
            Some("EC1A 1BB")
        );
        for bad in ["", "N10", "12345", "N10 2H1", "NNNN 2HN", "N1 0 2HN X"] {
            assert!(Postcode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sixth_forms_only_where_a_school_teaches_up_to_16() {
        let with: Vec<_> = Phase::ALL
            .iter()
            .filter(|p| p.may_have_sixth_form())
            .collect();
        assert_eq!(
            with,
            [&Phase::Secondary, &Phase::AllThrough, &Phase::Special]
        );
    }

    #[test]
    fn openings_from_2000_to_a_few_years_ahead() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let today = d(2026, 12, 4);
        assert_eq!(
            opening_date("openedOn", d(2000, 1, 1), today).ok(),
            Some(d(2000, 1, 1))
        );
        assert!(opening_date("openedOn", d(2029, 12, 4), today).is_ok());
        for bad in [d(1999, 12, 31), d(2029, 12, 5), d(2062, 9, 1)] {
            let e = opening_date("openedOn", bad, today).expect_err("out of range");
            assert_eq!(
                (e.field, e.code),
                (vec!["openedOn".to_owned()], ErrorCode::OutOfRange)
            );
        }
    }

    #[test]
    fn enums_round_trip() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().ok(), Some(*p));
        }
        assert!("COLLEGE".parse::<Phase>().is_err());
        assert_eq!(Designation::NationalLeaderOfEducation.as_str(), "NLE");
    }
}
