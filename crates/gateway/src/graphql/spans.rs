//! Names the request's `graphql` span by what the document asks, as OpenTelemetry's GraphQL
//! semantic conventions describe: `query Schools`, with `graphql.operation.type` and
//! `graphql.operation.name`, and `graphql.document.hash` (SHA-256 of the text, as automatic
//! persisted queries name documents) instead of the document, which may hold personal data
//! in literals and is unbounded.
//!
//! The transport opens the span (it knows the caller) and runs the schema inside it; this
//! extension fills in what only a parsed document tells. There are no spans per resolved
//! field: async-graphql's `Tracing` extension opened one for every object-valued field, which
//! cost more than the resolvers themselves on a list page (async-graphql issue 1767) and said
//! less than the spans that matter — one per DataLoader batch ([`super::loaders`]), each a
//! statement.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Request, ServerResult, Variables};
use opentelemetry::trace::TraceContextExt as _;
use sha2::{Digest as _, Sha256};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Installs [`OperationSpan`] on a schema.
#[derive(Debug, Clone, Copy)]
pub struct OperationSpan;

impl ExtensionFactory for OperationSpan {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Naming::default())
    }
}

/// One request's operation name as the client chose it, to pick the operation parsed.
#[derive(Default)]
struct Naming {
    requested: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Extension for Naming {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Ok(mut requested) = self.requested.lock() {
            requested.clone_from(&request.operation_name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let span = tracing::Span::current();
        record_hash(&span, query);
        let document = next.run(ctx, query, variables).await?;
        let requested = self.requested.lock().ok().and_then(|r| r.clone());
        record_operation(&span, &document, requested.as_deref());
        Ok(document)
    }
}

/// Records `graphql.document.hash` on `span` (before validation, so a document that
/// validation refuses can still be found by its hash).
pub fn record_hash(span: &tracing::Span, query: &str) {
    if !span.is_disabled() {
        record_document_hash(span, &document_hash(query));
    }
}

/// Records `graphql.document.hash` on `span`, from a [`document_hash`] worked out before.
pub fn record_document_hash(span: &tracing::Span, hash: &str) {
    span.record("graphql.document.hash", hash);
}

/// Names `span` by the operation `document` runs (`requested` is the client's operation
/// name): `query Schools`, with its type and name as attributes.
pub fn record_operation(
    span: &tracing::Span,
    document: &ExecutableDocument,
    requested: Option<&str>,
) {
    if span.is_disabled() {
        return;
    }
    if let Some((kind, name)) = operation(document, requested) {
        let kind = type_name(kind);
        let span_name = match name {
            Some(name) => {
                span.record("graphql.operation.name", name);
                format!("{kind} {name}")
            }
            None => kind.to_owned(),
        };
        span.record("graphql.operation.type", kind);
        span.record("otel.name", span_name.as_str());
        // The exported span has started by now, and tracing-opentelemetry renames only
        // spans not yet started: rename it at the source too.
        span.context().span().update_name(span_name);
    }
}

/// The hex SHA-256 of a document: how automatic persisted queries name it, and the span's
/// `graphql.document.hash`.
#[must_use]
pub fn document_hash(text: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The operation the request runs, as async-graphql picks it: the named one, or the only one.
#[must_use]
pub fn operation<'a>(
    document: &'a ExecutableDocument,
    requested: Option<&'a str>,
) -> Option<(OperationType, Option<&'a str>)> {
    match &document.operations {
        DocumentOperations::Single(op) => Some((op.node.ty, None)),
        DocumentOperations::Multiple(ops) => match requested {
            Some(name) => ops.get(name).map(|op| (op.node.ty, Some(name))),
            None if ops.len() == 1 => ops
                .iter()
                .next()
                .map(|(n, op)| (op.node.ty, Some(n.as_str()))),
            None => None,
        },
    }
}

/// `graphql.operation.type` as the conventions spell it.
const fn type_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    #[test]
    fn the_operation_is_the_named_one_or_the_only_one() {
        let one = parse_query("query Schools { a }").expect("parse");
        assert_eq!(
            operation(&one, None),
            Some((OperationType::Query, Some("Schools")))
        );
        let anonymous = parse_query("mutation { a }").expect("parse");
        assert_eq!(
            operation(&anonymous, None),
            Some((OperationType::Mutation, None))
        );
        let two = parse_query("query A { a } mutation B { b }").expect("parse");
        assert_eq!(
            operation(&two, Some("B")),
            Some((OperationType::Mutation, Some("B")))
        );
        assert_eq!(operation(&two, None), None);
        assert_eq!(operation(&two, Some("C")), None);
    }
}
