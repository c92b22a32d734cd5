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
}
