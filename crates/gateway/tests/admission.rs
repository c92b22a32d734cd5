//! `TRELLIS_MAX_CONCURRENT_OPERATIONS` on the real server: with a single slot, every way an
//! operation ends gives the slot back, so the next one runs.

use crate::common;

use common::{ADMIN, value};
use serde_json::json;
use testkit::TestDb;

/// One slot, and operations that end every way they can once they hold it: answered, refused
/// by validation, withheld as too large. A slot kept by any of them would leave the rest
/// waiting until the (short) request timeout, which answers 408 and no JSON.
async fn every_operation_gives_its_slot_back(db: TestDb) {
    let secret = format!("test-secret-{}", uuid::Uuid::now_v7().simple());
    let server = common::spawn(
        db.url(),
        &secret,
        &[
            ("TRELLIS_MAX_CONCURRENT_OPERATIONS", "1"),
            ("TRELLIS_REQUEST_TIMEOUT_SECS", "5"),
            ("TRELLIS_RESPONSE_LIMIT_BYTES", "400"),
        ],
    )
    .await;
    let token = server.token(db.conn(), ADMIN).await;
    let small = "query Small { schools(first: 2) { nodes { name } } }";
    let large = "query Large { schools(first: 50) { nodes { name urn postcode } } }";
    let broken = "query Broken { nope }";

    let run = |query: &'static str| {
        let (server, token) = (&server, &token);
        async move { server.gql(Some(token), None, query, json!({})).await.1 }
    };
    let answers =
        futures::future::join_all((0..8).flat_map(|_| [run(small), run(large), run(broken)])).await;
    for (i, body) in answers.iter().enumerate() {
        let code = body["errors"][0]["extensions"]["code"].as_str();
        match i % 3 {
            0 => assert!(
                body["errors"].is_null() && body["data"]["schools"]["nodes"][1]["name"].is_string(),
                "{body}"
            ),
            1 => assert_eq!(code, Some("RESPONSE_TOO_LARGE"), "{body}"),
            _ => assert_eq!(code, Some("GRAPHQL_VALIDATION_FAILED"), "{body}"),
        }
    }

    let after = server.scrape().await;
    assert_eq!(
        value(&after, "trellis_graphql_operations_waiting", &[]),
        Some(0.0),
        "nobody waits once every answer is in"
    );
}

testkit::db_tests!(every_operation_gives_its_slot_back);
