//! Puts every object's fields back in the order the query asked for them.
//!
//! The GraphQL spec (section 7.1) says a response SHOULD list an object's fields in the order
//! `CollectFields()` gives: the query's, fragments spread where they stand. Clients that
//! parse a response as it streams, and people reading one, rely on it. async-graphql 7.2
//! writes an object's fields in the order they *finish* (`do_resolve_container` drains a
//! `FuturesUnordered`; upstream issue 612), so two fields that both wait on the database come
//! back in whichever order their batches answer.
//!
//! [`ResponseOrder`] is the order a document's operation asks for, as a tree of response
//! keys (aliases, not field names); [`ResponseOrder::apply`] re-sorts a response's objects by
//! it after execution. An object already in order, as most are, is only checked.
//!
//! The tree is built from a document the request limits have passed ([`super::limits`]):
//! bounded in selections and fragment depth, so the walk is too. It ignores fragments' type
//! conditions: a key's place is its first appearance in any fragment. That differs from the
//! spec only for two fragments on different types that ask for the same keys in opposite
//! orders, which no client of ours does; honouring it would need each object's concrete type,
//! which the response does not carry.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Value};

/// The response keys an operation asks for, in order, each with the order of its own
/// selection.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ResponseOrder {
    fields: IndexMap<Name, Self>,
}

impl ResponseOrder {
    /// The order `operation` of `document` asks for.
    fn of(document: &ExecutableDocument, operation: &OperationDefinition) -> Self {
        let mut order = Self::default();
        order.collect(document, &operation.selection_set.node);
        order
    }

    fn collect(&mut self, document: &ExecutableDocument, set: &SelectionSet) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => self
                    .fields
                    .entry(field.node.response_key().node.clone())
                    .or_default()
                    .collect(document, &field.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node)
                    {
                        self.collect(document, &fragment.node.selection_set.node);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.collect(document, &inline.node.selection_set.node);
                }
            }
        }
    }

    /// Sorts every object in `value` (a response's `data`, or a value under this key) into
    /// this order, lists item by item.
    ///
    /// Most objects are in order already, so they are checked by walking their keys and this
    /// order's side by side (no hashing); only an object out of order is sorted.
    pub fn apply(&self, value: &mut Value) {
        if self.fields.is_empty() {
            return;
        }
        match value {
            Value::Object(map) => {
                if !self.follows(map.keys()) {
                    let place = |key: &Name| self.fields.get_index_of(key).unwrap_or(usize::MAX);
                    map.sort_unstable_by(|a, _, b, _| place(a).cmp(&place(b)));
                }
                let mut from = 0;
                for (key, value) in map.iter_mut() {
                    if let Some(at) = self.find(key, from) {
                        from = at + 1;
                        if let Some((_, order)) = self.fields.get_index(at) {
                            order.apply(value);
                        }
                    }
                }
            }
            Value::List(items) => {
                for item in items {
                    self.apply(item);
                }
            }
            _ => {}
        }
    }

    /// Whether `keys` come in this order (some of this order's keys may be missing: a field
    /// skipped, or a fragment on another type).
    fn follows<'k>(&self, keys: impl Iterator<Item = &'k Name>) -> bool {
        let mut from = 0;
        for key in keys {
            match self.find(key, from) {
                Some(at) => from = at + 1,
                None => return false,
            }
        }
        true
    }

    /// Where `key` is in this order, looking from position `from` on.
    fn find(&self, key: &Name, from: usize) -> Option<usize> {
        self.fields
            .keys()
            .skip(from)
            .position(|k| k == key)
            .map(|at| at + from)
    }
}

/// The order of every operation in a document, for [`super::documents`] to keep with it.
#[derive(Debug)]
pub enum DocumentOrder {
    /// A document of one anonymous operation, whatever name the request gives.
    Single(ResponseOrder),
    /// Named operations.
    Named(IndexMap<Name, ResponseOrder>),
}

impl DocumentOrder {
    /// The order of each of `document`'s operations.
    #[must_use]
    pub fn of(document: &ExecutableDocument) -> Self {
        match &document.operations {
            DocumentOperations::Single(op) => Self::Single(ResponseOrder::of(document, &op.node)),
            DocumentOperations::Multiple(ops) => Self::Named(
                ops.iter()
                    .map(|(name, op)| (name.clone(), ResponseOrder::of(document, &op.node)))
                    .collect(),
            ),
        }
    }

    /// The order of the operation `operation_name` picks, as execution picks it: by name, or
    /// the only one; `None` when it picks none (execution answers that with its own error).
    #[must_use]
    pub fn operation(&self, operation_name: Option<&str>) -> Option<&ResponseOrder> {
        match (self, operation_name) {
            (Self::Single(order), _) => Some(order),
            (Self::Named(orders), Some(name)) => orders.get(name),
            (Self::Named(orders), None) if orders.len() == 1 => orders.values().next(),
            (Self::Named(_), None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};

    /// A field that answers after `ms` milliseconds, so fields finish in an order of our
    /// choosing.
    async fn after(ms: u64, value: i32) -> i32 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        value
    }

    #[derive(SimpleObject)]
    struct Leaf {
        a: i32,
        b: i32,
    }

    struct Node;

    #[Object]
    impl Node {
        async fn slow(&self) -> i32 {
            after(30, 1).await
        }
        async fn fast(&self) -> i32 {
            after(0, 2).await
        }
        async fn leaves(&self) -> Vec<Leaf> {
            after(10, 0).await;
            vec![Leaf { a: 1, b: 2 }, Leaf { a: 3, b: 4 }]
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn slow(&self) -> i32 {
            after(30, 1).await
        }
        async fn fast(&self) -> i32 {
            after(0, 2).await
        }
        async fn node(&self) -> Node {
            after(20, 0).await;
            Node
        }
        async fn nodes(&self) -> Vec<Node> {
            vec![Node, Node]
        }
    }

    /// Runs `query` as async-graphql does, then as Trellis sends it: the keys of the JSON
    /// text as async-graphql wrote them, and as ordered.
    async fn run(query: &str) -> (String, String) {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let response = schema.execute(query).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let raw = serde_json::to_string(&response.data).expect("json");
        let mut data = response.data;
        let document = async_graphql::parser::parse_query(query).expect("parses");
        DocumentOrder::of(&document)
            .operation(None)
            .expect("one operation")
            .apply(&mut data);
        (raw, serde_json::to_string(&data).expect("json"))
    }

    #[tokio::test]
    async fn fields_come_back_in_the_order_asked_however_they_finish() {
        let (raw, ordered) = run("{ slow fast }").await;
        // The premise: async-graphql writes them as they finish.
        assert_eq!(raw, r#"{"fast":2,"slow":1}"#);
        assert_eq!(ordered, r#"{"slow":1,"fast":2}"#);
    }

    #[tokio::test]
    async fn nested_objects_lists_and_aliases_are_ordered_too() {
        let (_, ordered) = run(
            "{ node { later: slow sooner: fast leaves { b a } } nodes { slow fast } first: fast }",
        )
        .await;
        assert_eq!(
            ordered,
            concat!(
                r#"{"node":{"later":1,"sooner":2,"leaves":[{"b":2,"a":1},{"b":4,"a":3}]},"#,
                r#""nodes":[{"slow":1,"fast":2},{"slow":1,"fast":2}],"first":2}"#
            )
        );
    }

    #[tokio::test]
    async fn fragments_place_their_fields_where_they_are_spread() {
        let (_, ordered) = run("query Q { ...Outer node { ... on Node { slow } fast } } \
             fragment Outer on Query { slow ...Inner } fragment Inner on Query { fast }")
        .await;
        assert_eq!(ordered, r#"{"slow":1,"fast":2,"node":{"slow":1,"fast":2}}"#);
    }

    #[tokio::test]
    async fn fields_left_out_leave_the_rest_in_order() {
        let (_, ordered) =
            run("{ early: slow @skip(if: true) slow fast @include(if: false) node { fast slow } }")
                .await;
        assert_eq!(ordered, r#"{"slow":1,"node":{"fast":2,"slow":1}}"#);
    }

    #[test]
    fn each_operation_of_a_document_has_its_order() {
        let first_key = |order: Option<&ResponseOrder>| {
            order.and_then(|o| o.fields.keys().next().map(|k| k.as_str().to_owned()))
        };
        for (text, name, first) in [
            (
                "query A { fast slow } query B { slow fast }",
                Some("A"),
                Some("fast"),
            ),
            (
                "query A { fast slow } query B { slow fast }",
                Some("B"),
                Some("slow"),
            ),
            (
                "query A { fast slow } query B { slow fast }",
                Some("C"),
                None,
            ),
            ("query A { fast slow } query B { slow fast }", None, None),
            ("query A { fast slow }", Some("A"), Some("fast")),
            ("query A { fast slow }", None, Some("fast")),
            ("query A { fast slow }", Some("B"), None),
            ("{ slow fast }", None, Some("slow")),
        ] {
            let document = async_graphql::parser::parse_query(text).expect("doc");
            let orders = DocumentOrder::of(&document);
            assert_eq!(
                first_key(orders.operation(name)).as_deref(),
                first,
                "{text} {name:?}"
            );
        }
    }
}
