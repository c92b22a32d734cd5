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

/// The same window for an instant (its UTC date).
pub fn instant_in_window(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, FieldError> {
    in_window(field, at.date_naive()).map(|_| at)
}

#[cfg(test)]
mod tests {
    use super::*;

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
