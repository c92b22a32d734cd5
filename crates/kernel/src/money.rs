//! Money in integer minor units.
//!
//! Floating point never touches money in Trellis: fees, invoices and payments are whole pence,
//! and arithmetic is checked so an overflow is an error rather than a wrong invoice.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::error::{DomainError, ErrorCode, FieldError};

/// The smallest amount any one money input may carry: a penny.
pub const MIN_INPUT_PENCE: i64 = 1;
/// The largest amount any one money input may carry: £10,000,000. Far above any receipt,
/// refund, credit note, price or fee a partnership handles, and small enough that a sum of a
/// billion such amounts still fits in `i64`: every input crosses this bound (one place) before
/// anything is written, so sums in statements and balances cannot wrap.
pub const MAX_INPUT_PENCE: i64 = 1_000_000_000;

/// ISO 4217 currency. Partnerships invoice in sterling; the type exists so a sum of two
/// amounts in different currencies is an error, not a silent bug, should that ever change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    #[default]
    Gbp,
}

impl Currency {
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Gbp => "GBP",
        }
    }

    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::Gbp => "£",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MoneyError {
    #[error("amounts in {0} and {1} cannot be combined")]
    CurrencyMismatch(&'static str, &'static str),
    #[error("amount out of range")]
    Overflow,
}

/// A total that did not fit: an internal error (inputs are bounded, so only corrupt stored
/// data gets here), named so the log says which total.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("total out of range: {0}")]
pub struct SumError(pub String);

/// Adds two counts or amounts of pence, or an internal error naming the total.
pub fn checked_add_i64(what: &str, a: i64, b: i64) -> Result<i64, DomainError> {
    a.checked_add(b)
        .ok_or_else(|| DomainError::internal(SumError(format!("{what}: {a} + {b}"))))
}

/// Subtracts, or an internal error naming the total.
pub fn checked_sub_i64(what: &str, a: i64, b: i64) -> Result<i64, DomainError> {
    a.checked_sub(b)
        .ok_or_else(|| DomainError::internal(SumError(format!("{what}: {a} - {b}"))))
}

/// `whole - a - b` (what an invoice or receipt has left), or an internal error naming it.
pub fn checked_left(what: &str, whole: i64, a: i64, b: i64) -> Result<i64, DomainError> {
    checked_sub_i64(what, checked_sub_i64(what, whole, a)?, b)
}

/// Sums, or an internal error naming the total.
pub fn checked_sum_i64(
    what: &str,
    values: impl IntoIterator<Item = i64>,
) -> Result<i64, DomainError> {
    values
        .into_iter()
        .try_fold(0_i64, |total, v| checked_add_i64(what, total, v))
}

/// An amount of money: integer pence plus currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pence: i64,
    currency: Currency,
}

impl Money {
    #[must_use]
    pub const fn from_pence(pence: i64) -> Self {
        Self {
            pence,
            currency: Currency::Gbp,
        }
    }

    #[must_use]
    pub const fn zero() -> Self {
        Self::from_pence(0)
    }

    #[must_use]
    pub const fn pence(self) -> i64 {
        self.pence
    }

    #[must_use]
    pub const fn currency(self) -> Currency {
        self.currency
    }

    #[must_use]
    pub const fn is_positive(self) -> bool {
        self.pence > 0
    }

    /// A money input that must be at least a penny: [`MIN_INPUT_PENCE`]`..=`[`MAX_INPUT_PENCE`]
    /// (1p to £10,000,000). Receipts, refunds, credit notes, allocations, rates.
    pub fn bounded_input(field: &str, amount: Self) -> Result<Self, FieldError> {
        Self::in_range(field, amount, MIN_INPUT_PENCE)
    }

    /// A money input that may be nothing: `0..=`[`MAX_INPUT_PENCE`] (free to £10,000,000).
    /// Prices and values where free is meaningful.
    pub fn bounded_input_or_zero(field: &str, amount: Self) -> Result<Self, FieldError> {
        Self::in_range(field, amount, 0)
    }

    fn in_range(field: &str, amount: Self, min: i64) -> Result<Self, FieldError> {
        if (min..=MAX_INPUT_PENCE).contains(&amount.pence) {
            Ok(amount)
        } else {
            Err(FieldError::new(
                field,
                ErrorCode::OutOfRange,
                format!(
                    "must be from {} to {} ({min} to {MAX_INPUT_PENCE} pence)",
                    Self::from_pence(min),
                    Self::from_pence(MAX_INPUT_PENCE)
                ),
            ))
        }
    }

    /// Sums amounts, or says which total would not fit: for statements, balances and reports,
    /// whose totals must never wrap.
    pub fn checked_sum(
        what: &str,
        amounts: impl IntoIterator<Item = Self>,
    ) -> Result<Self, DomainError> {
        amounts
            .into_iter()
            .try_fold(Self::zero(), Money::checked_add)
            .map_err(|e| DomainError::internal(SumError(format!("{what}: {e}"))))
    }

    pub fn checked_add(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.pence
            .checked_add(other.pence)
            .map(|pence| Self {
                pence,
                currency: self.currency,
            })
            .ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Self) -> Result<Self, MoneyError> {
        self.same_currency(other)?;
        self.pence
            .checked_sub(other.pence)
            .map(|pence| Self {
                pence,
                currency: self.currency,
            })
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Self) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(
                self.currency.code(),
                other.currency.code(),
            ))
        }
    }
}

impl Money {
    /// The amount as a plain decimal in the currency's major unit, `1234.56` or `-0.05`:
    /// exact (it is built from whole pence), and readable by any client's decimal type.
    #[must_use]
    pub fn decimal(self) -> String {
        let sign = if self.pence < 0 { "-" } else { "" };
        let abs = self.pence.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Whether `text` is a plain decimal as the `Decimal` scalar takes it and
/// [`Money::decimal`] writes it: an optional `-`, digits, and optionally `.` and digits
/// (`"1234.56"`, `"-0.05"`, `"7"`; not `""`, `".5"`, `"5."`, `"1e5"` or `" 1"`).
#[must_use]
pub fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let mut parts = unsigned.split('.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next();
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    parts.next().is_none() && digits(whole) && fraction.is_none_or(digits)
}

/// `£1,234.56`, `-£0.05`: how finance staff write amounts.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.pence < 0 { "-" } else { "" };
        let abs = self.pence.unsigned_abs();
        let pounds = (abs / 100).to_string();
        let mut grouped = String::with_capacity(pounds.len() + pounds.len() / 3);
        for (i, digit) in pounds.chars().enumerate() {
            if i > 0 && (pounds.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        write!(
            f,
            "{sign}{}{grouped}.{:02}",
            self.currency.symbol(),
            abs % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_finance_staff_write() {
        assert_eq!(Money::from_pence(0).to_string(), "£0.00");
        assert_eq!(Money::from_pence(5).to_string(), "£0.05");
        assert_eq!(Money::from_pence(-5).to_string(), "-£0.05");
        assert_eq!(Money::from_pence(1_250_000).to_string(), "£12,500.00");
        assert_eq!(Money::from_pence(123_456_789).to_string(), "£1,234,567.89");
        assert_eq!(
            Money::from_pence(i64::MIN).to_string(),
            "-£92,233,720,368,547,758.08"
        );
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(Money::from_pence(0).decimal(), "0.00");
        assert_eq!(Money::from_pence(-5).decimal(), "-0.05");
        assert_eq!(Money::from_pence(123_456).decimal(), "1234.56");
        assert_eq!(
            Money::from_pence(i64::MIN).decimal(),
            "-92233720368547758.08"
        );
    }

    #[test]
    fn decimal_strings_are_plain() {
        for pence in [0, -5, 123_456, i64::MIN, i64::MAX] {
            assert!(is_decimal(&Money::from_pence(pence).decimal()), "{pence}");
        }
        for bad in [
            "", "-", "--5", "-.5", ".5", "5.", "1.2.3", "1e5", " 1", "+1",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn inputs_are_a_penny_to_ten_million_pounds() {
        for ok in [1, 5, MAX_INPUT_PENCE] {
            assert_eq!(
                Money::bounded_input("amountPence", Money::from_pence(ok)),
                Ok(Money::from_pence(ok))
            );
        }
        for bad in [i64::MIN, -1, 0, MAX_INPUT_PENCE + 1, i64::MAX] {
            let err = Money::bounded_input("amountPence", Money::from_pence(bad))
                .expect_err("out of range");
            assert_eq!(err.field, vec!["amountPence".to_owned()]);
            assert_eq!(err.code, ErrorCode::OutOfRange);
        }
        assert!(Money::bounded_input_or_zero("p", Money::zero()).is_ok());
        assert!(Money::bounded_input_or_zero("p", Money::from_pence(-1)).is_err());
        assert!(Money::bounded_input_or_zero("p", Money::from_pence(MAX_INPUT_PENCE + 1)).is_err());
    }

    #[test]
    fn sums_never_wrap() {
        assert!(
            Money::checked_sum("t", [Money::from_pence(i64::MAX), Money::from_pence(1)]).is_err()
        );
        assert_eq!(
            Money::checked_sum("t", [Money::from_pence(2), Money::from_pence(-5)]).ok(),
            Some(Money::from_pence(-3))
        );
        assert!(checked_sum_i64("t", [i64::MAX, 1]).is_err());
        assert!(checked_sub_i64("t", i64::MIN, 1).is_err());
        assert_eq!(checked_add_i64("t", 2, 3).ok(), Some(5));
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_pence(i64::MAX);
        assert_eq!(
            a.checked_add(Money::from_pence(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::from_pence(10).checked_sub(Money::from_pence(15)),
            Ok(Money::from_pence(-5))
        );
    }
}
