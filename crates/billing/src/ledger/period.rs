//! The period a finance report covers: an academic year (September–August, what memberships
//! and their invoices belong to) or a financial year (April–March, what maintained schools
//! budget in and many partnerships close their books on).
//!
//! An academic period selects invoices and credit notes by the academic year they belong to;
//! a financial period selects them by the day they were issued, in London, so income and debt
//! split at 31 March whatever year they bill. Receipts and refunds are selected by their own
//! dates in either case.

use std::fmt;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use chrono_tz::Europe::London;
use kernel::{AcademicYear, FinancialYear};
use sea_orm::ColumnTrait as _;
use serde::Serialize;

use super::entity::{credit_notes, invoices};

/// What a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Academic(AcademicYear),
    Financial(FinancialYear),
}

impl Period {
    #[must_use]
    pub fn first_day(self) -> NaiveDate {
        match self {
            Self::Academic(y) => y.first_day(),
            Self::Financial(y) => y.first_day(),
        }
    }

    #[must_use]
    pub fn last_day(self) -> NaiveDate {
        match self {
            Self::Academic(y) => y.last_day(),
            Self::Financial(y) => y.last_day(),
        }
    }

    /// The first instant of the period and the first instant after it, in London.
    #[must_use]
    pub fn instants(self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            london_midnight(self.first_day()),
            london_midnight(self.last_day().succ_opt().unwrap_or(self.last_day())),
        )
    }

    /// The academic year, when the period is one.
    #[must_use]
    pub const fn academic_year(self) -> Option<AcademicYear> {
        match self {
            Self::Academic(y) => Some(y),
            Self::Financial(_) => None,
        }
    }

    /// The financial year, when the period is one.
    #[must_use]
    pub const fn financial_year(self) -> Option<FinancialYear> {
        match self {
            Self::Academic(_) => None,
            Self::Financial(y) => Some(y),
        }
    }
}

/// Midnight at the start of `day` in London, as an instant. A day always has a midnight in
/// London (clocks change at 01:00 and 02:00), so this never guesses.
fn london_midnight(day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    London
        .from_local_datetime(&local)
        .earliest()
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

impl From<AcademicYear> for Period {
    fn from(year: AcademicYear) -> Self {
        Self::Academic(year)
    }
}

impl From<FinancialYear> for Period {
    fn from(year: FinancialYear) -> Self {
        Self::Financial(year)
    }
}

/// `2026/27` or `FY 2026-27`.
impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Academic(y) => write!(f, "{y}"),
            Self::Financial(y) => write!(f, "FY {y}"),
        }
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The invoices a period covers: an academic year's by the year they bill, a financial
/// year's by the day they were issued (in London).
pub(crate) fn invoices_in(period: Period) -> sea_orm::Condition {
    match period {
        Period::Academic(year) => {
            sea_orm::Condition::all().add(invoices::Column::AcademicYear.eq(year.start_year()))
        }
        Period::Financial(_) => {
            let (from, to) = period.instants();
            sea_orm::Condition::all()
                .add(invoices::Column::IssuedAt.gte(from))
                .add(invoices::Column::IssuedAt.lt(to))
        }
    }
}

/// The credit notes a period covers, by the same rule as [`invoices_in`].
pub(crate) fn credit_notes_in(period: Period) -> sea_orm::Condition {
    match period {
        Period::Academic(year) => {
            sea_orm::Condition::all().add(credit_notes::Column::AcademicYear.eq(year.start_year()))
        }
        Period::Financial(_) => {
            let (from, to) = period.instants();
            sea_orm::Condition::all()
                .add(credit_notes::Column::IssuedAt.gte(from))
                .add(credit_notes::Column::IssuedAt.lt(to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_financial_year_starts_at_midnight_in_london() {
        let fy = Period::from(FinancialYear::starting(2026).expect("year"));
        let (start, end) = fy.instants();
        // 1 April 2026 is in British Summer Time: midnight is 23:00 UTC the day before.
        assert_eq!(start.to_rfc3339(), "2026-03-31T23:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2027-03-31T23:00:00+00:00");
        let ay = Period::from(AcademicYear::starting(2026).expect("year"));
        assert_eq!(ay.instants().0.to_rfc3339(), "2026-08-31T23:00:00+00:00");
        assert_eq!(ay.to_string(), "2026/27");
        assert_eq!(fy.to_string(), "FY 2026-27");
    }
}
