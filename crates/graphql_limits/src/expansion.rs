//! How big a document becomes once its fragments are spread, computed without spreading them.
//!
//! `fragment F1 on Query { ...F0 ...F0 }`, `F2` spreading `F1` twice, and so on: 24 such
//! lines are a kilobyte of text that expands to sixteen million selections, and every check
//! that walks the expanded document (async-graphql's recursion and complexity checks among
//! them) takes seconds per request. Counting each fragment once and reusing the count makes
//! the size known in time linear in the text, before anything walks the expansion.

use std::collections::HashMap;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql_value::Name;

/// The number of selections (fields, spreads and inline fragments) in every operation of
/// `doc` with each fragment spread expanded, saturating at `u64::MAX`.
///
/// A spread of an unknown fragment, or one that spreads itself (directly or not), counts as
/// one selection: validation refuses those documents later with a proper message.
#[must_use]
pub fn expanded_selections(doc: &ExecutableDocument) -> u64 {
    let mut counter = Counter {
        doc,
        sizes: HashMap::new(),
    };
    doc.operations
        .iter()
        .map(|(_, op)| counter.selection_set(&op.node.selection_set))
        .fold(0, u64::saturating_add)
}

struct Counter<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment's expanded size; `None` while it is being counted (a cycle).
    sizes: HashMap<&'a Name, Option<u64>>,
}

impl<'a> Counter<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> u64 {
        set.node
            .items
            .iter()
            .map(|selection| {
                let inner = match &selection.node {
                    Selection::Field(field) => self.selection_set(&field.node.selection_set),
                    Selection::InlineFragment(inline) => {
                        self.selection_set(&inline.node.selection_set)
                    }
                    Selection::FragmentSpread(spread) => {
                        self.fragment(&spread.node.fragment_name.node)
                    }
                };
                inner.saturating_add(1)
            })
            .fold(0, u64::saturating_add)
    }

    fn fragment(&mut self, name: &'a Name) -> u64 {
        match self.sizes.get(name) {
            Some(Some(size)) => return *size,
            Some(None) => return 0,
            None => {}
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return 0;
        };
        self.sizes.insert(name, None);
        let size = self.selection_set(&fragment.node.selection_set);
        self.sizes.insert(name, Some(size));
        size
    }
}

/// `levels` lines of fragments, each spreading the one before twice, under one query:
/// 2^`levels` selections from a few dozen bytes a line. For tests and fuzz seeds.
#[must_use]
pub fn fragment_bomb(levels: usize) -> String {
    use std::fmt::Write as _;
    let mut doc = String::from("fragment F0 on Query { __typename }\n");
    for i in 1..=levels {
        let _ = writeln!(
            doc,
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}",
            p = i - 1
        );
    }
    let _ = write!(doc, "query {{ ...F{levels} }}");
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(query: &str) -> u64 {
        expanded_selections(&async_graphql_parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn counts_fields_and_nested_selections() {
        assert_eq!(size("{ a b { c d } }"), 4);
        assert_eq!(size("{ a ... on Query { b } }"), 3);
        assert_eq!(size("query A { a } query B { b c }"), 3);
    }

    #[test]
    fn counts_a_fragment_bomb_without_expanding_it() {
        // 2^24 leaves and as many spreads above them, counted in microseconds.
        assert!(size(&fragment_bomb(24)) > 16_000_000);
        assert_eq!(size(&fragment_bomb(1)), 1 + 2 * 2);
        assert_eq!(size(&fragment_bomb(80)), u64::MAX);
    }

    #[test]
    fn cycles_and_unknown_fragments_do_not_loop() {
        assert_eq!(
            size("{ ...A } fragment A on Query { a ...B } fragment B on Query { ...A }"),
            4
        );
        assert_eq!(size("{ ...Missing }"), 1);
    }
}
