//! The tools integrators already use can introspect the API: graphql-js's own
//! `getIntrospectionQuery()` (what GraphiQL, graphql-codegen, Apollo tooling, Postman and
//! graphql-inspector send) passes at the default limits, and graphql-js builds a client
//! schema from the answer. Run by node from `tests/audit` (its `graphql` package), installed
//! by `scripts/test`; without node or that package the test is skipped with a banner, except
//! under `CI=true`, where it fails.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{HEAD, TestApp, first_code};
use reqwest::StatusCode;
use serde_json::json;
use testkit::TestDb;

fn audit_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../audit")
}

/// Whether node and graphql-js are there; if not, a banner (and a failure under CI).
fn graphql_js_available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let package = audit_dir()
        .join("node_modules/graphql/package.json")
        .exists();
    if node && package {
        return true;
    }
    let why = if node {
        "tests/audit/node_modules/graphql is missing (npm ci --prefix tests/audit; scripts/test does it)"
    } else {
        "node is not installed"
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and the introspection test cannot run: {why}"
    );
    eprintln!(
        "\n************************************************************************\n\
         *  introspection: {why}.\n\
         *  The graphql-js introspection test is SKIPPED (it passes without running).\n\
         ************************************************************************\n"
    );
    false
}

/// Runs `node tests/audit/introspection.mjs <args>` with `stdin`; returns stdout, panicking
/// with stderr when node fails.
fn node(args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("node")
        .arg("introspection.mjs")
        .args(args)
        .current_dir(audit_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("node finishes");
    assert!(
        out.status.success(),
        "node introspection.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

async fn graphql_js_introspects_and_builds_a_client_schema(db: TestDb) {
    if !graphql_js_available() {
        return;
    }
    let app = TestApp::spawn(db).await;

    // The fixture the gateway's unit tests measure is what graphql-js sends today.
    let all = node(&["query", "all"], b"");
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/graphql-js-introspection.graphql"),
    )
    .expect("fixture");
    assert_eq!(
        fixture, all,
        "schema/graphql-js-introspection.graphql is stale: regenerate it with \
         `node tests/audit/introspection.mjs query all > schema/graphql-js-introspection.graphql`"
    );

    // At the defaults and with every option on, with the credential any request needs.
    let token = app.token(HEAD).await;
    for query in [node(&["query"], b""), all] {
        let (status, body) = app.gql(Some(&token), &query, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let summary = node(&["client"], body.to_string().as_bytes());
        assert!(
            summary.starts_with("client schema: ")
                && summary.contains("query Query, mutation Mutation, subscription Subscription"),
            "{summary}"
        );
    }
}

/// Introspection's own bounds are not a way around the data's.
async fn introspection_does_not_lift_the_data_limits(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(HEAD).await;
    // Real fields, 15 levels deep, beside a token introspection field.
    let hop = "partnerships(first: 1) { edges { node { members(first: 1) { edges { node {";
    let query = format!(
        "{{ __schema {{ types {{ name }} }} viewer {{ schools {{ {hop} {hop} id }} }} }} }} }} }} }} }} }} }} }} }} }} }} }}"
    );
    let (status, body) = app.gql(Some(&token), &query, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nests fields 15 deep")),
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");

    // Introspection that fans out over the schema again and again is refused on its own.
    let (status, body) = app
        .gql(
            Some(&token),
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(first_code(&body), "QUERY_TOO_COMPLEX", "{body}");
}

testkit::db_tests!(
    graphql_js_introspects_and_builds_a_client_schema,
    introspection_does_not_lift_the_data_limits
);
