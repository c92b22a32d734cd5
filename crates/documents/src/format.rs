//! Dates, times, money and durations as documents print them for people in England:
//! en-GB, Europe/London local time, pounds and pence.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::London;

/// `3 March 2027`.
#[must_use]
pub fn date(day: NaiveDate) -> String {
    day.format("%-d %B %Y").to_string()
}

/// `Wed 3 March 2027, 09:30`, in London time.
#[must_use]
pub fn date_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&London)
        .format("%a %-d %B %Y, %H:%M")
        .to_string()
}

/// `Wed 3 March 2027, 09:30–15:30` (or both ends in full when they are on different days).
#[must_use]
pub fn span(starts: DateTime<Utc>, ends: DateTime<Utc>) -> String {
    let (s, e) = (starts.with_timezone(&London), ends.with_timezone(&London));
    if s.date_naive() == e.date_naive() {
        format!("{}–{}", date_time(starts), e.format("%H:%M"))
    } else {
        format!("{} – {}", date_time(starts), date_time(ends))
    }
}

/// The London calendar day of an instant.
#[must_use]
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// Pence as `£1,234.50` (`-£3.00` when negative).
#[must_use]
pub fn money(pence: i64) -> String {
    let sign = if pence < 0 { "-" } else { "" };
    let abs = pence.unsigned_abs();
    let pounds = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}£{grouped}.{:02}", abs % 100)
}

/// Minutes as `6 h`, `2 h 30 min` or `45 min`.
#[must_use]
pub fn duration(minutes: i64) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    match (h, m) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn london_time_and_en_gb_forms() {
        let summer = Utc
            .with_ymd_and_hms(2027, 6, 2, 8, 30, 0)
            .single()
            .expect("t");
        assert_eq!(date_time(summer), "Wed 2 June 2027, 09:30");
        let end = Utc
            .with_ymd_and_hms(2027, 6, 2, 14, 0, 0)
            .single()
            .expect("t");
        assert_eq!(span(summer, end), "Wed 2 June 2027, 09:30–15:00");
        assert_eq!(money(123_450), "£1,234.50");
        assert_eq!(money(-300), "-£3.00");
        assert_eq!(money(5), "£0.05");
        assert_eq!(money(100_000_000), "£1,000,000.00");
        assert_eq!(duration(150), "2 h 30 min");
        assert_eq!(duration(360), "6 h");
        assert_eq!(duration(45), "45 min");
    }
}
