//! How deep a document nests its fields, with introspection measured by its own rules.
//!
//! Tools (GraphiQL, graphql-codegen, Apollo's and Postman's clients, graphql-inspector) all
//! send graphql-js's `getIntrospectionQuery()`, whose `TypeRef` fragment follows `ofType`
//! nine times under `__schema { types { fields { args { type` — 15 levels, past any depth
//! limit that suits data. Raising the one limit for everyone would let any query nest data
//! 15 deep; exempting documents that mention `__schema` would let a client hide a deep data
//! query beside a token introspection field. So the two are measured apart:
//!
//! * the **data depth** counts the fields on every path, an introspection field (`__schema`,
//!   `__type`) and everything under it counting as one level — this is what the configured
//!   `max_depth` bounds;
//! * each path that runs into an introspection field is measured in full from the root, and
//!   bounded by [`INTROSPECTION_MAX_DEPTH`]; nothing under `__schema` or `__type` resolves
//!   data, so the only cost there is the size of the answer, and that is bounded by
//!   [`INTROSPECTION_MAX_LISTS`] list fields on one path (the standard query needs three:
//!   `types`, `fields`, `args`; a fourth, as in `fields { type { fields {`, multiplies the
//!   answer by the schema's size again) and [`INTROSPECTION_MAX_SELECTIONS`] selections.
//!
//! Fragments are measured once each and reused, so the walk is linear in the text.

use std::collections::HashMap;

use async_graphql_parser::Positioned;
use async_graphql_parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql_value::Name;

/// Deepest path into an introspection field, from the operation's root. graphql-js's query
/// reaches 15 (its default `typeDepth` of 9); 20 leaves room for `typeDepth` 14.
pub const INTROSPECTION_MAX_DEPTH: usize = 20;

/// Most list-valued introspection fields (`types`, `fields`, `args`, …) nested on one path.
pub const INTROSPECTION_MAX_LISTS: usize = 3;

/// Most selections inside introspection fields, fragments spread. graphql-js's query with
/// every option on expands to 230; this allows it twice over with room to spare, not a
/// dozen aliased copies of the whole schema.
pub const INTROSPECTION_MAX_SELECTIONS: u64 = 600;

/// Introspection fields whose values are lists: the only way an introspection answer grows.
const LIST_FIELDS: [&str; 8] = [
    "types",
    "directives",
    "fields",
    "args",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
];

/// The measurements of a document (or one selection set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Deepest path of fields, an introspection field counting as one level.
    pub data_depth: usize,
    /// Deepest path that runs into an introspection field, counted in full; 0 when none does.
    pub introspection_depth: usize,
    /// Most list-valued fields nested on one path under an introspection field.
    pub introspection_lists: usize,
    /// Selections under introspection fields (themselves included), fragments spread.
    pub introspection_selections: u64,
    /// Deepest path, counting everything (what an introspection field adds below itself).
    depth: usize,
    /// Most list-named fields on one path, counting everything.
    lists: usize,
    /// Selections, counting everything.
    selections: u64,
}

impl Shape {
    /// Siblings: the deepest of either, the sizes added.
    fn beside(self, other: Self) -> Self {
        Self {
            data_depth: self.data_depth.max(other.data_depth),
            introspection_depth: self.introspection_depth.max(other.introspection_depth),
            introspection_lists: self.introspection_lists.max(other.introspection_lists),
            introspection_selections: self
                .introspection_selections
                .saturating_add(other.introspection_selections),
            depth: self.depth.max(other.depth),
            lists: self.lists.max(other.lists),
            selections: self.selections.saturating_add(other.selections),
        }
    }

    /// A field named `name` whose selection set measures `children`.
    fn field(name: &str, children: Self) -> Self {
        let depth = children.depth + 1;
        let lists = children.lists + usize::from(LIST_FIELDS.contains(&name));
        let selections = children.selections.saturating_add(1);
        if is_introspection_root(name) {
            return Self {
                data_depth: 1,
                introspection_depth: depth,
                introspection_lists: lists,
                introspection_selections: selections,
                depth,
                lists,
                selections,
            };
        }
        Self {
            data_depth: children.data_depth + 1,
            introspection_depth: if children.introspection_depth > 0 {
                children.introspection_depth + 1
            } else {
                0
            },
            introspection_lists: children.introspection_lists,
            introspection_selections: children.introspection_selections,
            depth,
            lists,
            selections,
        }
    }
}

/// The fields under which only the schema's description is resolved.
fn is_introspection_root(name: &str) -> bool {
    name == "__schema" || name == "__type"
}

/// Measures every operation of `doc` (each the deepest or largest of them all).
///
/// A spread of an unknown fragment, or one that spreads itself, measures nothing: validation
/// refuses those documents later with a proper message.
#[must_use]
pub fn shape(doc: &ExecutableDocument) -> Shape {
    let mut walker = Walker {
        doc,
        shapes: HashMap::new(),
    };
    doc.operations
        .iter()
        .map(|(_, op)| walker.selection_set(&op.node.selection_set))
        .fold(Shape::default(), Shape::beside)
}

struct Walker<'a> {
    doc: &'a ExecutableDocument,
    /// Each fragment's shape; `None` while it is being measured (a cycle).
    shapes: HashMap<&'a Name, Option<Shape>>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a Positioned<SelectionSet>) -> Shape {
        set.node
            .items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => Shape::field(
                    field.node.name.node.as_str(),
                    self.selection_set(&field.node.selection_set),
                ),
                Selection::InlineFragment(inline) => self.selection_set(&inline.node.selection_set),
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            })
            .fold(Shape::default(), Shape::beside)
    }

    fn fragment(&mut self, name: &'a Name) -> Shape {
        match self.shapes.get(name) {
            Some(Some(shape)) => return *shape,
            Some(None) => return Shape::default(),
            None => {}
        }
        let Some(fragment) = self.doc.fragments.get(name) else {
            return Shape::default();
        };
        self.shapes.insert(name, None);
        let shape = self.selection_set(&fragment.node.selection_set);
        self.shapes.insert(name, Some(shape));
        shape
    }
}

/// graphql-js 16's `getIntrospectionQuery()` with every option on (descriptions,
/// `specifiedByURL`, `isRepeatable`, the schema's description, deprecated input values,
/// `isOneOf`): what GraphiQL and code generators send. The e2e test `introspection` checks
/// it is still what graphql-js generates. For tests and fuzz seeds.
pub const GRAPHQL_JS_INTROSPECTION: &str =
    include_str!("../../../schema/graphql-js-introspection.graphql");

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(query: &str) -> Shape {
        shape(&async_graphql_parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn data_depth_counts_fields_through_fragments() {
        let s = measure("{ a { b { c } } d }");
        assert_eq!((s.data_depth, s.introspection_depth), (3, 0));
        let s = measure("{ a { ...F } } fragment F on A { b { ... on B { c { d } } } }");
        assert_eq!(s.data_depth, 4);
        assert_eq!(
            measure("{ ...A } fragment A on Q { a { ...A } }").data_depth,
            1
        );
    }

    #[test]
    fn the_standard_introspection_query_fits_its_own_bounds() {
        let s = measure(GRAPHQL_JS_INTROSPECTION);
        assert_eq!(s.data_depth, 1);
        assert_eq!(s.introspection_depth, 15);
        assert_eq!(s.introspection_lists, 3);
        assert_eq!(s.introspection_selections, 230);
        assert!(s.introspection_depth <= INTROSPECTION_MAX_DEPTH);
        assert!(s.introspection_lists <= INTROSPECTION_MAX_LISTS);
        assert!(s.introspection_selections <= INTROSPECTION_MAX_SELECTIONS);
    }

    #[test]
    fn introspection_beside_data_does_not_hide_the_data_depth() {
        let data = format!("{}x{}", "a { ".repeat(14), " }".repeat(14));
        let s = measure(&format!("{{ __schema {{ description }} {data} }}"));
        assert_eq!(s.data_depth, 15);
        assert_eq!(s.introspection_depth, 2);
        // A data path leading to the query root again counts up to its introspection field.
        let s = measure("{ a { b { __type(name: \"X\") { fields { type { name } } } } } }");
        assert_eq!((s.data_depth, s.introspection_depth), (3, 6));
    }

    #[test]
    fn introspection_fan_out_is_counted() {
        let s = measure(
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        );
        assert_eq!(s.introspection_lists, 4);
        let fragments = &GRAPHQL_JS_INTROSPECTION[GRAPHQL_JS_INTROSPECTION
            .find("fragment FullType")
            .expect("the fixture defines FullType")..];
        let copies = ["s0", "s1", "s2", "s3"]
            .map(|alias| format!("{alias}: __schema {{ types {{ ...FullType }} }}"))
            .join(" ");
        let s = measure(&format!("{{ {copies} }} {fragments}"));
        assert!(
            s.introspection_selections > INTROSPECTION_MAX_SELECTIONS,
            "{s:?}"
        );
    }
}
