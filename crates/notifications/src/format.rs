//! Dates and times as a reader in England expects them: Europe/London local time (GMT or
//! BST as the date falls), day before month, the 24-hour clock. Money is `kernel::Money`'s
//! own display (`£1,234.50`).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;

/// `Tuesday 12 January 2027, 09:30`.
#[must_use]
pub fn when(at: DateTime<Utc>) -> String {
    at.with_timezone(&London)
        .format("%A %-d %B %Y, %H:%M")
        .to_string()
}

/// A session part: `Tuesday 12 January 2027, 09:30–15:30`, or both ends in full when it
/// runs past midnight.
#[must_use]
pub fn span(starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    let (s, e) = (starts.with_timezone(&London), ends.with_timezone(&London));
    if s.date_naive() == e.date_naive() {
        format!("{}–{}", when(starts), e.format("%H:%M"))
    } else {
        format!("{} – {}", when(starts), when(ends))
    }
}

/// `12 January 2027`.
#[must_use]
pub fn day(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn times_are_shown_in_london_summer_and_winter() {
        let winter = Utc
            .with_ymd_and_hms(2027, 1, 12, 9, 30, 0)
            .single()
            .expect("test value");
        assert_eq!(when(winter), "Tuesday 12 January 2027, 09:30");
        // 08:30 UTC is 09:30 BST.
        let summer = Utc
            .with_ymd_and_hms(2027, 6, 15, 8, 30, 0)
            .single()
            .expect("test value");
        let end = Utc
            .with_ymd_and_hms(2027, 6, 15, 14, 30, 0)
            .single()
            .expect("test value");
        assert_eq!(span(summer, end), "Tuesday 15 June 2027, 09:30–15:30");
        let next_day = Utc
            .with_ymd_and_hms(2027, 6, 16, 8, 0, 0)
            .single()
            .expect("test value");
        assert_eq!(
            span(summer, next_day),
            "Tuesday 15 June 2027, 09:30 – Wednesday 16 June 2027, 09:00"
        );
        assert_eq!(
            day(NaiveDate::from_ymd_opt(2027, 3, 1).expect("test value")),
            "1 March 2027"
        );
    }
}
