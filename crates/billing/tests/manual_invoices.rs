//! Manual invoices on real databases: numbered in the one series, issued once per key, and
//! nothing written for bad input or the wrong caller (issue #22: a school that joins after
//! the run "can never be invoiced").

use crate::ledger_support;

use billing::ledger::{
    self, InvoiceFilter, InvoiceSource, ManualLine, NewManualInvoice, VatTreatment, issue_manual,
};
use kernel::{DomainError, ErrorCode, Role};
use ledger_support::*;
use membership::PageArgs;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

fn manual(account: &ledger::BillingAccount, lines: Vec<ManualLine>) -> NewManualInvoice {
    NewManualInvoice {
        account_id: account.id,
        year: year(),
        due_on: date(2026, 10, 15),
        po_number: Some("PO-4471".to_owned()),
        lines,
        idempotency_key: None,
    }
}

fn fee_line(pence: i64) -> ManualLine {
    ManualLine {
        description: "Membership 2026/27 (joined 5 January)".to_owned(),
        quantity: 1,
        unit_amount: gbp(pence),
        vat_treatment: VatTreatment::Exempt,
        vat_rate_bp: 0,
        cfr_code: Some("E19".to_owned()),
        school_id: None,
    }
}

async fn invoice_count(db: &DatabaseConnection) -> usize {
    ledger::invoices::invoices(
        db,
        &finance(),
        &InvoiceFilter::default(),
        &PageArgs::first(50),
    )
    .await
    .expect("invoices")
    .items
    .len()
}

async fn finance_issues_a_manual_invoice_in_the_one_series(db: TestDb) {
    let db = db.conn();
    let (school, account) = school_account(db, 100_001, "Alder Primary School").await;
    let first = invoice(db, &account, 10_000).await;
    assert_eq!(first.number, "TRL-2026-000001");

    let training = ManualLine {
        description: "Governor training, 3 places".to_owned(),
        quantity: 3,
        unit_amount: gbp(4_500),
        vat_treatment: VatTreatment::Standard,
        vat_rate_bp: 2_000,
        cfr_code: Some("E27".to_owned()),
        school_id: Some(school),
    };
    let issued = issue_manual(
        db,
        &finance(),
        &clock(),
        manual(&account, vec![fee_line(95_634), training]),
    )
    .await
    .expect("manual invoice");
    assert_eq!(issued.number, "TRL-2026-000002", "the same gap-free series");
    assert_eq!(issued.source, InvoiceSource::Manual);
    assert_eq!(issued.net, gbp(95_634 + 13_500));
    assert_eq!(issued.vat, gbp(2_700));
    assert_eq!(issued.total, gbp(95_634 + 13_500 + 2_700));
    assert_eq!(issued.po_number.as_deref(), Some("PO-4471"));
    assert_eq!(issued.due_on, date(2026, 10, 15));

    let trail = ledger::audit_of(
        db,
        &finance(),
        ledger::AuditEntity::Invoice,
        issued.id.as_uuid(),
    )
    .await
    .expect("trail");
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["invoice.issue"]
    );
}

async fn a_retried_key_issues_once_and_a_reused_key_conflicts(db: TestDb) {
    let db = db.conn();
    let (_, account) = school_account(db, 100_001, "Alder Primary School").await;
    let keyed = |pence| NewManualInvoice {
        idempotency_key: Some("late-joiner-alder".to_owned()),
        ..manual(&account, vec![fee_line(pence)])
    };
    let first = issue_manual(db, &finance(), &clock(), keyed(50_000))
        .await
        .expect("first");
    let (officer, c) = (finance(), clock());
    let (a, b) = tokio::join!(
        issue_manual(db, &officer, &c, keyed(50_000)),
        issue_manual(db, &officer, &c, keyed(50_000)),
    );
    assert_eq!(a.expect("retry").id, first.id);
    assert_eq!(b.expect("retry").id, first.id);
    assert_eq!(invoice_count(db).await, 1, "issued once");

    assert_invalid(
        issue_manual(db, &finance(), &clock(), keyed(60_000)).await,
        "idempotencyKey",
        ErrorCode::Conflict,
    );
    assert_eq!(invoice_count(db).await, 1);
}

async fn bad_lines_and_wrong_callers_write_nothing(db: TestDb) {
    let db = db.conn();
    let (school, account) = school_account(db, 100_001, "Alder Primary School").await;
    let (other_school, _) = school_account(db, 100_002, "Birch Primary School").await;

    assert_invalid(
        issue_manual(db, &finance(), &clock(), manual(&account, vec![])).await,
        "lines",
        ErrorCode::Required,
    );
    for (line, field, code) in [
        (
            ManualLine {
                quantity: 0,
                ..fee_line(100)
            },
            "lines.0.quantity",
            ErrorCode::OutOfRange,
        ),
        (
            fee_line(-100),
            "lines.0.unitAmountPence",
            ErrorCode::OutOfRange,
        ),
        (
            ManualLine {
                vat_treatment: VatTreatment::Standard,
                ..fee_line(100)
            },
            "lines.0.vatRateBp",
            ErrorCode::OutOfRange,
        ),
        (
            ManualLine {
                school_id: Some(other_school),
                ..fee_line(100)
            },
            "lines.0.schoolId",
            ErrorCode::NotFound,
        ),
        (
            ManualLine {
                description: " ".to_owned(),
                ..fee_line(100)
            },
            "lines.0.description",
            ErrorCode::Required,
        ),
    ] {
        assert_invalid(
            issue_manual(db, &finance(), &clock(), manual(&account, vec![line])).await,
            field,
            code,
        );
    }
    assert_invalid(
        issue_manual(
            db,
            &finance(),
            &clock(),
            NewManualInvoice {
                due_on: date(2026, 9, 1),
                ..manual(&account, vec![fee_line(100)])
            },
        )
        .await,
        "dueOn",
        ErrorCode::OutOfRange,
    );
    for caller in [
        user(Role::SchoolLeader, &[school]),
        user(Role::SchoolStaff, &[school]),
    ] {
        let refused =
            issue_manual(db, &caller, &clock(), manual(&account, vec![fee_line(100)])).await;
        assert!(
            matches!(refused, Err(DomainError::Forbidden(_))),
            "{caller:?}: {refused:?}"
        );
    }
    assert_eq!(invoice_count(db).await, 0, "nothing written");
    let next = issue_manual(
        db,
        &finance(),
        &clock(),
        manual(&account, vec![fee_line(100)]),
    )
    .await
    .expect("a good one");
    assert_eq!(next.number, "TRL-2026-000001", "no number was used up");
}

testkit::db_tests!(
    finance_issues_a_manual_invoice_in_the_one_series,
    a_retried_key_issues_once_and_a_reused_key_conflicts,
    bad_lines_and_wrong_callers_write_nothing,
);
