//! Documents already parsed and checked, kept by their text.
//!
//! Clients send the same few operations over and over. For each request the text was
//! scanned, parsed (pest: the largest single cost of a small query after the database, on
//! `perf`), walked for the limits, walked for the positions of its variables, hashed for the
//! span, and walked for the response order. [`Documents`] keeps the outcome of all that for
//! the documents most recently used, so a repeat costs a map lookup and a clone of the
//! parsed document (async-graphql takes it by value).
//!
//! - Only a document that passed every limit is kept: a refused one is refused afresh each
//!   time, as before, and takes no room.
//! - Only short documents ([`MAX_KEPT_BYTES`]), and at most [`CAPACITY`] of them, so a client
//!   sending endless distinct documents cannot grow the process by more than a few megabytes.
//! - A document's outcome depends only on its text and the limits, which are fixed for the
//!   process: nothing kept can go stale.
//! - Variables are checked on every request, since they change with every request.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Pos, Request, ServerResult};
use lru::LruCache;

use super::errors;
use super::limits::RequestLimits;
use super::response_order::{DocumentOrder, ResponseOrder};
use super::spans;

/// How many documents are kept: far more than the operations one front end sends.
pub const CAPACITY: NonZeroUsize = NonZeroUsize::new(128).expect("non-zero");

/// The longest document kept. Every page's query is well under it; a longer one is prepared
/// on every request.
pub const MAX_KEPT_BYTES: usize = 8 * 1024;

/// A document that passed the limits, with what each request would otherwise work out again.
#[derive(Debug)]
pub struct Prepared {
    /// The parsed document, cloned into each request that runs it.
    pub document: ExecutableDocument,
    /// Its SHA-256, as the span and automatic persisted queries name it.
    pub hash: String,
    /// Where its variables are used, to code an error about a variable's value.
    pub variables: Vec<Pos>,
    orders: DocumentOrder,
}

impl Prepared {
    fn new(query: &str, document: ExecutableDocument) -> Self {
        Self {
            hash: spans::document_hash(query),
            variables: errors::variable_positions(&document),
            orders: DocumentOrder::of(&document),
            document,
        }
    }

    /// The order of the fields of the operation `operation_name` picks.
    #[must_use]
    pub fn order(&self, operation_name: Option<&str>) -> Option<&ResponseOrder> {
        self.orders.operation(operation_name)
    }
}

/// The documents kept, most recently used first out.
#[derive(Debug)]
pub struct Documents {
    kept: Mutex<LruCache<String, Arc<Prepared>>>,
}

impl Default for Documents {
    fn default() -> Self {
        Self {
            kept: Mutex::new(LruCache::new(CAPACITY)),
        }
    }
}

impl Documents {
    /// Checks `request` against `limits` and leaves its document parsed on it, as
    /// [`RequestLimits::check`] does, from the document kept for its text when there is one.
    ///
    /// # Errors
    /// The limit the document or its variables break, coded as `check` codes it.
    pub fn prepare(
        &self,
        request: &mut Request,
        limits: &RequestLimits,
    ) -> ServerResult<Arc<Prepared>> {
        if let Some(prepared) = self.kept(&request.query) {
            RequestLimits::check_variables(&request.variables)?;
            request.set_parsed_query(prepared.document.clone());
            return Ok(prepared);
        }
        limits.check(request)?;
        let document = request.parsed_query()?.clone();
        let prepared = Arc::new(Prepared::new(&request.query, document));
        if request.query.len() <= MAX_KEPT_BYTES
            && let Ok(mut kept) = self.kept.lock()
        {
            kept.put(request.query.clone(), Arc::clone(&prepared));
        }
        Ok(prepared)
    }

    fn kept(&self, query: &str) -> Option<Arc<Prepared>> {
        self.kept.lock().ok()?.get(query).map(Arc::clone)
    }

    /// How many documents are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{Variables, parser::types::DocumentOperations};
    use serde_json::json;

    use super::*;
    use crate::graphql::errors::code_of;

    const LIMITS: RequestLimits = RequestLimits {
        max_selections: 100,
        max_depth: 4,
    };

    fn request(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(Variables::from_json(variables))
    }

    #[test]
    fn a_repeated_document_is_prepared_once_and_parsed_alike() {
        let documents = Documents::default();
        let query = "query Q($n: Int) { schools(first: $n) { totalCount } }";
        let first = documents
            .prepare(&mut request(query, json!({ "n": 1 })), &LIMITS)
            .expect("passes");
        let mut again = request(query, json!({ "n": 2 }));
        let second = documents.prepare(&mut again, &LIMITS).expect("passes");
        assert!(Arc::ptr_eq(&first, &second), "prepared afresh");
        assert_eq!(documents.len(), 1);
        // The request carries the kept document, as if it had parsed its own text.
        let parsed = async_graphql::parser::parse_query(query).expect("parses");
        let carried = again.parsed_query().expect("set");
        assert!(matches!(
            carried.operations,
            DocumentOperations::Multiple(_)
        ));
        assert_eq!(format!("{carried:?}"), format!("{parsed:?}"));
        assert_eq!(second.hash, spans::document_hash(query));
        assert_eq!(second.variables, errors::variable_positions(&parsed));
        assert!(!second.variables.is_empty());
        assert!(second.order(Some("Q")).is_some());
    }

    #[test]
    fn a_refused_document_is_refused_every_time_and_not_kept() {
        let documents = Documents::default();
        let deep = "{ a { b { c { d { e { f } } } } } }";
        for _ in 0..2 {
            let refused = documents
                .prepare(&mut request(deep, json!({})), &LIMITS)
                .expect_err("too deep");
            assert!(code_of(&refused).is_some(), "{refused:?}");
        }
        assert!(
            documents
                .prepare(&mut request("{ a(", json!({})), &LIMITS)
                .is_err()
        );
        assert_eq!(documents.len(), 0);
    }

    #[test]
    fn a_kept_document_still_has_its_variables_checked() {
        let documents = Documents::default();
        let query = "query($s: String) { a(s: $s) }";
        documents
            .prepare(&mut request(query, json!({ "s": "x" })), &LIMITS)
            .expect("passes");
        let refused = documents
            .prepare(&mut request(query, json!({ "s": "a\u{0}b" })), &LIMITS)
            .expect_err("NUL in a variable");
        assert!(refused.message.contains("NUL"), "{}", refused.message);
    }

    #[test]
    fn only_short_documents_are_kept_and_only_so_many() {
        let documents = Documents::default();
        let long = format!("{{ a {} }}", "b ".repeat(MAX_KEPT_BYTES));
        let limits = RequestLimits {
            max_selections: u64::MAX,
            max_depth: 4,
        };
        documents
            .prepare(&mut request(&long, json!({})), &limits)
            .expect("passes");
        assert_eq!(documents.len(), 0);
        for i in 0..CAPACITY.get() + 10 {
            documents
                .prepare(&mut request(&format!("{{ a{i} }}"), json!({})), &LIMITS)
                .expect("passes");
        }
        assert_eq!(documents.len(), CAPACITY.get());
    }
}
