//! Money in integer minor units.
//!
//! Floating point never touches money in Trellis: fees, invoices and payments are whole pence,
//! and arithmetic is checked so an overflow is an error rather than a wrong invoice.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

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
