//! Production sign-in: RS256 tokens from an OIDC issuer, checked against a JWKS that this
//! test serves itself, and mapped to Trellis users by email.

use crate::common;

use axum::Json;
use axum::routing::get;
use common::{HEAD, TestApp, first_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../crates/gateway/tests/fixtures"
);
const AUDIENCE: &str = "trellis-portal";

/// Serves discovery and the JWKS on a free port; returns the issuer URL.
async fn issuer() -> String {
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/test-only-jwks.json")).expect("jwks"),
    )
    .expect("json");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let discovery = json!({ "issuer": base, "jwks_uri": format!("{base}/jwks.json") });
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(discovery) }),
        )
        .route("/jwks.json", get(move || async move { Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, router).await.expect("issuer serves") });
    base
}

fn rs256(issuer: &str, email: &str, audience: &str) -> String {
    let pem = std::fs::read(format!("{FIXTURES}/test-only-rsa-2048.key.pem")).expect("key");
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("trellis-test-rsa".to_owned());
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "iss": issuer, "aud": audience, "sub": "oidc|12345", "email": email, "iat": now, "nbf": now, "exp": now + 600 });
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&pem).expect("rsa pem"),
    )
    .expect("sign")
}

async fn oidc_tokens_sign_in_known_users_only(db: TestDb) {
    let issuer = issuer().await;
    let mut config = common::config(&db);
    config.oidc_issuer = Some(issuer.clone());
    config.oidc_audience = Some(AUDIENCE.to_owned());
    let app = TestApp::spawn_with(db, config).await;
    let query = "{ viewer { user { email role } schools { name } } }";

    let (status, body) = app
        .gql(Some(&rs256(&issuer, HEAD, AUDIENCE)), query, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["user"]["role"], "SCHOOL_LEADER");
    assert_eq!(
        body["data"]["viewer"]["schools"][0]["name"],
        "Holly Park Primary School"
    );

    for (what, token) in [
        (
            "unknown person",
            rs256(&issuer, "stranger@elsewhere.example", AUDIENCE),
        ),
        ("wrong audience", rs256(&issuer, HEAD, "another-app")),
        (
            "wrong issuer",
            rs256("https://evil.example", HEAD, AUDIENCE),
        ),
    ] {
        let (status, body) = app.gql(Some(&token), query, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{what}");
    }
    // Trellis-minted tokens still work alongside OIDC (operators' `trellis token`).
    let local = app.token(HEAD).await;
    let (status, _) = app.gql(Some(&local), query, json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

testkit::db_tests!(oidc_tokens_sign_in_known_users_only);
