//! A list query costs a fixed number of SQL statements however long the list.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, TestApp};
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
    let config = common::config(&db);
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

/// `nodes(ids:)` reads each type once, through its domain's checked read: a hundred ids of
/// two types cost what two ids of them cost.
async fn nodes_cost_one_checked_read_per_type(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_billing_with(db, config).await;
    let token = app.token(ADMIN).await;
    let (_, listed) = app
        .gql(
            Some(&token),
            "{ invoices(first: 50) { edges { node { id } } } schools(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let ids = |list: &str| -> Vec<String> {
        listed["data"][list]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let (invoices, schools) = (ids("invoices"), ids("schools"));
    assert_eq!((invoices.len(), schools.len()), (50, 50), "{listed}");
    let mut costs = Vec::new();
    for n in [1, 50] {
        let asked: Vec<&String> = invoices
            .iter()
            .take(n)
            .chain(schools.iter().take(n))
            .collect();
        let query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
        let _ = app.gql(Some(&token), query, json!({ "ids": asked })).await;
        counter.reset();
        let (_, body) = app.gql(Some(&token), query, json!({ "ids": asked })).await;
        let found = body["data"]["nodes"].as_array().expect("nodes");
        assert!(found.iter().all(|n| n["id"].is_string()), "{body}");
        costs.push(counter.get());
    }
    assert!(
        costs[1] <= costs[0],
        "statements for 2 ids vs 100: {costs:?}"
    );
}

/// A page of an invoicing run's drafts, with each draft's account and each line's school,
/// costs what one draft costs: the edges are batch-loaded.
async fn a_page_of_drafts_costs_what_one_costs(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_unbilled_with(db, config).await;
    let token = app.token(FINANCE).await;
    let (_, body) = app
        .gql(
            Some(&token),
            r#"mutation { invoicingRunPrepare(input: { academicYear: "2026/27" }) { userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["invoicingRunPrepare"]["userErrors"],
        json!([]),
        "{body}"
    );
    let query = r"query($first: Int!) { invoicingRuns { drafts(first: $first) { nodes {
        instalment net { amount } account { name } lines { school { name urn } net { amount } } } } } }";
    let mut costs = Vec::new();
    for first in [1, 100] {
        let _ = app
            .gql(Some(&token), query, json!({ "first": first }))
            .await;
        counter.reset();
        let (_, body) = app
            .gql(Some(&token), query, json!({ "first": first }))
            .await;
        let nodes = body["data"]["invoicingRuns"][0]["drafts"]["nodes"]
            .as_array()
            .expect("nodes");
        assert_eq!(nodes.len(), first, "{body}");
        costs.push(counter.get());
    }
    assert!(
        costs[1] <= costs[0],
        "statements for 1 draft vs 100: {costs:?}"
    );
}

testkit::db_tests!(
    listing_100_schools_costs_what_listing_1_costs,
    nodes_cost_one_checked_read_per_type,
    a_page_of_drafts_costs_what_one_costs,
);
