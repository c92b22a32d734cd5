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

/// The longest text a search box or `…Contains` filter takes. No real search is longer, and
/// SQLite answers a `LIKE` pattern over 50,000 bytes with an error rather than no match.
pub const MAX_SEARCH_CHARS: usize = 200;

/// Search text as the filters compare it: trimmed and lower-cased (match it against
/// `lower(column)`); `None` when blank. Longer than [`MAX_SEARCH_CHARS`] is `TooLong`.
pub fn search_text(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    Ok(optional_text(field, value, MAX_SEARCH_CHARS)?.map(|t| t.to_lowercase()))
}

/// A `LIKE … ESCAPE '\'` pattern for values containing `text`, in which `%`, `_` and `\`
/// match themselves.
#[must_use]
pub fn like_contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_bounded_and_patterns_escape_wildcards() {
        assert_eq!(
            search_text("q", Some("  Holly PARK ")),
            Ok(Some("holly park".to_owned()))
        );
        assert_eq!(search_text("q", Some("   ")), Ok(None));
        let long = "a".repeat(60_000);
        assert_eq!(
            search_text("q", Some(&long)).map_err(|e| e.code),
            Err(ErrorCode::TooLong)
        );
        assert_eq!(like_contains("50%_off\\"), "%50\\%\\_off\\\\%");
    }

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
