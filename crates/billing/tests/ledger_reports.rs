//! Finance reports and the ledger export against real databases.

use crate::ledger_support;

use billing::ledger::accounts::{self, AccountKind};
use billing::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use billing::ledger::invoices;
use billing::ledger::payments::{NewPayment, ReceiptMethod};
use billing::ledger::refunds::NewRefund;
use billing::ledger::{
    ExportLayout, Instalment, VatTreatment, account_statement, aged_debt, allocate, export_csv,
    issue_invoice, record_payment, refund, unallocated_receipts,
};
use kernel::{BillingAccountId, DomainError, Role};
use ledger_support::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

async fn due(
    db: &DatabaseConnection,
    account: &accounts::BillingAccount,
    pence: i64,
    due_on: chrono::NaiveDate,
) -> invoices::Invoice {
    let mut input = new_invoice(account, Instalment::None, vec![line(pence)]);
    input.due_on = due_on;
    issue_invoice(db, &finance(), &clock(), input)
        .await
        .expect("issue")
        .invoice
}

async fn pay(
    db: &DatabaseConnection,
    account: BillingAccountId,
    pence: i64,
    reference: &str,
) -> billing::ledger::Payment {
    record_payment(
        db,
        &finance(),
        &clock(),
        NewPayment {
            account_id: account,
            method: ReceiptMethod::BankTransfer,
            reference: reference.to_owned(),
            received_on: date(2026, 9, 15),
            amount: gbp(pence),
            provider_payment_ref: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt")
}

async fn aged_debt_buckets_by_days_past_due(db: TestDb) {
    let conn = db.conn();
    let a = school(conn, 300_001, "Alder Primary").await;
    let b = school(conn, 300_002, "Birch Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Alder and Birch Federation", &[a, b]),
    )
    .await
    .expect("trust");
    let (other_school, other) = school_account(conn, 300_003, "Cedar Primary").await;

    let _ninety = due(conn, &trust, 10_000, date(2026, 9, 15)).await; // 96 days on 20 Dec
    let sixty = due(conn, &trust, 20_000, date(2026, 10, 20)).await; // 61
    let _thirty = due(conn, &trust, 30_000, date(2026, 11, 15)).await; // 35
    let _current = due(conn, &trust, 40_000, date(2026, 12, 30)).await; // not yet due
    let settled = due(conn, &trust, 1_000, date(2026, 9, 15)).await;
    let written_off = due(conn, &trust, 2_000, date(2026, 9, 15)).await;
    let voided = due(conn, &trust, 3_000, date(2026, 9, 15)).await;
    let _cedar = due(conn, &other, 7_000, date(2026, 10, 15)).await; // 66

    let receipt = pay(conn, trust.id, 6_000, "FED SEPT").await;
    allocate(
        conn,
        &finance(),
        &clock(),
        receipt.id,
        &[(sixty.id, gbp(5_000)), (settled.id, gbp(1_000))],
        None,
    )
    .await
    .expect("pay");
    invoices::mark_uncollectible(conn, &finance(), &clock(), written_off.id, "closed")
        .await
        .expect("write off");
    invoices::void(conn, &finance(), &clock(), voided.id, "duplicate")
        .await
        .expect("void");

    let rows = aged_debt(conn, &finance(), date(2026, 12, 20))
        .await
        .expect("aged debt");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].account.id, trust.id, "by account name");
    assert_eq!(
        (
            rows[0].current,
            rows[0].d30,
            rows[0].d60,
            rows[0].d90_plus,
            rows[0].total
        ),
        (
            gbp(40_000),
            gbp(30_000),
            gbp(15_000),
            gbp(10_000),
            gbp(95_000)
        )
    );
    assert_eq!((rows[1].d60, rows[1].total), (gbp(7_000), gbp(7_000)));

    // Before anything was due, everything is current.
    let early = aged_debt(conn, &finance(), date(2026, 9, 15))
        .await
        .expect("early");
    assert!(early.iter().all(|r| r.total == r.current));

    // School users see only the account paying for their school; staff see nothing.
    let mine = aged_debt(
        conn,
        &user(Role::SchoolLeader, &[other_school]),
        date(2026, 12, 20),
    )
    .await
    .expect("own");
    assert_eq!(
        mine.iter().map(|r| r.account.id).collect::<Vec<_>>(),
        vec![other.id]
    );
    let via_trust = aged_debt(conn, &user(Role::SchoolLeader, &[b]), date(2026, 12, 20))
        .await
        .expect("trust school");
    assert_eq!(
        via_trust.iter().map(|r| r.account.id).collect::<Vec<_>>(),
        vec![trust.id]
    );
    assert!(matches!(
        aged_debt(conn, &user(Role::SchoolStaff, &[a]), date(2026, 12, 20)).await,
        Err(DomainError::Forbidden(_))
    ));
}

async fn statements_balance_and_receipts_are_reconciled(db: TestDb) {
    let conn = db.conn();
    let (own, account) = school_account(conn, 310_001, "Alder Primary").await;
    let (stranger, _) = school_account(conn, 310_002, "Birch Primary").await;
    let first = invoice(conn, &account, 30_000).await;
    let second = invoice(conn, &account, 20_000).await;
    let voided = invoice(conn, &account, 99_000).await;
    invoices::void(conn, &finance(), &clock(), voided.id, "wrong school")
        .await
        .expect("void");

    let receipt = pay(conn, account.id, 45_000, "ALDER BACS").await;
    allocate(
        conn,
        &finance(),
        &clock(),
        receipt.id,
        &[(first.id, gbp(30_000)), (second.id, gbp(10_000))],
        None,
    )
    .await
    .expect("allocate");
    credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: second.id,
            reason: "discount".into(),
            amount: CreditAmount::Amount(gbp(4_000)),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit");
    // £30 of the first invoice was paid and is then credited: released to account credit.
    credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: first.id,
            reason: "overcharged".into(),
            amount: CreditAmount::Amount(gbp(3_000)),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit paid");
    refund(
        conn,
        &finance(),
        &clock(),
        NewRefund {
            payment_id: receipt.id,
            amount: gbp(2_000),
            reason: "overpaid".into(),
            refunded_on: date(2026, 9, 15),
            provider_refund_ref: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("refund");

    let s = account_statement(conn, &finance(), account.id, year())
        .await
        .expect("statement");
    assert_eq!(s.invoiced, gbp(50_000), "void invoices are not invoiced");
    assert_eq!(s.paid, gbp(37_000));
    assert_eq!(s.credited, gbp(7_000));
    assert_eq!(s.outstanding, gbp(6_000));
    assert_eq!(
        s.invoiced.pence(),
        s.paid.pence() + s.credited.pence() + s.outstanding.pence()
    );
    assert_eq!(s.received, gbp(45_000));
    assert_eq!(s.refunded, gbp(2_000));
    assert_eq!(s.account_credit, gbp(6_000));
    assert_eq!(
        s.received.pence(),
        s.paid.pence() + s.refunded.pence() + s.account_credit.pence()
    );

    let open = unallocated_receipts(conn, &finance())
        .await
        .expect("unallocated");
    assert_eq!(
        open.iter()
            .map(|p| (p.id, p.unallocated))
            .collect::<Vec<_>>(),
        vec![(receipt.id, gbp(6_000))]
    );
    assert_eq!(
        unallocated_receipts(conn, &user(Role::SchoolLeader, &[own]))
            .await
            .expect("own")
            .len(),
        1
    );
    assert!(
        unallocated_receipts(conn, &user(Role::SchoolLeader, &[stranger]))
            .await
            .expect("other")
            .is_empty()
    );

    assert!(
        account_statement(conn, &user(Role::SchoolLeader, &[own]), account.id, year())
            .await
            .is_ok()
    );
    assert!(matches!(
        account_statement(
            conn,
            &user(Role::SchoolLeader, &[stranger]),
            account.id,
            year()
        )
        .await,
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        account_statement(conn, &finance(), BillingAccountId::new(), year()).await,
        Err(DomainError::NotFound { .. })
    ));
    let next = account_statement(conn, &finance(), account.id, year().next())
        .await
        .expect("next year");
    assert_eq!(
        (next.invoiced, next.received, next.account_credit),
        (gbp(0), gbp(0), gbp(6_000))
    );
}

async fn csv_export_lists_the_year_with_cfr_codes(db: TestDb) {
    let conn = db.conn();
    let (own, account) = school_account(conn, 320_001, "Alder, Primary \"A\"").await;
    let (_, other) = school_account(conn, 320_002, "Birch Primary").await;
    let mut course = line(10_000);
    course.description = "Phonics CPD, day 1".into();
    course.vat_treatment = VatTreatment::Standard;
    course.vat_rate_bp = 2_000;
    course.cfr_code = Some("E27".into());
    let issued = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&account, Instalment::Annual, vec![line(50_000), course]),
    )
    .await
    .expect("issue")
    .invoice;
    let theirs = invoice(conn, &other, 1_000).await;
    let receipt = pay(conn, account.id, 62_000, "ALDER 2026").await;
    allocate(
        conn,
        &finance(),
        &clock(),
        receipt.id,
        &[(issued.id, gbp(62_000))],
        None,
    )
    .await
    .expect("pay");
    let lines = invoices::lines_of_invoices(conn, &[issued.id])
        .await
        .expect("lines");
    credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued.id,
            reason: "course cancelled".into(),
            amount: CreditAmount::Lines(vec![(lines[&issued.id][1].id, gbp(12_000))]),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit");
    refund(
        conn,
        &finance(),
        &clock(),
        NewRefund {
            payment_id: receipt.id,
            amount: gbp(12_000),
            reason: "course cancelled".into(),
            refunded_on: date(2026, 9, 15),
            provider_refund_ref: Some("offline_re_1".into()),
            idempotency_key: None,
        },
    )
    .await
    .expect("refund");

    let text = export_csv(conn, &finance(), year(), ExportLayout::Ledger)
        .await
        .expect("export");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "type");
    assert_eq!(header[8], "cfr_code");
    let rows: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    let of = |kind: &str| {
        rows.iter()
            .filter(|r| &r[0] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let invoice_lines = of("INVOICE_LINE");
    assert_eq!(invoice_lines.len(), 3);
    assert_eq!(&invoice_lines[0][1], issued.number.as_str());
    assert_eq!(
        &invoice_lines[0][5], "Alder, Primary \"A\"",
        "quoted properly"
    );
    assert_eq!(
        (&invoice_lines[1][7], &invoice_lines[1][8]),
        ("Phonics CPD, day 1", "E27")
    );
    assert_eq!(
        (
            &invoice_lines[1][9],
            &invoice_lines[1][10],
            &invoice_lines[1][11]
        ),
        ("100.00", "20.00", "120.00")
    );
    assert_eq!(&invoice_lines[2][1], theirs.number.as_str());
    let credits = of("CREDIT_NOTE_LINE");
    assert_eq!(credits.len(), 1);
    assert_eq!(
        (
            &credits[0][1],
            &credits[0][6],
            &credits[0][8],
            &credits[0][11]
        ),
        ("CN-2026-000001", issued.number.as_str(), "E27", "-120.00")
    );
    let payments = of("PAYMENT");
    assert_eq!(
        (payments.len(), &payments[0][11], &payments[0][12]),
        (1, "620.00", "ALDER 2026")
    );
    let refunds = of("REFUND");
    assert_eq!((refunds.len(), &refunds[0][11]), (1, "-120.00"));

    // A school leader's export holds only their own account.
    let own_text = export_csv(
        conn,
        &user(Role::SchoolLeader, &[own]),
        year(),
        ExportLayout::Ledger,
    )
    .await
    .expect("own export");
    assert!(own_text.contains(issued.number.as_str()));
    assert!(!own_text.contains(theirs.number.as_str()));
    assert!(matches!(
        export_csv(
            conn,
            &user(Role::SchoolStaff, &[own]),
            year(),
            ExportLayout::Ledger
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    // Another year is empty but for the header.
    assert_eq!(
        export_csv(conn, &finance(), year().next(), ExportLayout::Ledger)
            .await
            .expect("empty")
            .lines()
            .count(),
        1
    );
}

/// Issue #22: maintained schools budget April–March. The same academic year's invoices,
/// receipts and exports split at 31 March in London: an invoice issued at 00:30 on 1 April
/// (23:30 UTC on 31 March, in British Summer Time) belongs to the next financial year.
async fn financial_years_split_the_year_at_31_march(db: TestDb) {
    use billing::ledger::Period;
    use chrono::{TimeZone, Utc};
    use kernel::{Clock as _, FinancialYear, FixedClock};

    let db = db.conn();
    let (_, account) = school_account(db, 360_001, "Alder Primary").await;
    let at = |y, m, d, h, min| {
        FixedClock::new(
            Utc.with_ymd_and_hms(y, m, d, h, min, 0)
                .single()
                .expect("time"),
        )
    };
    let mut issued = Vec::new();
    for (clock, pence) in [
        (at(2026, 11, 2, 10, 0), 10_000),
        (at(2027, 3, 31, 22, 30), 20_000),
        (at(2027, 3, 31, 23, 30), 40_000),
        (at(2027, 6, 1, 9, 0), 80_000),
    ] {
        let mut input = new_invoice(&account, Instalment::None, vec![line(pence)]);
        input.due_on = clock.today() + chrono::Days::new(30);
        issued.push(
            issue_invoice(db, &finance(), &clock, input)
                .await
                .expect("issue")
                .invoice,
        );
    }
    for (day, pence) in [(date(2027, 3, 31), 5_000), (date(2027, 4, 1), 7_000)] {
        record_payment(
            db,
            &finance(),
            &at(2027, 6, 2, 9, 0),
            NewPayment {
                account_id: account.id,
                method: ReceiptMethod::BankTransfer,
                reference: format!("ALDER {day}"),
                received_on: day,
                amount: gbp(pence),
                provider_payment_ref: None,
                idempotency_key: None,
            },
        )
        .await
        .expect("receipt");
    }

    let fy = |y| FinancialYear::starting(y).expect("year");
    let academic = account_statement(db, &finance(), account.id, year())
        .await
        .expect("academic");
    assert_eq!(academic.invoiced, gbp(150_000), "all four bill 2026/27");
    assert_eq!(academic.received, gbp(12_000));
    assert_eq!(academic.period, Period::Academic(year()));
    let first = account_statement(db, &finance(), account.id, fy(2026))
        .await
        .expect("2026-27");
    assert_eq!(
        first.invoiced,
        gbp(30_000),
        "issued up to 31 March, London time"
    );
    assert_eq!(first.received, gbp(5_000));
    assert_eq!(first.period, Period::Financial(fy(2026)));
    let second = account_statement(db, &finance(), account.id, fy(2027))
        .await
        .expect("2027-28");
    assert_eq!(second.invoiced, gbp(120_000));
    assert_eq!(second.received, gbp(7_000));
    assert_eq!(
        first.invoiced.pence() + second.invoiced.pence(),
        academic.invoiced.pence(),
        "the financial years partition the academic year's invoices"
    );
    for statement in [&first, &second] {
        assert_eq!(
            statement.invoiced.pence(),
            statement.paid.pence() + statement.credited.pence() + statement.outstanding.pence()
        );
    }

    // The export of a financial year lists its own invoices and receipts only.
    let csv = export_csv(db, &finance(), fy(2026), ExportLayout::Ledger)
        .await
        .expect("export");
    for (invoice, wanted) in issued.iter().zip([true, true, false, false]) {
        assert_eq!(csv.contains(&invoice.number), wanted, "{}", invoice.number);
    }
    assert!(csv.contains("ALDER 2027-03-31") && !csv.contains("ALDER 2027-04-01"));
    // A school leader sees only their own account's figures, in either kind of year.
    let (other_school, _) = school_account(db, 360_002, "Birch Primary").await;
    assert!(matches!(
        account_statement(
            db,
            &user(Role::SchoolLeader, &[other_school]),
            account.id,
            fy(2026)
        )
        .await,
        Err(DomainError::NotFound { .. })
    ));
    let theirs = export_csv(
        db,
        &user(Role::SchoolLeader, &[other_school]),
        fy(2026),
        ExportLayout::Ledger,
    )
    .await
    .expect("their export");
    assert!(!theirs.contains(&issued[0].number));
}

testkit::db_tests!(
    financial_years_split_the_year_at_31_march,
    aged_debt_buckets_by_days_past_due,
    statements_balance_and_receipts_are_reconciled,
    csv_export_lists_the_year_with_cfr_codes,
);
