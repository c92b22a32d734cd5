//! Metrics and logs of the real `trellis serve` process.

#![allow(
    clippy::float_cmp,
    reason = "metric values are small integers, exact in f64"
)]

mod common;

use common::{ADMIN, HEAD, parse_exposition, value};
use serde_json::{Value, json};
use testkit::TestDb;

const SCHOOLS: &str = "query Schools { schools(first: 2) { nodes { name } } }";

fn secret() -> String {
    format!("test-secret-{}", uuid::Uuid::now_v7().simple())
}

async fn metrics_count_operations_errors_and_the_pool(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[]).await;
    let token = server.token(db.conn(), ADMIN).await;

    let before = server.scrape().await;
    let count = "trellis_graphql_operation_duration_seconds_count";
    let base = value(&before, count, &[("operation", "Schools")]).unwrap_or(0.0);
    for _ in 0..2 {
        let (_, body) = server
            .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    // Unauthenticated, and a validation failure.
    server.gql(None, Some("Schools"), SCHOOLS, json!({})).await;
    server
        .gql(
            Some(&token),
            Some("Broken"),
            "query Broken { nope }",
            json!({}),
        )
        .await;
    // A mutation refusing its input reports a userError, not a top-level error.
    let (_, body) = server
        .gql(
            Some(&token),
            Some("BadSchool"),
            "mutation BadSchool { schoolCreate(input: { urn: \"12\", name: \"\", phase: PRIMARY, \
             establishmentType: COMMUNITY, localAuthority: \"Barnet\", postcode: \"N1 1AA\" }) \
             { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["schoolCreate"]["userErrors"][0]["code"].is_string(),
        "{body}"
    );

    let after = server.scrape().await;
    assert_eq!(
        value(&after, count, &[("operation", "Schools")]),
        Some(base + 3.0),
        "two served and one refused Schools operations"
    );
    let errors = "trellis_graphql_errors_total";
    assert_eq!(
        value(
            &after,
            errors,
            &[("operation", "Schools"), ("code", "UNAUTHENTICATED")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            errors,
            &[
                ("operation", "Broken"),
                ("code", "GRAPHQL_VALIDATION_FAILED")
            ]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &after,
            "trellis_graphql_user_errors_total",
            &[("operation", "BadSchool")]
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert!(
        value(
            &after,
            "trellis_http_request_duration_seconds_count",
            &[("route", "/graphql"), ("method", "POST"), ("status", "200")]
        )
        .is_some_and(|v| v >= 3.0)
    );
    assert!(
        value(&after, "trellis_db_pool_connections", &[("state", "max")]).is_some_and(|v| v >= 1.0)
    );
    assert!(
        value(
            &after,
            "trellis_db_pool_connections",
            &[("state", "in_use")]
        )
        .is_some()
    );
    assert_eq!(
        value(
            &after,
            "trellis_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    // Not on the API listener: the Ingress routes that port.
    let api = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(api.status(), reqwest::StatusCode::NOT_FOUND);
}

async fn json_logs_carry_request_id_and_operation(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[]).await;
    let token = server.token(db.conn(), ADMIN).await;
    let (request_id, body) = server
        .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(!request_id.is_empty());
    let log = server.log_text();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "graphql operation finished")
        .unwrap_or_else(|| panic!("no JSON line for the operation in:\n{log}"));
    let spans = line["spans"].as_array().expect("span list");
    assert!(
        spans.iter().any(|s| s["request_id"] == request_id.as_str()),
        "{line}"
    );
    assert!(spans.iter().any(|s| s["operation"] == "Schools"), "{line}");

    // A resolver's failure is logged inside that resolver's span, under the operation's.
    let head = server.token(db.conn(), HEAD).await;
    let (_, body) = server
        .gql(
            Some(&head),
            Some("Users"),
            "query Users { users(first: 1) { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let log = server.log_text();
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "error" && l["span"]["name"] == "field")
        .unwrap_or_else(|| panic!("no resolver error line in:\n{log}"));
    assert_eq!(line["span"]["path"], "users", "{line}");
    let spans = line["spans"].as_array().expect("span list");
    assert!(spans.iter().any(|s| s["operation"] == "Users"), "{line}");
}

testkit::db_tests!(
    metrics_count_operations_errors_and_the_pool,
    json_logs_carry_request_id_and_operation
);

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_total x\n# TYPE a counter\na_total{code=\"X\",q=\"a\\\"b\"} 3\n# EOF\n";
    let samples = parse_exposition(good);
    assert_eq!(samples[0].label("q"), Some("a\"b"));
    assert_eq!(samples[0].value, 3.0);
    for bad in [
        "a_total 1\n# EOF\n",                           // undeclared
        "# TYPE a counter\na_total{code=X} 1\n# EOF\n", // unquoted
        "# TYPE a counter\na_total 1\n",                // no EOF
        "# TYPE a counter\na_total one\n# EOF\n",       // not a number
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "{bad}"
        );
    }
}
