//! The HTTP transport: GraphQL-over-HTTP rules, limits and health endpoints.

use crate::common;

use common::{HEAD, TestApp};
use reqwest::StatusCode;
use serde_json::json;
use testkit::TestDb;

async fn transport_follows_graphql_over_http(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(HEAD).await;
    let url = format!("{}/graphql", app.base);

    // GET runs queries…
    let res = app
        .client
        .get(&url)
        .query(&[("query", "{ viewer { scopes } }")])
        .header("accept", "application/graphql-response+json")
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("application/graphql-response+json")
    );

    // …but never mutations.
    let res = app
        .client
        .get(&url)
        .query(&[(
            "query",
            "mutation { apiKeyRevoke(input: { id: \"x\" }) { apiKey { id } } }",
        )])
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");

    // Fields come back in the order the query asked for them (the spec's SHOULD; clients
    // that stream-parse rely on it), whichever finishes first: `user` and `schools` each wait
    // on a batch of their own, so both orders are asked.
    for keys in [
        ["user", "role", "name", "schools", "urn"],
        ["schools", "urn", "name", "user", "role"],
    ] {
        let query = if keys[0] == "user" {
            "{ viewer { user { role name } schools { urn name } } }"
        } else {
            "{ viewer { schools { urn name } user { role name } } }"
        };
        let res = app
            .client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("post");
        let text = res.text().await.expect("body");
        let order: Vec<usize> = keys
            .iter()
            .map(|key| {
                let quoted = format!("\"{key}\"");
                text.find(&quoted)
                    .unwrap_or_else(|| panic!("{key} in {text}"))
            })
            .collect();
        assert!(
            order.is_sorted(),
            "response keys out of query order for {query}: {text}"
        );
    }

    // Wrong content type, malformed JSON, unacceptable Accept.
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body("query=x")
        .header("content-type", "text/plain")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .body("{")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("accept", "text/html")
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::NOT_ACCEPTABLE);

    // Legacy application/json clients get 200 even for validation failures.
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("accept", "application/json")
        .json(&json!({ "query": "{ nope }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::OK);

    // Oversized bodies are refused before parsing.
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({ "query": format!("{{ viewer {{ scopes }} }} # {huge}") }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Depth limit.
    let deep = format!(
        "{{ {}id{} }}",
        "node(id: \"x\") { ... on School { partnerships { edges { node { members { edges { node { "
            .repeat(3),
        " } } } } } } } } }".repeat(3)
    );
    let (status, body) = app.gql(Some(&token), &deep, json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn health_and_readiness(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let graphiql = app
        .client
        .get(format!("{}/graphiql", app.base))
        .send()
        .await
        .expect("graphiql");
    assert_eq!(graphiql.status(), StatusCode::OK);
    let id = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert!(
        id.headers().contains_key("x-request-id"),
        "every response carries a request id"
    );
}

testkit::db_tests!(transport_follows_graphql_over_http, health_and_readiness);
