//! Integer arithmetic and wording shared by the quote engine.
//!
//! Every amount is whole pence. Intermediate products are `i128` so nothing overflows before
//! the one rounding step; rounding is **to the penny, half-up**, where "up" means away from
//! zero, so a discount line's VAT mirrors the VAT of the fee it reduces.

use chrono::NaiveDate;
use kernel::Money;

/// `numerator / denominator` rounded to the nearest integer, halves away from zero.
/// `denominator` must be positive.
pub(crate) fn div_half_up(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(
        denominator > 0,
        "denominators are constants or month counts"
    );
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// An amount the engine computed, as [`Money`].
///
/// Validation bounds every input (amounts at most [`super::rules::MAX_AMOUNT_PENCE`], rates
/// at most 100%, a roll below 2^32), so every intermediate result is far inside `i64`.
pub(crate) fn money(pence: i128) -> Money {
    Money::from_pence(i64::try_from(pence).expect("validated rules keep amounts within i64"))
}

/// Basis points as a percentage: 2000 is "20%", 1250 is "12.5%", 5 is "0.05%".
pub(crate) fn percent_words(basis_points: u32) -> String {
    let whole = basis_points / 100;
    let fraction = basis_points % 100;
    if fraction == 0 {
        format!("{whole}%")
    } else {
        let digits = format!("{fraction:02}");
        format!("{whole}.{}%", digits.trim_end_matches('0'))
    }
}

/// How a letter to a school writes a date: "5 Jan 2027".
pub(crate) fn date_words(date: NaiveDate) -> String {
    date.format("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(div_half_up(5, 10), 1);
        assert_eq!(div_half_up(4, 10), 0);
        assert_eq!(div_half_up(15, 10), 2);
        assert_eq!(div_half_up(-5, 10), -1);
        assert_eq!(div_half_up(-4, 10), 0);
        assert_eq!(div_half_up(-15, 10), -2);
        assert_eq!(div_half_up(626_240, 12), 52_187);
        assert_eq!(div_half_up(0, 12), 0);
    }

    #[test]
    fn words() {
        assert_eq!(percent_words(2000), "20%");
        assert_eq!(percent_words(1250), "12.5%");
        assert_eq!(percent_words(5), "0.05%");
        assert_eq!(percent_words(10_000), "100%");
        assert_eq!(
            date_words(NaiveDate::from_ymd_opt(2027, 1, 5).expect("date")),
            "5 Jan 2027"
        );
    }
}
