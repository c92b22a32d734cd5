//! Who may call, and the denials, over HTTP on SQLite and PostgreSQL.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ADMIN, FINANCE, HEAD, STAFF, TestApp, first_code};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const VIEWER: &str = "{ viewer { user { email role schools { name } } scopes schools { name } } }";

async fn anonymous_and_bad_tokens_are_unauthenticated(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (status, body) = app.gql(None, VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(first_code(&body), "UNAUTHENTICATED");

    let user = membership::people::users::find_active_by_email(app.db.conn(), HEAD)
        .await
        .expect("q")
        .expect("user");
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, aud: &str| json!({ "sub": user.id.to_string(), "email": HEAD, "iss": "trellis", "aud": aud, "iat": now - 7200, "nbf": now - 7200, "exp": exp });
    let sign = |claims: &Value, secret: &str| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("sign")
    };
    let expired = sign(&claims(now - 3600, "trellis"), &app.secret);
    let wrong_signature = sign(
        &claims(now + 3600, "trellis"),
        "another-secret-entirely-0123456789",
    );
    let wrong_audience = sign(&claims(now + 3600, "someone-else"), &app.secret);
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(now + 3600, "trellis").to_string())
    );
    for (what, token) in [
        ("garbage", "not-a-token".to_owned()),
        ("expired", expired),
        ("wrong signature", wrong_signature),
        ("wrong audience", wrong_audience),
        ("alg none", alg_none),
        ("unknown API key", "trl_thisKeyWasNeverIssued".to_owned()),
    ] {
        let (status, body) = app.gql(Some(&token), VIEWER, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(first_code(&body), "UNAUTHENTICATED", "{what}");
    }

    // A valid token for a user who has since been deactivated is refused too.
    let admin = app.token(ADMIN).await;
    let staff_token = app.token(STAFF).await;
    let staff = membership::people::users::find_active_by_email(app.db.conn(), STAFF)
        .await
        .expect("q")
        .expect("u");
    let id = gateway::graphql::relay::GlobalId::to_global(staff.id);
    let (_, body) = app
        .gql(Some(&admin), "mutation($id: ID!) { userUpdate(input: { id: $id, active: false }) { user { active } } }", json!({ "id": id }))
        .await;
    assert_eq!(
        body["data"]["userUpdate"]["user"]["active"], false,
        "{body}"
    );
    let (status, _) = app.gql(Some(&staff_token), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn roles_come_from_the_users_table(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let data = app.data_as(HEAD, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["user"]["role"], "SCHOOL_LEADER");
    assert_eq!(
        data["viewer"]["schools"][0]["name"],
        "Holly Park Primary School"
    );

    // A token that claims admin in its own claims is still the head it names.
    let user = membership::people::users::find_active_by_email(app.db.conn(), HEAD)
        .await
        .expect("q")
        .expect("u");
    let now = chrono::Utc::now().timestamp();
    let forged_role = encode(
        &Header::new(Algorithm::HS256),
        &json!({ "sub": user.id.to_string(), "email": HEAD, "role": "PARTNERSHIP_ADMIN", "iss": "trellis", "aud": "trellis", "iat": now, "nbf": now, "exp": now + 600 }),
        &EncodingKey::from_secret(app.secret.as_bytes()),
    )
    .expect("sign");
    let (_, body) = app
        .gql(Some(&forged_role), "{ users { totalCount } }", json!({}))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

async fn only_admins_manage_users_and_keys(db: TestDb) {
    let app = TestApp::spawn(db).await;
    for who in [FINANCE, HEAD, STAFF] {
        let token = app.token(who).await;
        for query in [
            "{ users { totalCount } }",
            "{ apiKeys { totalCount } }",
            "mutation { apiKeyCreate(input: { name: \"x\", scopes: [DIRECTORY_READ] }) { secret } }",
            "mutation { userCreate(input: { email: \"x@y.example\", name: \"X\", role: FINANCE }) { user { id } } }",
        ] {
            let (_, body) = app.gql(Some(&token), query, json!({})).await;
            assert_eq!(first_code(&body), "FORBIDDEN", "{who} {query}: {body}");
        }
    }
    let data = app
        .data_as(
            ADMIN,
            "{ users(first: 10) { totalCount edges { node { email role } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["users"]["totalCount"], 4);

    // User rules: school roles need a school; emails are unique.
    let made = app
        .data_as(ADMIN, "mutation { userCreate(input: { email: \"new@x.example\", name: \"New\", role: SCHOOL_STAFF }) { user { id } userErrors { field code } } }", json!({}))
        .await;
    assert_eq!(
        made["userCreate"]["userErrors"][0]["code"], "REQUIRED",
        "{made}"
    );
    let dup = app
        .data_as(ADMIN, "mutation { userCreate(input: { email: \"ADMIN@trellis.example\", name: \"Dup\", role: FINANCE }) { user { id } userErrors { field code } } }", json!({}))
        .await;
    assert_eq!(dup["userCreate"]["userErrors"][0]["code"], "TAKEN", "{dup}");
}

async fn api_keys_are_scoped_and_revocable(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let created = app
        .data_as(ADMIN, "mutation { apiKeyCreate(input: { name: \"Portal\", scopes: [DIRECTORY_READ] }) { secret apiKey { id prefix scopes } userErrors { code } } }", json!({}))
        .await;
    let secret = created["apiKeyCreate"]["secret"]
        .as_str()
        .expect("secret shown once")
        .to_owned();
    assert!(secret.starts_with("trl_"));
    assert!(
        secret.starts_with(
            created["apiKeyCreate"]["apiKey"]["prefix"]
                .as_str()
                .expect("prefix")
        )
    );
    let key_id = created["apiKeyCreate"]["apiKey"]["id"].clone();

    let (status, body) = app
        .gql(
            Some(&secret),
            "{ viewer { user { email } scopes } schools(first: 3) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["scopes"], json!(["DIRECTORY_READ"]));
    assert!(body["data"]["schools"]["totalCount"].as_i64().expect("n") > 100);

    // directory:read does not reach users, keys or writes.
    for query in [
        "{ users { totalCount } }",
        "mutation { partnershipCreate(input: { name: \"K\", kind: LOOSE, area: \"A\" }) { partnership { id } } }",
    ] {
        let (_, body) = app.gql(Some(&secret), query, json!({})).await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{query}: {body}");
    }
    let listed = app
        .data_as(
            ADMIN,
            "{ apiKeys { edges { node { name lastUsedAt } } } }",
            json!({}),
        )
        .await;
    assert!(
        listed["apiKeys"]["edges"][0]["node"]["lastUsedAt"].is_string(),
        "last use recorded: {listed}"
    );

    let no_scopes = app.data_as(ADMIN, "mutation { apiKeyCreate(input: { name: \"None\", scopes: [] }) { secret userErrors { code } } }", json!({})).await;
    assert_eq!(
        no_scopes["apiKeyCreate"]["userErrors"][0]["code"],
        "REQUIRED"
    );
    assert_eq!(no_scopes["apiKeyCreate"]["secret"], Value::Null);

    let revoke = "mutation($id: ID!) { apiKeyRevoke(input: { id: $id }) { apiKey { revokedAt } userErrors { code } } }";
    let revoked = app.data_as(ADMIN, revoke, json!({ "id": key_id })).await;
    assert!(revoked["apiKeyRevoke"]["apiKey"]["revokedAt"].is_string());
    let (status, body) = app
        .gql(Some(&secret), "{ schools { totalCount } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .contains("revoked"),
        "{body}"
    );
    let again = app.data_as(ADMIN, revoke, json!({ "id": key_id })).await;
    assert_eq!(again["apiKeyRevoke"]["userErrors"][0]["code"], "CONFLICT");
}

async fn nodes_hide_what_callers_may_not_see(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin_user = membership::people::users::find_active_by_email(app.db.conn(), ADMIN)
        .await
        .expect("q")
        .expect("u");
    let id = gateway::graphql::relay::GlobalId::to_global(admin_user.id);
    let q = "query($id: ID!) { node(id: $id) { id ... on User { email } } }";
    let as_head = app.data_as(HEAD, q, json!({ "id": id })).await;
    assert_eq!(
        as_head["node"],
        Value::Null,
        "a head cannot read another user"
    );
    let as_admin = app.data_as(ADMIN, q, json!({ "id": id })).await;
    assert_eq!(as_admin["node"]["email"], ADMIN);
}

testkit::db_tests!(
    anonymous_and_bad_tokens_are_unauthenticated,
    roles_come_from_the_users_table,
    only_admins_manage_users_and_keys,
    api_keys_are_scoped_and_revocable,
    nodes_hide_what_callers_may_not_see,
);
