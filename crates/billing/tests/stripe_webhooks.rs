//! Stripe webhooks applied to the ledger: signed events built around the objects the Stripe
//! stand-in really holds, delivered, replayed, reordered and forged.

use crate::ledger_support;
use crate::stripe_support;

use billing::ledger::invoices;
use billing::ledger::payments::{self, Payment, payments_of_accounts};
use billing::ledger::refunds::refunds_of_payments;
use billing::ledger::{InvoiceStatus, credit_notes};
use billing::mirror::{self, MirroredInvoice, PaymentState};
use billing::provider::{IdempotencyKey, PaymentProvider, RefundPayment};
use billing::reconciliation::{self, DifferenceKind};
use billing::stripe_events::{self, Received, SignatureError, WebhookError, sign};
use kernel::{Clock, PaymentId, RefundId};
use ledger_support::*;
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use serde_json::{Value, json};
use stripe_support::*;
use testkit::TestDb;

fn event(id: &str, kind: &str, object: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": clock().now().timestamp(),
        "livemode": false,
        "data": { "object": object },
    }))
    .expect("json")
}

async fn deliver(db: &DatabaseConnection, payload: &[u8]) -> Result<Received, WebhookError> {
    let header = sign(payload, WEBHOOK_SECRET, clock().now().timestamp());
    stripe_events::receive(db, &clock(), WEBHOOK_SECRET, Some(&header), payload)
        .await
        .map(|delivery| delivery.received)
}

fn evt() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// An invoice of `pence` issued and mirrored at the stand-in.
async fn mirrored_invoice(
    db: &DatabaseConnection,
    urn: u32,
    pence: i64,
) -> Option<(
    Standin,
    billing::provider::StripeProvider,
    billing::ledger::Invoice,
    MirroredInvoice,
)> {
    let (standin, stripe) = standin()?;
    let (_, account) = school_account(db, urn, &format!("School {urn}")).await;
    let issued = invoice(db, &account, pence).await;
    let mirrored = mirror::mirror_invoice(db, &finance(), &clock(), &stripe, issued.id)
        .await
        .expect("mirror");
    Some((standin, stripe, issued, mirrored))
}

async fn receipts(db: &DatabaseConnection, invoice: &billing::ledger::Invoice) -> usize {
    payments_of_accounts(db, &[invoice.account_id])
        .await
        .expect("payments")
        .remove(&invoice.account_id)
        .unwrap_or_default()
        .len()
}

async fn replays_and_reordering_change_the_ledger_once(db: TestDb) {
    let conn = db.conn();
    let Some((standin, _stripe, issued, mirrored)) = mirrored_invoice(conn, 320_001, 60_000).await
    else {
        return;
    };
    let (status, body) = standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            GOOD_CARD,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paid = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    assert_eq!(paid["status"], "paid");

    let paid_event = event(&evt(), "invoice.paid", &paid);
    let first = deliver(conn, &paid_event).await.expect("applied");
    assert!(matches!(first, Received::Applied { .. }), "{first:?}");
    for _ in 0..3 {
        assert_eq!(
            deliver(conn, &paid_event).await.expect("replay"),
            Received::Replayed
        );
    }
    // Another event about the same payment (a second delivery id), and an older one late.
    let again = deliver(conn, &event(&evt(), "invoice.paid", &paid))
        .await
        .expect("again");
    assert!(matches!(again, Received::Applied { .. }), "{again:?}");
    let late = deliver(conn, &event(&evt(), "invoice.finalized", &paid))
        .await
        .expect("late");
    assert!(matches!(late, Received::Applied { .. }), "{late:?}");

    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.status, InvoiceStatus::Paid);
    assert_eq!(after.paid, gbp(60_000));
    assert_eq!(
        receipts(conn, &issued).await,
        1,
        "one receipt for one payment"
    );
    let mirror_now = mirror::mirrored_invoices_by_ids(conn, &[issued.id])
        .await
        .expect("mirror")
        .remove(&issued.id)
        .expect("row");
    assert_eq!(mirror_now.payment_state, PaymentState::Paid);

    // A failure reported late never undoes the payment.
    deliver(conn, &event(&evt(), "invoice.payment_failed", &paid))
        .await
        .expect("late failure");
    let mirror_now = mirror::mirrored_invoices_by_ids(conn, &[issued.id])
        .await
        .expect("mirror")
        .remove(&issued.id)
        .expect("row");
    assert_eq!(mirror_now.payment_state, PaymentState::Paid);
}

async fn a_declined_card_marks_the_invoice_payment_failed(db: TestDb) {
    let conn = db.conn();
    let Some((standin, _stripe, issued, mirrored)) = mirrored_invoice(conn, 320_002, 9_000).await
    else {
        return;
    };
    let (status, _) = standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            DECLINED_CARD,
        )
        .await;
    assert_eq!(status, 402);
    let open = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    let outcome = deliver(conn, &event(&evt(), "invoice.payment_failed", &open))
        .await
        .expect("applied");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    let mirror_now = mirror::mirrored_invoices_by_ids(conn, &[issued.id])
        .await
        .expect("mirror")
        .remove(&issued.id)
        .expect("row");
    assert_eq!(mirror_now.payment_state, PaymentState::PaymentFailed);
    assert!(mirror_now.payment_error.is_some());
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.outstanding, gbp(9_000), "no money moved");
    assert_eq!(receipts(conn, &issued).await, 0);
}

async fn a_refund_at_stripe_credits_the_invoice_and_refunds_once(db: TestDb) {
    let conn = db.conn();
    let Some((standin, stripe, issued, mirrored)) = mirrored_invoice(conn, 320_003, 30_000).await
    else {
        return;
    };
    standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            GOOD_CARD,
        )
        .await;
    let paid = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    deliver(conn, &event(&evt(), "invoice.paid", &paid))
        .await
        .expect("paid");
    let intent = paid["payment_intent"].as_str().expect("intent").to_owned();

    let refund_id = RefundId::new();
    stripe
        .refund(RefundPayment {
            refund_id,
            payment_id: PaymentId::new(),
            payment_ref: Some(intent.clone()),
            amount: gbp(10_000),
            reason: "one term cancelled".into(),
            idempotency_key: IdempotencyKey::derive("refund", refund_id),
        })
        .await
        .expect("refund at Stripe");
    let charge_id = standin.get(&format!("payment_intents/{intent}")).await["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    let charge = standin.get(&format!("charges/{charge_id}")).await;
    assert_eq!(charge["amount_refunded"], 10_000);
    let refunded = event(&evt(), "charge.refunded", &charge);
    let outcome = deliver(conn, &refunded).await.expect("applied");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    deliver(conn, &refunded).await.expect("replay");
    deliver(conn, &event(&evt(), "charge.refunded", &charge))
        .await
        .expect("same refund, another event");

    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.credited, gbp(10_000), "the refunded part is credited");
    let notes = credit_notes::credit_notes_of_invoices(conn, &[issued.id])
        .await
        .expect("notes");
    assert_eq!(notes.get(&issued.id).map_or(0, Vec::len), 1);
    let payment = payments_of_accounts(conn, &[issued.account_id])
        .await
        .expect("payments")
        .remove(&issued.account_id)
        .expect("receipt")
        .remove(0);
    assert_eq!(payment.refunded, gbp(10_000));
    let refunds = refunds_of_payments(conn, &[payment.id])
        .await
        .expect("refunds");
    assert_eq!(
        refunds.get(&payment.id).map_or(0, Vec::len),
        1,
        "one refund"
    );
}

async fn checkout_sessions_record_a_booking_payment(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_004, "Hazel Primary").await;
    let session = json!({
        "id": "cs_test_booking_1",
        "object": "checkout.session",
        "payment_status": "paid",
        "status": "complete",
        "amount_total": 4_500,
        "currency": "gbp",
        "payment_intent": format!("pi_booking_{}", account.id.as_uuid().simple()),
        "metadata": { "trellis_account_id": account.id.to_string() },
    });
    let outcome = deliver(conn, &event(&evt(), "checkout.session.completed", &session))
        .await
        .expect("applied");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    deliver(conn, &event(&evt(), "checkout.session.completed", &session))
        .await
        .expect("again");
    let payments = payments_of_accounts(conn, &[account.id])
        .await
        .expect("payments")
        .remove(&account.id)
        .unwrap_or_default();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].unallocated, gbp(4_500), "credit on the account");

    // A session someone else created is stored and ignored.
    let foreign = json!({ "id": "cs_other", "object": "checkout.session", "payment_status": "paid",
        "amount_total": 100, "currency": "gbp", "metadata": {} });
    let id = evt();
    let outcome = deliver(conn, &event(&id, "checkout.session.completed", &foreign))
        .await
        .expect("ignored");
    assert!(matches!(outcome, Received::Ignored { .. }), "{outcome:?}");
    let stored = stripe_events::stored_event(conn, &id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.outcome, "IGNORED");
}

async fn unknown_types_are_stored_and_ignored(db: TestDb) {
    let conn = db.conn();
    let id = evt();
    let payload = event(&id, "customer.tax_id.created", &json!({"id": "txi_1"}));
    let outcome = deliver(conn, &payload).await.expect("stored");
    assert!(matches!(outcome, Received::Ignored { .. }), "{outcome:?}");
    let stored = stripe_events::stored_event(conn, &id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.event_type, "customer.tax_id.created");
    assert_eq!(stored.object_id.as_deref(), Some("txi_1"));
    // Only an applied event is a replay: an ignored one is looked at again when resent.
    let again = deliver(conn, &payload).await.expect("stored once");
    assert!(matches!(again, Received::Ignored { .. }), "{again:?}");
}

/// A replica that stored an event and died before applying it leaves the row RECEIVED;
/// Stripe's next delivery must apply it rather than call it a replay.
async fn an_event_stored_but_never_applied_is_applied_on_redelivery(db: TestDb) {
    let conn = db.conn();
    let id = evt();
    let payload = event(&id, "customer.tax_id.created", &json!({"id": "txi_2"}));
    deliver(conn, &payload).await.expect("stored");
    // What the crash leaves behind.
    let backend = conn.get_database_backend();
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        match backend {
            sea_orm::DbBackend::Postgres => {
                "UPDATE stripe_events SET outcome = 'RECEIVED', applied_at = NULL WHERE id = $1"
            }
            _ => "UPDATE stripe_events SET outcome = 'RECEIVED', applied_at = NULL WHERE id = ?",
        },
        [id.clone().into()],
    ))
    .await
    .expect("strand the event");
    let outcome = deliver(conn, &payload).await.expect("redelivered");
    assert!(matches!(outcome, Received::Ignored { .. }), "{outcome:?}");
    let stored = stripe_events::stored_event(conn, &id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.outcome, "IGNORED");
}

async fn forged_stale_and_malformed_deliveries_store_nothing(db: TestDb) {
    let conn = db.conn();
    let id = evt();
    let payload = event(
        &id,
        "invoice.paid",
        &json!({"id": "in_x", "amount_paid": 100}),
    );
    let now = clock().now().timestamp();
    let cases: Vec<(Option<String>, SignatureError)> = vec![
        (
            Some(sign(&payload, "whsec_forged", now)),
            SignatureError::Mismatch,
        ),
        (
            Some(sign(&payload, WEBHOOK_SECRET, now - 3_600)),
            SignatureError::Stale,
        ),
        (Some("t=1,v1=nothex".into()), SignatureError::Malformed),
        (None, SignatureError::Missing),
    ];
    for (header, expected) in cases {
        let got =
            stripe_events::receive(conn, &clock(), WEBHOOK_SECRET, header.as_deref(), &payload)
                .await;
        match got {
            Err(WebhookError::Signature(e)) => assert_eq!(e, expected),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
    // A body altered after signing.
    let header = sign(&payload, WEBHOOK_SECRET, now);
    let altered = event(
        &id,
        "invoice.paid",
        &json!({"id": "in_x", "amount_paid": 999_999}),
    );
    assert!(matches!(
        stripe_events::receive(conn, &clock(), WEBHOOK_SECRET, Some(&header), &altered).await,
        Err(WebhookError::Signature(SignatureError::Mismatch))
    ));
    // Signed, but not an event.
    let not_event = br#"{"hello":"world"}"#;
    let header = sign(not_event, WEBHOOK_SECRET, now);
    assert!(matches!(
        stripe_events::receive(conn, &clock(), WEBHOOK_SECRET, Some(&header), not_event).await,
        Err(WebhookError::Payload(_))
    ));
    assert_eq!(
        stripe_events::stored_event(conn, &id).await.expect("read"),
        None,
        "nothing stored"
    );
}

async fn rename_table(db: &DatabaseConnection, from: &str, to: &str) {
    db.execute_unprepared(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .await
        .expect("rename");
}

/// An event whose effect the ledger refuses is stored FAILED with the reason, with none of
/// its effects (they were one savepoint), and answered as received; its next delivery (a
/// resend from Stripe's dashboard) tries again instead of calling it a replay.
async fn a_refused_effect_is_stored_failed_with_nothing_of_it_applied(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_005, "Rowan Primary").await;
    let issued = invoice(conn, &account, 12_000).await;
    // Stripe ids are short; one longer than the ledger keeps is refused by the ledger after
    // the mirror row was written in the same savepoint.
    let too_long = format!("in_{}", "x".repeat(300));
    let finalized = json!({
        "id": too_long,
        "object": "invoice",
        "customer": "cus_rowan",
        "hosted_invoice_url": "https://invoice.stripe.com/i/rowan",
        "metadata": { "trellis_invoice_id": issued.id.to_string() },
    });
    let id = evt();
    let payload = event(&id, "invoice.finalized", &finalized);
    let outcome = deliver(conn, &payload).await.expect("stored");
    let Received::Failed { detail } = outcome else {
        panic!("expected Failed, got {outcome:?}");
    };
    assert!(detail.contains("providerInvoiceRef"), "{detail}");
    let stored = stripe_events::stored_event(conn, &id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.outcome, "FAILED");
    assert_eq!(stored.detail.as_deref(), Some(detail.as_str()));
    assert!(
        mirror::mirrored_invoices_by_ids(conn, &[issued.id])
            .await
            .expect("mirror")
            .is_empty(),
        "the mirror row written before the refusal was rolled back with it"
    );
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.provider_invoice_ref, None);

    // Finance sees it among the failures; a school leader may not read the webhook log.
    let failed = stripe_events::events_with_outcome(conn, &finance(), "FAILED", 10)
        .await
        .expect("failed events");
    assert_eq!(
        failed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    let head = user(kernel::Role::SchoolLeader, &[]);
    assert!(matches!(
        stripe_events::events_with_outcome(conn, &head, "FAILED", 10).await,
        Err(kernel::DomainError::Forbidden(_))
    ));

    // A redelivery is tried again (and refused again), not answered as a replay.
    let again = deliver(conn, &payload).await.expect("stored");
    assert!(matches!(again, Received::Failed { .. }), "{again:?}");
}

/// A database failure while applying keeps nothing, not even the event row: the delivery is
/// an error (5xx), and Stripe's next delivery applies it as if it were the first.
async fn a_database_failure_stores_nothing_and_the_redelivery_applies_it(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_006, "Alder Primary").await;
    let issued = invoice(conn, &account, 8_000).await;
    let finalized = json!({
        "id": "in_alder_1",
        "object": "invoice",
        "customer": "cus_alder",
        "hosted_invoice_url": "https://invoice.stripe.com/i/alder",
        "invoice_pdf": "https://pay.stripe.com/invoice/alder/pdf",
        "metadata": { "trellis_invoice_id": issued.id.to_string() },
    });
    let id = evt();
    let payload = event(&id, "invoice.finalized", &finalized);
    rename_table(conn, "stripe_invoices", "stripe_invoices_away").await;
    let failed = deliver(conn, &payload).await;
    rename_table(conn, "stripe_invoices_away", "stripe_invoices").await;
    assert!(matches!(failed, Err(WebhookError::Apply(_))), "{failed:?}");
    assert_eq!(
        stripe_events::stored_event(conn, &id).await.expect("read"),
        None,
        "not stored: Stripe delivers it again"
    );

    let outcome = deliver(conn, &payload).await.expect("applied");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.provider_invoice_ref.as_deref(), Some("in_alder_1"));
    assert_eq!(
        stripe_events::stored_event(conn, &id)
            .await
            .expect("read")
            .expect("stored")
            .outcome,
        "APPLIED"
    );
    assert_eq!(
        deliver(conn, &payload).await.expect("replay"),
        Received::Replayed
    );
}

/// Two deliveries of one event at once (two replicas): one applies it, the other is a replay.
async fn concurrent_deliveries_of_one_event_apply_it_once(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_007, "Birch Primary").await;
    let session = json!({
        "id": "cs_test_birch",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": 2_500,
        "currency": "gbp",
        "payment_intent": "pi_birch_1",
        "metadata": { "trellis_account_id": account.id.to_string() },
    });
    let payload = event(&evt(), "checkout.session.completed", &session);
    let (a, b) = tokio::join!(deliver(conn, &payload), deliver(conn, &payload));
    let mut outcomes = [a.expect("a"), b.expect("b")];
    outcomes.sort_by_key(|o| matches!(o, Received::Replayed));
    assert!(
        matches!(outcomes[0], Received::Applied { .. }),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Received::Replayed);
    let payments = payments_of_accounts(conn, &[account.id])
        .await
        .expect("payments")
        .remove(&account.id)
        .unwrap_or_default();
    assert_eq!(payments.len(), 1);
}

/// The reconciliation compares receipts and refunds with Stripe's charges, and keeps each
/// payout with the receipts it contains.
async fn reconciliation_compares_payments_refunds_and_payouts(db: TestDb) {
    let conn = db.conn();
    let Some((standin, stripe, issued, mirrored)) = mirrored_invoice(conn, 320_008, 30_000).await
    else {
        return;
    };
    let customer = mirrored.customer_ref.clone();
    standin
        .pay_invoice(&mirrored.provider_invoice_ref, &customer, GOOD_CARD)
        .await;
    let paid = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    deliver(conn, &event(&evt(), "invoice.paid", &paid))
        .await
        .expect("paid");
    let intent = paid["payment_intent"].as_str().expect("intent").to_owned();
    let (status, body) = standin
        .post(
            "refunds",
            &[("payment_intent", intent.as_str()), ("amount", "10000")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let charge_ref = standin.get(&format!("payment_intents/{intent}")).await["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    let charge = standin.get(&format!("charges/{charge_ref}")).await;
    deliver(conn, &event(&evt(), "charge.refunded", &charge))
        .await
        .expect("refunded");
    let receipt = payments_of_accounts(conn, &[issued.account_id])
        .await
        .expect("payments")
        .remove(&issued.account_id)
        .expect("receipt")
        .remove(0);

    let clean = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("run");
    assert_eq!(clean.payments_compared, 1);
    assert_eq!(clean.differences_found, 0, "the ledger agrees with Stripe");

    // Plant three payment-side differences: money taken at Stripe that Trellis never heard
    // of, a refund made at Stripe whose webhook never came, a receipt Stripe does not know.
    let stray = standin.charge_directly(&customer, 2_500).await;
    let (status, body) = standin
        .post(
            "refunds",
            &[("payment_intent", intent.as_str()), ("amount", "5000")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let phantom = payments::record_payment(
        conn,
        &finance(),
        &clock(),
        payments::NewPayment {
            account_id: issued.account_id,
            method: payments::ReceiptMethod::Card,
            reference: "card payment".into(),
            received_on: clock().today(),
            amount: gbp(1_200),
            provider_payment_ref: Some("pi_not_at_stripe".into()),
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt");
    let payout = standin.pay_out(&customer).await;
    let payout_ref = payout["id"].as_str().expect("po").to_owned();

    // A school leader may not run it or read payouts.
    let leader = user(kernel::Role::SchoolLeader, &[]);
    assert!(matches!(
        reconciliation::payouts(conn, &leader, 10).await,
        Err(kernel::DomainError::Forbidden(_))
    ));

    let found = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("run");
    assert_eq!(found.payments_compared, 2);
    assert!(found.payouts_compared >= 1);
    assert_eq!(found.differences_found, 3, "{found:?}");
    let open = reconciliation::differences(conn, &finance(), true, 100)
        .await
        .expect("differences");
    let mut kinds: Vec<(DifferenceKind, Option<String>, Option<kernel::PaymentId>)> = open
        .iter()
        .map(|d| (d.kind, d.provider_ref.clone(), d.payment_id))
        .collect();
    kinds.sort_by_key(|(k, _, _)| k.to_string());
    assert_eq!(
        kinds,
        vec![
            (
                DifferenceKind::PaymentMissingAtProvider,
                Some("pi_not_at_stripe".to_owned()),
                Some(phantom.id)
            ),
            (
                DifferenceKind::PaymentMissingInTrellis,
                Some(stray.clone()),
                None
            ),
            (
                DifferenceKind::RefundMismatch,
                Some(intent.clone()),
                Some(receipt.id)
            ),
        ]
    );
    let refund = open
        .iter()
        .find(|d| d.kind == DifferenceKind::RefundMismatch)
        .expect("refund difference");
    assert_eq!(
        refund.trellis_value.as_deref(),
        Some(gbp(10_000).to_string().as_str())
    );
    assert_eq!(
        refund.provider_value.as_deref(),
        Some(gbp(15_000).to_string().as_str())
    );

    // The payout is kept with its lines, each tied to the receipt it was.
    let payouts = reconciliation::payouts(conn, &finance(), 100)
        .await
        .expect("payouts");
    let kept = payouts
        .iter()
        .find(|p| p.payout_ref == payout_ref)
        .expect("the payout");
    assert_eq!(
        kept.amount.pence(),
        payout["amount"].as_i64().expect("amount")
    );
    assert_eq!(kept.amount, gbp(30_000 + 2_500 - 10_000 - 5_000));
    let charge_line = kept
        .lines
        .iter()
        .find(|l| l.source_ref.as_deref() == Some(charge_ref.as_str()))
        .expect("the invoice's charge");
    assert_eq!(charge_line.payment_id, Some(receipt.id));
    assert_eq!(charge_line.amount, gbp(30_000));
    let refund_lines: Vec<_> = kept.lines.iter().filter(|l| l.kind == "refund").collect();
    assert_eq!(refund_lines.len(), 2);
    assert!(
        refund_lines
            .iter()
            .all(|l| l.payment_id == Some(receipt.id))
    );
    assert_eq!(
        refund_lines
            .iter()
            .filter(|l| l.refund_id.is_some())
            .count(),
        1,
        "the refund Trellis recorded"
    );
    let stray_line = kept
        .lines
        .iter()
        .find(|l| l.kind == "charge" && l.amount == gbp(2_500))
        .expect("the stray charge");
    assert_eq!(stray_line.payment_id, None);

    // Nothing is reported twice.
    let again = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("again");
    assert_eq!(again.differences_found, 0);
}

/// Runs one statement written with `$n` placeholders, on either backend.
async fn sql(db: &DatabaseConnection, statement: &str, values: Vec<sea_orm::Value>) {
    let backend = db.get_database_backend();
    let statement = match backend {
        sea_orm::DbBackend::Postgres => statement.to_owned(),
        _ => statement.replace("$1", "?").replace("$2", "?"),
    };
    db.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, statement, values,
    ))
    .await
    .expect("statement");
}

async fn stored_events(db: &DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM stripe_events",
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

async fn payments_of(db: &DatabaseConnection, account: kernel::BillingAccountId) -> Vec<Payment> {
    payments_of_accounts(db, &[account])
        .await
        .expect("payments")
        .remove(&account)
        .unwrap_or_default()
}

/// Money Stripe reports in another currency than the partnership's is refused whole and kept
/// FAILED for finance with the currency named: ¥5,000 is not £50.00, $25.00 is not £25.00.
async fn amounts_in_another_currency_are_refused_and_kept_for_finance(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_101, "Cedar Primary").await;
    let issued = invoice(conn, &account, 5_000).await;
    let meta = json!({
        "trellis_account_id": account.id.to_string(),
        "trellis_invoice_id": issued.id.to_string(),
    });
    let intent = |id: &str, currency: &str, amount: i64| {
        json!({ "id": id, "object": "payment_intent", "status": "succeeded", "amount": amount,
            "amount_received": amount, "currency": currency, "metadata": meta })
    };
    let cases = [
        (
            "payment_intent.succeeded",
            intent("pi_cedar_jpy", "jpy", 5_000),
            "JPY",
        ),
        (
            "payment_intent.succeeded",
            intent("pi_cedar_usd", "usd", 2_500),
            "USD",
        ),
        (
            "checkout.session.completed",
            json!({ "id": "cs_cedar_eur", "object": "checkout.session", "payment_status": "paid",
                "amount_total": 5_000, "currency": "eur", "payment_intent": "pi_cedar_eur",
                "metadata": meta }),
            "EUR",
        ),
        (
            "charge.refunded",
            json!({ "id": "ch_cedar_usd", "object": "charge", "amount": 2_500,
                "amount_refunded": 2_500, "currency": "usd", "payment_intent": "pi_cedar_usd",
                "metadata": meta }),
            "USD",
        ),
    ];
    let mut refused = Vec::new();
    for (kind, object, currency) in cases {
        let id = evt();
        let outcome = deliver(conn, &event(&id, kind, &object))
            .await
            .expect("stored");
        let Received::Failed { detail } = outcome else {
            panic!("{kind} in {currency}: expected Failed, got {outcome:?}");
        };
        assert!(
            detail.contains(currency) && detail.contains("currency"),
            "{detail}"
        );
        let stored = stripe_events::stored_event(conn, &id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.outcome, "FAILED");
        refused.push(id);
    }

    // An invoice paid at the stand-in, reported in dollars.
    if let Some((standin, _stripe, paid_invoice, mirrored)) =
        mirrored_invoice(conn, 320_102, 7_000).await
    {
        standin
            .pay_invoice(
                &mirrored.provider_invoice_ref,
                &mirrored.customer_ref,
                GOOD_CARD,
            )
            .await;
        let mut paid = standin
            .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
            .await;
        assert_eq!(paid["currency"], "gbp", "{paid}");
        paid["currency"] = json!("usd");
        let id = evt();
        let outcome = deliver(conn, &event(&id, "invoice.paid", &paid))
            .await
            .expect("stored");
        assert!(
            matches!(&outcome, Received::Failed { detail } if detail.contains("USD")),
            "{outcome:?}"
        );
        refused.push(id);
        let after = invoices::invoice(conn, &finance(), paid_invoice.id)
            .await
            .expect("invoice");
        assert_eq!(after.paid, gbp(0), "nothing applied");
        assert_eq!(receipts(conn, &paid_invoice).await, 0);
    }

    assert!(payments_of(conn, account.id).await.is_empty(), "no receipt");
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.outstanding, gbp(5_000), "nothing applied");
    let failed: Vec<String> = stripe_events::events_with_outcome(conn, &finance(), "FAILED", 100)
        .await
        .expect("failed events")
        .into_iter()
        .map(|e| e.id)
        .collect();
    for id in &refused {
        assert!(failed.contains(id), "{id} listed for finance");
    }
}

/// A field an effect needs that is missing or malformed is a refusal with the field named,
/// never a zero that makes the event look like nothing.
async fn missing_or_malformed_amounts_are_refused_with_the_reason(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_103, "Elm Primary").await;
    let meta = json!({ "trellis_account_id": account.id.to_string() });
    let cases = [
        (
            "payment_intent.succeeded",
            json!({ "id": "pi_elm_1", "object": "payment_intent", "status": "succeeded",
                "currency": "gbp", "metadata": meta }),
            "amount_received",
        ),
        (
            "payment_intent.succeeded",
            json!({ "id": "pi_elm_2", "object": "payment_intent", "status": "succeeded",
                "amount_received": "5000", "currency": "gbp", "metadata": meta }),
            "amount_received",
        ),
        (
            "payment_intent.succeeded",
            json!({ "id": "pi_elm_3", "object": "payment_intent", "status": "succeeded",
                "amount_received": 5_000, "metadata": meta }),
            "currency",
        ),
        (
            "checkout.session.completed",
            json!({ "id": "cs_elm", "object": "checkout.session", "payment_status": "paid",
                "amount_total": -100, "currency": "gbp", "metadata": meta }),
            "amount_total",
        ),
        (
            "charge.refunded",
            json!({ "id": "ch_elm", "object": "charge", "currency": "gbp",
                "payment_intent": "pi_elm_1" }),
            "amount_refunded",
        ),
        (
            "payment_intent.succeeded",
            json!({ "id": "pi_elm_4", "object": "payment_intent", "status": "succeeded",
                "amount_received": 5_000, "currency": "gbp",
                "metadata": { "trellis_account_id": "not-an-id" } }),
            "trellis_account_id",
        ),
    ];
    for (kind, object, field) in cases {
        let id = evt();
        let outcome = deliver(conn, &event(&id, kind, &object))
            .await
            .expect("stored");
        let Received::Failed { detail } = outcome else {
            panic!("{kind} without {field}: expected Failed, got {outcome:?}");
        };
        assert!(detail.contains(field), "{detail}");
        let stored = stripe_events::stored_event(conn, &id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(stored.outcome, "FAILED");
        assert_eq!(stored.detail.as_deref(), Some(detail.as_str()));
    }
    assert!(payments_of(conn, account.id).await.is_empty());
}

/// A mirrored invoice paid at the stand-in and then partly refunded there: the stand-in's
/// invoice and charge as Stripe would send them.
async fn paid_then_refunded_at_standin(
    db: &DatabaseConnection,
    urn: u32,
) -> Option<(billing::ledger::Invoice, Value, Value)> {
    let (standin, _stripe, issued, mirrored) = mirrored_invoice(db, urn, 30_000).await?;
    let (status, body) = standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            GOOD_CARD,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paid = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    let intent = paid["payment_intent"].as_str().expect("intent").to_owned();
    let (status, body) = standin
        .post(
            "refunds",
            &[("payment_intent", intent.as_str()), ("amount", "12000")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let charge_id = standin.get(&format!("payment_intents/{intent}")).await["latest_charge"]
        .as_str()
        .expect("charge")
        .to_owned();
    let charge = standin.get(&format!("charges/{charge_id}")).await;
    assert_eq!(charge["amount_refunded"], 12_000);
    Some((issued, paid, charge))
}

async fn refunds_recorded(
    db: &DatabaseConnection,
    issued: &billing::ledger::Invoice,
) -> (i64, usize) {
    let payments = payments_of(db, issued.account_id).await;
    let Some(payment) = payments.first() else {
        return (0, 0);
    };
    let refunds = refunds_of_payments(db, &[payment.id])
        .await
        .expect("refunds");
    (
        payment.refunded.pence(),
        refunds.get(&payment.id).map_or(0, Vec::len),
    )
}

/// Events in any order: a refund that arrives before its payment is kept PENDING and applied
/// with the payment; its redeliveries and a second event about it change nothing more.
async fn a_refund_before_its_payment_is_applied_when_the_payment_arrives(db: TestDb) {
    let conn = db.conn();
    let Some((issued, paid, charge)) = paid_then_refunded_at_standin(conn, 320_104).await else {
        return;
    };
    let refund_id = evt();
    let refunded = event(&refund_id, "charge.refunded", &charge);
    let outcome = deliver(conn, &refunded).await.expect("stored");
    assert!(matches!(outcome, Received::Pending { .. }), "{outcome:?}");
    let pending = stripe_events::events_with_outcome(conn, &finance(), "PENDING", 10)
        .await
        .expect("pending");
    assert_eq!(
        pending.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [refund_id.as_str()]
    );

    let outcome = deliver(conn, &event(&evt(), "invoice.paid", &paid))
        .await
        .expect("paid");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    assert_eq!(refunds_recorded(conn, &issued).await, (12_000, 1));
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(after.credited, gbp(12_000), "the refunded part is credited");
    let stored = stripe_events::stored_event(conn, &refund_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(stored.outcome, "APPLIED", "{stored:?}");

    // Stripe resends the refund after the payment, and sends another event about it.
    assert_eq!(
        deliver(conn, &refunded).await.expect("replay"),
        Received::Replayed
    );
    let again = deliver(conn, &event(&evt(), "charge.refunded", &charge))
        .await
        .expect("again");
    assert!(matches!(again, Received::Applied { .. }), "{again:?}");
    assert_eq!(refunds_recorded(conn, &issued).await, (12_000, 1), "once");
}

/// A refund stored as not Trellis's (by an earlier release, before the payment came) is
/// applied when Stripe redelivers it after the payment, and then only once.
async fn an_unapplied_refund_is_applied_once_when_redelivered_after_its_payment(db: TestDb) {
    let conn = db.conn();
    let Some((issued, paid, charge)) = paid_then_refunded_at_standin(conn, 320_105).await else {
        return;
    };
    let refund_id = evt();
    let refunded = event(&refund_id, "charge.refunded", &charge);
    deliver(conn, &refunded).await.expect("stored");
    // What the earlier release left: IGNORED, and no PaymentIntent to be found by.
    sql(
        conn,
        "UPDATE stripe_events SET outcome = 'IGNORED', detail = 'not a Trellis payment', \
         payment_ref = NULL, object_id = NULL WHERE id = $1",
        vec![refund_id.clone().into()],
    )
    .await;
    deliver(conn, &event(&evt(), "invoice.paid", &paid))
        .await
        .expect("paid");
    assert_eq!(refunds_recorded(conn, &issued).await, (0, 0));

    let outcome = deliver(conn, &refunded).await.expect("redelivered");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    assert_eq!(refunds_recorded(conn, &issued).await, (12_000, 1));
    for _ in 0..2 {
        assert_eq!(
            deliver(conn, &refunded).await.expect("replay"),
            Received::Replayed
        );
    }
    assert_eq!(refunds_recorded(conn, &issued).await, (12_000, 1), "once");
}

/// A card payment's refund (a PaymentIntent Trellis started, no invoice) that arrives first
/// is applied by the payment_intent.succeeded that records the payment.
async fn a_refund_before_its_card_payment_is_applied_with_the_payment(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 320_106, "Holly Primary").await;
    let intent = format!("pi_holly_{}", uuid::Uuid::now_v7().simple());
    let charge = json!({ "id": format!("ch_holly_{}", uuid::Uuid::now_v7().simple()),
        "object": "charge", "amount": 4_500, "amount_refunded": 1_500, "currency": "gbp",
        "payment_intent": intent, "refunds": { "data": [ { "id": "re_holly_1" } ] } });
    let refund_id = evt();
    let outcome = deliver(conn, &event(&refund_id, "charge.refunded", &charge))
        .await
        .expect("stored");
    assert!(matches!(outcome, Received::Pending { .. }), "{outcome:?}");
    let paid = json!({ "id": intent, "object": "payment_intent", "status": "succeeded",
        "amount": 4_500, "amount_received": 4_500, "currency": "gbp",
        "latest_charge": charge["id"],
        "metadata": { "trellis_account_id": account.id.to_string() } });
    let outcome = deliver(conn, &event(&evt(), "payment_intent.succeeded", &paid))
        .await
        .expect("applied");
    assert!(matches!(outcome, Received::Applied { .. }), "{outcome:?}");
    let payments = payments_of(conn, account.id).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].refunded, gbp(1_500));
    assert_eq!(payments[0].unallocated, gbp(3_000));
    assert_eq!(
        stripe_events::stored_event(conn, &refund_id)
            .await
            .expect("read")
            .expect("stored")
            .outcome,
        "APPLIED"
    );
}

/// PostgreSQL cannot store a NUL character: a payload with one in any string is refused
/// before the database is touched, so Stripe is answered 400 rather than 500 for days.
async fn a_nul_in_any_string_is_refused_and_nothing_stored(db: TestDb) {
    let conn = db.conn();
    let before = stored_events(conn).await;
    let payloads = [
        event(
            "evt_nul\u{0}1",
            "customer.tax_id.created",
            &json!({"id": "txi_n"}),
        ),
        event(
            &evt(),
            "payment_intent.succeeded",
            &json!({"id": "pi_nul", "currency": "gbp", "amount_received": 100,
                "metadata": {"note": "a\u{0}b"}}),
        ),
        event(
            &evt(),
            "payment_intent.succeeded",
            &json!({"id": "pi_nul", "currency": "gbp", "amount_received": 100,
                "metadata": {"k\u{0}": "v"}}),
        ),
    ];
    for payload in payloads {
        let got = deliver(conn, &payload).await;
        assert!(
            matches!(&got, Err(WebhookError::Payload(m)) if m.contains("NUL")),
            "{got:?}"
        );
    }
    assert_eq!(stored_events(conn).await, before, "nothing stored");
}

testkit::db_tests!(
    replays_and_reordering_change_the_ledger_once,
    a_declined_card_marks_the_invoice_payment_failed,
    a_refund_at_stripe_credits_the_invoice_and_refunds_once,
    checkout_sessions_record_a_booking_payment,
    unknown_types_are_stored_and_ignored,
    an_event_stored_but_never_applied_is_applied_on_redelivery,
    forged_stale_and_malformed_deliveries_store_nothing,
    a_refused_effect_is_stored_failed_with_nothing_of_it_applied,
    a_database_failure_stores_nothing_and_the_redelivery_applies_it,
    concurrent_deliveries_of_one_event_apply_it_once,
    reconciliation_compares_payments_refunds_and_payouts,
    amounts_in_another_currency_are_refused_and_kept_for_finance,
    missing_or_malformed_amounts_are_refused_with_the_reason,
    a_refund_before_its_payment_is_applied_when_the_payment_arrives,
    an_unapplied_refund_is_applied_once_when_redelivered_after_its_payment,
    a_refund_before_its_card_payment_is_applied_with_the_payment,
    a_nul_in_any_string_is_refused_and_nothing_stored,
);
