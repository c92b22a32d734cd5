//! Horizontal scale: real `trellis serve` processes on one database. A subscription on one
//! replica receives a change made through another (LISTEN/NOTIFY), and a job slot that
//! every replica reaches runs once. Multi-process tests need PostgreSQL; without
//! TRELLIS_TEST_POSTGRES_URL they are skipped as testkit skips every PostgreSQL test.

#![allow(
    clippy::float_cmp,
    clippy::cast_precision_loss,
    reason = "metric values are small integers, exact in f64"
)]

use crate::common;

use std::time::Duration;

use common::{FINANCE, HEAD, Server, Subscriber, value};
use serde_json::{Value, json};
use testkit::TestDb;

const UPDATED: &str = "subscription Updated($account: ID) { invoiceUpdated(accountId: $account) { id status credited { amountPence } } }";
const OPEN: &str = "query Open { invoices(first: 50, filter: { statuses: [OPEN, PARTIALLY_PAID] }) { nodes { id account { id } } } }";
const CREDIT: &str = "mutation Credit($id: ID!) { creditNoteCreate(input: { invoiceId: $id, reason: \"goodwill\", amountPence: 100 }) { creditNote { id } userErrors { code message } } }";
const WAIT: Duration = Duration::from_secs(10);

fn secret() -> String {
    format!("test-secret-{}", uuid::Uuid::now_v7().simple())
}

async fn seed(db: &TestDb) {
    membership::demo::seed(db.conn(), &kernel::SystemClock)
        .await
        .expect("demo");
    billing::demo::seed(db.conn(), &kernel::SystemClock)
        .await
        .expect("billing demo");
}

/// (invoice id, account id) of open invoices visible to `token`.
async fn open_invoices(server: &Server, token: &str) -> Vec<(String, String)> {
    let (_, body) = server.gql(Some(token), None, OPEN, json!({})).await;
    body["data"]["invoices"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|n| {
            (
                n["id"].as_str().expect("id").to_owned(),
                n["account"]["id"].as_str().expect("account").to_owned(),
            )
        })
        .collect()
}

async fn credit(server: &Server, token: &str, invoice: &str) {
    let (_, body) = server
        .gql(Some(token), None, CREDIT, json!({ "id": invoice }))
        .await;
    assert!(
        body["data"]["creditNoteCreate"]["creditNote"]["id"].is_string(),
        "{body}"
    );
}

async fn next_invoice(subscriber: &mut Subscriber) -> Value {
    let message = subscriber
        .message(WAIT)
        .await
        .expect("an invoiceUpdated message");
    assert_eq!(message["type"], "next", "{message}");
    message["payload"]["data"]["invoiceUpdated"].clone()
}

async fn invoice_updates_reach_subscribers_on_another_replica(db: TestDb) {
    seed(&db).await;
    let secret = secret();
    let env = [("TRELLIS_DEMO", "false")];
    let a = common::spawn(db.url(), &secret, &env).await;
    let b = if db.backend() == testkit::Backend::Postgres {
        Some(common::spawn(db.url(), &secret, &env).await)
    } else {
        None // SQLite is one process: the in-process bus, same assertions.
    };
    let writer = b.as_ref().unwrap_or(&a);
    let finance = a.token(db.conn(), FINANCE).await;
    let head = a.token(db.conn(), HEAD).await;

    let own = open_invoices(writer, &head).await;
    let (head_invoice, head_account) = own
        .first()
        .cloned()
        .expect("the head's school has an unsettled invoice");
    let (other_invoice, other_account) = open_invoices(writer, &finance)
        .await
        .into_iter()
        .find(|(_, account)| *account != head_account)
        .expect("another account has an open invoice");

    // A bad credential never gets to subscribe.
    assert!(
        a.subscribe("not-a-token", UPDATED, json!({}))
            .await
            .is_err()
    );
    // Nor does a head asking for another school's account.
    let mut refused = a
        .subscribe(&head, UPDATED, json!({ "account": other_account }))
        .await
        .expect("connects");
    // async-graphql reports a failed subscription field as a `next` carrying the error.
    let error = refused.message(WAIT).await.expect("an error message");
    assert_eq!(error["payload"]["data"], Value::Null, "{error}");
    assert_eq!(
        error["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{error}"
    );

    let mut all = a
        .subscribe(&finance, UPDATED, json!({}))
        .await
        .expect("finance subscribes");
    let mut mine = a
        .subscribe(&head, UPDATED, json!({}))
        .await
        .expect("head subscribes");
    let mut one_account = a
        .subscribe(&finance, UPDATED, json!({ "account": head_account }))
        .await
        .expect("finance subscribes to one account");

    // Changed through the other replica.
    credit(writer, &finance, &other_invoice).await;
    let seen = next_invoice(&mut all).await;
    assert_eq!(seen["id"], other_invoice.as_str());
    assert!(
        seen["credited"]["amountPence"]
            .as_i64()
            .is_some_and(|p| p >= 100),
        "{seen}"
    );

    credit(writer, &finance, &head_invoice).await;
    assert_eq!(next_invoice(&mut all).await["id"], head_invoice.as_str());
    // The head's first message is their own invoice: the other school's never reached them.
    assert_eq!(next_invoice(&mut mine).await["id"], head_invoice.as_str());
    assert_eq!(
        next_invoice(&mut one_account).await["id"],
        head_invoice.as_str()
    );

    if let Some(b) = &b {
        let published = |s: &[common::Sample]| value(s, "trellis_events_published_total", &[]);
        assert_eq!(published(&b.scrape().await), Some(2.0), "B published both");
        let received = value(&a.scrape().await, "trellis_events_received_total", &[]);
        assert!(
            received.is_some_and(|r| r >= 2.0),
            "A received them: {received:?}"
        );
        assert_eq!(
            value(
                &a.scrape().await,
                "trellis_graphql_subscriptions_active",
                &[]
            ),
            Some(3.0)
        );
    }
}

async fn a_job_slot_both_replicas_reach_runs_once(db: TestDb) {
    if db.backend() != testkit::Backend::Postgres {
        return; // one process on SQLite; the slot claim itself is tested in tests/jobs.rs
    }
    seed(&db).await;
    let secret = secret();
    let env = [
        ("TRELLIS_DEMO", "false"),
        ("TRELLIS_JOBS", "true"),
        ("TRELLIS_JOBS_INTERVAL_SECS", "2"),
    ];
    let (a, b) = (
        common::spawn(db.url(), &secret, &env).await,
        common::spawn(db.url(), &secret, &env).await,
    );
    // Let both tick a few slots, then read counters and rows in the quiet middle of a slot.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let now = chrono::Utc::now();
    let into_slot =
        now.timestamp_subsec_millis() + 1000 * u32::try_from(now.timestamp() % 2).expect("0 or 1");
    let settle = if into_slot < 700 {
        700 - into_slot
    } else if into_slot > 1500 {
        2700 - into_slot
    } else {
        0
    };
    tokio::time::sleep(Duration::from_millis(u64::from(settle))).await;
    let (sa, sb) = (a.scrape().await, b.scrape().await);
    let rows = db
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n, COUNT(DISTINCT (job, slot)) AS d, COUNT(DISTINCT runner) AS r FROM job_runs".to_owned(),
        ))
        .await
        .expect("count")
        .expect("row");
    let n: i64 = rows.try_get("", "n").expect("n");
    let distinct: i64 = rows.try_get("", "d").expect("d");
    let ticks = |s: &[common::Sample], outcome: &str| -> f64 {
        s.iter()
            .filter(|x| x.name == "trellis_job_ticks_total" && x.label("outcome") == Some(outcome))
            .map(|x| x.value)
            .sum()
    };
    let ran = ticks(&sa, "ran") + ticks(&sb, "ran");
    let lost = ticks(&sa, "taken") + ticks(&sb, "taken") + ticks(&sa, "busy") + ticks(&sb, "busy");
    assert_eq!(n, distinct, "one row per job and slot");
    assert!(n >= 4, "two jobs over at least two slots: {n}");
    assert_eq!(ran, n as f64, "every row is one run, by one replica");
    assert!(
        lost >= 2.0,
        "the other replica reached the same slots and stood down: {lost}"
    );
    assert_eq!(ticks(&sa, "failed") + ticks(&sb, "failed"), 0.0);
}

async fn a_webhook_delivered_to_every_replica_is_stored_once(db: TestDb) {
    if db.backend() != testkit::Backend::Postgres {
        return; // one process on SQLite; replays on one replica are tested in tests/e2e
    }
    let secret = secret();
    let hook_secret = "whsec_replicas";
    let env = [
        ("TRELLIS_DEMO", "false"),
        ("TRELLIS_STRIPE_SECRET_KEY", "sk_test_replicas"),
        ("TRELLIS_STRIPE_WEBHOOK_SECRET", hook_secret),
        // Nothing is called at Stripe for an event type Trellis does not act on.
        ("TRELLIS_STRIPE_API_BASE", "http://127.0.0.1:9"),
    ];
    let (a, b) = (
        common::spawn(db.url(), &secret, &env).await,
        common::spawn(db.url(), &secret, &env).await,
    );
    let created = chrono::Utc::now().timestamp() - 30;
    let event = json!({
        "id": format!("evt_{}", uuid::Uuid::now_v7().simple()),
        "object": "event",
        "type": "customer.updated",
        "created": created,
        "data": { "object": { "id": "cus_replicas", "object": "customer" } },
    })
    .to_string();
    let signature = billing::stripe_events::sign(event.as_bytes(), hook_secret, created + 30);
    let client = reqwest::Client::new();
    let deliver = |server: &Server| {
        client
            .post(format!("{}/webhooks/stripe", server.base))
            .header("Stripe-Signature", signature.clone())
            .header("Content-Type", "application/json")
            .body(event.clone())
            .send()
    };
    // Stripe's retries and a load balancer can hand one event to two replicas at once.
    let (ra, rb) = tokio::join!(deliver(&a), deliver(&b));
    let mut outcomes: Vec<String> = Vec::new();
    for response in [ra, rb] {
        let response = response.expect("delivered");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        outcomes.push(body["outcome"].as_str().expect("outcome").to_owned());
    }
    // The first stores and applies it; the other either finds it settled (replayed) or, still
    // RECEIVED, applies it again, which the effects' idempotency keys make harmless.
    assert!(
        outcomes.iter().any(|o| o == "ignored")
            && outcomes.iter().all(|o| o == "ignored" || o == "replayed"),
        "{outcomes:?}"
    );
    let rows = db
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM stripe_events".to_owned(),
        ))
        .await
        .expect("count")
        .expect("row");
    assert_eq!(rows.try_get::<i64>("", "n").expect("n"), 1);

    // Both replicas report the delivery and its lag (about 30 s) on /metrics.
    let lag = "trellis_stripe_webhook_lag_seconds_count";
    let seen: f64 = [a.scrape().await, b.scrape().await]
        .iter()
        .map(|s| {
            value(s, lag, &[("outcome", "ignored")]).unwrap_or(0.0)
                + value(s, lag, &[("outcome", "replayed")]).unwrap_or(0.0)
        })
        .sum();
    assert_eq!(seen, 2.0);
    let sum: f64 = [a.scrape().await, b.scrape().await]
        .iter()
        .flat_map(|s| {
            ["ignored", "replayed"].map(|o| {
                value(
                    s,
                    "trellis_stripe_webhook_lag_seconds_sum",
                    &[("outcome", o)],
                )
                .unwrap_or(0.0)
            })
        })
        .sum();
    assert!(
        (50.0..600.0).contains(&sum),
        "two deliveries about 30 s late: {sum}"
    );

    // A forged delivery is refused by either replica and not observed.
    let response = client
        .post(format!("{}/webhooks/stripe", b.base))
        .header("Stripe-Signature", format!("t={},v1=00", created + 30))
        .body(event.clone())
        .send()
        .await
        .expect("delivered");
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
}

use sea_orm::ConnectionTrait as _;

testkit::db_tests!(
    invoice_updates_reach_subscribers_on_another_replica,
    a_job_slot_both_replicas_reach_runs_once,
    a_webhook_delivered_to_every_replica_is_stored_once
);
