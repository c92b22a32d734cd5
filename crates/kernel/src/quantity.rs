//! Bounds on counted inputs: units of the core offer, minutes of support, pupils on roll.
//!
//! Every such input crosses one of these checks before anything is written, so a ledger of
//! them can be summed in `i64` without wrapping (a billion maximal entries still fit).

use crate::error::{ErrorCode, FieldError};

/// The most units one movement or allowance may carry: far above a year of any offer item.
pub const MAX_INPUT_QUANTITY: i64 = 100_000;

/// The most minutes one record of time may carry: about 1,666 hours.
pub const MAX_INPUT_MINUTES: i64 = 100_000;

/// A number of units that must be at least one: `1..=`[`MAX_INPUT_QUANTITY`].
pub fn bounded_quantity(field: &str, quantity: i64) -> Result<i64, FieldError> {
    in_range(field, quantity, 1, MAX_INPUT_QUANTITY)
}

/// A number of units that may be none: `0..=`[`MAX_INPUT_QUANTITY`].
pub fn bounded_quantity_or_zero(field: &str, quantity: i64) -> Result<i64, FieldError> {
    in_range(field, quantity, 0, MAX_INPUT_QUANTITY)
}

/// A signed correction, never zero: `-MAX..=-1` or `1..=MAX` ([`MAX_INPUT_QUANTITY`]).
pub fn bounded_adjustment(field: &str, quantity: i64) -> Result<i64, FieldError> {
    if quantity != 0 && quantity.unsigned_abs() <= MAX_INPUT_QUANTITY.unsigned_abs() {
        Ok(quantity)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!("must be from -{MAX_INPUT_QUANTITY} to {MAX_INPUT_QUANTITY}, and not zero"),
        ))
    }
}

/// Minutes of time given: `1..=`[`MAX_INPUT_MINUTES`].
pub fn bounded_minutes(field: &str, minutes: i64) -> Result<i64, FieldError> {
    in_range(field, minutes, 1, MAX_INPUT_MINUTES)
}

/// `min..=max`, or an `OUT_OF_RANGE` field error that states the range.
pub fn in_range(field: &str, value: i64, min: i64, max: i64) -> Result<i64, FieldError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!("must be from {min} to {max}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_bounded() {
        assert_eq!(bounded_quantity("quantity", 1), Ok(1));
        assert_eq!(
            bounded_quantity("quantity", MAX_INPUT_QUANTITY),
            Ok(MAX_INPUT_QUANTITY)
        );
        for bad in [i64::MIN, -1, 0, MAX_INPUT_QUANTITY + 1, i64::MAX] {
            let err = bounded_quantity("quantity", bad).expect_err("out of range");
            assert_eq!(err.code, ErrorCode::OutOfRange);
            assert_eq!(err.field, vec!["quantity".to_owned()]);
        }
        assert_eq!(bounded_quantity_or_zero("q", 0), Ok(0));
        assert_eq!(bounded_adjustment("q", -5), Ok(-5));
        for bad in [
            i64::MIN,
            -MAX_INPUT_QUANTITY - 1,
            0,
            MAX_INPUT_QUANTITY + 1,
            i64::MAX,
        ] {
            assert!(bounded_adjustment("q", bad).is_err(), "{bad}");
        }
        assert!(bounded_minutes("m", 0).is_err());
        assert!(bounded_minutes("m", MAX_INPUT_MINUTES + 1).is_err());
    }
}
