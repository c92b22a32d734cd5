//! Payments, allocations, credit notes and refunds against real databases.

use crate::ledger_support;

use billing::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use billing::ledger::invoices::{self, lines_of_invoices};
use billing::ledger::payments::{self, NewPayment, ReceiptMethod};
use billing::ledger::refunds::{self, NewRefund};
use billing::ledger::{
    AuditEntity, Instalment, InvoiceStatus, VatTreatment, account_statement, allocate, audit_of,
    issue_invoice, record_payment, record_payment_once, refund, unallocated_receipts,
};
use billing::provider::{
    Collection, CreateCustomer, IdempotencyKey, IssueInvoice, OfflineProvider, PaymentOutcome,
    PaymentProvider, ProviderLine, TakePayment,
};
use kernel::{BillingAccountId, DomainError, ErrorCode, InvoiceId, PaymentId, Role};
use ledger_support::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

fn receipt(account: BillingAccountId, pence: i64, key: Option<&str>) -> NewPayment {
    NewPayment {
        account_id: account,
        method: ReceiptMethod::Bacs,
        reference: "HEP SUBS ALDER".to_owned(),
        received_on: date(2026, 9, 14),
        amount: gbp(pence),
        provider_payment_ref: None,
        idempotency_key: key.map(str::to_owned),
    }
}

async fn pay(db: &DatabaseConnection, account: BillingAccountId, pence: i64) -> payments::Payment {
    record_payment(db, &finance(), &clock(), receipt(account, pence, None))
        .await
        .expect("receipt")
}

async fn fresh(db: &DatabaseConnection, id: InvoiceId) -> invoices::Invoice {
    invoices::invoice(db, &finance(), id)
        .await
        .expect("invoice")
}

async fn fresh_payment(db: &DatabaseConnection, id: PaymentId) -> payments::Payment {
    payments::payment(db, &finance(), id)
        .await
        .expect("payment")
}

fn new_refund(payment: PaymentId, pence: i64, key: Option<&str>) -> NewRefund {
    NewRefund {
        payment_id: payment,
        amount: gbp(pence),
        reason: "overpaid".to_owned(),
        refunded_on: date(2026, 9, 15),
        provider_refund_ref: None,
        idempotency_key: key.map(str::to_owned),
    }
}

async fn recording_payments_is_idempotent_and_validated(db: TestDb) {
    let conn = db.conn();
    let (own, account) = school_account(conn, 200_001, "Alder Primary").await;
    let first = record_payment(
        conn,
        &finance(),
        &clock(),
        receipt(account.id, 50_000, Some("bacs-0914-1")),
    )
    .await
    .expect("first");
    let again = record_payment(
        conn,
        &finance(),
        &clock(),
        receipt(account.id, 50_000, Some("bacs-0914-1")),
    )
    .await
    .expect("again");
    assert_eq!(first, again, "a retry returns the first payment");
    assert_invalid(
        record_payment(
            conn,
            &finance(),
            &clock(),
            receipt(account.id, 50_001, Some("bacs-0914-1")),
        )
        .await,
        "idempotencyKey",
        ErrorCode::Conflict,
    );
    let unkeyed = record_payment(
        conn,
        &finance(),
        &clock(),
        receipt(account.id, 50_000, None),
    )
    .await
    .expect("unkeyed");
    assert_ne!(
        unkeyed.id, first.id,
        "without a key, two receipts are two receipts"
    );

    for pence in [0, -100] {
        assert_invalid(
            record_payment(conn, &finance(), &clock(), receipt(account.id, pence, None)).await,
            "amountPence",
            ErrorCode::OutOfRange,
        );
    }
    let mut future = receipt(account.id, 100, None);
    future.received_on = date(2026, 9, 16);
    assert_invalid(
        record_payment(conn, &finance(), &clock(), future).await,
        "receivedOn",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        record_payment(
            conn,
            &finance(),
            &clock(),
            receipt(BillingAccountId::new(), 100, None),
        )
        .await,
        "accountId",
        ErrorCode::NotFound,
    );
    let mut blank = receipt(account.id, 100, None);
    blank.reference = " ".into();
    assert_invalid(
        record_payment(conn, &finance(), &clock(), blank).await,
        "reference",
        ErrorCode::Required,
    );
    assert!(matches!(
        record_payment(
            conn,
            &user(Role::SchoolLeader, &[own]),
            &clock(),
            receipt(account.id, 100, None)
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let open = unallocated_receipts(conn, &finance())
        .await
        .expect("receipts");
    assert_eq!(open.len(), 2, "nothing written by the rejected requests");
    let trail = audit_of(conn, &finance(), AuditEntity::Payment, first.id.as_uuid())
        .await
        .expect("trail");
    assert_eq!(trail.len(), 1, "the replay wrote nothing");
}

async fn one_receipt_pays_several_invoices(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 210_001, "Alder Primary").await;
    let (_, other) = school_account(conn, 210_002, "Birch Primary").await;
    let autumn = invoice(conn, &account, 10_000).await;
    let spring = invoice(conn, &account, 20_000).await;
    let summer = invoice(conn, &account, 30_000).await;
    let theirs = invoice(conn, &other, 10_000).await;

    // Under-payment: one BACS receipt for part of three invoices.
    let first = pay(conn, account.id, 35_000).await;
    let made = allocate(
        conn,
        &finance(),
        &clock(),
        first.id,
        &[
            (autumn.id, gbp(10_000)),
            (spring.id, gbp(20_000)),
            (summer.id, gbp(5_000)),
        ],
        Some("alloc-1"),
    )
    .await
    .expect("allocate");
    assert_eq!(made.len(), 3);
    assert_eq!(fresh(conn, autumn.id).await.status, InvoiceStatus::Paid);
    assert_eq!(fresh(conn, spring.id).await.status, InvoiceStatus::Paid);
    let c_now = fresh(conn, summer.id).await;
    assert_eq!(c_now.status, InvoiceStatus::PartiallyPaid);
    assert_eq!(c_now.outstanding, gbp(25_000), "the balance still owed");
    assert_eq!(fresh_payment(conn, first.id).await.unallocated, gbp(0));
    // The same key replays; a different request under it conflicts.
    let replay = allocate(
        conn,
        &finance(),
        &clock(),
        first.id,
        &[
            (autumn.id, gbp(10_000)),
            (spring.id, gbp(20_000)),
            (summer.id, gbp(5_000)),
        ],
        Some("alloc-1"),
    )
    .await
    .expect("replay");
    assert_eq!(replay, made);
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            first.id,
            &[(summer.id, gbp(1))],
            Some("alloc-1"),
        )
        .await,
        "idempotencyKey",
        ErrorCode::Conflict,
    );

    // Over-payment: the rest of c and £50 left as account credit.
    let second = pay(conn, account.id, 30_000).await;
    allocate(
        conn,
        &finance(),
        &clock(),
        second.id,
        &[(summer.id, gbp(25_000))],
        None,
    )
    .await
    .expect("allocate");
    assert_eq!(fresh(conn, summer.id).await.status, InvoiceStatus::Paid);
    let second_now = fresh_payment(conn, second.id).await;
    assert_eq!(second_now.unallocated, gbp(5_000));
    assert_eq!(
        unallocated_receipts(conn, &finance())
            .await
            .expect("q")
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![second.id]
    );

    // Every way to get it wrong, each refused with nothing written.
    let extra = invoice(conn, &account, 8_000).await;
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            second.id,
            &[(extra.id, gbp(6_000))],
            None,
        )
        .await,
        "allocations",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            second.id,
            &[(summer.id, gbp(1))],
            None,
        )
        .await,
        "allocations.0.invoiceId",
        ErrorCode::Conflict,
    );
    let big = pay(conn, account.id, 100_000).await;
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(extra.id, gbp(8_001))],
            None,
        )
        .await,
        "allocations.0.amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(extra.id, gbp(0))],
            None,
        )
        .await,
        "allocations.0.amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(extra.id, gbp(-5))],
            None,
        )
        .await,
        "allocations.0.amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(extra.id, gbp(1)), (extra.id, gbp(1))],
            None,
        )
        .await,
        "allocations.1.invoiceId",
        ErrorCode::Invalid,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(theirs.id, gbp(1))],
            None,
        )
        .await,
        "allocations.0.invoiceId",
        ErrorCode::NotFound,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(InvoiceId::new(), gbp(1))],
            None,
        )
        .await,
        "allocations.0.invoiceId",
        ErrorCode::NotFound,
    );
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            PaymentId::new(),
            &[(extra.id, gbp(1))],
            None,
        )
        .await,
        "paymentId",
        ErrorCode::NotFound,
    );
    assert_invalid(
        allocate(conn, &finance(), &clock(), big.id, &[], None).await,
        "allocations",
        ErrorCode::Required,
    );
    let dup = invoice(conn, &account, 4_000).await;
    invoices::void(conn, &finance(), &clock(), dup.id, "duplicate")
        .await
        .expect("void");
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            big.id,
            &[(dup.id, gbp(100))],
            None,
        )
        .await,
        "allocations.0.invoiceId",
        ErrorCode::Conflict,
    );
    assert!(matches!(
        allocate(
            conn,
            &user(Role::SchoolLeader, &account.school_ids),
            &clock(),
            big.id,
            &[(extra.id, gbp(1))],
            None
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(fresh_payment(conn, big.id).await.unallocated, gbp(100_000));
    assert_eq!(fresh(conn, extra.id).await.outstanding, gbp(8_000));
    // A voided invoice that took money can't be voided: credit instead.
    assert_invalid(
        invoices::void(conn, &finance(), &clock(), autumn.id, "oops").await,
        "invoiceId",
        ErrorCode::Conflict,
    );

    let by_payment = payments::allocations_of_payments(conn, &[first.id])
        .await
        .expect("allocations");
    assert_eq!(
        by_payment[&first.id]
            .iter()
            .map(|x| x.amount.pence())
            .sum::<i64>(),
        35_000
    );
    let by_invoice = payments::allocations_of_invoices(conn, &[summer.id])
        .await
        .expect("allocations");
    assert_eq!(by_invoice[&summer.id].len(), 2);
    let trail = audit_of(conn, &finance(), AuditEntity::Payment, first.id.as_uuid())
        .await
        .expect("trail");
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["payment.record", "payment.allocate"]
    );
    assert_eq!(
        trail[1].before.as_ref().expect("before")["unallocated"]["pence"],
        35_000
    );
}

async fn credit_notes_reduce_what_is_owed_or_leave_credit(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 220_001, "Alder Primary").await;
    let mut course = line(10_000);
    course.vat_treatment = VatTreatment::Standard;
    course.vat_rate_bp = 2_000;
    course.description = "Phonics CPD".into();
    course.cfr_code = Some("E27".into());
    let issued = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&account, Instalment::None, vec![line(50_000), course]),
    )
    .await
    .expect("issue")
    .invoice;
    assert_eq!(issued.total, gbp(62_000));

    // Partial credit by amount on an open invoice: less is owed.
    let note = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued.id,
            reason: "pro-rata for a January joiner".into(),
            amount: CreditAmount::Amount(gbp(20_000)),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit");
    assert_eq!(note.number, "CN-2026-000001");
    assert_eq!(note.total, gbp(20_000));
    assert_eq!(note.released, gbp(0));
    let now = fresh(conn, issued.id).await;
    assert_eq!(
        (now.credited, now.outstanding, now.status),
        (gbp(20_000), gbp(42_000), InvoiceStatus::Open)
    );

    // Crediting more than is left uncredited is refused; so is nonsense.
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: "x".into(),
                amount: CreditAmount::Amount(gbp(42_001)),
                idempotency_key: None,
            },
        )
        .await,
        "amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: "x".into(),
                amount: CreditAmount::Amount(gbp(0)),
                idempotency_key: None,
            },
        )
        .await,
        "amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: " ".into(),
                amount: CreditAmount::Full,
                idempotency_key: None,
            },
        )
        .await,
        "reason",
        ErrorCode::Required,
    );
    let lines = lines_of_invoices(conn, &[issued.id]).await.expect("lines");
    let course_line = lines[&issued.id][1].id;
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: "x".into(),
                amount: CreditAmount::Lines(vec![(course_line, gbp(12_001))]),
                idempotency_key: None,
            },
        )
        .await,
        "lines.0.amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: "x".into(),
                amount: CreditAmount::Lines(vec![(kernel::InvoiceLineId::new(), gbp(1))]),
                idempotency_key: None,
            },
        )
        .await,
        "lines.0.invoiceLineId",
        ErrorCode::NotFound,
    );
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: InvoiceId::new(),
                reason: "x".into(),
                amount: CreditAmount::Full,
                idempotency_key: None,
            },
        )
        .await,
        "invoiceId",
        ErrorCode::NotFound,
    );

    // Pay what is owed, then credit the VAT-able course line: that part was paid, so it is
    // released back to the receipt as account credit, then refunded.
    let receipt = pay(conn, account.id, 42_000).await;
    allocate(
        conn,
        &finance(),
        &clock(),
        receipt.id,
        &[(issued.id, gbp(42_000))],
        None,
    )
    .await
    .expect("pay");
    assert_eq!(fresh(conn, issued.id).await.status, InvoiceStatus::Paid);
    let course_note = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued.id,
            reason: "course cancelled".into(),
            amount: CreditAmount::Lines(vec![(course_line, gbp(12_000))]),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit a paid line");
    assert_eq!(course_note.number, "CN-2026-000002");
    assert_eq!(
        (course_note.net, course_note.vat),
        (gbp(10_000), gbp(2_000)),
        "VAT credited in proportion"
    );
    assert_eq!(course_note.lines[0].cfr_code.as_deref(), Some("E27"));
    assert_eq!(course_note.released, gbp(12_000));
    let now = fresh(conn, issued.id).await;
    assert_eq!(
        (now.paid, now.credited, now.outstanding, now.status),
        (gbp(30_000), gbp(32_000), gbp(0), InvoiceStatus::Paid)
    );
    assert_eq!(
        now.total.pence(),
        now.paid.pence() + now.credited.pence() + now.outstanding.pence()
    );
    assert_eq!(
        fresh_payment(conn, receipt.id).await.unallocated,
        gbp(12_000)
    );

    let refunded = refund(
        conn,
        &finance(),
        &clock(),
        new_refund(receipt.id, 12_000, Some("re-1")),
    )
    .await
    .expect("refund");
    assert_eq!(
        refund(
            conn,
            &finance(),
            &clock(),
            new_refund(receipt.id, 12_000, Some("re-1"))
        )
        .await
        .expect("replay"),
        refunded
    );
    assert_invalid(
        refund(conn, &finance(), &clock(), new_refund(receipt.id, 1, None)).await,
        "amountPence",
        ErrorCode::OutOfRange,
    );
    let after = fresh_payment(conn, receipt.id).await;
    assert_eq!(
        (after.allocated, after.refunded, after.unallocated),
        (gbp(30_000), gbp(12_000), gbp(0))
    );
    let by_payment = refunds::refunds_of_payments(conn, &[receipt.id])
        .await
        .expect("refunds");
    assert_eq!(by_payment[&receipt.id].len(), 1);

    // Whatever is left can be credited in full; then nothing more.
    let rest = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued.id,
            reason: "left the partnership".into(),
            amount: CreditAmount::Full,
            idempotency_key: None,
        },
    )
    .await
    .expect("full");
    assert_eq!(rest.total, gbp(30_000));
    let now = fresh(conn, issued.id).await;
    assert_eq!(
        (now.paid, now.credited, now.outstanding),
        (gbp(0), gbp(62_000), gbp(0))
    );
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: issued.id,
                reason: "again".into(),
                amount: CreditAmount::Full,
                idempotency_key: None,
            },
        )
        .await,
        "invoiceId",
        ErrorCode::Conflict,
    );
    let notes = credit_notes::credit_notes_of_invoices(conn, &[issued.id])
        .await
        .expect("notes");
    assert_eq!(
        notes[&issued.id]
            .iter()
            .map(|n| n.total.pence())
            .sum::<i64>(),
        62_000
    );
    assert!(matches!(
        credit_notes::credit_note(
            conn,
            &user(Role::SchoolLeader, &[kernel::SchoolId::new()]),
            rest.id
        )
        .await,
        Err(DomainError::NotFound { .. })
    ));
    assert_eq!(
        credit_notes::credit_note(
            conn,
            &user(Role::SchoolLeader, &account.school_ids),
            rest.id
        )
        .await
        .expect("own")
        .id,
        rest.id
    );

    // Void invoices cannot be credited.
    let other = invoice(conn, &account, 1_000).await;
    invoices::void(conn, &finance(), &clock(), other.id, "duplicate")
        .await
        .expect("void");
    assert_invalid(
        credit_notes::credit(
            conn,
            &finance(),
            &clock(),
            NewCreditNote {
                invoice_id: other.id,
                reason: "x".into(),
                amount: CreditAmount::Full,
                idempotency_key: None,
            },
        )
        .await,
        "invoiceId",
        ErrorCode::Conflict,
    );
    let trail = audit_of(
        conn,
        &finance(),
        AuditEntity::CreditNote,
        course_note.id.as_uuid(),
    )
    .await
    .expect("trail");
    assert_eq!(trail.len(), 1);
    let trail = audit_of(conn, &finance(), AuditEntity::Payment, receipt.id.as_uuid())
        .await
        .expect("trail");
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec![
            "payment.record",
            "payment.allocate",
            "payment.release",
            "payment.refund",
            "payment.release"
        ]
    );
}

async fn a_retried_credit_note_is_raised_once(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 200_031, "Hazel Primary").await;
    let issued = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&account, Instalment::None, vec![line(30_000)]),
    )
    .await
    .expect("issue")
    .invoice;
    let request = |pence: i64| NewCreditNote {
        invoice_id: issued.id,
        reason: "closed for a term".into(),
        amount: CreditAmount::Amount(gbp(pence)),
        idempotency_key: Some("cn-hazel-1".into()),
    };
    let first = credit_notes::credit(conn, &finance(), &clock(), request(10_000))
        .await
        .expect("first");
    let again = credit_notes::credit(conn, &finance(), &clock(), request(10_000))
        .await
        .expect("again");
    assert_eq!(first, again, "a retry returns the first note");
    assert_invalid(
        credit_notes::credit(conn, &finance(), &clock(), request(10_001)).await,
        "idempotencyKey",
        ErrorCode::Conflict,
    );
    let now = fresh(conn, issued.id).await;
    assert_eq!(now.credited, gbp(10_000), "credited once");
    assert_eq!(
        audit_of(conn, &finance(), AuditEntity::Invoice, issued.id.as_uuid())
            .await
            .expect("trail")
            .iter()
            .filter(|e| e.action == "invoice.credit")
            .count(),
        1
    );
    // The next note takes the next number: the retry consumed none.
    let next = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            idempotency_key: None,
            ..request(5_000)
        },
    )
    .await
    .expect("next");
    assert_eq!(
        next.number
            .trim_start_matches("CN-2026-")
            .parse::<u32>()
            .expect("number"),
        first
            .number
            .trim_start_matches("CN-2026-")
            .parse::<u32>()
            .expect("number")
            + 1
    );
}

async fn refunds_come_only_from_unallocated_money(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 230_001, "Alder Primary").await;
    let paid = pay(conn, account.id, 10_000).await;
    assert_invalid(
        refund(conn, &finance(), &clock(), new_refund(paid.id, 0, None)).await,
        "amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        refund(
            conn,
            &finance(),
            &clock(),
            new_refund(paid.id, 10_001, None),
        )
        .await,
        "amountPence",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        refund(
            conn,
            &finance(),
            &clock(),
            new_refund(PaymentId::new(), 1, None),
        )
        .await,
        "paymentId",
        ErrorCode::NotFound,
    );
    let mut early = new_refund(paid.id, 1, None);
    early.refunded_on = date(2026, 9, 1);
    assert_invalid(
        refund(conn, &finance(), &clock(), early).await,
        "refundedOn",
        ErrorCode::OutOfRange,
    );
    let mut blank = new_refund(paid.id, 1, None);
    blank.reason = String::new();
    assert_invalid(
        refund(conn, &finance(), &clock(), blank).await,
        "reason",
        ErrorCode::Required,
    );
    assert!(matches!(
        refund(
            conn,
            &user(Role::SchoolStaff, &account.school_ids),
            &clock(),
            new_refund(paid.id, 1, None)
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    refund(
        conn,
        &finance(),
        &clock(),
        new_refund(paid.id, 4_000, Some("k")),
    )
    .await
    .expect("refund");
    assert_invalid(
        refund(
            conn,
            &finance(),
            &clock(),
            new_refund(paid.id, 4_001, Some("k")),
        )
        .await,
        "idempotencyKey",
        ErrorCode::Conflict,
    );
    let inv = invoice(conn, &account, 7_000).await;
    assert_invalid(
        allocate(
            conn,
            &finance(),
            &clock(),
            paid.id,
            &[(inv.id, gbp(6_001))],
            None,
        )
        .await,
        "allocations",
        ErrorCode::OutOfRange,
    );
    allocate(
        conn,
        &finance(),
        &clock(),
        paid.id,
        &[(inv.id, gbp(6_000))],
        None,
    )
    .await
    .expect("rest");
    let now = fresh_payment(conn, paid.id).await;
    assert_eq!(
        (now.allocated, now.refunded, now.unallocated),
        (gbp(6_000), gbp(4_000), gbp(0))
    );
}

async fn concurrent_allocations_cannot_over_allocate(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 240_001, "Alder Primary").await;
    let receipt = pay(conn, account.id, 10_000).await;
    let mut targets = Vec::new();
    for _ in 0..6 {
        targets.push(invoice(conn, &account, 10_000).await);
    }
    // Six simultaneous allocations of £60 from one £100 receipt: one fits.
    let tasks: Vec<_> = targets
        .iter()
        .map(|inv| {
            let conn = conn.clone();
            let (payment, invoice) = (receipt.id, inv.id);
            tokio::spawn(async move {
                allocate(
                    &conn,
                    &finance(),
                    &clock(),
                    payment,
                    &[(invoice, gbp(6_000))],
                    None,
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => ok += 1,
            Err(DomainError::Invalid(problems)) => {
                assert_eq!(problems[0].code, ErrorCode::OutOfRange);
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    let now = fresh_payment(conn, receipt.id).await;
    assert_eq!((now.allocated, now.unallocated), (gbp(6_000), gbp(4_000)));

    // Six receipts racing to pay one £100 invoice £70 each: one fits.
    let target = invoice(conn, &account, 10_000).await;
    let mut receipts = Vec::new();
    for _ in 0..6 {
        receipts.push(pay(conn, account.id, 7_000).await);
    }
    let tasks: Vec<_> = receipts
        .iter()
        .map(|p| {
            let conn = conn.clone();
            let (payment, invoice) = (p.id, target.id);
            tokio::spawn(async move {
                allocate(
                    &conn,
                    &finance(),
                    &clock(),
                    payment,
                    &[(invoice, gbp(7_000))],
                    None,
                )
                .await
            })
        })
        .collect();
    let results: Vec<_> = futures_join(tasks).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let now = fresh(conn, target.id).await;
    assert_eq!(
        (now.paid, now.outstanding, now.status),
        (gbp(7_000), gbp(3_000), InvoiceStatus::PartiallyPaid)
    );

    // Two concurrent refunds and an allocation of the same £40 credit: at most £40 leaves.
    let last = invoice(conn, &account, 4_000).await;
    let r1 = {
        let conn = conn.clone();
        let id = receipt.id;
        tokio::spawn(async move {
            refund(&conn, &finance(), &clock(), new_refund(id, 4_000, None))
                .await
                .map(|_| ())
        })
    };
    let r2 = {
        let conn = conn.clone();
        let id = receipt.id;
        tokio::spawn(async move {
            refund(&conn, &finance(), &clock(), new_refund(id, 4_000, None))
                .await
                .map(|_| ())
        })
    };
    let a1 = {
        let conn = conn.clone();
        let (id, inv) = (receipt.id, last.id);
        tokio::spawn(async move {
            allocate(&conn, &finance(), &clock(), id, &[(inv, gbp(4_000))], None)
                .await
                .map(|_| ())
        })
    };
    let (r1, r2, a1) = tokio::join!(r1, r2, a1);
    let outcomes = [r1.expect("join"), r2.expect("join"), a1.expect("join")];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let now = fresh_payment(conn, receipt.id).await;
    assert_eq!(now.unallocated, gbp(0));
    assert_eq!(now.allocated.pence() + now.refunded.pence(), 10_000);
}

async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("join"));
    }
    out
}

async fn offline_provider_round_trip(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 250_001, "Alder Primary").await;
    let provider = OfflineProvider;
    let customer = provider
        .create_customer(CreateCustomer {
            account_id: account.id,
            name: account.name.clone(),
            email: account.contact_email.clone(),
            address: account.address.clone(),
            idempotency_key: IdempotencyKey::derive("create_customer", account.id),
        })
        .await
        .expect("customer");
    let account = billing::ledger::accounts::update(
        conn,
        &finance(),
        &clock(),
        account.id,
        billing::ledger::AccountChanges {
            provider_customer_ref: Some(Some(customer.customer_ref.clone())),
            ..Default::default()
        },
    )
    .await
    .expect("store customer");
    let issued = invoice(conn, &account, 60_000).await;
    let lines = lines_of_invoices(conn, &[issued.id]).await.expect("lines");
    let remote = provider
        .issue_invoice(IssueInvoice {
            invoice_id: issued.id,
            number: issued.number.clone(),
            account_id: account.id,
            customer_ref: customer.customer_ref.clone(),
            lines: lines[&issued.id]
                .iter()
                .map(|l| ProviderLine {
                    description: l.description.clone(),
                    quantity: l.quantity,
                    unit_amount: l.unit_amount,
                    vat_treatment: l.vat_treatment,
                    vat_rate_bp: l.vat_rate_bp,
                })
                .collect(),
            total: issued.total,
            due_on: issued.due_on,
            collection: Collection::SendInvoice { days_until_due: 30 },
            po_number: None,
            metadata: std::collections::BTreeMap::new(),
            idempotency_key: IdempotencyKey::derive("issue_invoice", issued.id),
        })
        .await
        .expect("mirror");
    let mirrored = invoices::record_provider_invoice(
        conn,
        &finance(),
        &clock(),
        issued.id,
        &remote.invoice_ref,
        remote.hosted_url.as_deref(),
    )
    .await
    .expect("record");
    assert_eq!(
        mirrored.provider_invoice_ref,
        Some(format!("offline_in_{}", issued.id.as_uuid().simple()))
    );
    let payment_id = PaymentId::new();
    let taken = provider
        .take_payment(TakePayment {
            payment_id,
            account_id: account.id,
            customer_ref: customer.customer_ref,
            invoice_id: Some(issued.id),
            amount: issued.total,
            idempotency_key: IdempotencyKey::derive("take_payment", payment_id),
        })
        .await
        .expect("take");
    assert_eq!(
        taken.outcome,
        PaymentOutcome::Pending,
        "offline money arrives by bank transfer"
    );
    let mut arrived = receipt(account.id, 60_000, Some("bank-line-77"));
    arrived.provider_payment_ref = Some(taken.payment_ref);
    let recorded = record_payment(conn, &finance(), &clock(), arrived)
        .await
        .expect("arrived");
    allocate(
        conn,
        &finance(),
        &clock(),
        recorded.id,
        &[(issued.id, gbp(60_000))],
        None,
    )
    .await
    .expect("settle");
    assert_eq!(fresh(conn, issued.id).await.status, InvoiceStatus::Paid);
}

/// Amounts a hostile client might send: below a penny, above £10,000,000, and the extremes.
const OUT_OF_RANGE: [i64; 6] = [i64::MAX, i64::MIN, 0, -1, 1_000_000_001, 9_223_372_036_854];

async fn extreme_amounts_are_refused_with_the_field_named_and_nothing_written(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 200_101, "Alder Primary").await;
    let inv = invoice(conn, &account, 100_000).await;
    let paid = pay(conn, account.id, 30_000).await;
    let fin = finance();
    let statement = || account_statement(conn, &fin, account.id, year());
    let before = statement().await.expect("statement");
    let receipts_before = unallocated_receipts(conn, &finance()).await.expect("open");
    let audit_before = audit_of(conn, &finance(), AuditEntity::Payment, paid.id.as_uuid())
        .await
        .expect("audit")
        .len();

    for pence in OUT_OF_RANGE {
        assert_invalid(
            record_payment(conn, &finance(), &clock(), receipt(account.id, pence, None)).await,
            "amountPence",
            ErrorCode::OutOfRange,
        );
        assert_invalid(
            refund(conn, &finance(), &clock(), new_refund(paid.id, pence, None)).await,
            "amountPence",
            ErrorCode::OutOfRange,
        );
        assert_invalid(
            credit_notes::credit(
                conn,
                &finance(),
                &clock(),
                NewCreditNote {
                    invoice_id: inv.id,
                    reason: "hostile".into(),
                    amount: CreditAmount::Amount(gbp(pence)),
                    idempotency_key: None,
                },
            )
            .await,
            "amountPence",
            ErrorCode::OutOfRange,
        );
        assert_invalid(
            allocate(
                conn,
                &finance(),
                &clock(),
                paid.id,
                &[(inv.id, gbp(pence))],
                None,
            )
            .await,
            "allocations.0.amountPence",
            ErrorCode::OutOfRange,
        );
    }

    assert_eq!(
        statement().await.expect("statement"),
        before,
        "nothing was written"
    );
    assert_eq!(
        unallocated_receipts(conn, &finance()).await.expect("open"),
        receipts_before
    );
    assert_eq!(
        audit_of(conn, &finance(), AuditEntity::Payment, paid.id.as_uuid())
            .await
            .expect("audit")
            .len(),
        audit_before
    );

    // The largest receipt allowed is taken, and a statement over several of them adds up
    // without wrapping.
    for _ in 0..3 {
        pay(conn, account.id, 1_000_000_000).await;
    }
    let after = statement().await.expect("statement");
    assert_eq!(
        after.received.pence(),
        before.received.pence() + 3_000_000_000
    );
    assert_eq!(
        after.account_credit.pence(),
        before.account_credit.pence() + 3_000_000_000
    );
}

async fn dates_outside_2000_to_2099_are_refused(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 200_102, "Alder Primary").await;
    let paid = pay(conn, account.id, 30_000).await;
    // `26-11-02` once parsed as the year 26; `0001-01-01` was accepted as it stood.
    for bad in [date(26, 11, 2), date(1, 1, 1), date(1999, 12, 31)] {
        let mut r = receipt(account.id, 100, None);
        r.received_on = bad;
        assert_invalid(
            record_payment(conn, &finance(), &clock(), r).await,
            "receivedOn",
            ErrorCode::OutOfRange,
        );
        let mut back = new_refund(paid.id, 100, None);
        back.refunded_on = bad;
        assert_invalid(
            refund(conn, &finance(), &clock(), back).await,
            "refundedOn",
            ErrorCode::OutOfRange,
        );
    }
    assert_eq!(
        unallocated_receipts(conn, &finance()).await.expect("open"),
        vec![fresh_payment(conn, paid.id).await]
    );
}

async fn idempotency_keys_belong_to_their_caller(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 200_103, "Alder Primary").await;
    let admin = user(Role::PartnershipAdmin, &[]);
    let key = Some("bacs-1101-1");
    let finances = record_payment(conn, &finance(), &clock(), receipt(account.id, 50_000, key))
        .await
        .expect("finance's receipt");
    let admins = record_payment(conn, &admin, &clock(), receipt(account.id, 50_000, key))
        .await
        .expect("admin's receipt");
    assert_ne!(
        admins.id, finances.id,
        "another caller's same key is a fresh request, not finance's payment"
    );
    // A different request under the same key is another caller's business, not a conflict.
    let other = record_payment(conn, &admin, &clock(), receipt(account.id, 7, Some("k2")))
        .await
        .expect("admin k2");
    let finance_k2 = record_payment(
        conn,
        &finance(),
        &clock(),
        receipt(account.id, 9, Some("k2")),
    )
    .await
    .expect("finance k2");
    assert_ne!(other.id, finance_k2.id);
    // Each caller's retry still replays their own.
    assert_eq!(
        record_payment(conn, &finance(), &clock(), receipt(account.id, 50_000, key))
            .await
            .expect("retry")
            .id,
        finances.id
    );
    assert_eq!(
        record_payment(conn, &admin, &clock(), receipt(account.id, 50_000, key))
            .await
            .expect("retry")
            .id,
        admins.id
    );
    // Refunds too: the admin's key does not replay finance's refund.
    let r1 = refund(
        conn,
        &finance(),
        &clock(),
        new_refund(finances.id, 100, Some("r")),
    )
    .await
    .expect("finance refund");
    let r2 = refund(
        conn,
        &admin,
        &clock(),
        new_refund(finances.id, 100, Some("r")),
    )
    .await
    .expect("admin refund");
    assert_ne!(r1.id, r2.id);

    // A key Trellis derives from its own ids is shared: recorded once whoever asks.
    let derived = Some("review-support:0191");
    let once = record_payment_once(
        conn,
        &finance(),
        &clock(),
        receipt(account.id, 600, derived),
    )
    .await
    .expect("once");
    let again = record_payment_once(conn, &admin, &clock(), receipt(account.id, 600, derived))
        .await
        .expect("again");
    assert_eq!(once.id, again.id);
}

testkit::db_tests!(
    recording_payments_is_idempotent_and_validated,
    one_receipt_pays_several_invoices,
    credit_notes_reduce_what_is_owed_or_leave_credit,
    a_retried_credit_note_is_raised_once,
    refunds_come_only_from_unallocated_money,
    concurrent_allocations_cannot_over_allocate,
    offline_provider_round_trip,
    extreme_amounts_are_refused_with_the_field_named_and_nothing_written,
    dates_outside_2000_to_2099_are_refused,
    idempotency_keys_belong_to_their_caller,
);
