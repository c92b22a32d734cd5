//! Scalars of our own. `DateTime` comes from async-graphql (RFC 3339, UTC).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`, with a four-digit year. Dates sent as
/// input must lie from 2000-01-01 to 2099-12-31 (`OUT_OF_RANGE` otherwise).
#[Scalar(
    name = "Date",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // `kernel::dates::parse_iso` checks the shape first: chrono's `%Y` alone takes
            // any number of digits (`26-11-02` would be the year 26).
            Value::String(s) => kernel::dates::parse_iso(s).map(Date).ok_or_else(|| {
                InputValueError::custom(
                    "expected a date like 2026-09-01 (YYYY-MM-DD, four-digit year)",
                )
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Self(d)
    }
}

/// An academic year, September to August, written `2026/27`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcademicYearScalar(pub kernel::AcademicYear);

/// An academic year, September to August, written as schools write it: `2026/27`.
#[Scalar(name = "AcademicYear")]
impl ScalarType for AcademicYearScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(AcademicYearScalar)
                .map_err(|_| InputValueError::custom("expected an academic year like 2026/27")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<kernel::AcademicYear> for AcademicYearScalar {
    fn from(year: kernel::AcademicYear) -> Self {
        Self(year)
    }
}

/// A financial year, April to March, written `2026-27`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinancialYearScalar(pub kernel::FinancialYear);

/// A financial year, 1 April to 31 March, written as government and school budgets write it:
/// `2026-27`.
#[Scalar(name = "FinancialYear")]
impl ScalarType for FinancialYearScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => s
                .parse()
                .map(FinancialYearScalar)
                .map_err(|_| InputValueError::custom("expected a financial year like 2026-27")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<kernel::FinancialYear> for FinancialYearScalar {
    fn from(year: kernel::FinancialYear) -> Self {
        Self(year)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyValue(pub kernel::Money);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

/// An exact decimal number written as a string, e.g. `"1234.56"` or `"-0.05"`: a JSON number
/// would be read as floating point by most clients.
#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) if kernel::money::is_decimal(s) => Ok(Decimal(s.clone())),
            _ => Err(InputValueError::custom(
                "expected a decimal string like \"1234.56\"",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// An ISO 4217 currency.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurrencyCode {
    /// Pound sterling.
    Gbp,
}

impl From<kernel::Currency> for CurrencyCode {
    fn from(currency: kernel::Currency) -> Self {
        match currency {
            kernel::Currency::Gbp => Self::Gbp,
        }
    }
}

/// An amount of money, as Shopify's `MoneyV2` gives it: `amount` is an exact decimal
/// string (`"1234.56"`) that any client's decimal type reads without floating point,
/// `currencyCode` its ISO 4217 currency and `formatted` what to show people.
#[async_graphql::Object(name = "Money")]
impl MoneyValue {
    /// The amount in the currency's major unit as an exact decimal, e.g. `"12500.00"`.
    async fn amount(&self) -> Decimal {
        Decimal(self.0.decimal())
    }

    /// The currency of `amount`.
    async fn currency_code(&self) -> CurrencyCode {
        self.0.currency().into()
    }

    /// The amount in the currency's minor unit (pence). A total can pass GraphQL's 32-bit
    /// `Int` (£21,474,836.47): such a total is an error here, so read `amount` instead.
    #[graphql(deprecation = "Use `amount`: a total in pence can exceed GraphQL's 32-bit Int.")]
    async fn amount_pence(&self) -> async_graphql::Result<i32> {
        i32::try_from(self.0.pence()).map_err(|_| {
            super::errors::coded(
                format!(
                    "{} in pence does not fit GraphQL's 32-bit Int: read `amount` instead",
                    self.0
                ),
                super::errors::Code::BadUserInput,
            )
        })
    }

    /// ISO 4217 code, e.g. `GBP`.
    #[graphql(deprecation = "Use `currencyCode`.")]
    async fn currency(&self) -> &'static str {
        self.0.currency().code()
    }

    /// As finance staff write it, e.g. `£12,500.00`.
    async fn formatted(&self) -> String {
        self.0.to_string()
    }
}

impl From<kernel::Money> for MoneyValue {
    fn from(money: kernel::Money) -> Self {
        Self(money)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_only_plain_decimal_strings() {
        for ok in ["0", "1234.56", "-0.05"] {
            assert!(Decimal::parse(Value::String(ok.into())).is_ok(), "{ok}");
        }
        for bad in [
            "", "-", "1.2.3", "1e5", ".5", "5.", "12a", " 1", "--5", "-.5", "1.-5",
        ] {
            assert!(Decimal::parse(Value::String(bad.into())).is_err(), "{bad}");
        }
        assert!(Decimal::parse(Value::Number(5.into())).is_err());
    }

    #[test]
    fn dates_need_a_four_digit_year() {
        let parsed = Date::parse(Value::String("2026-11-02".into())).expect("parses");
        assert_eq!(parsed.to_value(), Value::String("2026-11-02".into()));
        for bad in [
            "26-11-02",
            "0026-11-2",
            "+2026-11-02",
            "20261-11-02",
            "2026-13-01",
            "2026/11/02",
        ] {
            assert!(Date::parse(Value::String(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn academic_years_parse_as_schools_write_them() {
        let parsed = AcademicYearScalar::parse(Value::String("2026/27".into())).expect("parses");
        assert_eq!(parsed.0.start_year(), 2026);
        assert_eq!(parsed.to_value(), Value::String("2026/27".into()));
        assert!(AcademicYearScalar::parse(Value::String("2026/28".into())).is_err());
        assert!(AcademicYearScalar::parse(Value::Number(2026.into())).is_err());
    }
}
