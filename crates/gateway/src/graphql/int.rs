//! GraphQL's `Int` is a signed 32-bit integer (the spec, section 3.5.1), and strict clients
//! (graphql-js, Apollo Kotlin, generated Java and Swift) refuse anything wider. So every `Int`
//! Trellis sends or accepts is an `i32` at the GraphQL edge, whatever the domain keeps; these
//! convert between the two in one place. `tests/int32.rs` fails the build of any resolver,
//! argument or input field that exposes a wider integer.
//!
//! Inputs: a value the domain keeps unsigned arrives as `i32` and a negative one becomes an
//! `OUT_OF_RANGE` user error naming the field, rather than a coercion error that discards the
//! whole request. Outputs: quantities, capacities and money are bounded where they come in
//! (`kernel::quantity`, `Money::bounded_input`), so a value that does not fit is a broken
//! invariant and answers `INTERNAL`; counts of rows and small bounded values saturate instead.

use std::fmt::Display;

use kernel::{ErrorCode, FieldError};

use super::errors::{Code, coded, internal};

/// An input the domain keeps as `u32`: refused, naming `field`, when negative.
pub fn unsigned(value: i32, field: &str) -> Result<u32, FieldError> {
    u32::try_from(value).map_err(|_| {
        FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!("must be 0 or more, not {value}"),
        )
    })
}

/// A query's argument the domain keeps unsigned (`first` of a plain list): a negative one is
/// refused with `BAD_USER_INPUT` naming it, as a query has no `userErrors` to put it in.
pub fn argument(value: i32, name: &str) -> async_graphql::Result<u64> {
    u64::try_from(value).map_err(|_| {
        coded(
            format!("`{name}` must be 0 or more, not {value}"),
            Code::BadUserInput,
        )
    })
}

/// An output the domain keeps wider than `Int`; inputs are bounded so that it always fits.
pub fn out<T>(value: T) -> async_graphql::Result<i32>
where
    T: TryInto<i32> + Display + Copy,
{
    value
        .try_into()
        .map_err(|_| internal(format!("{value} does not fit GraphQL's 32-bit Int")))
}

/// A count of rows, or a small value bounded where it came in (a capacity, a VAT rate in basis
/// points, days of notice): saturates at `Int`'s maximum, which a client reads as "at least
/// this many", rather than failing a whole page over one field.
pub fn saturating<T>(value: T) -> i32
where
    T: TryInto<i32>,
{
    value.try_into().unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_input_is_out_of_range_and_names_the_field() {
        assert_eq!(unsigned(7, "capacity").expect("fits"), 7);
        let err = unsigned(-1, "capacity").expect_err("negative");
        assert_eq!(err.code, ErrorCode::OutOfRange);
        assert_eq!(err.field, ["capacity"]);
    }

    #[test]
    fn outputs_fit_or_fail_and_counts_saturate() {
        assert_eq!(out(2_147_483_647_i64).expect("fits"), i32::MAX);
        assert!(out(2_147_483_648_i64).is_err());
        assert!(out(u32::MAX).is_err());
        assert_eq!(saturating(5_000_000_000_u64), i32::MAX);
        assert_eq!(saturating(12_usize), 12);
    }
}
