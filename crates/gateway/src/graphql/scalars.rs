//! Scalars of our own. `DateTime` comes from async-graphql (RFC 3339, UTC).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date in ISO 8601 form, `YYYY-MM-DD`.
#[Scalar(
    name = "Date",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339#section-5.6"
)]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date like 2026-09-01")),
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

/// An amount of money. Always whole pence: clients add and compare `amountPence`, and show
/// `formatted`, so no client ever does floating-point arithmetic on money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyValue(pub kernel::Money);

#[async_graphql::Object(name = "Money")]
impl MoneyValue {
    /// The amount in the currency's minor unit (pence).
    async fn amount_pence(&self) -> i64 {
        self.0.pence()
    }

    /// ISO 4217 code, e.g. `GBP`.
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
    fn academic_years_parse_as_schools_write_them() {
        let parsed = AcademicYearScalar::parse(Value::String("2026/27".into())).expect("parses");
        assert_eq!(parsed.0.start_year(), 2026);
        assert_eq!(parsed.to_value(), Value::String("2026/27".into()));
        assert!(AcademicYearScalar::parse(Value::String("2026/28".into())).is_err());
        assert!(AcademicYearScalar::parse(Value::Number(2026.into())).is_err());
    }
}
