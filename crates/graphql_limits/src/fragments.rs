//! How many fragments a document spreads inside each other, measured without recursion.
//!
//! `fragment F0 on Query { ...F1 }`, `F1` spreading `F2`, and so on: no bracket nests, so
//! the pre-scan passes it, yet every walk that follows spreads — [`crate::expansion`],
//! [`crate::depth`], async-graphql's validation — recurses once per link. 25,000 links fit
//! in the 1 MiB body limit and overflowed a tokio worker's 2 MiB stack, aborting the server.
//! The chain is measured here with an explicit stack and refused above
//! [`MAX_FRAGMENT_DEPTH`] before anything recursive walks it.

use std::collections::HashMap;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql_value::Name;

/// The most fragments one chain of spreads may pass through (`...A` whose `A` spreads `B`
/// is two). Generated clients nest fragments a handful deep; with at most
/// [`crate::MAX_NESTING`] brackets inside each, every walk stays a few thousand frames deep.
pub const MAX_FRAGMENT_DEPTH: usize = 32;

/// The longest chain of fragment spreads in `doc`: the most fragments a walk that follows
/// spreads can be inside at once. A spread of an unknown fragment adds nothing. When the
/// fragments form a cycle (which validation refuses later), the number of fragments is
/// taken instead, since a walk may then pass through every one.
#[must_use]
pub fn spread_depth(doc: &ExecutableDocument) -> usize {
    let graph: HashMap<&Name, Vec<&Name>> = doc
        .fragments
        .iter()
        .map(|(name, fragment)| (name, spreads_in(&fragment.node.selection_set)))
        .collect();
    // Each fragment's height: itself and the longest chain below it.
    let mut heights: HashMap<&Name, Option<usize>> = HashMap::with_capacity(graph.len());
    let mut cyclic = false;
    let mut deepest = 0;
    for root in graph.keys() {
        if heights.contains_key(root) {
            continue;
        }
        heights.insert(root, None);
        let mut stack: Vec<(&Name, usize)> = vec![(root, 0)];
        while let Some((name, next)) = stack.last_mut() {
            let spreads = &graph[name];
            if let Some(target) = spreads.get(*next) {
                *next += 1;
                if !graph.contains_key(target) {
                    continue;
                }
                match heights.get(target) {
                    None => {
                        heights.insert(target, None);
                        stack.push((target, 0));
                    }
                    Some(None) => cyclic = true,
                    Some(Some(_)) => {}
                }
            } else {
                let below = spreads
                    .iter()
                    .filter_map(|target| heights.get(target).copied().flatten())
                    .max()
                    .unwrap_or(0);
                let height = below + 1;
                deepest = deepest.max(height);
                heights.insert(name, Some(height));
                stack.pop();
            }
        }
    }
    if cyclic {
        deepest.max(graph.len())
    } else {
        deepest
    }
}

/// The fragment names spread anywhere in `set` (not following them).
fn spreads_in(set: &Positioned<SelectionSet>) -> Vec<&Name> {
    let mut names = Vec::new();
    let mut sets = vec![set];
    while let Some(set) = sets.pop() {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => sets.push(&field.node.selection_set),
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set),
                Selection::FragmentSpread(spread) => names.push(&spread.node.fragment_name.node),
            }
        }
    }
    names
}

/// `links` fragments, each spreading the next, under one query. For tests and fuzz seeds.
#[must_use]
pub fn fragment_chain(links: usize) -> String {
    use std::fmt::Write as _;
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..links {
        let _ = writeln!(doc, "fragment F{i} on Query {{ ...F{} }}", i + 1);
    }
    let _ = write!(doc, "fragment F{links} on Query {{ a }}");
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(query: &str) -> usize {
        spread_depth(&async_graphql_parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn counts_the_longest_chain() {
        assert_eq!(depth("{ a }"), 0);
        assert_eq!(depth("{ ...A } fragment A on Q { a }"), 1);
        assert_eq!(depth(&fragment_chain(10)), 11);
        // The longest chain, not the first one walked.
        assert_eq!(
            depth(
                "{ ...B ...A } fragment A on Q { x { ...B } } fragment B on Q { ...C } \
                 fragment C on Q { c }"
            ),
            3
        );
        assert_eq!(depth(&crate::expansion::fragment_bomb(24)), 25);
        assert_eq!(depth("{ ...Missing }"), 0);
    }

    #[test]
    fn a_cycle_counts_every_fragment() {
        assert_eq!(
            depth(
                "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A } fragment C on Q { c }"
            ),
            3
        );
    }
}
