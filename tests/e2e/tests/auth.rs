//! Who may call, and the denials, over HTTP on SQLite and PostgreSQL.

use crate::common;

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

/// Every kind of school-owned record, read back through `nodes(ids:)` by each role, shows
/// exactly what its domain's rule allows: partnership staff every school's (finance none of
/// the people), a school's leaders their own school's records and billing, its staff their
/// own school's records but no billing, and nobody another user. The same ids asked one at a
/// time through `node(id:)` answer the same.
async fn nodes_answer_each_role_as_the_domain_rules_say(db: TestDb) {
    use std::collections::{HashMap, HashSet};

    use gateway::graphql::relay::GlobalId as _;
    use kernel::SchoolId;

    let config = common::config(&db);
    let p = common::Portal::spawn(db, &config).await;
    let conn = p.db.conn();
    let (holly, other) = (p.holly_park, p.other);

    // Every school's id, as an admin pages the directory.
    let mut schools: Vec<SchoolId> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = p
            .data(
                ADMIN,
                "query($after: String) { schools(first: 100, after: $after) {
                    edges { node { id } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        for edge in page["schools"]["edges"].as_array().expect("edges") {
            let id = common::uuid_of(edge["node"]["id"].as_str().expect("id"));
            schools.push(SchoolId::from_uuid(
                uuid::Uuid::parse_str(&id).expect("uuid"),
            ));
        }
        if page["schools"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["schools"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    assert!(schools.contains(&holly) && schools.contains(&other));

    // What each school holds, read as Trellis itself: (global id, kind, owning schools).
    let mut records: Vec<(String, &str, Vec<SchoolId>)> = Vec::new();
    let memberships = membership::memberships::of_schools(conn, &schools)
        .await
        .expect("memberships");
    for m in memberships.values().flatten() {
        records.push((
            m.id.to_global().to_string(),
            "Membership",
            vec![m.school_id],
        ));
    }
    let accounts = billing::ledger::accounts::accounts_of_schools(conn, &schools)
        .await
        .expect("accounts");
    let account_ids: Vec<_> = accounts.values().map(|a| a.id).collect();
    let owners: HashMap<_, _> = accounts
        .values()
        .map(|a| (a.id, a.school_ids.clone()))
        .collect();
    for a in accounts.values() {
        records.push((
            a.id.to_global().to_string(),
            "BillingAccount",
            a.school_ids.clone(),
        ));
    }
    let invoices = billing::ledger::invoices::invoices_of_accounts(conn, &account_ids)
        .await
        .expect("invoices");
    let invoice_ids: Vec<_> = invoices.values().flatten().map(|i| i.id).collect();
    for i in invoices.values().flatten() {
        records.push((
            i.id.to_global().to_string(),
            "Invoice",
            owners[&i.account_id].clone(),
        ));
    }
    let payments = billing::ledger::payments::payments_of_accounts(conn, &account_ids)
        .await
        .expect("payments");
    for pay in payments.values().flatten() {
        records.push((
            pay.id.to_global().to_string(),
            "Payment",
            owners[&pay.account_id].clone(),
        ));
    }
    let notes = billing::ledger::credit_notes::credit_notes_of_invoices(conn, &invoice_ids)
        .await
        .expect("credit notes");
    for n in notes.values().flatten() {
        records.push((
            n.id.to_global().to_string(),
            "CreditNote",
            owners[&n.account_id].clone(),
        ));
    }
    let bookings = traded::bookings_of_schools(conn, &schools)
        .await
        .expect("bookings");
    let booking_ids: Vec<_> = bookings.values().flatten().map(|b| b.id).collect();
    let booked_by: HashMap<_, _> = bookings
        .values()
        .flatten()
        .map(|b| (b.id, b.school_id))
        .collect();
    for b in bookings.values().flatten() {
        records.push((b.id.to_global().to_string(), "Booking", vec![b.school_id]));
    }
    let attendees = traded::attendees_of_bookings(conn, &booking_ids)
        .await
        .expect("attendees");
    for a in attendees.values().flatten() {
        records.push((
            a.id.to_global().to_string(),
            "Attendee",
            vec![booked_by[&a.booking_id]],
        ));
    }
    // Keep the list short enough to read: Holly Park's and Monkfrith's, and a few others'.
    let mut others_kept: HashMap<&str, usize> = HashMap::new();
    records.retain(|(_, kind, owners)| {
        if owners.contains(&holly) || owners.contains(&other) {
            return true;
        }
        let kept = others_kept.entry(kind).or_default();
        *kept += 1;
        *kept <= 3
    });
    let kinds: HashSet<&str> = records.iter().map(|(_, kind, _)| *kind).collect();
    for kind in [
        "Membership",
        "BillingAccount",
        "Invoice",
        "Payment",
        "Booking",
        "Attendee",
    ] {
        assert!(
            records
                .iter()
                .any(|(_, k, o)| *k == kind && o.contains(&holly)),
            "Holly Park has a {kind}"
        );
        assert!(
            records
                .iter()
                .any(|(_, k, o)| *k == kind && !o.contains(&holly)),
            "another school has a {kind}"
        );
    }
    assert!(kinds.contains("CreditNote"), "{kinds:?}");
    // People: each user sees their own record and nobody else's, unless they manage users.
    let user_of = async |email: &str| {
        membership::people::users::find_active_by_email(conn, email)
            .await
            .expect("lookup")
            .expect("user")
            .id
            .to_global()
            .to_string()
    };
    let people: Vec<(String, &str)> = vec![
        (user_of(ADMIN).await, ADMIN),
        (user_of(HEAD).await, HEAD),
        (user_of(STAFF).await, STAFF),
    ];

    const NODES: &str = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }";
    const NODE: &str = "query($id: ID!) { node(id: $id) { id } }";
    for (who, staff, billing, own) in [
        (ADMIN, true, true, vec![]),
        (FINANCE, true, true, vec![]),
        (HEAD, false, true, vec![holly]),
        (STAFF, false, false, vec![holly]),
        (common::OTHER_HEAD, false, true, vec![other]),
    ] {
        let sees_school = |owners: &[SchoolId]| staff || owners.iter().any(|s| own.contains(s));
        let mut expected: Vec<Option<String>> = records
            .iter()
            .map(|(id, kind, owners)| {
                let visible = match *kind {
                    "BillingAccount" | "Invoice" | "Payment" | "CreditNote" => {
                        billing && sees_school(owners)
                    }
                    _ => sees_school(owners),
                };
                visible.then(|| id.clone())
            })
            .collect();
        expected.extend(
            people
                .iter()
                .map(|(id, email)| (who == ADMIN || who == *email).then(|| id.clone())),
        );
        let ids: Vec<String> = records
            .iter()
            .map(|(id, _, _)| id.clone())
            .chain(people.iter().map(|(id, _)| id.clone()))
            .collect();
        let mut answered: Vec<Option<String>> = Vec::new();
        for chunk in ids.chunks(100) {
            let data = p.data(who, NODES, json!({ "ids": chunk })).await;
            answered.extend(
                data["nodes"]
                    .as_array()
                    .expect("a list, one per id")
                    .iter()
                    .map(|n| n["id"].as_str().map(str::to_owned)),
            );
        }
        let wrong: Vec<String> = ids
            .iter()
            .zip(answered.iter().zip(&expected))
            .filter(|(_, (got, want))| got != want)
            .map(|(id, (got, want))| {
                let kind = records
                    .iter()
                    .find(|(r, _, _)| r == id)
                    .map_or("User", |(_, k, _)| *k);
                format!(
                    "{kind} {id}: shown {}, should be {}",
                    got.is_some(),
                    want.is_some()
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{who}:\n{}", wrong.join("\n"));
        // One at a time, the same answers (a sample of each kind).
        let mut asked: HashSet<&str> = HashSet::new();
        for ((id, kind, _), want) in records.iter().zip(&expected) {
            if asked.insert(kind) {
                let data = p.data(who, NODE, json!({ "id": id })).await;
                assert_eq!(
                    data["node"]["id"].as_str().map(str::to_owned),
                    *want,
                    "{who}: node({kind})"
                );
            }
        }
    }
}

/// Up to five seconds for a change made outside the app to reach it: on PostgreSQL it
/// comes as a NOTIFY, which the app hears a moment after the change commits.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("{what}: not seen after 5 s");
}

/// On PostgreSQL a signed-in user's role and schools are read once and kept; a change made
/// anywhere else (here straight in the database, as another replica, the CLI or psql would)
/// reaches the next requests as soon as its notification arrives. SQLite reads every time.
async fn kept_sign_ins_follow_changes_made_elsewhere(mut db: TestDb) {
    let postgres = db.backend() == testkit::Backend::Postgres;
    let counter = db.count_statements();
    let app = TestApp::spawn(db).await;
    let (head, staff) = (app.token(HEAD).await, app.token(STAFF).await);

    let _ = app.gql(Some(&staff), "{ __typename }", json!({})).await;
    counter.reset();
    let (status, _) = app.gql(Some(&staff), "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counter.get(),
        usize::from(!postgres),
        "a second request reads its user on SQLite only"
    );

    // A school link removed behind the app's back (user_schools' trigger).
    let data = app.data_as(HEAD, VIEWER, json!({})).await;
    assert_eq!(
        data["viewer"]["schools"][0]["name"],
        "Holly Park Primary School"
    );
    let user = membership::people::users::find_active_by_email(app.db.conn(), HEAD)
        .await
        .expect("q")
        .expect("head");
    let unlink = sea_orm::Statement::from_sql_and_values(
        app.db.conn().get_database_backend(),
        "DELETE FROM user_schools WHERE user_id = $1",
        [user.id.as_uuid().into()],
    );
    sea_orm::ConnectionTrait::execute_raw(app.db.conn(), unlink)
        .await
        .expect("unlink");
    eventually("the head's school removed", || async {
        let (_, body) = app.gql(Some(&head), VIEWER, json!({})).await;
        body["data"]["viewer"]["schools"] == json!([])
    })
    .await;

    // A user deactivated by another writer (users' trigger).
    let user = membership::people::users::find_active_by_email(app.db.conn(), STAFF)
        .await
        .expect("q")
        .expect("staff");
    membership::people::users::update(
        app.db.conn(),
        &kernel::SystemClock,
        &kernel::Actor::System,
        user.id,
        membership::people::UserChanges {
            active: Some(false),
            ..Default::default()
        },
    )
    .await
    .expect("deactivate");
    eventually("the deactivated user refused", || async {
        let (status, _) = app.gql(Some(&staff), "{ __typename }", json!({})).await;
        status == StatusCode::UNAUTHORIZED
    })
    .await;
}

testkit::db_tests!(
    anonymous_and_bad_tokens_are_unauthenticated,
    kept_sign_ins_follow_changes_made_elsewhere,
    roles_come_from_the_users_table,
    only_admins_manage_users_and_keys,
    api_keys_are_scoped_and_revocable,
    nodes_hide_what_callers_may_not_see,
    nodes_answer_each_role_as_the_domain_rules_say,
);
