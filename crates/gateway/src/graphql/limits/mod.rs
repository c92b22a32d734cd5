//! What a request may ask for, checked before async-graphql parses or walks it.
//!
//! async-graphql's own limits (depth, complexity, recursion) run on a parsed document, and
//! parsing and some of those walks recurse or expand fragments: a hostile document can
//! overflow the stack or spend seconds of CPU before any limit answers. This extension runs
//! in `prepare_request`, ahead of all of that, for every transport (HTTP and graphql-ws):
//!
//! 1. [`scan`] refuses brackets nested deeper than [`MAX_NESTING`] and NUL characters in
//!    strings, on the raw text, so the recursive parser never sees such a document;
//! 2. the document is parsed once (and handed to async-graphql already parsed);
//! 3. [`graphql_limits::fragments`] refuses fragments spread inside each other more than
//!    [`graphql_limits::MAX_FRAGMENT_DEPTH`] deep (every later walk recurses along them), then
//!    [`expansion`] refuses a document whose fragments expand to more selections than the
//!    complexity limit allows, since its complexity could only be larger;
//! 4. [`depth`] refuses data nested deeper than the configured depth, and introspection
//!    beyond its own bounds (deep enough for every tool's standard query, no fan-out);
//! 5. variables with NUL characters are refused.
//!
//! What is left — page-weighted complexity — async-graphql checks in validation, on a
//! document now known to be small. Its own depth limit stays as a backstop at the larger of
//! the two depth bounds.

pub mod cost;
// The pure checks live in `graphql_limits`, a crate light enough to fuzz (see its docs).
pub use graphql_limits::{MAX_NESTING, depth, expansion, scan};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Request, ServerError, ServerResult, Value, Variables};
use std::sync::Arc;

use super::errors::{Code, server_error};

pub use scan::ScanError;

/// The `extensions.code` of a document refused for its size or shape.
const TOO_COMPLEX: Code = Code::QueryTooComplex;
/// The `extensions.code` of a value refused for what it contains.
const BAD_USER_INPUT: Code = Code::BadUserInput;

/// The request limits, installed on the schema with `.extension(RequestLimits { .. })`.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    /// The most selections a document may expand to (the schema's complexity limit).
    pub max_selections: u64,
    /// The deepest data a document may select (`Config::max_depth`); introspection has its
    /// own bounds ([`depth::INTROSPECTION_MAX_DEPTH`] and the rest).
    pub max_depth: usize,
}

impl RequestLimits {
    /// Scans the raw text; the transport calls this before it parses a GET's document to see
    /// whether it is a mutation.
    pub fn scan(query: &str) -> ServerResult<()> {
        scan::scan(query, MAX_NESTING).map_err(|e| match e {
            ScanError::TooNested { limit } => coded(
                format!("the document nests brackets more than {limit} deep"),
                TOO_COMPLEX,
            ),
            ScanError::Nul => nul_error(),
        })
    }

    /// Every check, parsing the document into `request` once.
    pub fn check(&self, request: &mut Request) -> ServerResult<()> {
        Self::scan(&request.query)?;
        let doc = request
            .parsed_query()
            .map_err(|e| server_error(e.message, Code::GraphqlParseFailed))?;
        let (selections, shape) = graphql_limits::measure(doc).map_err(|too_deep| {
            coded(
                format!(
                    "the document spreads fragments inside each other {} deep; at most {} \
                     levels are allowed",
                    too_deep.0,
                    graphql_limits::MAX_FRAGMENT_DEPTH
                ),
                TOO_COMPLEX,
            )
        })?;
        if selections > self.max_selections {
            return Err(coded(
                format!(
                    "the document expands to more than {} selections once its fragments are \
                     spread; ask for less, or split the request",
                    self.max_selections
                ),
                TOO_COMPLEX,
            ));
        }
        self.check_depth(shape)?;
        Self::check_variables(&request.variables)
    }

    /// The check on a request's variables alone (step 5), for a document already checked.
    pub fn check_variables(variables: &Variables) -> ServerResult<()> {
        if variables_contain_nul(variables) {
            return Err(nul_error());
        }
        Ok(())
    }
}

impl RequestLimits {
    fn check_depth(&self, shape: depth::Shape) -> ServerResult<()> {
        if shape.data_depth > self.max_depth {
            return Err(coded(
                format!(
                    "the document nests fields {} deep; at most {} levels are allowed",
                    shape.data_depth, self.max_depth
                ),
                TOO_COMPLEX,
            ));
        }
        if shape.introspection_depth > depth::INTROSPECTION_MAX_DEPTH {
            return Err(coded(
                format!(
                    "introspection nests {} deep; at most {} levels are allowed (graphql-js's \
                     getIntrospectionQuery() needs 15)",
                    shape.introspection_depth,
                    depth::INTROSPECTION_MAX_DEPTH
                ),
                TOO_COMPLEX,
            ));
        }
        if shape.introspection_lists > depth::INTROSPECTION_MAX_LISTS {
            return Err(coded(
                format!(
                    "introspection nests {} lists (types, fields, args…) inside each other; at \
                     most {} are allowed",
                    shape.introspection_lists,
                    depth::INTROSPECTION_MAX_LISTS
                ),
                TOO_COMPLEX,
            ));
        }
        if shape.introspection_selections > depth::INTROSPECTION_MAX_SELECTIONS {
            return Err(coded(
                format!(
                    "introspection selects more than {} fields once fragments are spread; \
                     ask for the schema once",
                    depth::INTROSPECTION_MAX_SELECTIONS
                ),
                TOO_COMPLEX,
            ));
        }
        Ok(())
    }
}

impl ExtensionFactory for RequestLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for RequestLimits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.check(&mut request)?;
        next.run(ctx, request).await
    }
}

/// A request error (no location: it is about the whole document) with `extensions.code`.
fn coded(message: String, code: Code) -> ServerError {
    server_error(message, code)
}

fn nul_error() -> ServerError {
    coded(
        "text may not contain the NUL character (U+0000)".to_owned(),
        BAD_USER_INPUT,
    )
}

fn variables_contain_nul(variables: &Variables) -> bool {
    fn contains(value: &Value) -> bool {
        match value {
            Value::String(s) => s.contains('\0'),
            Value::List(items) => items.iter().any(contains),
            Value::Object(fields) => fields
                .iter()
                .any(|(k, v)| k.as_str().contains('\0') || contains(v)),
            _ => false,
        }
    }
    variables
        .iter()
        .any(|(k, v)| k.as_str().contains('\0') || contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(err: &ServerError) -> Option<String> {
        crate::graphql::errors::code_of(err).map(str::to_owned)
    }

    fn check(query: &str, variables: serde_json::Value) -> ServerResult<()> {
        let mut request = Request::new(query).variables(Variables::from_json(variables));
        RequestLimits {
            max_selections: 5_000,
            max_depth: 12,
        }
        .check(&mut request)
    }

    #[test]
    fn refuses_hostile_documents_with_a_code() {
        let deep = format!(
            "{{ school(urn: {}1{}) {{ name }} }}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        );
        let err = check(&deep, serde_json::json!({})).expect_err("too nested");
        assert_eq!(code(&err).as_deref(), Some(TOO_COMPLEX.as_str()));

        let chain = graphql_limits::fragments::fragment_chain(25_000);
        let err = check(&chain, serde_json::json!({})).expect_err("chain");
        assert_eq!(code(&err).as_deref(), Some(TOO_COMPLEX.as_str()));
        assert!(err.message.contains("25001 deep"), "{}", err.message);

        let bomb = expansion::fragment_bomb(24);
        let err = check(&bomb, serde_json::json!({})).expect_err("bomb");
        assert_eq!(code(&err).as_deref(), Some(TOO_COMPLEX.as_str()));
    }

    #[test]
    fn refuses_nul_in_literals_and_variables() {
        let err = check(
            "{ services(search: \"a\\u0000b\") { totalCount } }",
            serde_json::json!({}),
        )
        .expect_err("nul literal");
        assert_eq!(code(&err).as_deref(), Some(BAD_USER_INPUT.as_str()));
        let err = check(
            "query($s: String) { services(search: $s) { totalCount } }",
            serde_json::json!({ "s": "a\u{0}b" }),
        )
        .expect_err("nul variable");
        assert_eq!(code(&err).as_deref(), Some(BAD_USER_INPUT.as_str()));
        let err = check(
            "query($i: X) { a(i: $i) }",
            serde_json::json!({ "i": { "list": ["ok", { "deep": "a\u{0}" }] } }),
        )
        .expect_err("nested nul variable");
        assert_eq!(code(&err).as_deref(), Some(BAD_USER_INPUT.as_str()));
    }

    #[test]
    fn introspection_has_its_own_bounds() {
        assert!(check(depth::GRAPHQL_JS_INTROSPECTION, serde_json::json!({})).is_ok());
        let deep_data = format!("{{ __typename {}x{} }}", "a { ".repeat(12), " }".repeat(12));
        let err = check(&deep_data, serde_json::json!({})).expect_err("data too deep");
        assert_eq!(code(&err).as_deref(), Some(TOO_COMPLEX.as_str()));
        // Introspection beside data does not lift the data's limit.
        let mixed = format!(
            "{{ __schema {{ types {{ name }} }} {}x{} }}",
            "a { ".repeat(12),
            " }".repeat(12)
        );
        let err = check(&mixed, serde_json::json!({})).expect_err("mixed too deep");
        assert!(
            err.message.contains("nests fields 13 deep"),
            "{}",
            err.message
        );
        let of_type = format!(
            "{{ __type(name: \"X\") {{ {}name{} }} }}",
            "ofType { ".repeat(20),
            " }".repeat(20)
        );
        let err = check(&of_type, serde_json::json!({})).expect_err("ofType too deep");
        assert!(
            err.message.starts_with("introspection nests 22 deep"),
            "{}",
            err.message
        );
        let fan_out =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        let err = check(fan_out, serde_json::json!({})).expect_err("fan-out");
        assert!(err.message.contains("4 lists"), "{}", err.message);
    }

    #[test]
    fn passes_ordinary_documents() {
        assert!(
            check(
                "{ viewer { user { name } } }",
                serde_json::json!({ "x": "é" })
            )
            .is_ok()
        );
    }

    proptest::proptest! {
        /// Any text a client sends is scanned, parsed and measured or refused: no panic, no
        /// stack overflow (brackets included, up to far past the nesting limit).
        #[test]
        fn any_document_is_checked_or_refused(
            query in "([{}\\[\\]()\"#\\\\.:$@ ]|\\PC|\\n|fragment|query|on|\\.\\.\\.){0,400}",
        ) {
            let _ = check(&query, serde_json::json!({}));
        }

        #[test]
        fn deep_brackets_are_refused_before_parsing(depth in 65_usize..20_000, open in "[\\[{(]") {
            let query = format!("{{ a(x: {}) }}", open.repeat(depth));
            let err = check(&query, serde_json::json!({})).expect_err("too deep");
            let code = code(&err);
            proptest::prop_assert_eq!(code.as_deref(), Some(TOO_COMPLEX.as_str()));
        }
    }
}
