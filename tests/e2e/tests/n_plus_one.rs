//! A list query costs a fixed number of SQL statements however long the list.

mod common;

use common::{HEAD, TestApp};
use serde_json::json;
use testkit::TestDb;

const QUERY: &str = r"
query($first: Int!) {
  schools(first: $first) {
    edges { node {
      name designations
      ofsted { __typename }
      partnerships(first: 10) { totalCount edges { role node { name kind members(first: 5) { edges { node { name } } } } } }
    } }
  }
}";

async fn listing_100_schools_costs_what_listing_1_costs(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::counting_config(&db);
    let app = TestApp::spawn_with(db, config).await;
    let token = app.token(HEAD).await;
    let mut costs = Vec::new();
    for first in [1, 100] {
        // Warm up authentication caches, then count one request.
        let _ = app
            .gql(Some(&token), QUERY, json!({ "first": first }))
            .await;
        counter.reset();
        let (_, body) = app
            .gql(Some(&token), QUERY, json!({ "first": first }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["schools"]["edges"]
                .as_array()
                .expect("edges")
                .len(),
            first
        );
        costs.push(counter.get());
    }
    assert!(
        costs[1] <= costs[0],
        "statements for 1 school vs 100: {costs:?}"
    );
    assert!(
        costs[0] <= 16,
        "a fixed, small number of statements: {costs:?}"
    );
}

testkit::db_tests!(listing_100_schools_costs_what_listing_1_costs);
