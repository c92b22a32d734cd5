//! What a hostile client sends, against the real server: nothing it sends may kill the
//! process, run in full when it is absurdly expensive, or come back INTERNAL.
//!
//! Every case here was found to abort the process, spend seconds of CPU or return tens of
//! megabytes before the request limits (`gateway::graphql::limits`) existed. Each test ends
//! by asking an ordinary question, which a crashed server could not answer.

use crate::common;

use std::fmt::Write as _;

use common::{ADMIN, FINANCE, HEAD, TestApp, first_code};
use gateway::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

/// `{ a0: field a1: field … }`: `n` aliases of one field.
fn aliased(n: usize, field: &str) -> String {
    let mut doc = String::from("{ ");
    for i in 0..n {
        let _ = write!(doc, "a{i}: {field} ");
    }
    doc.push('}');
    doc
}

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// Asserts the request was refused before execution with `code`, and nothing ran.
fn assert_refused(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(first_code(body), code, "{body}");
}

async fn still_serves(app: &TestApp) {
    let data = app
        .data_as(HEAD, "{ viewer { user { name } } }", json!({}))
        .await;
    assert!(data["viewer"]["user"]["name"].is_string(), "{data}");
}

async fn deeply_nested_documents_are_refused_before_parsing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let url = format!("{}/graphql", app.base);
    let deep_get = format!("{{ school(urn: {}) {{ name }} }}", nested("[", "]", 1_500));

    // Unauthenticated: refused as such, without the document being looked at.
    let res = app
        .client
        .get(&url)
        .query(&[("query", deep_get.as_str())])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Signed in, over GET and POST: refused with a code, and the process lives on.
    let token = app.token(HEAD).await;
    let res = app
        .client
        .get(&url)
        .query(&[("query", deep_get.as_str())])
        .header("accept", "application/graphql-response+json")
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_refused(status, &body, "QUERY_TOO_COMPLEX");

    let documents = [
        format!("{{ school(urn: {}) {{ name }} }}", nested("[", "]", 5_000)),
        format!(
            "{{ school(urn: {}) {{ name }} }}",
            nested("{a: ", "}", 2_000)
        ),
        format!(
            "query($u: String = {}) {{ school(urn: $u) {{ name }} }}",
            nested("[", "]", 3_000)
        ),
        format!("{}{}", "{ viewer ".repeat(3_000), "}".repeat(3_000)),
    ];
    for document in &documents {
        let (status, body) = app.gql(Some(&token), document, json!({})).await;
        assert_refused(status, &body, "QUERY_TOO_COMPLEX");
    }
    still_serves(&app).await;
}

async fn expensive_documents_are_refused_before_execution(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let token = app.token(FINANCE).await;

    // A fragment bomb: 24 lines that expand to 2^24 selections.
    let mut bomb = String::from("fragment F0 on Query { __typename }\n");
    for i in 1..=24 {
        let _ = writeln!(
            bomb,
            "fragment F{i} on Query {{ ...F{p} ...F{p} }}",
            p = i - 1
        );
    }
    bomb.push_str("query { ...F24 }");
    let (status, body) = app.gql(Some(&token), &bomb, json!({})).await;
    assert_refused(status, &body, "QUERY_TOO_COMPLEX");

    // A thousand aliased 100-school pages: each page counts its size, not one field.
    let bomb = aliased(1_000, "schools(first: 100) { edges { node { name urn } } }");
    let (status, body) = app.gql(Some(&token), &bomb, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");

    // The page size counts when it comes in a variable too: 100 × 100 × 100 partnerships.
    let fan_out = "query($n: Int) { partnerships(first: $n) { edges { node { members(first: $n) { edges { node { partnerships(first: $n) { edges { node { name } } } } } } } } } }";
    let (status, body) = app.gql(Some(&token), fan_out, json!({ "n": 100 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    // …and the same shape with small pages is an ordinary request.
    let (status, body) = app.gql(Some(&token), fan_out, json!({ "n": 3 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");

    // A whole-year export is worth a thousand fields: five fit, five hundred do not.
    let exports = |n| aliased(n, "ledgerExport(academicYear: \"2026/27\")");
    let (status, body) = app.gql(Some(&token), &exports(500), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.gql(Some(&token), &exports(2), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["a1"].is_string(), "{body}");
    still_serves(&app).await;
}

async fn bad_text_is_bad_input_not_internal(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(ADMIN).await;
    let (status, body) = app
        .gql(
            Some(&token),
            "{ schools(first: 5, filter: { nameContains: \"a\\u0000b\" }) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_refused(status, &body, "BAD_USER_INPUT");

    let (status, body) = app
        .gql(
            Some(&token),
            "query($s: String) { schools(first: 5, filter: { nameContains: $s }) { edges { node { name } } } }",
            json!({ "s": "a\u{0}b" }),
        )
        .await;
    assert_refused(status, &body, "BAD_USER_INPUT");

    // SQLite refused LIKE patterns over 50,000 bytes with an error that surfaced as INTERNAL.
    let long = "a".repeat(60_000);
    for query in [
        "query($s: String) { services(search: $s) { edges { node { title } } } }",
        "query($s: String) { schools(filter: { nameContains: $s }) { edges { node { name } } } }",
        "query($s: String) { partnerships(filter: { nameContains: $s }) { edges { node { name } } } }",
    ] {
        let (status, body) = app.gql(Some(&token), query, json!({ "s": long })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");
    }
    still_serves(&app).await;
}

async fn responses_over_the_limit_are_withheld(db: TestDb) {
    let config = Config {
        response_limit_bytes: 2_000,
        ..common::config(&db)
    };
    let app = TestApp::spawn_with(db, config).await;
    let token = app.token(ADMIN).await;
    let (status, body) = app
        .gql(
            Some(&token),
            "{ schools(first: 100) { edges { node { name urn } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(first_code(&body), "RESPONSE_TOO_LARGE", "{body}");
    still_serves(&app).await;
}

async fn concurrent_admin_writes_all_succeed(db: TestDb) {
    // On SQLite, 11–13 of 20 concurrent updates used to fail INTERNAL "database is locked".
    let app = TestApp::spawn(db).await;
    let token = app.token(ADMIN).await;
    let data = app
        .data_as(
            ADMIN,
            "{ schools(first: 10) { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    let schools: Vec<(String, String)> = data["schools"]["edges"]
        .as_array()
        .expect("schools")
        .iter()
        .map(|e| {
            (
                e["node"]["id"].as_str().expect("id").to_owned(),
                e["node"]["name"].as_str().expect("name").to_owned(),
            )
        })
        .collect();
    let update = "mutation($input: SchoolUpdateInput!) { schoolUpdate(input: $input) { school { name } userErrors { code } } }";
    // Two writers per school, every school at once.
    let requests = schools
        .iter()
        .cycle()
        .take(2 * schools.len())
        .enumerate()
        .map(|(i, (id, name))| {
            let token = token.clone();
            let app = &app;
            async move {
                let renamed = format!("{name} ({i})");
                app.gql(
                    Some(&token),
                    update,
                    json!({ "input": { "id": id, "name": renamed } }),
                )
                .await
            }
        });
    for (status, body) in futures::future::join_all(requests).await {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["schoolUpdate"]["userErrors"],
            json!([]),
            "{body}"
        );
    }
    still_serves(&app).await;
}

async fn an_unreachable_stripe_is_a_coded_error_not_internal(db: TestDb) {
    // Nothing listens on the discard port: every call to "Stripe" fails to connect.
    let config = Config {
        stripe_secret_key: Some("sk_test_unreachable".to_owned()),
        stripe_webhook_secret: Some("whsec_unreachable".to_owned()),
        stripe_api_base: Some("http://127.0.0.1:9".to_owned()),
        ..common::config(&db)
    };
    let app = TestApp::spawn_billing_with(db, config).await;
    let invoices = app
        .data_as(
            FINANCE,
            "{ invoices(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = invoices["invoices"]["edges"][0]["node"]["id"].clone();
    let token = app.token(FINANCE).await;
    let (status, body) = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { invoiceMirror(input: { id: $id }) { invoice { hostedInvoiceUrl } userErrors { code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(first_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    let data = app
        .data_as(
            FINANCE,
            "query($id: ID!) { node(id: $id) { ... on Invoice { hostedInvoiceUrl } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["node"]["hostedInvoiceUrl"], Value::Null, "{data}");
}

testkit::db_tests!(
    an_unreachable_stripe_is_a_coded_error_not_internal,
    concurrent_admin_writes_all_succeed,
    deeply_nested_documents_are_refused_before_parsing,
    expensive_documents_are_refused_before_execution,
    bad_text_is_bad_input_not_internal,
    responses_over_the_limit_are_withheld,
);
