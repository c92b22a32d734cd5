//! The one place domain errors become GraphQL errors, and the one list of their codes.
//!
//! Mutations report what the caller can fix as `userErrors` in their payload; everything
//! else is a top-level error whose `extensions.code` is one of [`Code`] — published in the
//! schema as the `ErrorCode` enum, so clients can switch on it and tools can see it. That
//! includes the errors async-graphql raises itself (parse, validation, limits, coercion):
//! the [`ErrorCodes`] extension codes those, for every transport. Internal errors are
//! logged with their cause chain and reach the caller as a bare "internal error".

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextSubscribe,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    Enum, ErrorExtensionValues, ErrorExtensions, Object, Pos, Positioned, Response, ServerError,
    ServerResult, SimpleObject, ValidationResult, Value, Variables,
};
use futures::stream::{BoxStream, StreamExt as _};
use kernel::{DomainError, ErrorCode, FieldError};

/// The `extensions.code` of every top-level error Trellis returns, over HTTP and graphql-ws.
/// Stable: clients switch on it. What the caller can fix in a mutation's input comes back in
/// its payload's `userErrors` instead (see `UserErrorCode`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "ErrorCode")]
pub enum Code {
    /// The document is not GraphQL: fix its syntax. Nothing ran.
    GraphqlParseFailed,
    /// The document does not fit the schema (an unknown field or argument, a wrong type, an
    /// operation name the document does not define…). Nothing ran.
    GraphqlValidationFailed,
    /// The HTTP request is not a GraphQL request: not JSON, no `query`, a mutation sent with
    /// GET, an unsupported content type. Nothing ran.
    BadRequest,
    /// A value is refused: a variable or argument that cannot be coerced to its type, out of
    /// range, malformed (an unknown global id, a NUL character), or a domain rule.
    BadUserInput,
    /// The document is nested, expanded or priced beyond the server's limits (depth,
    /// complexity, brackets, fragments, introspection's own bounds). Ask for less.
    QueryTooComplex,
    /// An automatic persisted query (`extensions.persistedQuery`) names a document this
    /// server does not know (message `PersistedQueryNotFound`, as Apollo clients expect): send
    /// the hash again with `query` to register it. Nothing ran.
    PersistedQueryNotFound,
    /// The request body is larger than the server accepts (HTTP 413). Nothing ran.
    RequestTooLarge,
    /// The answer would be larger than the server sends; it was withheld. Ask for fewer items
    /// or fields.
    ResponseTooLarge,
    /// No valid credential: send `Authorization: Bearer <token or API key>` (HTTP 401).
    Unauthenticated,
    /// Too many requests from this caller (or, without a valid credential, this address):
    /// wait the `Retry-After` seconds (also in `extensions.retryAfter`). HTTP 429; nothing ran.
    RateLimited,
    /// The caller may not do this (their role, schools or API key scopes).
    Forbidden,
    /// What was asked for does not exist, or the caller may not know that it does.
    NotFound,
    /// A dependency (the database behind sign-in, the OIDC issuer, Stripe) could not be
    /// reached; nothing was changed, so the same request can be tried again shortly.
    ServiceUnavailable,
    /// A fault in Trellis; logged with its cause, reported without details.
    Internal,
}

impl Code {
    /// Every code, in the order documented.
    pub const ALL: [Self; 14] = [
        Self::GraphqlParseFailed,
        Self::GraphqlValidationFailed,
        Self::BadRequest,
        Self::BadUserInput,
        Self::QueryTooComplex,
        Self::PersistedQueryNotFound,
        Self::RequestTooLarge,
        Self::ResponseTooLarge,
        Self::Unauthenticated,
        Self::RateLimited,
        Self::Forbidden,
        Self::NotFound,
        Self::ServiceUnavailable,
        Self::Internal,
    ];

    /// The code as it appears in `extensions.code` (the GraphQL enum value's name).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::BadRequest => "BAD_REQUEST",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::RateLimited => "RATE_LIMITED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }
}

/// `extensions` holding only `code`.
#[must_use]
pub fn code_extensions(code: Code) -> ErrorExtensionValues {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    extensions
}

/// A request-level error (no location, no path) with a code.
#[must_use]
pub fn server_error(message: impl Into<String>, code: Code) -> ServerError {
    let mut error = ServerError::new(message, None);
    error.extensions = Some(code_extensions(code));
    error
}

/// Gives every error that lacks one the code `code`.
fn code_missing(errors: &mut [ServerError], code: impl Fn(&ServerError) -> Code) {
    for error in errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = code(error);
            error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", code.as_str());
        }
    }
}

/// What async-graphql's own pre-execution limits say (it gives them no code).
fn is_limit_message(message: &str) -> bool {
    message == "Query is too complex."
        || message == "Query is nested too deep."
        || message.starts_with("The recursion depth of the query")
        || message.starts_with("The number of directives")
}

/// The code of an error async-graphql raised without one, after validation: a field's
/// argument or variable that could not be coerced is the caller's input; anything else
/// without a path is about the document (an unknown operation name); the rest is ours.
fn late_code(error: &ServerError) -> Code {
    if error.path.is_empty() {
        Code::GraphqlValidationFailed
    } else if error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value for argument")
    {
        Code::BadUserInput
    } else {
        tracing::warn!(message = %error.message, "an error without a code reached the caller");
        Code::Internal
    }
}

/// Codes the errors async-graphql raises itself, so every top-level error carries one.
/// Installed first on the schema so it sees every other extension's errors too.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesRequest::default())
    }
}

/// One request's [`ErrorCodes`]: remembers where its document uses variables, because
/// async-graphql checks the variables' values during validation and reports a value that
/// cannot be coerced there, at the variable's definition or the argument it feeds.
#[derive(Debug, Default)]
struct ErrorCodesRequest {
    variable_positions: Mutex<Vec<Pos>>,
}

impl ErrorCodesRequest {
    fn validation_code(&self, error: &ServerError) -> Code {
        let variables = self
            .variable_positions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        validation_code(error, &variables)
    }
}

/// The code of an error validation raised: a limit, a variable's value (reported where the
/// document defines or uses the variable, `variables`), or the document itself.
fn validation_code(error: &ServerError, variables: &[Pos]) -> Code {
    if is_limit_message(&error.message) {
        return Code::QueryTooComplex;
    }
    if !error.locations.is_empty() && error.locations.iter().all(|l| variables.contains(l)) {
        Code::BadUserInput
    } else {
        Code::GraphqlValidationFailed
    }
}

/// Codes a response's errors as [`ErrorCodes`] would have, for a document that was parsed
/// and checked before the schema ran it without extensions (queries' fast path, see
/// [`super::execute`]). `variables` are [`variable_positions`] of the document. An error
/// without a path was raised before anything resolved — validation, or the operation's
/// selection — and one with a path by a resolver.
pub fn code_checked(errors: &mut [ServerError], variables: &[Pos]) {
    code_missing(errors, |error| {
        if error.path.is_empty() {
            validation_code(error, variables)
        } else {
            late_code(error)
        }
    });
}

/// The positions of every variable definition, and of every argument whose value uses a
/// variable, in `doc`.
#[must_use]
pub fn variable_positions(doc: &ExecutableDocument) -> Vec<Pos> {
    fn walk(set: &Positioned<SelectionSet>, out: &mut Vec<Pos>) {
        for selection in &set.node.items {
            match &selection.node {
                Selection::Field(field) => {
                    let directives = field.node.directives.iter();
                    let arguments =
                        field.node.arguments.iter().chain(
                            directives.flat_map(|directive| directive.node.arguments.iter()),
                        );
                    for (name, value) in arguments {
                        // Only a value with a variable in it fails to become a constant.
                        if value.node.clone().into_const_with(|_| Err(())).is_err() {
                            out.push(name.pos);
                        }
                    }
                    walk(&field.node.selection_set, out);
                }
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set, out),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    for (_, operation) in doc.operations.iter() {
        out.extend(operation.node.variable_definitions.iter().map(|v| v.pos));
        walk(&operation.node.selection_set, &mut out);
    }
    for fragment in doc.fragments.values() {
        walk(&fragment.node.selection_set, &mut out);
    }
    out
}

#[async_trait::async_trait]
impl Extension for ErrorCodesRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        code_missing(&mut response.errors, late_code);
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream)
            .map(|mut response| {
                code_missing(&mut response.errors, late_code);
                response
            })
            .boxed()
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        match next.run(ctx, query, variables).await {
            Ok(doc) => {
                *self
                    .variable_positions
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = variable_positions(&doc);
                Ok(doc)
            }
            Err(mut error) => {
                code_missing(std::slice::from_mut(&mut error), |e| {
                    if is_limit_message(&e.message) {
                        Code::QueryTooComplex
                    } else {
                        Code::GraphqlParseFailed
                    }
                });
                Err(error)
            }
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|mut errors| {
            code_missing(&mut errors, |e| self.validation_code(e));
            errors
        })
    }
}

#[derive(Debug, Default)]
pub struct ErrorCodesQuery;

/// `Query.errorCodes`: the codes, reachable from the root so introspection shows them.
#[Object]
impl ErrorCodesQuery {
    /// Every `extensions.code` a top-level error may carry, in the order documented. Clients
    /// switch on these; a mutation's fixable input problems come as `userErrors` instead.
    async fn error_codes(&self) -> Vec<Code> {
        Code::ALL.to_vec()
    }
}

/// The `extensions.code` of an error, if it has one.
#[must_use]
pub fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(Value::String(code)) => Some(code),
        _ => None,
    }
}

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
    /// What kind of problem: see `UserErrorCode`.
    pub code: UserErrorCode,
    /// What is wrong, in a sentence for the person who filled in the form.
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
pub fn coded(message: impl Into<String>, code: Code) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// An internal fault: logged, and reported to the caller without details.
pub fn internal(detail: impl std::fmt::Display) -> async_graphql::Error {
    tracing::error!(error = %detail, "internal error");
    coded("internal error", Code::Internal)
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
            coded(message, Code::BadUserInput)
        }
        DomainError::NotFound { entity } => coded(format!("{entity} not found"), Code::NotFound),
        DomainError::Forbidden(_) => coded("you are not allowed to do this", Code::Forbidden),
        DomainError::Unavailable { dependency, .. } => {
            tracing::warn!(error = %err.chain(), "a dependency is unavailable");
            coded(
                format!(
                    "the {dependency} could not be reached; nothing was changed, so the same \
                     request can be tried again shortly"
                ),
                Code::ServiceUnavailable,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_the_graphql_enum_value_of_the_same_name() {
        use async_graphql::resolver_utils::EnumType as _;
        let names: Vec<&str> = Code::items().iter().map(|item| item.name).collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ours);
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../../../README.md");
        for code in Code::ALL {
            assert!(
                readme.contains(&format!("| `{}` |", code.as_str())),
                "README's error code table lacks {}",
                code.as_str()
            );
        }
    }
}
