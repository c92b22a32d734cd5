//! The Stripe adapter and the invoice mirror against the Stripe stand-in
//! (tests/stripe-standin), on both databases.

use crate::ledger_support;
use crate::stripe_support;

use billing::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use billing::ledger::invoices;
use billing::mirror::{self, PaymentState};
use billing::provider::{
    IdempotencyKey, ListInvoices, PaymentOutcome, PaymentProvider, ProviderError, RefundOutcome,
    RefundPayment, RemoteInvoiceStatus, SyncStatus, TakePayment,
};
use billing::reconciliation::{self, DifferenceKind};
use kernel::{DomainError, PaymentId, RefundId, Role};
use ledger_support::*;
use stripe_support::*;
use testkit::TestDb;

async fn mirrors_an_invoice_once_with_its_metadata(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (_, account) = school_account(conn, 310_001, "Alder Primary").await;
    let issued = invoice(conn, &account, 60_000).await;

    let mirrored = mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, issued.id)
        .await
        .expect("mirror");
    assert!(mirrored.provider_invoice_ref.starts_with("in_"));
    assert!(
        mirrored
            .hosted_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    );
    assert!(mirrored.pdf_url.is_some(), "the PDF link is stored");
    assert_eq!(mirrored.payment_state, PaymentState::None);

    // The customer was created once and stored on the account.
    let account = billing::ledger::accounts::account(conn, &finance(), account.id)
        .await
        .expect("account");
    let customer = account
        .provider_customer_ref
        .clone()
        .expect("customer stored");
    assert!(customer.starts_with("cus_"), "{customer}");
    assert_eq!(mirrored.customer_ref, customer);

    // The ledger records where the invoice lives.
    let after = invoices::invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(
        after.provider_invoice_ref.as_deref(),
        Some(mirrored.provider_invoice_ref.as_str())
    );
    assert_eq!(after.hosted_url, mirrored.hosted_url);

    // Mirroring again changes nothing.
    let again = mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, issued.id)
        .await
        .expect("again");
    assert_eq!(again, mirrored);

    // What Stripe holds: one finalised send_invoice invoice with Trellis's metadata.
    let remote = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    assert_eq!(remote["status"], "open");
    assert_eq!(remote["collection_method"], "send_invoice");
    assert_eq!(remote["total"], 60_000);
    assert_eq!(
        remote["metadata"]["trellis_invoice_id"],
        issued.id.to_string()
    );
    assert_eq!(remote["metadata"]["school_urns"], "310001");
    assert_eq!(remote["metadata"]["academic_year"], "2026/27");
    assert_eq!(remote["custom_fields"][0]["value"], issued.number.as_str());
    assert!(remote["due_date"].as_i64().is_some());
    // The hosted page offers card, Bacs Direct Debit and a UK bank transfer, whatever the
    // Stripe account's defaults are.
    assert_eq!(
        remote["payment_settings"]["payment_method_types"],
        serde_json::json!(["card", "bacs_debit", "customer_balance"])
    );
    assert_eq!(
        remote["payment_settings"]["payment_method_options"]["customer_balance"]["bank_transfer"]["type"],
        "gb_bank_transfer"
    );

    let listed = stripe
        .list_invoices(ListInvoices {
            customer_ref: customer.clone(),
        })
        .await
        .expect("list")
        .expect("Stripe keeps invoices");
    assert_eq!(listed.len(), 1, "one Stripe invoice per Trellis invoice");
    assert_eq!(listed[0].invoice_id, Some(issued.id));
    assert_eq!(listed[0].total, gbp(60_000));
    assert_eq!(listed[0].status, RemoteInvoiceStatus::Open);

    let status = stripe
        .sync_status(SyncStatus {
            invoice_id: issued.id,
            invoice_ref: mirrored.provider_invoice_ref.clone(),
        })
        .await
        .expect("sync")
        .expect("remote state");
    assert_eq!(status.amount_remaining, gbp(60_000));
}

async fn a_retried_issue_finds_the_same_stripe_invoice(db: TestDb) {
    let Some((_standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (_, account) = school_account(conn, 310_002, "Birch Infant").await;
    let issued = invoice(conn, &account, 12_345).await;
    let account = billing::ledger::accounts::account(conn, &finance(), account.id)
        .await
        .expect("account");
    let customer = mirror::ensure_customer(conn, &finance(), &clock(), &stripe, &account)
        .await
        .expect("customer");
    let ask = || billing::provider::IssueInvoice {
        invoice_id: issued.id,
        number: issued.number.clone(),
        account_id: account.id,
        customer_ref: customer.clone(),
        lines: vec![billing::provider::ProviderLine {
            description: "Membership 2026/27".into(),
            quantity: 1,
            unit_amount: gbp(12_345),
            vat_treatment: billing::ledger::VatTreatment::Exempt,
            vat_rate_bp: 0,
        }],
        total: gbp(12_345),
        due_on: issued.due_on,
        collection: billing::provider::Collection::SendInvoice { days_until_due: 30 },
        po_number: Some("PO-778".into()),
        metadata: std::collections::BTreeMap::new(),
        idempotency_key: IdempotencyKey::derive("invoice", issued.id),
    };
    // A first attempt whose answer was lost, then the retry: one Stripe invoice.
    let first = stripe.issue_invoice(ask()).await.expect("first");
    let retry = stripe.issue_invoice(ask()).await.expect("retry");
    assert_eq!(first, retry);
    let listed = stripe
        .list_invoices(ListInvoices {
            customer_ref: customer.clone(),
        })
        .await
        .expect("list")
        .expect("remote");
    assert_eq!(listed.len(), 1);

    // A total that does not match the lines is refused before anything is sent.
    let mut wrong = ask();
    wrong.total = gbp(1);
    wrong.idempotency_key = IdempotencyKey::derive("invoice-wrong", issued.id);
    assert!(matches!(
        stripe.issue_invoice(wrong).await,
        Err(ProviderError::Rejected(_))
    ));
}

async fn voids_and_credit_notes_are_mirrored(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (_, account) = school_account(conn, 310_003, "Cedar Junior").await;
    let credited = invoice(conn, &account, 50_000).await;
    let voided = invoice(conn, &account, 20_000).await;
    for id in [credited.id, voided.id] {
        mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, id)
            .await
            .expect("mirror");
    }

    let note = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: credited.id,
            reason: "one term cancelled".into(),
            amount: CreditAmount::Amount(gbp(10_000)),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit note");
    let made = mirror::mirror_credit_note(conn, &finance(), &stripe, note.id)
        .await
        .expect("mirror credit")
        .expect("the invoice is mirrored");
    assert!(made.credit_note_ref.starts_with("cn_"));
    let again = mirror::mirror_credit_note(conn, &finance(), &stripe, note.id)
        .await
        .expect("again")
        .expect("mirrored");
    assert_eq!(
        again, made,
        "the idempotency key makes a retry the same note"
    );
    let remote = standin
        .get(&format!("credit_notes/{}", made.credit_note_ref))
        .await;
    assert_eq!(remote["amount"], 10_000);
    let mirror_row = mirror::mirrored_invoices_by_ids(conn, &[credited.id])
        .await
        .expect("mirror")
        .remove(&credited.id)
        .expect("row");
    let remote_invoice = standin
        .get(&format!("invoices/{}", mirror_row.provider_invoice_ref))
        .await;
    assert_eq!(remote_invoice["amount_remaining"], 40_000);

    // The provider follows the ledger: voiding at Stripe first is refused.
    assert_invalid(
        mirror::mirror_void(conn, &finance(), &stripe, voided.id).await,
        "invoiceId",
        kernel::ErrorCode::Conflict,
    );
    invoices::void(conn, &finance(), &clock(), voided.id, "raised in error")
        .await
        .expect("void");
    let mirrored = mirror::mirror_void(conn, &finance(), &stripe, voided.id)
        .await
        .expect("void mirrored")
        .expect("was mirrored");
    let remote = standin
        .get(&format!("invoices/{}", mirrored.provider_invoice_ref))
        .await;
    assert_eq!(remote["status"], "void");
    // Voiding twice is harmless.
    mirror::mirror_void(conn, &finance(), &stripe, voided.id)
        .await
        .expect("again");
}

async fn only_finance_mirrors(db: TestDb) {
    let Some((_standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (school, account) = school_account(conn, 310_004, "Damson Nursery").await;
    let issued = invoice(conn, &account, 1_000).await;
    for actor in [
        user(Role::SchoolLeader, &[school]),
        user(Role::SchoolStaff, &[school]),
    ] {
        assert!(matches!(
            mirror::mirror_invoice(conn, &actor, &clock(), &stripe, issued.id).await,
            Err(DomainError::Forbidden(_))
        ));
    }
    assert!(
        mirror::mirrored_invoices_by_ids(conn, &[issued.id])
            .await
            .expect("mirrors")
            .is_empty(),
        "nothing was sent"
    );
}

async fn card_payments_and_refunds(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (_, account) = school_account(conn, 310_005, "Elm Secondary").await;
    let account = billing::ledger::accounts::account(conn, &finance(), account.id)
        .await
        .expect("account");
    let customer = mirror::ensure_customer(conn, &finance(), &clock(), &stripe, &account)
        .await
        .expect("customer");
    let payment_id = PaymentId::new();
    let take = || TakePayment {
        payment_id,
        account_id: account.id,
        customer_ref: customer.clone(),
        invoice_id: None,
        amount: gbp(4_500),
        idempotency_key: IdempotencyKey::derive("take_payment", payment_id),
    };
    let taken = stripe.take_payment(take()).await.expect("intent");
    assert!(taken.payment_ref.starts_with("pi_"));
    let PaymentOutcome::RequiresAction { client_secret } = &taken.outcome else {
        panic!("the portal confirms the card: {:?}", taken.outcome);
    };
    assert!(client_secret.starts_with(&taken.payment_ref));
    assert_eq!(
        stripe.take_payment(take()).await.expect("retry"),
        taken,
        "one intent"
    );

    // The portal confirms with a card (Stripe.js does this with the client secret).
    let pm = standin.card(&customer, GOOD_CARD).await;
    let (status, body) = standin
        .post(
            &format!("payment_intents/{}", taken.payment_ref),
            &[("payment_method", pm.as_str())],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = standin
        .post(
            &format!("payment_intents/{}/confirm", taken.payment_ref),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "succeeded");

    let refund_id = RefundId::new();
    let ask = || RefundPayment {
        refund_id,
        payment_id,
        payment_ref: Some(taken.payment_ref.clone()),
        amount: gbp(1_500),
        reason: "course cancelled".into(),
        idempotency_key: IdempotencyKey::derive("refund", refund_id),
    };
    let refunded = stripe.refund(ask()).await.expect("refund");
    assert_eq!(refunded.outcome, RefundOutcome::Succeeded);
    assert!(refunded.refund_ref.starts_with("re_"));
    assert_eq!(
        stripe.refund(ask()).await.expect("retry"),
        refunded,
        "one refund"
    );
    let remote = standin
        .get(&format!("refunds/{}", refunded.refund_ref))
        .await;
    assert_eq!(remote["reason"], "requested_by_customer");
    assert_eq!(remote["metadata"]["trellis_reason"], "course cancelled");

    // Refusals come back as rejections, not as outages.
    let mut too_much = ask();
    too_much.refund_id = RefundId::new();
    too_much.payment_ref = Some("pi_doesnotexist".into());
    too_much.idempotency_key = IdempotencyKey::derive("refund", too_much.refund_id);
    assert!(matches!(
        stripe.refund(too_much).await,
        Err(ProviderError::Rejected(_))
    ));
}

async fn a_declined_card_is_a_card_error(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (_, account) = school_account(conn, 310_006, "Fir Special").await;
    let issued = invoice(conn, &account, 7_000).await;
    let mirrored = mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, issued.id)
        .await
        .expect("mirror");
    let (status, body) = standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            DECLINED_CARD,
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["type"], "card_error");
    assert_eq!(body["error"]["code"], "card_declined");
    let remote = stripe
        .sync_status(SyncStatus {
            invoice_id: issued.id,
            invoice_ref: mirrored.provider_invoice_ref.clone(),
        })
        .await
        .expect("sync")
        .expect("remote");
    assert_eq!(remote.status, RemoteInvoiceStatus::Open, "still to pay");

    let (status, body) = standin
        .pay_invoice(
            &mirrored.provider_invoice_ref,
            &mirrored.customer_ref,
            GOOD_CARD,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "paid");
}

async fn reconciliation_reports_every_difference_once(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (school, account) = school_account(conn, 310_007, "Gorse Academy").await;
    let kept = invoice(conn, &account, 60_000).await;
    let voided_there = invoice(conn, &account, 20_000).await;
    let mut refs = Vec::new();
    for id in [kept.id, voided_there.id] {
        refs.push(
            mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, id)
                .await
                .expect("mirror"),
        );
    }
    let customer = refs[0].customer_ref.clone();

    // Nothing differs yet.
    let clean = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("run");
    assert_eq!(clean.invoices_compared, 2);
    assert_eq!(clean.differences_found, 0);

    // Plant three differences on the Stripe side.
    let (status, stray) = standin
        .post(
            "invoices",
            &[
                ("customer", customer.as_str()),
                ("collection_method", "send_invoice"),
                ("days_until_due", "30"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{stray}");
    let stray = stray["id"].as_str().expect("stray").to_owned();
    standin
        .post(
            "invoiceitems",
            &[
                ("customer", customer.as_str()),
                ("invoice", stray.as_str()),
                ("amount", "999"),
                ("currency", "gbp"),
            ],
        )
        .await;
    standin
        .post(&format!("invoices/{stray}/finalize"), &[])
        .await;
    let (status, body) = standin
        .post(
            &format!("invoices/{}/void", refs[1].provider_invoice_ref),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = standin
        .post(
            "credit_notes",
            &[
                ("invoice", refs[0].provider_invoice_ref.as_str()),
                ("amount", "5000"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let found = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("run");
    assert_eq!(found.invoices_compared, 2);
    assert_eq!(found.differences_found, 3);
    let open = reconciliation::differences(conn, &finance(), true, 100)
        .await
        .expect("differences");
    let mut kinds: Vec<(DifferenceKind, Option<String>)> = open
        .iter()
        .map(|d| (d.kind, d.provider_invoice_ref.clone()))
        .collect();
    kinds.sort_by_key(|(k, _)| k.to_string());
    assert_eq!(
        kinds,
        vec![
            (DifferenceKind::MissingInTrellis, Some(stray.clone())),
            (
                DifferenceKind::OutstandingMismatch,
                Some(refs[0].provider_invoice_ref.clone())
            ),
            (
                DifferenceKind::StatusMismatch,
                Some(refs[1].provider_invoice_ref.clone())
            ),
        ]
    );
    let outstanding = open
        .iter()
        .find(|d| d.kind == DifferenceKind::OutstandingMismatch)
        .expect("outstanding");
    assert_eq!(outstanding.invoice_id, Some(kept.id));
    assert_eq!(
        outstanding.trellis_value.as_deref(),
        Some(gbp(60_000).to_string().as_str())
    );
    assert_eq!(
        outstanding.provider_value.as_deref(),
        Some(gbp(55_000).to_string().as_str())
    );

    // Still open differences are not reported again.
    let again = reconciliation::run(conn, &finance(), &clock(), &stripe)
        .await
        .expect("again");
    assert_eq!(again.differences_found, 0);

    // Finance resolves one with a note, once.
    let leader = user(Role::SchoolLeader, &[school]);
    assert!(matches!(
        reconciliation::resolve(conn, &leader, &clock(), outstanding.id, "fine").await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        reconciliation::run(conn, &leader, &clock(), &stripe).await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        reconciliation::differences(conn, &leader, true, 10).await,
        Err(DomainError::Forbidden(_))
    ));
    assert_invalid(
        reconciliation::resolve(conn, &finance(), &clock(), outstanding.id, "  ").await,
        "note",
        kernel::ErrorCode::Required,
    );
    let resolved = reconciliation::resolve(
        conn,
        &finance(),
        &clock(),
        outstanding.id,
        "credit note raised at Stripe by mistake; voiding it there",
    )
    .await
    .expect("resolve");
    assert!(resolved.resolved_at.is_some());
    assert_invalid(
        reconciliation::resolve(conn, &finance(), &clock(), outstanding.id, "again").await,
        "id",
        kernel::ErrorCode::Conflict,
    );
    let open = reconciliation::differences(conn, &finance(), true, 100)
        .await
        .expect("open");
    assert_eq!(open.len(), 2);
    assert_eq!(
        reconciliation::differences(conn, &finance(), false, 100)
            .await
            .expect("all")
            .len(),
        3
    );

    // Offline there is nothing remote to compare.
    let offline = reconciliation::run(
        conn,
        &finance(),
        &clock(),
        &billing::provider::OfflineProvider,
    )
    .await
    .expect("offline");
    assert_eq!(offline.invoices_compared, 0);
}

async fn a_year_is_mirrored_once_and_cards_start_once(db: TestDb) {
    let Some((standin, stripe)) = standin() else {
        return;
    };
    let conn = db.conn();
    let (school, account) = school_account(conn, 310_008, "Holm Oak Primary").await;
    let first = invoice(conn, &account, 30_000).await;
    let second = invoice(conn, &account, 15_000).await;
    // A card booking's invoice: paid by its PaymentIntent, never a hosted Stripe invoice.
    let by_card = billing::ledger::issue_invoice(
        conn,
        &finance(),
        &clock(),
        billing::ledger::NewInvoice {
            source: billing::ledger::InvoiceSource::Booking,
            collection: billing::ledger::InvoiceCollection::Card,
            ..new_invoice(
                &account,
                billing::ledger::Instalment::None,
                vec![line(4_500)],
            )
        },
    )
    .await
    .expect("issue")
    .invoice;
    assert!(!by_card.goes_to_provider());
    mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, first.id)
        .await
        .expect("mirror one");
    assert_invalid(
        mirror::mirror_invoice(conn, &finance(), &clock(), &stripe, by_card.id).await,
        "invoiceId",
        kernel::ErrorCode::Conflict,
    );
    let leader = user(Role::SchoolLeader, &[school]);
    assert!(matches!(
        mirror::mirror_year(conn, &leader, &clock(), &stripe, year()).await,
        Err(DomainError::Forbidden(_))
    ));
    let done = mirror::mirror_year(conn, &finance(), &clock(), &stripe, year())
        .await
        .expect("year");
    assert_eq!((done.mirrored, done.existing), (1, 1), "{done:?}");
    assert!(done.failed.is_empty());
    let again = mirror::mirror_year(conn, &finance(), &clock(), &stripe, year())
        .await
        .expect("again");
    assert_eq!((again.mirrored, again.existing), (0, 2));
    assert!(
        mirror::mirrored_invoices_by_ids(conn, &[by_card.id])
            .await
            .expect("mirrors")
            .is_empty(),
        "the card invoice stays out of the year's mirror"
    );

    // The school's own leader starts a card payment; a retry with the key is the same intent.
    let started =
        mirror::start_card_payment(conn, &leader, &clock(), &stripe, second.id, "click-1")
            .await
            .expect("start");
    let retried =
        mirror::start_card_payment(conn, &leader, &clock(), &stripe, second.id, "click-1")
            .await
            .expect("retry");
    assert_eq!(started, retried);
    let remote = standin
        .get(&format!("payment_intents/{}", started.payment_ref))
        .await;
    assert_eq!(remote["amount"], 15_000);
    assert_eq!(
        remote["metadata"]["trellis_invoice_id"],
        second.id.to_string()
    );
    let other = mirror::start_card_payment(conn, &leader, &clock(), &stripe, second.id, "click-2")
        .await
        .expect("another click");
    assert_ne!(
        other.payment_ref, started.payment_ref,
        "a new key is a new attempt"
    );

    // Another school's leader cannot see the invoice; a blank key is refused.
    let (stranger_school, _) = school_account(conn, 310_009, "Ivy Infant").await;
    let stranger = user(Role::SchoolLeader, &[stranger_school]);
    assert!(matches!(
        mirror::start_card_payment(conn, &stranger, &clock(), &stripe, second.id, "x").await,
        Err(DomainError::NotFound { .. } | DomainError::Forbidden(_))
    ));
    assert_invalid(
        mirror::start_card_payment(conn, &leader, &clock(), &stripe, second.id, " ").await,
        "idempotencyKey",
        kernel::ErrorCode::Required,
    );
    // A void invoice cannot be paid.
    invoices::void(conn, &finance(), &clock(), first.id, "duplicate")
        .await
        .expect("void");
    assert_invalid(
        mirror::start_card_payment(conn, &finance(), &clock(), &stripe, first.id, "k").await,
        "invoiceId",
        kernel::ErrorCode::Conflict,
    );
}

testkit::db_tests!(
    mirrors_an_invoice_once_with_its_metadata,
    a_retried_issue_finds_the_same_stripe_invoice,
    voids_and_credit_notes_are_mirrored,
    only_finance_mirrors,
    card_payments_and_refunds,
    a_declined_card_is_a_card_error,
    reconciliation_reports_every_difference_once,
    a_year_is_mirrored_once_and_cards_start_once,
);
