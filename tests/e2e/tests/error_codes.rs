//! Errors as a contract: one request per `extensions.code` of the `ErrorCode` enum, each
//! answered with that code (and the status the README documents).

use crate::common;

use std::collections::BTreeSet;

use common::{ADMIN, FINANCE, STAFF, TestApp, first_code};
use gateway::Config;
use gateway::graphql::errors::Code;
use gateway::graphql::relay::GlobalId as _;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};
use testkit::TestDb;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` as it is (any bytes), as `bearer`; returns status and the JSON answer.
async fn post(app: &TestApp, bearer: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("accept", GRAPHQL_RESPONSE)
        .header("content-type", "application/json")
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// Checks one answer and records its code as seen.
fn expect(seen: &mut BTreeSet<&'static str>, code: Code, got: (StatusCode, Value), status: u16) {
    let (got_status, body) = got;
    assert_eq!(first_code(&body), code.as_str(), "{body}");
    assert_eq!(got_status.as_u16(), status, "{}: {body}", code.as_str());
    seen.insert(code.as_str());
}

async fn every_top_level_error_carries_a_documented_code(db: TestDb) {
    let config = Config {
        body_limit_bytes: 8 * 1024,
        response_limit_bytes: 4 * 1024,
        // One request that fails to sign in per minute: the second is RATE_LIMITED.
        rate_limit_anonymous_per_min: 1,
        rate_limit_anonymous_burst: 1,
        ..common::config(&db)
    };
    let app = TestApp::spawn_with(db, config).await;
    let admin = app.token(ADMIN).await;
    let staff = app.token(STAFF).await;
    let finance = app.token(FINANCE).await;
    let mut seen = BTreeSet::new();
    let gql = |query: &str, variables: Value| {
        serde_json::to_vec(&json!({ "query": query, "variables": variables })).expect("JSON")
    };

    let parse = post(&app, Some(&admin), gql("{ viewer ", json!({}))).await;
    expect(&mut seen, Code::GraphqlParseFailed, parse, 400);

    let unknown_field = post(&app, Some(&admin), gql("{ nope }", json!({}))).await;
    expect(&mut seen, Code::GraphqlValidationFailed, unknown_field, 400);
    let unknown_operation = post(
        &app,
        Some(&admin),
        serde_json::to_vec(
            &json!({ "query": "query A { viewer { scopes } }", "operationName": "B" }),
        )
        .expect("JSON"),
    )
    .await;
    expect(
        &mut seen,
        Code::GraphqlValidationFailed,
        unknown_operation,
        400,
    );

    let not_json = post(&app, Some(&admin), b"{ not json".to_vec()).await;
    expect(&mut seen, Code::BadRequest, not_json, 400);

    // A variable that cannot be coerced to its type, and a malformed global id.
    let coercion = post(
        &app,
        Some(&admin),
        gql(
            "query($n: Int) { schools(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
        ),
    )
    .await;
    expect(&mut seen, Code::BadUserInput, coercion, 400);
    let bad_id = post(
        &app,
        Some(&admin),
        gql("{ node(id: \"not-an-id\") { id } }", json!({})),
    )
    .await;
    expect(&mut seen, Code::BadUserInput, bad_id, 200);

    // Too deep, and too costly (a 100 × 100 × 100 fan-out), each refused before it runs.
    let hop = "partnerships(first: 1) { edges { node { members(first: 1) { edges { node {";
    let deep = format!(
        "{{ viewer {{ schools {{ {hop} {hop} id }} }} }} }} }} }} }} }} }} }} }} }} }} }} }}"
    );
    let too_deep = post(&app, Some(&admin), gql(&deep, json!({}))).await;
    expect(&mut seen, Code::QueryTooComplex, too_deep, 400);
    let fan_out = "{ partnerships(first: 100) { nodes { members(first: 100) { nodes { \
                   partnerships(first: 100) { nodes { name } } } } } } }";
    let too_costly = post(&app, Some(&admin), gql(fan_out, json!({}))).await;
    expect(&mut seen, Code::QueryTooComplex, too_costly, 400);

    let padding = " ".repeat(9 * 1024);
    let too_large = post(
        &app,
        Some(&admin),
        gql(&format!("{{ viewer {{ scopes }} {padding}}}"), json!({})),
    )
    .await;
    expect(&mut seen, Code::RequestTooLarge, too_large, 413);

    let big_answer = post(
        &app,
        Some(&admin),
        gql(
            "{ schools(first: 100) { nodes { id urn name postcode localAuthority } } }",
            json!({}),
        ),
    )
    .await;
    expect(&mut seen, Code::ResponseTooLarge, big_answer, 200);

    let anonymous = post(&app, None, gql("{ viewer { scopes } }", json!({}))).await;
    expect(&mut seen, Code::Unauthenticated, anonymous, 401);
    let again = post(&app, None, gql("{ viewer { scopes } }", json!({}))).await;
    expect(&mut seen, Code::RateLimited, again, 429);

    // An automatic persisted query this server has never seen.
    let unknown_hash = post(
        &app,
        Some(&admin),
        serde_json::to_vec(&json!({ "extensions": { "persistedQuery": {
            "version": 1,
            "sha256Hash": "0".repeat(64),
        } } }))
        .expect("JSON"),
    )
    .await;
    expect(&mut seen, Code::PersistedQueryNotFound, unknown_hash, 400);

    let forbidden = post(
        &app,
        Some(&staff),
        gql("{ users { totalCount } }", json!({})),
    )
    .await;
    expect(&mut seen, Code::Forbidden, forbidden, 200);

    let not_found = post(
        &app,
        Some(&finance),
        gql(
            "query($s: ID!, $t: ID!) { feeQuote(schoolId: $s, academicYear: \"2026/27\", tierId: $t) { total { amount } } }",
            json!({ "s": kernel::SchoolId::new().to_global().0, "t": kernel::TierId::new().to_global().0 }),
        ),
    )
    .await;
    expect(&mut seen, Code::NotFound, not_found, 200);

    // A fault in Trellis: the database no longer has a column the schools query reads.
    app.db
        .conn()
        .execute_unprepared("ALTER TABLE schools RENAME COLUMN postcode TO postcode_gone")
        .await
        .expect("rename");
    let internal = post(
        &app,
        Some(&admin),
        gql("{ schools(first: 1) { nodes { name } } }", json!({})),
    )
    .await;
    assert!(
        !internal.1.to_string().contains("postcode_gone"),
        "an internal error leaks no detail: {}",
        internal.1
    );
    expect(&mut seen, Code::Internal, internal, 200);

    // Sign-in through an OIDC issuer nobody answers for.
    let unavailable = unavailable_sign_in().await;
    expect(&mut seen, Code::ServiceUnavailable, unavailable, 503);

    let all: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(seen, all, "one request per code");
}

/// A request whose RS256 token needs the keys of an OIDC issuer that cannot be reached.
async fn unavailable_sign_in() -> (StatusCode, Value) {
    let db = TestDb::sqlite().await;
    let config = Config {
        oidc_issuer: Some("http://127.0.0.1:9".to_owned()),
        oidc_audience: Some("trellis".to_owned()),
        ..common::config(&db)
    };
    let app = TestApp::spawn_with(db, config).await;
    use base64::Engine as _;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(json!({ "alg": "RS256", "kid": "k1", "typ": "JWT" })),
        b64(json!({ "iss": "http://127.0.0.1:9", "sub": "x", "aud": "trellis" }))
    );
    post(
        &app,
        Some(&token),
        serde_json::to_vec(&json!({ "query": "{ viewer { scopes } }" })).expect("JSON"),
    )
    .await
}

/// The enum in the schema is the one the server uses.
async fn the_schema_publishes_the_codes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let data = app
        .data_as(
            ADMIN,
            "{ __type(name: \"ErrorCode\") { enumValues { name description } } }",
            json!({}),
        )
        .await;
    let values = data["__type"]["enumValues"].as_array().expect("values");
    let names: Vec<&str> = values.iter().filter_map(|v| v["name"].as_str()).collect();
    let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names, ours);
    assert!(
        values.iter().all(|v| v["description"].is_string()),
        "{data}"
    );
}

testkit::db_tests!(
    every_top_level_error_carries_a_documented_code,
    the_schema_publishes_the_codes
);
