//! The one error type domain services return.
//!
//! Variants are chosen by *who can fix it*: [`DomainError::Invalid`] is the caller's input and
//! becomes GraphQL `userErrors` with a field path and a code; [`DomainError::NotFound`] and
//! [`DomainError::Forbidden`] become top-level errors with `extensions.code`;
//! [`DomainError::Internal`] is ours, is logged with its cause chain, and reaches the caller
//! only as `INTERNAL` with no details. The gateway does that mapping in one place.

use std::error::Error as StdError;
use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// Machine-readable reason for a field error. Stable: clients switch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The value is malformed (wrong format, unknown option).
    Invalid,
    /// A value is needed and was empty.
    Required,
    /// Longer than allowed.
    TooLong,
    /// Outside the allowed range.
    OutOfRange,
    /// Another record already uses this value.
    Taken,
    /// A referenced record does not exist.
    NotFound,
    /// The change conflicts with the record's current state.
    Conflict,
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path to the input field, e.g. `["input", "urn"]`.
    pub field: Vec<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field.join("."), self.message)
    }
}

impl FieldError {
    pub fn new(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            field: field.split('.').map(str::to_owned).collect(),
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Error)]
pub enum DomainError {
    /// The caller's input cannot be accepted; nothing was changed.
    #[error("invalid input: {}", summarise(.0))]
    Invalid(Vec<FieldError>),
    /// The named record does not exist (or is not visible to this caller).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },
    /// The caller is known but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A service Trellis depends on (the payment provider) could not be reached; nothing
    /// was changed and the same request may be retried. Callers are told which, not why.
    #[error("{dependency} unavailable")]
    Unavailable {
        dependency: &'static str,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// A fault of ours or of infrastructure. Never shown to callers.
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl DomainError {
    /// A single field error.
    pub fn invalid(field: &str, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, code, message)])
    }

    pub fn internal(err: impl StdError + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    /// The full cause chain, for logs.
    #[must_use]
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = self.source();
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        out
    }
}

fn summarise(errors: &[FieldError]) -> impl fmt::Display + '_ {
    struct S<'a>(&'a [FieldError]);
    impl fmt::Display for S<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            for (i, e) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", e.field.join("."), e.message)?;
            }
            Ok(())
        }
    }
    S(errors)
}

/// One field's problem is the whole request's: `?` on a single check.
impl From<FieldError> for DomainError {
    fn from(err: FieldError) -> Self {
        Self::Invalid(vec![err])
    }
}

#[cfg(feature = "sea-orm")]
impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::internal(err)
    }
}

#[cfg(feature = "sea-orm")]
impl From<sea_orm::TransactionError<DomainError>> for DomainError {
    fn from(err: sea_orm::TransactionError<DomainError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => Self::internal(db),
            sea_orm::TransactionError::Transaction(domain) => domain,
        }
    }
}

/// Collects field errors so a service can report every problem with an input at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, code: ErrorCode, message: impl Into<String>) {
        self.0.push(FieldError::new(field, code, message));
    }

    /// Records the error of a parse, returning the value when it parsed.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// `Ok` when nothing was wrong.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }

    /// The values parsed while these problems were recorded, when nothing was wrong.
    ///
    /// Services check every field before giving up, so they hold each parse as an `Option`;
    /// this turns those options (one, or a tuple of up to eight) into the values at once.
    /// A value missing with no problem recorded is a bug in the service: it is reported as
    /// an internal error, never a panic that would drop the caller's connection.
    pub fn finish_with<P: Parsed>(self, parsed: P) -> Result<P::Value, DomainError> {
        self.finish()?;
        parsed
            .complete()
            .ok_or_else(|| DomainError::internal(Unrecorded(std::any::type_name::<P::Value>())))
    }
}

/// A value left unparsed although no problem was recorded for it.
#[derive(Debug, Error)]
#[error("a {0} was missing but no problem was recorded for it")]
struct Unrecorded(&'static str);

/// Values parsed one by one, each `None` where its parse failed: complete when all parsed.
pub trait Parsed {
    type Value;
    fn complete(self) -> Option<Self::Value>;
}

impl<A> Parsed for Option<A> {
    type Value = A;
    fn complete(self) -> Option<A> {
        self
    }
}

macro_rules! parsed_tuple {
    ($($t:ident),+) => {
        impl<$($t),+> Parsed for ($(Option<$t>,)+) {
            type Value = ($($t,)+);
            #[allow(non_snake_case)]
            fn complete(self) -> Option<Self::Value> {
                let ($($t,)+) = self;
                Some(($($t?,)+))
            }
        }
    };
}

parsed_tuple!(A, B);
parsed_tuple!(A, B, C);
parsed_tuple!(A, B, C, D);
parsed_tuple!(A, B, C, D, E);
parsed_tuple!(A, B, C, D, E, F);
parsed_tuple!(A, B, C, D, E, F, G);
parsed_tuple!(A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_with_gives_the_values_when_nothing_was_wrong() {
        let problems = Problems::new();
        assert_eq!(
            problems
                .finish_with((Some(1), Some("a")))
                .expect("complete"),
            (1, "a")
        );
    }

    #[test]
    fn finish_with_reports_the_recorded_problems() {
        let mut problems = Problems::new();
        let n = problems.check::<u8>(Err(FieldError::new("n", ErrorCode::Invalid, "no")));
        match problems.finish_with((n, Some(2))) {
            Err(DomainError::Invalid(errors)) => assert_eq!(errors[0].field, ["n"]),
            other => panic!("expected the problem, got {other:?}"),
        }
    }

    #[test]
    fn a_value_missing_without_a_problem_is_internal_not_a_panic() {
        let err = Problems::new()
            .finish_with((Some(1), None::<u8>))
            .expect_err("incomplete");
        assert!(matches!(err, DomainError::Internal(_)), "{err:?}");
        assert!(
            err.chain().contains("no problem was recorded"),
            "{}",
            err.chain()
        );
    }
}
