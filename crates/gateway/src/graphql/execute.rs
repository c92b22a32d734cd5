//! How a request reaches the schema: queries on a schema without extensions, everything
//! else on the schema with them.
//!
//! async-graphql resolves a field directly only when the schema has no extensions
//! (`resolver_utils/container.rs` in 7.2); with any, every field builds a `ResolveInfo` (a
//! registry lookup) and runs the extension chain as boxed futures: on `bench/run` this path
//! cut the CPU per request by a quarter. Four of Trellis's five extensions need only
//! per-request hooks, which this module performs around the call instead:
//!
//! - [`RequestLimits::check`] runs first, and leaves the document parsed on the request;
//!   a document seen before is taken already parsed and checked from [`Documents`];
//! - the transport's span is named from that document ([`spans`]);
//! - the response's errors are coded afterwards ([`errors::code_checked`]);
//! - its objects' fields are put back in the query's order ([`super::response_order`]), on
//!   either schema and over graphql-ws (the [`Executor`] below).
//!
//! The fifth, [`super::coercion::CoercionErrors`], rewrites a root mutation field's error,
//! so mutations keep the schema with extensions, as do subscriptions and a request asking
//! for its cost (the complexity only validation computes, which only an extension sees).
//! Both schemas are built from the same types, data and limits ([`super::schemas`]), so a
//! query answers the same on either (the unit test below holds its errors to that); the
//! end-to-end tests drive this path, as the server does.

use std::sync::Arc;

use async_graphql::futures_util::stream::{BoxStream, StreamExt as _};
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response, Value};

use super::TrellisSchema;
use super::documents::Documents;
use super::errors;
use super::limits::RequestLimits;
use super::response_order::ResponseOrder;
use super::spans;

/// The two schemas a request may run on, and the limits checked ahead of the plain one.
#[derive(Clone)]
pub struct Schemas {
    /// With every extension: mutations, subscriptions, cost reports.
    full: TrellisSchema,
    /// Without extensions: queries, after [`Schemas::execute`]'s own checks.
    plain: TrellisSchema,
    limits: RequestLimits,
    /// Documents already parsed and checked, shared by every clone.
    documents: Arc<Documents>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schemas")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Schemas {
    pub(super) fn new(full: TrellisSchema, plain: TrellisSchema, limits: RequestLimits) -> Self {
        Self {
            full,
            plain,
            limits,
            documents: Arc::default(),
        }
    }

    /// The schema with every extension, for the test that holds both schemas' errors alike
    /// (graphql-ws runs on `Schemas` itself, as its [`Executor`]).
    #[cfg(test)]
    const fn full(&self) -> &TrellisSchema {
        &self.full
    }

    /// Runs `request`, in the current span (the transport's `graphql` span, which this names).
    pub async fn execute(&self, mut request: Request) -> Response {
        if asks_cost(&request) {
            // The full schema's `CostReport` answers, and its own limits refuse what they
            // refuse.
            let prepared = self.documents.prepare(&mut request, &self.limits).ok();
            let requested = request.operation_name.clone();
            let response = self.full.execute(request).await;
            let order = prepared
                .as_ref()
                .and_then(|p| p.order(requested.as_deref()));
            return in_order(response, order);
        }
        // The flag is for `CostReport`, not for resolvers.
        request.extensions.remove("cost");
        let prepared = match self.documents.prepare(&mut request, &self.limits) {
            Ok(prepared) => prepared,
            // As the extension refuses it: coded, and nothing ran.
            Err(refused) => return Response::from_errors(vec![refused]),
        };
        let requested = request.operation_name.as_deref();
        let order = prepared.order(requested);
        let span = tracing::Span::current();
        spans::record_document_hash(&span, &prepared.hash);
        match spans::operation(&prepared.document, requested) {
            Some((OperationType::Query, _)) => {}
            // Mutations, subscriptions, and an operation name the document lacks (the full
            // schema's error for it is the reference).
            _ => return in_order(self.full.execute(request).await, order),
        }
        spans::record_operation(&span, &prepared.document, requested);
        let mut response = self.plain.execute(request).await;
        errors::code_checked(&mut response.errors, &prepared.variables);
        in_order(response, order)
    }
}

/// graphql-ws runs every operation of a connection as a stream on the full schema, each
/// response in the query's order.
impl Executor for Schemas {
    async fn execute(&self, request: Request) -> Response {
        Self::execute(self, request).await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        // A document the limits refuse is left for the schema's own extension to refuse.
        let prepared = self.documents.prepare(&mut request, &self.limits).ok();
        let requested = request.operation_name.clone();
        let responses = self
            .full
            .execute_stream_with_session_data(request, session_data.unwrap_or_default());
        match prepared {
            Some(prepared) => responses
                .map(move |response| in_order(response, prepared.order(requested.as_deref())))
                .boxed(),
            None => responses,
        }
    }
}

/// `response` with its objects' fields in `order`.
fn in_order(mut response: Response, order: Option<&ResponseOrder>) -> Response {
    if let Some(order) = order {
        order.apply(&mut response.data);
    }
    response
}

/// Whether the request asked for its cost (`extensions: {"cost": true}`); the full schema's
/// `CostReport` answers it.
fn asks_cost(request: &Request) -> bool {
    matches!(request.extensions.get("cost"), Some(Value::Boolean(true)))
}

#[cfg(test)]
mod tests {
    use async_graphql::Variables;
    use serde_json::json;

    use crate::config::Config;

    /// A query refused or failed on the plain schema carries exactly the errors, codes and
    /// all, that the full schema (with `ErrorCodes`) gives it.
    #[tokio::test]
    async fn a_query_fails_alike_on_either_schema() {
        let schemas = super::super::schemas(&Config::default(), None);
        let deep = format!(
            "{{ {} }}",
            "viewer { schools { ".repeat(10) + &"} ".repeat(20)
        );
        let cases = [
            // validation: an unknown field
            ("{ nope }", json!({}), None),
            // validation: a variable's value of the wrong type (BAD_USER_INPUT)
            (
                "query($n: Int) { schools(first: $n) { totalCount } }",
                json!({ "n": "ten" }),
                None,
            ),
            // validation: a literal out of range
            (
                "{ schools(first: 99999999999) { totalCount } }",
                json!({}),
                None,
            ),
            // the operation's selection: a name the document lacks, and none of two
            (
                "query A { errorCodes } query B { errorCodes }",
                json!({}),
                Some("C"),
            ),
            (
                "query A { errorCodes } query B { errorCodes }",
                json!({}),
                None,
            ),
            // our own limits, before async-graphql parses
            (deep.as_str(), json!({}), None),
            // a resolver's error: no caller context here
            ("{ viewer { email } }", json!({}), None),
            // unparsable
            ("{ schools(", json!({}), None),
        ];
        for (query, variables, operation) in cases {
            let request = || {
                let request = async_graphql::Request::new(query)
                    .variables(Variables::from_json(variables.clone()));
                match operation {
                    Some(name) => request.operation_name(name),
                    None => request,
                }
            };
            let plain = schemas.execute(request()).await;
            let full = schemas.full().execute(request()).await;
            assert!(!plain.errors.is_empty(), "{query}: no error");
            assert!(
                plain
                    .errors
                    .iter()
                    .all(|e| super::errors::code_of(e).is_some()),
                "{query}: {:?}",
                plain.errors
            );
            assert_eq!(
                serde_json::to_value(&plain.errors).expect("json"),
                serde_json::to_value(&full.errors).expect("json"),
                "{query}"
            );
            assert_eq!(plain.data, full.data, "{query}");
        }
    }
}
