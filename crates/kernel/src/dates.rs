//! The window every date input must fall in.
//!
//! Nothing Trellis records (receipts, refunds, census days, visits, sessions, deadlines)
//! happens before 2000 or after 2099; a date outside that is a typo (`26-11-02` read as the
//! year 26) and is refused as a field error before anything is written.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{ErrorCode, FieldError};

/// The first date any input may carry.
pub const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// The last date any input may carry.
pub const LATEST: NaiveDate = match NaiveDate::from_ymd_opt(2099, 12, 31) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// `date` when it lies in 2000-01-01..=2099-12-31, else an `OUT_OF_RANGE` error on `field`.
pub fn in_window(field: &str, date: NaiveDate) -> Result<NaiveDate, FieldError> {
    if (EARLIEST..=LATEST).contains(&date) {
        Ok(date)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!("must be a date from {EARLIEST} to {LATEST}"),
        ))
    }
}

/// A date written `YYYY-MM-DD` with a four-digit year, as the `Date` scalar takes it;
/// `None` for anything else. chrono's `%Y` alone takes any number of digits (`26-11-02`
/// would be the year 26), so the shape is checked first.
#[must_use]
pub fn parse_iso(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The same window for an instant (its UTC date).
pub fn instant_in_window(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    in_window(field, at.date_naive()).map(|_| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates_have_a_four_digit_year() {
        assert_eq!(
            parse_iso("2026-11-02"),
            NaiveDate::from_ymd_opt(2026, 11, 2)
        );
        for bad in [
            "26-11-02",
            "+2026-11-02",
            "2026-1-02",
            "2026-13-01",
            "2026/11/02",
            "٢٠٢٦-11-02",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid")
    }

    #[test]
    fn dates_lie_in_this_century() {
        assert!(in_window("receivedOn", d(2000, 1, 1)).is_ok());
        assert!(in_window("receivedOn", d(2099, 12, 31)).is_ok());
        for bad in [d(1, 1, 1), d(26, 11, 2), d(1999, 12, 31), d(2100, 1, 1)] {
            let err = in_window("receivedOn", bad).expect_err("outside");
            assert_eq!(err.code, ErrorCode::OutOfRange);
            assert_eq!(err.field, vec!["receivedOn".to_owned()]);
        }
    }
}
