//! Booking charges and the consolidated termly invoice, on SQLite and PostgreSQL.

use crate::ledger_support;

use billing::charges::{
    self, ChargeCancellation, ChargeFilter, ChargeStatus, NewCharge, add_charge, cancel_charge,
    charges_by_bookings, issue_term_invoices, pending_charges,
};
use billing::ledger::accounts::{self, AccountKind};
use billing::ledger::credit_notes::credit_notes_of_invoices;
use billing::ledger::invoices::{invoice as read_invoice, lines_of_invoices};
use billing::ledger::{AuditEntity, InvoiceSource, VatTreatment, audit_of};
use chrono::{TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, DomainError, ErrorCode, FixedClock, InvoiceId, Role, SchoolId, Term,
};
use ledger_support::*;
use membership::PageArgs;
use sea_orm::TransactionTrait;
use testkit::TestDb;
use uuid::Uuid;

/// 5 January 2027: the autumn term of 2026/27 has ended.
fn after_autumn() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2027, 1, 5, 9, 0, 0)
            .single()
            .expect("time"),
    )
}

fn booking(school: SchoolId, pence: i64, po: Option<&str>) -> NewCharge {
    NewCharge {
        school_id: school,
        booking_id: Uuid::now_v7(),
        occurred_on: date(2026, 11, 12),
        description: "Phonics for new teachers, 12 Nov 2026".to_owned(),
        quantity: 2,
        unit_amount: gbp(pence),
        vat_treatment: VatTreatment::Exempt,
        vat_rate_bp: 0,
        cfr_code: Some("e19".to_owned()),
        po_number: po.map(str::to_owned),
    }
}

fn leader(schools: &[SchoolId]) -> Actor {
    user(Role::SchoolLeader, schools)
}

async fn charges_are_added_once_per_booking(db: TestDb) {
    let conn = db.conn();
    let (school, account) = school_account(conn, 300_001, "Alder Primary").await;
    let input = booking(school, 12_500, Some("PO-77"));
    let charge = add_charge(conn, &Actor::System, &clock(), input.clone())
        .await
        .expect("add");
    assert_eq!(charge.account_id, account.id);
    assert_eq!(charge.status, ChargeStatus::Pending);
    assert_eq!(
        (charge.academic_year, charge.term),
        (year(), Term::Autumn),
        "12 Nov 2026 is in the autumn term of 2026/27"
    );
    assert_eq!(
        (charge.net, charge.vat, charge.total),
        (gbp(25_000), gbp(0), gbp(25_000))
    );
    assert_eq!(charge.cfr_code.as_deref(), Some("E19"));
    assert_eq!(charge.po_number.as_deref(), Some("PO-77"));

    // The same booking again, even asking for something else: the first charge, unchanged.
    let mut again = input.clone();
    again.unit_amount = gbp(1);
    let second = add_charge(conn, &finance(), &clock(), again)
        .await
        .expect("again");
    assert_eq!(second, charge);
    let trail = audit_of(conn, &finance(), AuditEntity::Charge, charge.id.as_uuid())
        .await
        .expect("trail");
    assert_eq!(trail.len(), 1, "one charge, one audit entry");
    assert_eq!(trail[0].action, "charge.add");

    // Standard-rated: VAT on the net, per line.
    let mut vat = booking(school, 10_001, None);
    vat.vat_treatment = VatTreatment::Standard;
    vat.vat_rate_bp = 2_000;
    vat.occurred_on = date(2027, 2, 3);
    let vat = add_charge(conn, &Actor::System, &clock(), vat)
        .await
        .expect("vat");
    assert_eq!(vat.term, Term::Spring);
    assert_eq!(
        (vat.net, vat.vat, vat.total),
        (gbp(20_002), gbp(4_000), gbp(24_002))
    );

    // A booking and its charge commit together: rolled back with the caller's transaction.
    let txn = conn.begin().await.expect("begin");
    let inside = booking(school, 5_000, None);
    add_charge(&txn, &Actor::System, &clock(), inside.clone())
        .await
        .expect("add inside");
    txn.rollback().await.expect("rollback");
    let found = charges_by_bookings(conn, &[input.booking_id, inside.booking_id])
        .await
        .expect("by bookings");
    assert_eq!(found.len(), 1);
    assert_eq!(found[&input.booking_id].id, charge.id);
}

async fn bad_charges_are_refused_and_write_nothing(db: TestDb) {
    let conn = db.conn();
    let (school, _) = school_account(conn, 300_101, "Alder Primary").await;
    let orphan = ledger_support::school(conn, 300_102, "No Account Primary").await;
    let system = Actor::System;

    assert_invalid(
        add_charge(conn, &system, &clock(), booking(orphan, 1_000, None)).await,
        "schoolId",
        ErrorCode::NotFound,
    );
    let cases: Vec<(NewCharge, &str, ErrorCode)> = vec![
        (
            NewCharge {
                quantity: 0,
                ..booking(school, 1_000, None)
            },
            "quantity",
            ErrorCode::OutOfRange,
        ),
        (
            booking(school, -5, None),
            "unitAmountPence",
            ErrorCode::OutOfRange,
        ),
        (
            booking(school, 0, None),
            "unitAmountPence",
            ErrorCode::OutOfRange,
        ),
        (
            NewCharge {
                vat_rate_bp: 2_000,
                ..booking(school, 1_000, None)
            },
            "vatRateBp",
            ErrorCode::Invalid,
        ),
        (
            NewCharge {
                vat_treatment: VatTreatment::Standard,
                ..booking(school, 1_000, None)
            },
            "vatRateBp",
            ErrorCode::OutOfRange,
        ),
        (
            NewCharge {
                cfr_code: Some("E-19".to_owned()),
                ..booking(school, 1_000, None)
            },
            "cfrCode",
            ErrorCode::Invalid,
        ),
        (
            NewCharge {
                description: "   ".to_owned(),
                ..booking(school, 1_000, None)
            },
            "description",
            ErrorCode::Required,
        ),
        (
            booking(school, 1_000, Some(&"P".repeat(51))),
            "poNumber",
            ErrorCode::TooLong,
        ),
        (
            NewCharge {
                occurred_on: date(1990, 1, 1),
                ..booking(school, 1_000, None)
            },
            "occurredOn",
            ErrorCode::OutOfRange,
        ),
    ];
    let mut bookings = Vec::new();
    for (input, field, code) in cases {
        bookings.push(input.booking_id);
        assert_invalid(
            add_charge(conn, &system, &clock(), input).await,
            field,
            code,
        );
    }
    // Only finance (or the system) adds charges.
    for actor in [leader(&[school]), user(Role::SchoolStaff, &[school])] {
        let input = booking(school, 1_000, None);
        bookings.push(input.booking_id);
        assert!(matches!(
            add_charge(conn, &actor, &clock(), input).await,
            Err(DomainError::Forbidden(_))
        ));
    }
    assert!(
        charges_by_bookings(conn, &bookings)
            .await
            .expect("read")
            .is_empty()
    );
}

async fn cancelling_a_pending_charge_withdraws_or_keeps_the_fee(db: TestDb) {
    let conn = db.conn();
    let (school, _) = school_account(conn, 300_201, "Alder Primary").await;
    let system = Actor::System;

    let free = add_charge(conn, &system, &clock(), booking(school, 10_000, None))
        .await
        .expect("add");
    let outcome = cancel_charge(conn, &system, &clock(), free.booking_id, gbp(0), "ill")
        .await
        .expect("cancel");
    assert_eq!(outcome, ChargeCancellation::Withdrawn);
    // Once: a repeat, even naming a fee, reports the same and changes nothing.
    let again = cancel_charge(conn, &system, &clock(), free.booking_id, gbp(500), "again")
        .await
        .expect("repeat");
    assert_eq!(again, ChargeCancellation::Withdrawn);
    let free_now = &charges_by_bookings(conn, &[free.booking_id])
        .await
        .expect("read")[&free.booking_id];
    assert_eq!(free_now.status, ChargeStatus::Withdrawn);
    assert_eq!(free_now.cancellation.as_ref().map(|c| c.fee), Some(gbp(0)));

    let mut input = booking(school, 10_000, Some("PO-9"));
    input.vat_treatment = VatTreatment::Standard;
    input.vat_rate_bp = 2_000;
    let late = add_charge(conn, &system, &clock(), input)
        .await
        .expect("add");
    // The fee can be neither negative nor more than the charge.
    assert_invalid(
        cancel_charge(conn, &system, &clock(), late.booking_id, gbp(-1), "late").await,
        "fee",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        cancel_charge(
            conn,
            &system,
            &clock(),
            late.booking_id,
            gbp(20_001),
            "late",
        )
        .await,
        "fee",
        ErrorCode::OutOfRange,
    );
    assert_invalid(
        cancel_charge(conn, &system, &clock(), late.booking_id, gbp(100), " ").await,
        "reason",
        ErrorCode::Required,
    );
    assert!(matches!(
        cancel_charge(
            conn,
            &leader(&[school]),
            &clock(),
            late.booking_id,
            gbp(0),
            "x"
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let ChargeCancellation::ReducedToFee(reduced) = cancel_charge(
        conn,
        &system,
        &clock(),
        late.booking_id,
        gbp(5_000),
        "cancelled 3 days before",
    )
    .await
    .expect("reduce") else {
        panic!("expected the charge reduced to its fee");
    };
    assert_eq!(reduced.status, ChargeStatus::Pending);
    assert_eq!(
        (
            reduced.quantity,
            reduced.unit_amount,
            reduced.net,
            reduced.vat,
            reduced.total
        ),
        (1, gbp(5_000), gbp(5_000), gbp(1_000), gbp(6_000))
    );
    assert!(reduced.description.starts_with("Cancellation fee: Phonics"));
    assert_eq!(reduced.po_number.as_deref(), Some("PO-9"));
    let repeat = cancel_charge(conn, &system, &clock(), late.booking_id, gbp(0), "again")
        .await
        .expect("repeat");
    assert_eq!(repeat, ChargeCancellation::ReducedToFee(reduced.clone()));

    assert!(matches!(
        cancel_charge(conn, &system, &clock(), Uuid::now_v7(), gbp(0), "x").await,
        Err(DomainError::NotFound { .. })
    ));
    let actions: Vec<String> = audit_of(conn, &finance(), AuditEntity::Charge, late.id.as_uuid())
        .await
        .expect("trail")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["charge.add", "charge.cancel"]);
}

async fn term_invoices_bill_every_pending_charge_once_per_account(db: TestDb) {
    let conn = db.conn();
    let a = ledger_support::school(conn, 300_301, "Alder Primary").await;
    let b = ledger_support::school(conn, 300_302, "Birch Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Oak Trust", &[a, b]),
    )
    .await
    .expect("trust");
    let (c, single) = school_account(conn, 300_303, "Cedar Primary").await;
    let system = Actor::System;

    let a1 = add_charge(conn, &system, &clock(), booking(a, 10_000, Some("PO-A")))
        .await
        .expect("a1");
    let b1 = add_charge(conn, &system, &clock(), booking(b, 7_500, Some("PO-B")))
        .await
        .expect("b1");
    let c1 = add_charge(conn, &system, &clock(), booking(c, 3_000, Some("PO-C")))
        .await
        .expect("c1");
    let c2 = add_charge(conn, &system, &clock(), booking(c, 2_000, Some("PO-C")))
        .await
        .expect("c2");
    let withdrawn = add_charge(conn, &system, &clock(), booking(c, 9_000, None))
        .await
        .expect("w");
    cancel_charge(conn, &system, &clock(), withdrawn.booking_id, gbp(0), "ill")
        .await
        .expect("withdraw");
    let mut spring = booking(c, 4_000, None);
    spring.occurred_on = date(2027, 1, 20);
    let spring = add_charge(conn, &system, &clock(), spring)
        .await
        .expect("spring");

    // Not before the term has ended, and only finance.
    assert_invalid(
        issue_term_invoices(conn, &finance(), &clock(), year(), Term::Autumn).await,
        "term",
        ErrorCode::Conflict,
    );
    assert!(matches!(
        issue_term_invoices(conn, &leader(&[c]), &after_autumn(), year(), Term::Autumn).await,
        Err(DomainError::Forbidden(_))
    ));

    let preview = charges::term_preview(conn, &finance(), year(), Term::Autumn)
        .await
        .expect("preview");
    assert_eq!(preview.len(), 2);
    let single_draft = preview
        .iter()
        .find(|p| p.account_id == single.id)
        .expect("draft");
    assert_eq!(single_draft.total, gbp(10_000));
    assert_eq!(single_draft.charges.len(), 2);

    let issued = issue_term_invoices(conn, &finance(), &after_autumn(), year(), Term::Autumn)
        .await
        .expect("issue");
    assert_eq!(issued.invoices.len(), 2, "one invoice per account");
    assert_eq!(issued.charges_invoiced, 4);
    assert_eq!(issued.total, gbp(20_000 + 15_000 + 6_000 + 4_000));
    let trust_invoice = issued
        .invoices
        .iter()
        .find(|i| i.account_id == trust.id)
        .expect("trust invoice");
    let single_invoice = issued
        .invoices
        .iter()
        .find(|i| i.account_id == single.id)
        .expect("single invoice");
    assert_eq!(trust_invoice.source, InvoiceSource::Booking);
    assert_eq!(trust_invoice.po_number, None, "the trust's lines differ");
    assert_eq!(single_invoice.po_number.as_deref(), Some("PO-C"));
    assert_eq!(
        single_invoice.due_on,
        date(2027, 2, 4),
        "30 days' terms from the invoice date"
    );
    let lines = lines_of_invoices(conn, &[trust_invoice.id])
        .await
        .expect("lines")
        .remove(&trust_invoice.id)
        .expect("has lines");
    let summary: Vec<_> = lines
        .iter()
        .map(|l| (l.booking_id, l.school_id, l.po_number.clone(), l.net))
        .collect();
    assert_eq!(
        summary,
        [
            (
                Some(a1.booking_id),
                Some(a),
                Some("PO-A".to_owned()),
                gbp(20_000)
            ),
            (
                Some(b1.booking_id),
                Some(b),
                Some("PO-B".to_owned()),
                gbp(15_000)
            ),
        ]
    );
    let now = charges_by_bookings(
        conn,
        &[
            a1.booking_id,
            c1.booking_id,
            c2.booking_id,
            withdrawn.booking_id,
            spring.booking_id,
        ],
    )
    .await
    .expect("read");
    assert_eq!(now[&a1.booking_id].status, ChargeStatus::Invoiced);
    assert_eq!(now[&a1.booking_id].invoice_id, Some(trust_invoice.id));
    assert_eq!(
        now[&a1.booking_id].invoice_line_id,
        Some(lines[0].id),
        "the charge names its line"
    );
    assert_eq!(now[&c2.booking_id].invoice_id, Some(single_invoice.id));
    assert_eq!(now[&withdrawn.booking_id].status, ChargeStatus::Withdrawn);
    assert_eq!(
        now[&spring.booking_id].status,
        ChargeStatus::Pending,
        "another term"
    );

    // A rerun finds nothing left to bill.
    let rerun = issue_term_invoices(conn, &finance(), &after_autumn(), year(), Term::Autumn)
        .await
        .expect("rerun");
    assert!(rerun.invoices.is_empty());
    assert_eq!(rerun.charges_invoiced, 0);
    assert_eq!(
        charges::terms_to_issue(conn, date(2027, 1, 5))
            .await
            .expect("terms"),
        [],
        "the spring term has not ended"
    );
    assert_eq!(
        charges::terms_to_issue(conn, date(2027, 4, 1))
            .await
            .expect("terms"),
        [(year(), Term::Spring)]
    );
}

async fn cancelling_an_invoiced_charge_credits_it_once(db: TestDb) {
    let conn = db.conn();
    let (school, _) = school_account(conn, 300_401, "Alder Primary").await;
    let system = Actor::System;
    let credited = add_charge(conn, &system, &clock(), booking(school, 10_000, None))
        .await
        .expect("add");
    let kept = add_charge(conn, &system, &clock(), booking(school, 5_000, None))
        .await
        .expect("add");
    let issued = issue_term_invoices(conn, &finance(), &after_autumn(), year(), Term::Autumn)
        .await
        .expect("issue");
    let invoice_id: InvoiceId = issued.invoices[0].id;

    let outcome = cancel_charge(
        conn,
        &system,
        &after_autumn(),
        credited.booking_id,
        gbp(2_500),
        "withdrawn after the course",
    )
    .await
    .expect("cancel");
    let ChargeCancellation::Credited {
        credit_note_id,
        amount,
    } = outcome.clone()
    else {
        panic!("expected a credit note, got {outcome:?}");
    };
    assert_eq!(amount, gbp(20_000 - 2_500));
    let again = cancel_charge(
        conn,
        &system,
        &after_autumn(),
        credited.booking_id,
        gbp(0),
        "again",
    )
    .await
    .expect("repeat");
    assert_eq!(again, outcome, "the first outcome, no second note");

    // The whole line kept as the fee: nothing to credit.
    let nothing = cancel_charge(
        conn,
        &system,
        &after_autumn(),
        kept.booking_id,
        gbp(10_000),
        "no refund after the deadline",
    )
    .await
    .expect("cancel kept");
    assert_eq!(nothing, ChargeCancellation::NothingToCredit);

    let notes = credit_notes_of_invoices(conn, &[invoice_id])
        .await
        .expect("notes")
        .remove(&invoice_id)
        .unwrap_or_default();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].id, credit_note_id);
    assert_eq!(
        notes[0].lines[0].invoice_line_id,
        charges_by_bookings(conn, &[credited.booking_id])
            .await
            .expect("read")[&credited.booking_id]
            .invoice_line_id
            .expect("line"),
        "the credit is taken from the booking's own line"
    );
    let invoice = read_invoice(conn, &finance(), invoice_id)
        .await
        .expect("invoice");
    assert_eq!(
        (invoice.total, invoice.credited, invoice.outstanding),
        (gbp(30_000), gbp(17_500), gbp(12_500))
    );
}

async fn two_runs_at_once_issue_one_invoice_per_account(db: TestDb) {
    let conn = db.conn();
    let mut schools = Vec::new();
    for i in 0..3 {
        let (school, _) = school_account(conn, 300_501 + i, &format!("School {i}")).await;
        for _ in 0..3 {
            add_charge(conn, &Actor::System, &clock(), booking(school, 1_000, None))
                .await
                .expect("add");
        }
        schools.push(school);
    }
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                issue_term_invoices(&conn, &finance(), &after_autumn(), year(), Term::Autumn).await
            })
        })
        .collect();
    let mut invoices = Vec::new();
    let mut billed = 0;
    for run in runs {
        let outcome = run.await.expect("join").expect("run");
        billed += outcome.charges_invoiced;
        invoices.extend(outcome.invoices);
    }
    assert_eq!(billed, 9, "every charge billed exactly once");
    assert_eq!(invoices.len(), 3, "one invoice per account");
    let mut accounts: Vec<_> = invoices.iter().map(|i| i.account_id).collect();
    accounts.sort();
    accounts.dedup();
    assert_eq!(accounts.len(), 3);
}

async fn pending_charges_are_seen_by_their_own_schools_only(db: TestDb) {
    let conn = db.conn();
    let (a, account_a) = school_account(conn, 300_601, "Alder Primary").await;
    let (b, _) = school_account(conn, 300_602, "Birch Primary").await;
    for school in [a, a, b] {
        add_charge(conn, &Actor::System, &clock(), booking(school, 1_000, None))
            .await
            .expect("add");
    }
    let all = pending_charges(
        conn,
        &finance(),
        &ChargeFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("finance");
    assert_eq!(all.items.len(), 3);
    let own = pending_charges(
        conn,
        &leader(&[a]),
        &ChargeFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("head");
    assert_eq!(own.items.len(), 2);
    assert!(own.items.iter().all(|c| c.account_id == account_a.id));
    // Filtering for another school's charges shows nothing rather than them.
    let other = pending_charges(
        conn,
        &leader(&[a]),
        &ChargeFilter {
            school_id: Some(b),
            ..ChargeFilter::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("head filtered");
    assert!(other.items.is_empty());
    assert!(matches!(
        pending_charges(
            conn,
            &user(Role::SchoolStaff, &[a]),
            &ChargeFilter::default(),
            &PageArgs::first(10)
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let spring = pending_charges(
        conn,
        &finance(),
        &ChargeFilter {
            year: Some(AcademicYear::starting(2026).expect("year")),
            term: Some(Term::Spring),
            ..ChargeFilter::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("spring");
    assert!(spring.items.is_empty());
    // Keyset pages of one.
    let first = pending_charges(
        conn,
        &finance(),
        &ChargeFilter::default(),
        &PageArgs::first(1),
    )
    .await
    .expect("page 1");
    assert!(first.has_next_page);
    let mut next = PageArgs::first(5);
    next.after = Some(first.items[0].sort_key());
    let rest = pending_charges(conn, &finance(), &ChargeFilter::default(), &next)
        .await
        .expect("page 2");
    assert_eq!(rest.items.len(), 2);
    assert!(rest.items.iter().all(|c| c.id != first.items[0].id));
    // A leader does not see another school's charge by id either.
    let theirs = &all.items.iter().find(|c| c.school_id == b).expect("b");
    assert!(matches!(
        charges::charge(conn, &leader(&[a]), theirs.id).await,
        Err(DomainError::NotFound { .. })
    ));
    charges::charge(conn, &leader(&[b]), theirs.id)
        .await
        .expect("own");
}

testkit::db_tests!(
    charges_are_added_once_per_booking,
    bad_charges_are_refused_and_write_nothing,
    cancelling_a_pending_charge_withdraws_or_keeps_the_fee,
    term_invoices_bill_every_pending_charge_once_per_account,
    cancelling_an_invoiced_charge_credits_it_once,
    two_runs_at_once_issue_one_invoice_per_account,
    pending_charges_are_seen_by_their_own_schools_only,
);
