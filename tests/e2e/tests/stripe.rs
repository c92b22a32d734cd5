//! Stripe end to end over HTTP: the real app configured against the Stripe stand-in, with
//! the stand-in's signed webhooks delivered to the app's `POST /webhooks/stripe`.

use crate::common;

use std::time::Duration;

use billing::stripe_events::sign;
use common::{
    DECLINED_CARD, FINANCE, GOOD_CARD, HEAD, Stand, TestApp, config, first_code, uuid_of,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const INVOICE: &str = "query($id: ID!) { node(id: $id) { ... on Invoice {
    id number status outstanding { amountPence } paid { amountPence } credited { amountPence }
    hostedInvoiceUrl pdfUrl providerPaymentState providerPaymentError } } }";

const OPEN_INVOICES: &str = "query { invoices(first: 100) { edges { node {
    id number status total { amountPence } outstanding { amountPence } } } } }";

const MIRROR: &str = "mutation($id: ID!) { invoiceMirror(input: { id: $id }) {
    invoice { id hostedInvoiceUrl pdfUrl providerPaymentState }
    userErrors { field code message } } }";

impl Stand {
    /// Money taken by card at Stripe directly, outside Trellis: its `pi_…`.
    async fn charge_directly(&self, customer: &str, pence: i64) -> String {
        let pm = self.card(customer, GOOD_CARD).await;
        let amount = pence.to_string();
        let (status, intent) = self
            .post(
                "payment_intents",
                &[
                    ("amount", amount.as_str()),
                    ("currency", "gbp"),
                    ("customer", customer),
                    ("payment_method", pm.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 200, "{intent}");
        let id = intent["id"].as_str().expect("pi").to_owned();
        let (status, confirmed) = self
            .post(&format!("payment_intents/{id}/confirm"), &[])
            .await;
        assert_eq!(status, 200, "{confirmed}");
        id
    }

    /// The stand-in's test helper: pay out now what the customer paid and was refunded.
    async fn pay_out(&self, customer: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/_config/payouts", self.base))
            .form(&[("customer", customer)])
            .send()
            .await
            .expect("stand-in");
        assert!(response.status().is_success());
        response.json().await.expect("json")
    }
}

/// The app pointed at the stand-in, its webhook registered there; `None` skips.
async fn spawn(db: TestDb) -> Option<(TestApp, Stand, String)> {
    let mut cfg = config(&db);
    let stand = Stand::configure(&mut cfg)?;
    let webhook_secret = cfg.stripe_webhook_secret.clone().expect("configured");
    let app = TestApp::spawn_with(db, cfg).await;
    billing::demo::seed(app.db.conn(), &kernel::SystemClock)
        .await
        .expect("demo billing");
    stand.deliver_to(&app.base, &webhook_secret).await;
    Some((app, stand, webhook_secret))
}

async fn invoice(app: &TestApp, id: &str) -> Value {
    app.data_as(FINANCE, INVOICE, json!({ "id": id })).await["node"].clone()
}

/// Polls until `check` holds for the invoice (webhooks arrive about a second after the
/// stand-in's change).
async fn wait_for(app: &TestApp, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..60 {
        let now = invoice(app, id).await;
        if check(&now) {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}: {}", invoice(app, id).await);
}

fn pence(v: &Value, field: &str) -> i64 {
    v[field]["amountPence"].as_i64().expect("pence")
}

/// An open demo invoice with money outstanding.
async fn open_invoice(app: &TestApp) -> Value {
    let data = app.data_as(FINANCE, OPEN_INVOICES, json!({})).await;
    data["invoices"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .find(|i| i["status"] == "OPEN" && pence(i, "outstanding") > 0)
        .expect("an open demo invoice")
}

async fn post_webhook(app: &TestApp, payload: &[u8], signature: &str) -> StatusCode {
    common::post_webhook(&app.client, &app.base, payload, signature).await
}

async fn an_invoice_is_paid_on_stripe_and_the_ledger_follows(db: TestDb) {
    let Some((app, stand, webhook_secret)) = spawn(db).await else {
        return;
    };
    let open = open_invoice(&app).await;
    let id = open["id"].as_str().expect("id").to_owned();
    let total = pence(&open, "outstanding");

    // A school leader may not send invoices to Stripe.
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), MIRROR, json!({ "id": id })).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    // Finance mirrors it; a retried mutation makes no second Stripe invoice.
    let first = app.data_as(FINANCE, MIRROR, json!({ "id": id })).await;
    let mirrored = &first["invoiceMirror"]["invoice"];
    assert!(mirrored["hostedInvoiceUrl"].as_str().is_some(), "{first}");
    assert!(mirrored["pdfUrl"].as_str().is_some(), "{first}");
    assert_eq!(mirrored["providerPaymentState"], "NONE");
    let again = app.data_as(FINANCE, MIRROR, json!({ "id": id })).await;
    assert_eq!(again["invoiceMirror"]["invoice"], *mirrored);
    let remote = stand.invoices_of(&uuid_of(&id)).await;
    assert_eq!(remote.len(), 1, "one Stripe invoice");
    let remote = &remote[0];
    assert_eq!(remote["status"], "open");
    assert_eq!(remote["amount_due"], total);
    let stripe_id = remote["id"].as_str().expect("in_").to_owned();
    let customer = remote["customer"].as_str().expect("cus_").to_owned();

    // A card payment started twice with the same idempotency key is one PaymentIntent.
    let pay_by_card = "mutation($id: ID!, $key: String!) { invoicePayByCard(input: { invoiceId: $id, idempotencyKey: $key }) {
        cardPayment { paymentIntentRef clientSecret status } userErrors { field code } } }";
    let started = app
        .data_as(
            FINANCE,
            pay_by_card,
            json!({ "id": id, "key": "portal-click-1" }),
        )
        .await;
    let retried = app
        .data_as(
            FINANCE,
            pay_by_card,
            json!({ "id": id, "key": "portal-click-1" }),
        )
        .await;
    let card = &started["invoicePayByCard"]["cardPayment"];
    assert_eq!(card["status"], "REQUIRES_ACTION", "{started}");
    assert!(
        card["clientSecret"]
            .as_str()
            .is_some_and(|s| s.starts_with("pi_"))
    );
    assert_eq!(retried["invoicePayByCard"]["cardPayment"], *card);
    let uuid = uuid_of(&id);
    let intents = stand.get("payment_intents?limit=100").await["data"]
        .as_array()
        .expect("intents")
        .iter()
        .filter(|pi| pi["metadata"]["trellis_invoice_id"] == uuid.as_str())
        .count();
    assert_eq!(intents, 1, "one PaymentIntent for one request");

    // A declined card: the PAYMENT_FAILED path, no money in the ledger.
    let (status, body) = stand.pay(&stripe_id, &customer, DECLINED_CARD).await;
    assert_eq!(status, 402, "{body}");
    let failed = wait_for(&app, &id, "PAYMENT_FAILED", |i| {
        i["providerPaymentState"] == "PAYMENT_FAILED"
    })
    .await;
    assert_eq!(pence(&failed, "outstanding"), total);
    assert_eq!(failed["status"], "OPEN");

    // A good card: invoice.paid arrives signed and the invoice is PAID.
    let (status, body) = stand.pay(&stripe_id, &customer, GOOD_CARD).await;
    assert_eq!(status, 200, "{body}");
    let paid = wait_for(&app, &id, "PAID", |i| i["status"] == "PAID").await;
    assert_eq!(pence(&paid, "paid"), total);
    assert_eq!(paid["providerPaymentState"], "PAID");

    // The same invoice.paid replayed three times and reordered after an older event: once.
    let paid_at_stripe = stand.get(&format!("invoices/{stripe_id}")).await;
    let now = chrono::Utc::now().timestamp();
    let event = |id: &str, kind: &str| {
        serde_json::to_vec(
            &json!({ "id": id, "object": "event", "type": kind, "created": now,
            "data": { "object": paid_at_stripe.clone() } }),
        )
        .expect("json")
    };
    let replayed = event(
        &format!("evt_replay_{}", uuid::Uuid::now_v7().simple()),
        "invoice.paid",
    );
    for _ in 0..3 {
        let status = post_webhook(&app, &replayed, &sign(&replayed, &webhook_secret, now)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let older = event(
        &format!("evt_old_{}", uuid::Uuid::now_v7().simple()),
        "invoice.finalized",
    );
    assert_eq!(
        post_webhook(&app, &older, &sign(&older, &webhook_secret, now)).await,
        StatusCode::OK
    );
    let still = invoice(&app, &id).await;
    assert_eq!(pence(&still, "paid"), total, "the ledger changed once");

    // A forged signature and a stale one are refused.
    let forged = event("evt_forged", "invoice.paid");
    assert_eq!(
        post_webhook(&app, &forged, &sign(&forged, "whsec_forged", now)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        post_webhook(&app, &forged, &sign(&forged, &webhook_secret, now - 3_600)).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        billing::stripe_events::stored_event(app.db.conn(), "evt_forged")
            .await
            .expect("read"),
        None
    );

    // A refund at Stripe: credited on the invoice, refunded from the receipt.
    let intent = paid_at_stripe["payment_intent"]
        .as_str()
        .expect("pi")
        .to_owned();
    let (status, body) = stand
        .post(
            "refunds",
            &[
                ("payment_intent", intent.as_str()),
                ("amount", "1000"),
                ("reason", "requested_by_customer"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let refunded = wait_for(&app, &id, "a credit", |i| pence(i, "credited") == 1_000).await;
    assert_eq!(refunded["status"], "PAID");

    // Reconciliation finds a difference planted on the Stripe side, and only that.
    let (status, stray) = stand
        .post(
            "invoices",
            &[
                ("customer", customer.as_str()),
                ("collection_method", "send_invoice"),
                ("days_until_due", "14"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{stray}");
    let stray = stray["id"].as_str().expect("stray").to_owned();
    stand
        .post(
            "invoiceitems",
            &[
                ("customer", customer.as_str()),
                ("invoice", stray.as_str()),
                ("amount", "2500"),
                ("currency", "gbp"),
            ],
        )
        .await;
    stand.post(&format!("invoices/{stray}/finalize"), &[]).await;
    // And on the payment side: money taken by card at Stripe that Trellis never heard of.
    let stray_payment = stand.charge_directly(&customer, 1_750).await;
    // Stripe pays out the customer's money: the invoice's charge, the refund, the stray one.
    let payout = stand.pay_out(&customer).await;
    let payout_ref = payout["id"].as_str().expect("po").to_owned();
    let (_, body) = app
        .gql(
            Some(&head),
            "query { reconciliationDifferences { id } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let run = app
        .data_as(
            FINANCE,
            "mutation { reconciliationRun { reconciliationRun { invoicesCompared paymentsCompared payoutsCompared differencesFound } userErrors { code } } }",
            json!({}),
        )
        .await;
    let run = &run["reconciliationRun"]["reconciliationRun"];
    assert_eq!(run["invoicesCompared"], 1);
    assert_eq!(run["paymentsCompared"], 1, "{run}");
    assert!(run["payoutsCompared"].as_u64() >= Some(1), "{run}");
    assert_eq!(run["differencesFound"], 2, "{run}");
    let found = app
        .data_as(
            FINANCE,
            "query { reconciliationDifferences { id kind providerInvoiceRef providerRef payment { id } detail } }",
            json!({}),
        )
        .await;
    let mut differences = found["reconciliationDifferences"]
        .as_array()
        .expect("list")
        .clone();
    differences.sort_by_key(|d| d["kind"].as_str().map(str::to_owned));
    assert_eq!(differences.len(), 2, "{found}");
    assert_eq!(differences[0]["kind"], "MISSING_IN_TRELLIS");
    assert_eq!(differences[0]["providerInvoiceRef"], stray.as_str());
    assert_eq!(differences[1]["kind"], "PAYMENT_MISSING_IN_TRELLIS");
    assert_eq!(differences[1]["providerRef"], stray_payment.as_str());
    assert_eq!(differences[1]["payment"], Value::Null);
    for (difference, note) in differences.iter().zip([
        "raised at Stripe by hand; voided there",
        "a card payment taken at the school office; recorded by hand",
    ]) {
        let resolved = app
            .data_as(
                FINANCE,
                "mutation($id: ID!, $note: String!) { reconciliationResolve(input: { id: $id, note: $note }) { difference { resolvedAt resolutionNote } userErrors { field code } } }",
                json!({ "id": difference["id"], "note": note }),
            )
            .await;
        assert!(
            resolved["reconciliationResolve"]["difference"]["resolvedAt"].is_string(),
            "{resolved}"
        );
    }

    // Finance ties the bank payout to the receipts it contains.
    let payouts = app
        .data_as(
            FINANCE,
            "query { stripePayouts(first: 100) { payoutRef amount { amountPence } lines { kind sourceRef amount { amountPence } payment { id } } } }",
            json!({}),
        )
        .await;
    let kept = payouts["stripePayouts"]
        .as_array()
        .expect("payouts")
        .iter()
        .find(|p| p["payoutRef"] == payout_ref.as_str())
        .expect("the payout")
        .clone();
    assert_eq!(
        kept["amount"]["amountPence"],
        total + 1_750 - 1_000,
        "{kept}"
    );
    let lines = kept["lines"].as_array().expect("lines");
    let receipts: Vec<&Value> = lines
        .iter()
        .filter(|l| l["kind"] == "charge" && !l["payment"].is_null())
        .collect();
    assert_eq!(receipts.len(), 1, "{kept}");
    assert_eq!(receipts[0]["amount"]["amountPence"], total);
    let (_, body) = app
        .gql(
            Some(&head),
            "query { stripePayouts { payoutRef } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let open = app
        .data_as(
            FINANCE,
            "query { reconciliationDifferences { id } }",
            json!({}),
        )
        .await;
    assert_eq!(open["reconciliationDifferences"], json!([]));
}

async fn stripe_events_stored(app: &TestApp) -> i64 {
    use sea_orm::ConnectionTrait as _;
    let conn = app.db.conn();
    conn.query_one_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        "SELECT COUNT(*) AS n FROM stripe_events",
    ))
    .await
    .expect("count")
    .expect("row")
    .try_get::<i64>("", "n")
    .expect("n")
}

/// A signed event with a NUL character in its id or in any string is answered 400 with
/// nothing stored: PostgreSQL cannot store one, and a 500 would have Stripe resend it for days.
async fn a_nul_character_in_a_webhook_is_refused_with_400(db: TestDb) {
    let Some((app, _stand, webhook_secret)) = spawn(db).await else {
        return;
    };
    let before = stripe_events_stored(&app).await;
    let now = chrono::Utc::now().timestamp();
    let event = |id: &str, object: Value| {
        serde_json::to_vec(
            &json!({ "id": id, "object": "event", "type": "payment_intent.succeeded",
            "created": now, "data": { "object": object } }),
        )
        .expect("json")
    };
    for payload in [
        event(
            "evt_\u{0}nul",
            json!({ "id": "pi_nul", "amount_received": 100, "currency": "gbp" }),
        ),
        event(
            &format!("evt_{}", uuid::Uuid::now_v7().simple()),
            json!({ "id": "pi_nul", "amount_received": 100, "currency": "gbp",
                "metadata": { "note": "a\u{0}b" } }),
        ),
    ] {
        assert_eq!(
            post_webhook(&app, &payload, &sign(&payload, &webhook_secret, now)).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(stripe_events_stored(&app).await, before, "nothing stored");
}

testkit::db_tests!(
    an_invoice_is_paid_on_stripe_and_the_ledger_follows,
    a_nul_character_in_a_webhook_is_refused_with_400,
);
