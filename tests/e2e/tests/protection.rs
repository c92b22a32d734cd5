//! Protecting the service, over HTTP: per-caller and per-address rate limits with the IETF
//! draft's `RateLimit`/`RateLimit-Policy` headers, `Retry-After` and 429; automatic persisted
//! queries (Apollo APQ); the cost of a request reported when asked.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, TestApp, first_code};
use gateway::Config;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use testkit::TestDb;

const WHO: &str = "{ viewer { user { name } } }";

async fn post(app: &TestApp, bearer: Option<&str>, body: &Value) -> (StatusCode, HeaderMap, Value) {
    let mut req = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("accept", "application/graphql-response+json")
        .json(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.json().await.expect("JSON body"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .expect("ASCII")
}

/// A user gets their burst, then 429 with `Retry-After` and a coded error; the headers count
/// down on the way; another user and an API key have buckets of their own; requests that do not
/// sign in are limited per address.
async fn callers_are_limited_per_user_per_key_and_per_address(db: TestDb) {
    let config = Config {
        rate_limit_per_min: 6,
        rate_limit_burst: 3,
        rate_limit_anonymous_per_min: 2,
        rate_limit_anonymous_burst: 2,
        ..common::config(&db)
    };
    let app = TestApp::spawn_with(db, config).await;
    let head = app.token(HEAD).await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (status, headers, body) = post(&app, Some(&head), &json!({ "query": WHO })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(header(&headers, "ratelimit-policy"), "\"caller\";q=6;w=60");
        remaining.push(header(&headers, "ratelimit").to_owned());
        assert!(headers.get("retry-after").is_none());
    }
    // Refilled at one every 10 s: after the first, 2 left and 10 s to full.
    assert_eq!(remaining[0], "\"caller\";r=2;t=10");
    assert_eq!(remaining[2], "\"caller\";r=0;t=30");

    let (status, headers, body) = post(&app, Some(&head), &json!({ "query": WHO })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(first_code(&body), "RATE_LIMITED");
    let retry: u64 = header(&headers, "retry-after").parse().expect("seconds");
    assert!((1..=10).contains(&retry), "{retry}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry);
    assert_eq!(
        header(&headers, "ratelimit"),
        format!("\"caller\";r=0;t={retry}")
    );
    assert!(body.get("data").is_none(), "nothing ran: {body}");

    // The same user with another token is the same caller; another user is not.
    let again = app.token(HEAD).await;
    let (status, _, _) = post(&app, Some(&again), &json!({ "query": WHO })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let finance = app.token(FINANCE).await;
    let (status, _, body) = post(&app, Some(&finance), &json!({ "query": WHO })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // An API key is a caller of its own, whoever made it.
    let admin = app.token(ADMIN).await;
    let (_, _, created) = post(
        &app,
        Some(&admin),
        &json!({ "query": "mutation { apiKeyCreate(input: { name: \"Limits\", scopes: [DIRECTORY_READ] }) { secret } }" }),
    )
    .await;
    let key = created["data"]["apiKeyCreate"]["secret"]
        .as_str()
        .expect("key")
        .to_owned();
    let (status, _, body) = post(
        &app,
        Some(&key),
        &json!({ "query": "{ viewer { scopes } }" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Without a valid credential: 401s charged to the address, then 429.
    for bearer in [None, Some("trl_not-a-key")] {
        let (status, headers, body) = post(&app, bearer, &json!({ "query": WHO })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            header(&headers, "ratelimit-policy"),
            "\"anonymous\";q=2;w=60"
        );
    }
    let (status, headers, body) = post(&app, None, &json!({ "query": WHO })).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(first_code(&body), "RATE_LIMITED");
    assert!(
        header(&headers, "retry-after")
            .parse::<u64>()
            .expect("seconds")
            >= 1
    );
    // Signed-in callers from the same address are not held back by it.
    let (status, _, body) = post(&app, Some(&finance), &json!({ "query": WHO })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A fresh server's defaults limit, and zero turns the limits off.
async fn the_defaults_limit_and_zero_turns_them_off(db: TestDb) {
    let defaults = Config::default();
    assert!(defaults.rate_limit_per_min > 0 && defaults.rate_limit_anonymous_per_min > 0);
    let config = Config {
        rate_limit_per_min: defaults.rate_limit_per_min,
        rate_limit_burst: defaults.rate_limit_burst,
        ..common::config(&db)
    };
    let app = TestApp::spawn_with(db, config).await;
    let head = app.token(HEAD).await;
    let (_, headers, _) = post(&app, Some(&head), &json!({ "query": WHO })).await;
    assert_eq!(
        header(&headers, "ratelimit-policy"),
        format!("\"caller\";q={};w=60", defaults.rate_limit_per_min)
    );
    // The test configuration turns them off: no headers at all.
    let off = TestApp::spawn(TestDb::sqlite().await).await;
    let head = off.token(HEAD).await;
    let (_, headers, _) = post(&off, Some(&head), &json!({ "query": WHO })).await;
    assert!(headers.get("ratelimit").is_none(), "{headers:?}");
}

fn sha256_hex(text: &str) -> String {
    // The e2e crate has no SHA-256 of its own: the gateway's is the one APQ uses, and the
    // test below checks it against a known digest first.
    gateway::http::persisted::hash(text)
}

/// Hash only → `PersistedQueryNotFound`; hash with the query registers it; hash only then
/// runs it, over POST and GET; a wrong hash and a persisted mutation over GET are refused.
async fn automatic_persisted_queries(db: TestDb) {
    assert_eq!(
        sha256_hex("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "the SHA-256 of \"abc\" (FIPS 180-2)"
    );
    let app = TestApp::spawn(db).await;
    let head = app.token(HEAD).await;
    let query = "query Who { viewer { user { name role } } }";
    let hash = sha256_hex(query);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });

    let (status, _, body) = post(&app, Some(&head), &json!({ "extensions": ext })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(first_code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");

    // A hash that is not the query's is refused, and registers nothing.
    let wrong = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("{ x }") } });
    let (status, _, body) = post(
        &app,
        Some(&head),
        &json!({ "query": query, "extensions": wrong }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(first_code(&body), "BAD_REQUEST");

    let (status, _, body) = post(
        &app,
        Some(&head),
        &json!({ "query": query, "extensions": ext }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["user"]["role"], "SCHOOL_LEADER");

    // Now the hash alone runs it, for anyone signed in, over POST and GET.
    let finance = app.token(FINANCE).await;
    let (status, _, body) = post(&app, Some(&finance), &json!({ "extensions": ext })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["user"]["role"], "FINANCE");
    let res = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("extensions", ext.to_string())])
        .bearer_auth(&head)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("JSON");
    assert_eq!(
        body["data"]["viewer"]["user"]["role"], "SCHOOL_LEADER",
        "{body}"
    );

    // A document refused by validation is not remembered.
    let invalid = "{ nope }";
    let invalid_ext =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(invalid) } });
    let (status, _, _) = post(
        &app,
        Some(&head),
        &json!({ "query": invalid, "extensions": invalid_ext }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, _, body) = post(&app, Some(&head), &json!({ "extensions": invalid_ext })).await;
    assert_eq!(first_code(&body), "PERSISTED_QUERY_NOT_FOUND", "{body}");

    // A persisted mutation still may not run over GET.
    let admin = app.token(ADMIN).await;
    let mutation = "mutation { notificationMarkRead(input: { ids: [] }) { userErrors { code } } }";
    let m_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(mutation) } });
    let (status, _, body) = post(
        &app,
        Some(&admin),
        &json!({ "query": mutation, "extensions": m_ext }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let res = app
        .client
        .get(format!("{}/graphql", app.base))
        .query(&[("extensions", m_ext.to_string())])
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// `extensions: {"cost": true}` reports the complexity and depth the limits measure, and
/// grows with `first:`; nothing is reported unless asked.
async fn the_cost_is_reported_when_asked(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let admin = app.token(ADMIN).await;
    let cost = |first: u32| {
        json!({
            "query": format!("{{ schools(first: {first}) {{ edges {{ node {{ name }} }} }} }}"),
            "extensions": { "cost": true },
        })
    };
    let (status, _, body) = post(&app, Some(&admin), &cost(100)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The README's worked example: 1 + 100 × (edges + node + name) = 301.
    assert_eq!(body["extensions"]["cost"]["complexity"], 301, "{body}");
    assert_eq!(body["extensions"]["cost"]["depth"], 4, "{body}");
    assert_eq!(
        body["extensions"]["cost"]["maxComplexity"],
        Config::default().max_complexity
    );
    assert_eq!(
        body["extensions"]["cost"]["maxDepth"],
        Config::default().max_depth
    );
    let (_, _, body) = post(&app, Some(&admin), &cost(10)).await;
    assert_eq!(body["extensions"]["cost"]["complexity"], 31, "{body}");

    let (_, _, body) = post(&app, Some(&admin), &json!({ "query": WHO })).await;
    assert!(body.get("extensions").is_none(), "not asked: {body}");
    let (_, _, body) = post(
        &app,
        Some(&admin),
        &json!({ "query": WHO, "extensions": { "cost": false } }),
    )
    .await;
    assert!(body.get("extensions").is_none(), "not asked: {body}");
}

testkit::db_tests!(
    callers_are_limited_per_user_per_key_and_per_address,
    the_defaults_limit_and_zero_turns_them_off,
    automatic_persisted_queries,
    the_cost_is_reported_when_asked
);
