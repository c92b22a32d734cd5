//! Input checks shared by the directory's services.

use kernel::{ErrorCode, FieldError};
use sea_orm::{DbErr, SqlErr};

/// Trims `value` and requires 1..=`max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        Err(FieldError::new(
            field,
            ErrorCode::Required,
            "must not be blank",
        ))
    } else if value.chars().count() > max {
        Err(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// Whether a write failed on a unique index: the race a pre-check cannot close.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            required_text("name", "  Holly Park ", 20).ok().as_deref(),
            Some("Holly Park")
        );
        assert_eq!(
            required_text("name", "   ", 20).map_err(|e| e.code),
            Err(ErrorCode::Required)
        );
        assert_eq!(
            required_text("name", "ééé", 2).map_err(|e| e.code),
            Err(ErrorCode::TooLong)
        );
    }
}
