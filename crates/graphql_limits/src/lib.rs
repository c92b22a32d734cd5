//! What the gateway checks in a GraphQL document before async-graphql walks it.
//!
//! These are the pure parts of the gateway's `graphql::limits` extension: the lexical
//! pre-scan ([`scan`]), how deep fragments spread inside each other ([`fragments`]), the
//! size of a document with its fragments spread ([`expansion`]) and its depth ([`depth`]). They live in a crate of their own, with only async-graphql's parser
//! and value crates beneath them, so that the fuzz targets (`fuzz/`) can build them with
//! coverage instrumentation in seconds instead of building the whole server. The gateway
//! re-exports them and turns their answers into coded GraphQL errors; nothing here knows
//! HTTP, the schema or the database.
//!
//! [`check`] runs them in the order the server does: scan the text, parse it with
//! async-graphql's parser, then measure.

pub mod depth;
pub mod expansion;
pub mod fragments;
pub mod scan;

pub use async_graphql_parser::types::ExecutableDocument;
pub use fragments::MAX_FRAGMENT_DEPTH;
pub use scan::ScanError;

/// How deep `{`, `[` and `(` may nest in a document. graphql-js's introspection query (with
/// its default `typeDepth`) nests 14 deep; the parser's stack use is safe far beyond this.
pub const MAX_NESTING: usize = 64;

/// What [`check`] found in a document it could parse.
#[derive(Debug)]
pub struct Measured {
    /// The parsed document.
    pub document: ExecutableDocument,
    /// [`expansion::expanded_selections`].
    pub selections: u64,
    /// [`depth::shape`].
    pub shape: depth::Shape,
}

/// A parsed document whose fragments spread inside each other more than
/// [`MAX_FRAGMENT_DEPTH`] deep (the depth found, which may be the number of fragments when
/// they form a cycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentsTooDeep(pub usize);

/// Measures a parsed document: refuses fragment chains deeper than [`MAX_FRAGMENT_DEPTH`]
/// first (without recursion), then walks it for its expanded size and its shape, which
/// recurse along those chains. The gateway calls this on the document it parsed.
pub fn measure(document: &ExecutableDocument) -> Result<(u64, depth::Shape), FragmentsTooDeep> {
    let chain = fragments::spread_depth(document);
    if chain > MAX_FRAGMENT_DEPTH {
        return Err(FragmentsTooDeep(chain));
    }
    Ok((
        expansion::expanded_selections(document),
        depth::shape(document),
    ))
}

/// Why [`check`] stopped.
#[derive(Debug)]
pub enum Refused {
    /// The pre-scan refused the text; the parser never saw it.
    Scan(ScanError),
    /// async-graphql's parser refused it.
    Parse(async_graphql_parser::Error),
    /// Its fragments spread inside each other too deep.
    Fragments(FragmentsTooDeep),
}

/// Scans `query` (brackets at most [`MAX_NESTING`] deep, no NUL), parses it, and
/// [`measure`]s it: the server's steps before it compares the measures with its limits.
pub fn check(query: &str) -> Result<Measured, Refused> {
    scan::scan(query, MAX_NESTING).map_err(Refused::Scan)?;
    let document = async_graphql_parser::parse_query(query).map_err(Refused::Parse)?;
    let (selections, shape) = measure(&document).map_err(Refused::Fragments)?;
    Ok(Measured {
        document,
        selections,
        shape,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` on a thread with a tokio worker's stack (2 MiB).
    fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("spawns")
            .join()
            .expect("no panic or stack overflow")
    }

    #[test]
    fn a_megabyte_chain_of_fragments_is_refused_not_a_stack_overflow() {
        // This overflowed the stack (aborting the server) before `fragments` was checked.
        let doc = fragments::fragment_chain(25_000);
        assert!(doc.len() < 1 << 20);
        let refused = on_worker_stack(move || match check(&doc) {
            Err(Refused::Fragments(too_deep)) => Some(too_deep),
            _ => None,
        });
        assert_eq!(refused, Some(FragmentsTooDeep(25_001)));
    }

    #[test]
    fn the_deepest_document_allowed_is_walked_on_a_worker_stack() {
        // Every fragment of the longest chain allowed nests fields as deep as the scan allows.
        use std::fmt::Write as _;
        let fields = MAX_NESTING - 1;
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..MAX_FRAGMENT_DEPTH {
            let spread = if i + 1 < MAX_FRAGMENT_DEPTH {
                format!("...F{}", i + 1)
            } else {
                "x".to_owned()
            };
            let _ = writeln!(
                doc,
                "fragment F{i} on Query {{ {}{spread}{} }}",
                "a { ".repeat(fields - 1),
                " }".repeat(fields - 1)
            );
        }
        let measured = on_worker_stack(move || check(&doc).map(|m| m.shape.data_depth).ok());
        assert_eq!(measured, Some(MAX_FRAGMENT_DEPTH * (fields - 1) + 1));
    }
}
