//! English school years run from 1 September to 31 August and are written `2026/27`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// An academic year, identified by the calendar year in which it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AcademicYear {
    start_year: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("academic year must be written like 2026/27 (consecutive years, 2000/01 to 2098/99)")]
pub struct AcademicYearError;

impl AcademicYear {
    /// The academic year starting in September of `start_year`.
    pub fn starting(start_year: i32) -> Result<Self, AcademicYearError> {
        if (2000..=2098).contains(&start_year) {
            Ok(Self { start_year })
        } else {
            Err(AcademicYearError)
        }
    }

    /// The academic year a date falls in.
    #[must_use]
    pub fn containing(date: NaiveDate) -> Self {
        let start_year = if date.month() >= 9 {
            date.year()
        } else {
            date.year() - 1
        };
        Self { start_year }
    }

    #[must_use]
    pub const fn start_year(self) -> i32 {
        self.start_year
    }

    /// 1 September.
    #[must_use]
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start_year, 9, 1).expect("1 September exists")
    }

    /// 31 August.
    #[must_use]
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start_year + 1, 8, 31).expect("31 August exists")
    }

    #[must_use]
    pub fn contains(self, date: NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }

    #[must_use]
    pub const fn next(self) -> Self {
        Self {
            start_year: self.start_year + 1,
        }
    }
}

impl fmt::Display for AcademicYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:02}", self.start_year, (self.start_year + 1) % 100)
    }
}

impl FromStr for AcademicYear {
    type Err = AcademicYearError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (start, end) = s.trim().split_once('/').ok_or(AcademicYearError)?;
        // Digits only: `i32::from_str` also takes a sign, so `2000/+1` read as 2000/01.
        let digits =
            |part: &str, len| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(start, 4) || !digits(end, 2) {
            return Err(AcademicYearError);
        }
        let start: i32 = start.parse().map_err(|_| AcademicYearError)?;
        let end: i32 = end.parse().map_err(|_| AcademicYearError)?;
        if (start + 1) % 100 != end {
            return Err(AcademicYearError);
        }
        Self::starting(start)
    }
}

impl Serialize for AcademicYear {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AcademicYear {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The three terms, as partnerships bill them. Term boundaries here are the billing
/// convention (autumn Sep–Dec, spring Jan–Mar, summer Apr–Aug), not a school's own
/// term dates, which vary by local authority and around Easter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Term {
    Autumn,
    Spring,
    Summer,
}

impl Term {
    pub const ALL: [Self; 3] = [Self::Autumn, Self::Spring, Self::Summer];

    /// First and last day of this term in `year`.
    #[must_use]
    pub fn dates(self, year: AcademicYear) -> (NaiveDate, NaiveDate) {
        let y = year.start_year();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid term boundary");
        match self {
            Self::Autumn => (d(y, 9, 1), d(y, 12, 31)),
            Self::Spring => (d(y + 1, 1, 1), d(y + 1, 3, 31)),
            Self::Summer => (d(y + 1, 4, 1), d(y + 1, 8, 31)),
        }
    }

    #[must_use]
    pub fn containing(date: NaiveDate) -> Self {
        match date.month() {
            9..=12 => Self::Autumn,
            1..=3 => Self::Spring,
            _ => Self::Summer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_digits_make_a_year() {
        for bad in ["2000/+1", "+200/01", "-200/01", "2026/27x", "2026/ 7"] {
            assert!(bad.parse::<AcademicYear>().is_err(), "{bad}");
        }
        assert_eq!(
            " 2026/27 "
                .parse::<AcademicYear>()
                .map(|y| y.to_string())
                .ok(),
            Some("2026/27".to_owned())
        );
    }
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints() {
        let y: AcademicYear = "2026/27".parse().expect("valid");
        assert_eq!(y.start_year(), 2026);
        assert_eq!(y.to_string(), "2026/27");
        assert_eq!("2099/00".parse::<AcademicYear>(), Err(AcademicYearError));
        assert_eq!("2026/28".parse::<AcademicYear>(), Err(AcademicYearError));
        assert_eq!("2026-27".parse::<AcademicYear>(), Err(AcademicYearError));
        assert_eq!("26/27".parse::<AcademicYear>(), Err(AcademicYearError));
        assert_eq!("1999/00".parse::<AcademicYear>(), Err(AcademicYearError));
    }

    #[test]
    fn runs_september_to_august() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(
            AcademicYear::containing(d(2026, 8, 31)).to_string(),
            "2025/26"
        );
        assert_eq!(
            AcademicYear::containing(d(2026, 9, 1)).to_string(),
            "2026/27"
        );
        assert_eq!(Term::containing(d(2027, 1, 4)), Term::Spring);
        let y = AcademicYear::starting(2026).expect("year");
        assert_eq!(Term::Summer.dates(y).1, y.last_day());
    }

    proptest! {
        #[test]
        fn every_date_is_in_exactly_its_year(days in 0i64..40_000) {
            let date = NaiveDate::from_ymd_opt(2000, 9, 1).expect("date") + chrono::Duration::days(days);
            let year = AcademicYear::containing(date);
            prop_assert!(year.contains(date));
            prop_assert!(!year.next().contains(date));
            let (first, last) = Term::containing(date).dates(year);
            prop_assert!(first <= date && date <= last);
        }

        #[test]
        fn display_round_trips(start in 2000i32..=2098) {
            let year = AcademicYear::starting(start).expect("in range");
            prop_assert_eq!(year.to_string().parse::<AcademicYear>(), Ok(year));
        }
    }
}
