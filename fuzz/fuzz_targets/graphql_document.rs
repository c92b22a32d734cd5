//! A GraphQL document as the server takes it before execution: the lexical pre-scan, then
//! async-graphql's parser, then the fragment-expansion count and the depth measure
//! (`graphql_limits::check`: the scan, async-graphql's parser, then `graphql_limits::measure`,
//! which the gateway's `RequestLimits` runs on the document it parsed).
//!
//! Contract: no panic, no stack overflow (fragment chains deeper than
//! `MAX_FRAGMENT_DEPTH` are refused before anything recursive walks them) (scripts/fuzz runs this on a 2 MiB stack, a tokio
//! worker's), no slow input; and where a naive walk is cheap — no fragment cycle, and an
//! expansion of at most 100,000 selections — the memoised count and depth equal what the
//! naive walk that spreads every fragment finds.
#![no_main]

use std::collections::HashMap;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use graphql_limits::{Measured, Refused, ScanError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match graphql_limits::check(text) {
        Ok(measured) => compare_with_naive(&measured),
        Err(Refused::Scan(ScanError::TooNested { limit })) => {
            assert_eq!(limit, graphql_limits::MAX_NESTING);
        }
        Err(Refused::Fragments(too_deep)) => {
            assert!(too_deep.0 > graphql_limits::MAX_FRAGMENT_DEPTH);
        }
        Err(Refused::Scan(ScanError::Nul) | Refused::Parse(_)) => {}
    }
});

/// The naive walk: every fragment spread in place, stopping at a budget or a cycle.
struct Naive<'a> {
    fragments: &'a HashMap<async_graphql_value::Name, Positioned<FragmentDefinition>>,
    active: Vec<&'a str>,
    budget: u64,
}

/// Why the naive walk gave up (then there is nothing to compare).
struct GaveUp;

impl<'a> Naive<'a> {
    /// (selections, data depth) of a selection set, fragments spread.
    fn set(&mut self, set: &'a Positioned<SelectionSet>) -> Result<(u64, usize), GaveUp> {
        let mut selections = 0;
        let mut depth = 0;
        for item in &set.node.items {
            self.budget = self.budget.checked_sub(1).ok_or(GaveUp)?;
            let (inner, item_depth) = match &item.node {
                Selection::Field(field) => {
                    let (inner, below) = self.set(&field.node.selection_set)?;
                    let name = field.node.name.node.as_str();
                    let introspection = name == "__schema" || name == "__type";
                    (inner, if introspection { 1 } else { below + 1 })
                }
                Selection::InlineFragment(inline) => self.set(&inline.node.selection_set)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if self.active.contains(&name) {
                        return Err(GaveUp);
                    }
                    match self.fragments.get(&spread.node.fragment_name.node) {
                        None => (0, 0),
                        Some(fragment) => {
                            self.active.push(name);
                            let measured = self.set(&fragment.node.selection_set)?;
                            self.active.pop();
                            measured
                        }
                    }
                }
            };
            selections += inner + 1;
            depth = depth.max(item_depth);
        }
        Ok((selections, depth))
    }
}

fn compare_with_naive(measured: &Measured) {
    let doc: &ExecutableDocument = &measured.document;
    let mut naive = Naive {
        fragments: &doc.fragments,
        active: Vec::new(),
        budget: 100_000,
    };
    let mut selections = 0;
    let mut depth = 0;
    for (_, operation) in doc.operations.iter() {
        let Ok((s, d)) = naive.set(&operation.node.selection_set) else {
            return;
        };
        selections += s;
        depth = depth.max(d);
    }
    assert_eq!(measured.selections, selections, "expanded selections");
    assert_eq!(measured.shape.data_depth, depth, "data depth");
}
