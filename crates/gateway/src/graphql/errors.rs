//! The one place domain errors become GraphQL errors.
//!
//! Mutations report what the caller can fix as `userErrors` in their payload; everything
//! else is a top-level error whose `extensions.code` is one of UNAUTHENTICATED, FORBIDDEN,
//! NOT_FOUND, BAD_USER_INPUT, SERVICE_UNAVAILABLE (a dependency such as Stripe could not be
//! reached: retry) or INTERNAL. Internal errors are logged with their cause chain
//! and reach the caller as a bare "internal error".

use async_graphql::{Enum, ErrorExtensions, SimpleObject};
use kernel::{DomainError, ErrorCode, FieldError};

/// Why an input field was refused. Stable: clients switch on it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// Malformed value.
    Invalid,
    /// A value is needed.
    Required,
    /// Longer than allowed.
    TooLong,
    /// Outside the allowed range.
    OutOfRange,
    /// Already used by another record.
    Taken,
    /// The referenced record does not exist.
    NotFound,
    /// Conflicts with the record's current state.
    Conflict,
}

impl From<ErrorCode> for UserErrorCode {
    fn from(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Invalid => Self::Invalid,
            ErrorCode::Required => Self::Required,
            ErrorCode::TooLong => Self::TooLong,
            ErrorCode::OutOfRange => Self::OutOfRange,
            ErrorCode::Taken => Self::Taken,
            ErrorCode::NotFound => Self::NotFound,
            ErrorCode::Conflict => Self::Conflict,
        }
    }
}

/// A problem with the input that the caller can fix. Nothing was changed.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// Path to the input field, starting at the mutation's argument: `["input", "urn"]`.
    pub field: Vec<String>,
    pub code: UserErrorCode,
    pub message: String,
}

impl From<FieldError> for UserError {
    fn from(e: FieldError) -> Self {
        let mut field = vec!["input".to_owned()];
        field.extend(e.field);
        Self {
            field,
            code: e.code.into(),
            message: e.message,
        }
    }
}

/// A top-level error with a code.
pub fn coded(message: impl Into<String>, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// An internal fault: logged, and reported to the caller without details.
pub fn internal(detail: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %detail, "internal error");
    coded("internal error", "INTERNAL")
}

/// Maps a domain error to a top-level GraphQL error.
pub fn to_graphql(err: DomainError) -> async_graphql::Error {
    match err {
        DomainError::Invalid(fields) => {
            let message = fields
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            coded(message, "BAD_USER_INPUT")
        }
        DomainError::NotFound { entity } => coded(format!("{entity} not found"), "NOT_FOUND"),
        DomainError::Forbidden(_) => coded("you are not allowed to do this", "FORBIDDEN"),
        DomainError::Unavailable { dependency, .. } => {
            tracing::warn!(error = %err.chain(), "a dependency is unavailable");
            coded(
                format!(
                    "the {dependency} could not be reached; nothing was changed, so the same \
                     request can be tried again shortly"
                ),
                "SERVICE_UNAVAILABLE",
            )
        }
        DomainError::Internal(_) => internal(err.chain()),
    }
}

/// Splits a mutation's result into its payload parts: the changed object, or user errors.
/// Anything the caller cannot fix stays a top-level error.
pub fn payload<T>(
    result: Result<T, DomainError>,
) -> async_graphql::Result<(Option<T>, Vec<UserError>)> {
    match result {
        Ok(value) => Ok((Some(value), Vec::new())),
        Err(DomainError::Invalid(fields)) => {
            Ok((None, fields.into_iter().map(UserError::from).collect()))
        }
        Err(other) => Err(to_graphql(other)),
    }
}

/// A single user error, for input the gateway itself rejects (e.g. a malformed global id).
#[must_use]
pub fn field_error(field: &str, code: ErrorCode, message: &str) -> DomainError {
    DomainError::Invalid(vec![FieldError::new(field, code, message)])
}
