//! The UK government financial year, 1 April to 31 March, written `2026-27`: the year
//! maintained schools budget and report in (and the partnership's own accounts often close
//! on 31 March), beside the academic year the membership and its fees follow.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// A financial year, identified by the calendar year in which it starts (in April).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FinancialYear {
    start_year: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("financial year must be written like 2026-27 (consecutive years, 2000-01 to 2098-99)")]
pub struct FinancialYearError;

impl FinancialYear {
    /// The financial year starting on 1 April of `start_year`.
    pub fn starting(start_year: i32) -> Result<Self, FinancialYearError> {
        if (2000..=2098).contains(&start_year) {
            Ok(Self { start_year })
        } else {
            Err(FinancialYearError)
        }
    }

    /// The financial year a date falls in.
    #[must_use]
    pub fn containing(date: NaiveDate) -> Self {
        let start_year = if date.month() >= 4 {
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

    /// 1 April.
    #[must_use]
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start_year, 4, 1).expect("1 April exists")
    }

    /// 31 March.
    #[must_use]
    pub fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.start_year + 1, 3, 31).expect("31 March exists")
    }

    #[must_use]
    pub fn contains(self, date: NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }
}

impl fmt::Display for FinancialYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:02}", self.start_year, (self.start_year + 1) % 100)
    }
}

impl FromStr for FinancialYear {
    type Err = FinancialYearError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (start, end) = s.trim().split_once('-').ok_or(FinancialYearError)?;
        let digits =
            |part: &str, len| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(start, 4) || !digits(end, 2) {
            return Err(FinancialYearError);
        }
        let start: i32 = start.parse().map_err(|_| FinancialYearError)?;
        let end: i32 = end.parse().map_err(|_| FinancialYearError)?;
        if (start + 1) % 100 != end {
            return Err(FinancialYearError);
        }
        Self::starting(start)
    }
}

impl Serialize for FinancialYear {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FinancialYear {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn runs_from_april_to_march() {
        let fy: FinancialYear = "2026-27".parse().expect("parse");
        assert_eq!(fy.first_day(), day(2026, 4, 1));
        assert_eq!(fy.last_day(), day(2027, 3, 31));
        assert_eq!(fy.to_string(), "2026-27");
        assert_eq!(FinancialYear::containing(day(2027, 3, 31)), fy);
        assert_eq!(FinancialYear::containing(day(2026, 4, 1)), fy);
        assert_eq!(
            FinancialYear::containing(day(2026, 3, 31)).to_string(),
            "2025-26"
        );
        assert_eq!(
            "2099-00".parse::<FinancialYear>(),
            Err(FinancialYearError),
            "out of range"
        );
    }

    #[test]
    fn refuses_what_is_not_a_financial_year() {
        for bad in [
            "2026/27", "2026-28", "26-27", "2026-+7", "", "2026", "1999-00",
        ] {
            assert!(bad.parse::<FinancialYear>().is_err(), "{bad}");
        }
        assert_eq!("1999-00".parse::<FinancialYear>(), Err(FinancialYearError));
    }
}
