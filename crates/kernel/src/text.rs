//! Checks of free-text input that every domain applies the same way.

use crate::{ErrorCode, FieldError};

/// Trims `value` and requires 1..=`max` characters (not bytes: names are often accented).
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
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

/// Optional text: blank means absent; otherwise as [`required_text`].
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
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
        assert_eq!(optional_text("po", Some("  "), 5), Ok(None));
        assert_eq!(
            optional_text("po", Some("PO-123456"), 5).map_err(|e| e.code),
            Err(ErrorCode::TooLong)
        );
    }
}
