//! Bank statements against real databases: each money-in line brought in once whatever
//! statements overlap, proposals by invoice number and by amount and payer, and a confirmed
//! line a receipt exactly once.

use crate::ledger_support;

use billing::ledger::bank::{
    self, Confirmation, LineFilter, LineStatus, MatchReason, import_statement,
};
use billing::ledger::payments::{self, PaymentFilter, ReceiptMethod};
use billing::ledger::{InvoiceStatus, invoices};
use kernel::{DomainError, ErrorCode, Role};
use ledger_support::*;
use membership::PageArgs;
use sea_orm::DatabaseConnection;
use std::fmt::Write as _;
use std::io::Cursor;
use testkit::TestDb;

fn all<K>() -> PageArgs<K> {
    PageArgs {
        after: None,
        before: None,
        limit: 100,
        backward: false,
    }
}

/// Lloyds' export: split debit and credit columns, a quoted thousands separator.
fn lloyds(rows: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut out = String::from(
        "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\r\n",
    );
    for (day, text, debit, credit) in rows {
        let _ = write!(
            out,
            "{day},BGC,'30-94-57,12345678,{text},{debit},\"{credit}\",1000.00\r\n"
        );
    }
    out.into_bytes()
}

/// Imports `file` as finance, today.
async fn import_as_finance(
    db: &DatabaseConnection,
    name: &str,
    file: impl Into<Vec<u8>>,
) -> Result<bank::ImportReport, DomainError> {
    import_statement(db, &finance(), &clock(), name, Cursor::new(file.into())).await
}

async fn lines_with(db: &DatabaseConnection, status: LineStatus) -> Vec<bank::BankLine> {
    bank::lines(
        db,
        &finance(),
        LineFilter {
            status: Some(status),
            statement: None,
        },
        &all(),
    )
    .await
    .expect("lines")
    .items
}

async fn receipts_of(
    db: &DatabaseConnection,
    account: kernel::BillingAccountId,
) -> Vec<payments::Payment> {
    payments::payments(
        db,
        &finance(),
        &PaymentFilter {
            account_id: Some(account),
            unallocated_only: false,
        },
        &all(),
    )
    .await
    .expect("payments")
    .items
}

async fn each_credit_comes_in_once_with_its_proposal(db: TestDb) {
    let db = db.conn();
    let (_, holly) = school_account(db, 100_001, "Holly Park Primary School").await;
    let (_, birch) = school_account(db, 100_002, "Birch Academy").await;
    let autumn = invoice(db, &holly, 125_000).await;
    let spring = invoice(db, &holly, 50_000).await;
    let fees = invoice(db, &birch, 9_500).await;
    let quoted = format!("HOLLY PARK PRIMAR {}", autumn.number.replace('-', ""));
    let first = lloyds(&[
        ("10/09/2026", &quoted, "", "1,250.00"),
        ("11/09/2026", "BIRCH ACADEMY FEES", "", "95.00"),
        ("11/09/2026", "UNKNOWN DONOR", "", "20.00"),
        ("12/09/2026", "BT GROUP PLC", "45.10", ""),
    ]);
    let report = import_as_finance(db, "sept.csv", first.clone())
        .await
        .expect("import");
    assert_eq!(
        (
            report.statement.lines_new,
            report.statement.lines_known,
            report.statement.lines_out
        ),
        (3, 0, 1)
    );
    assert_eq!((report.proposed, report.unmatched), (2, 1));
    assert_eq!(report.statement.first_day, Some(date(2026, 9, 10)));

    let proposed = lines_with(db, LineStatus::Proposed).await;
    let by_number = proposed
        .iter()
        .find(|l| l.amount == gbp(125_000))
        .expect("holly's line");
    assert_eq!(by_number.match_reason, Some(MatchReason::InvoiceNumber));
    assert_eq!(by_number.proposed_invoice, Some(autumn.id));
    let by_payer = proposed
        .iter()
        .find(|l| l.amount == gbp(9_500))
        .expect("birch's line");
    assert_eq!(by_payer.match_reason, Some(MatchReason::AmountAndPayer));
    assert_eq!(by_payer.proposed_invoice, Some(fees.id));
    assert_eq!(lines_with(db, LineStatus::Unmatched).await.len(), 1);

    // The same statement again brings nothing in; an overlapping one only what is new.
    let again = import_as_finance(db, "sept.csv", first)
        .await
        .expect("again");
    assert_eq!(
        (again.statement.lines_new, again.statement.lines_known),
        (0, 3)
    );
    let overlap = lloyds(&[
        ("11/09/2026", "BIRCH ACADEMY FEES", "", "95.00"),
        ("14/09/2026", "HOLLY PARK PRIMARY", "", "500.00"),
        // Two identical payments on one day are two lines.
        ("14/09/2026", "UNKNOWN DONOR", "", "20.00"),
        ("14/09/2026", "UNKNOWN DONOR", "", "20.00"),
    ]);
    let overlap = import_as_finance(db, "mid-sept.csv", overlap)
        .await
        .expect("overlap");
    assert_eq!(
        (overlap.statement.lines_new, overlap.statement.lines_known),
        (3, 1)
    );
    let spring_line = lines_with(db, LineStatus::Proposed)
        .await
        .into_iter()
        .find(|l| l.amount == gbp(50_000))
        .expect("spring");
    assert_eq!(spring_line.proposed_invoice, Some(spring.id));
    // Nothing is a receipt until finance confirms it.
    assert!(receipts_of(db, holly.id).await.is_empty());
}

async fn a_confirmed_line_is_one_receipt_paying_its_invoice(db: TestDb) {
    let db = db.conn();
    let (_, holly) = school_account(db, 100_001, "Holly Park Primary School").await;
    let (_, birch) = school_account(db, 100_002, "Birch Academy").await;
    let autumn = invoice(db, &holly, 125_000).await;
    let spring = invoice(db, &holly, 50_000).await;
    let fees = invoice(db, &birch, 9_500).await;
    let file = lloyds(&[
        (
            "10/09/2026",
            &format!("HOLLY {}", autumn.number),
            "",
            "1,250.00",
        ),
        ("11/09/2026", "UNKNOWN DONOR", "", "20.00"),
        (
            "12/09/2026",
            &format!("HOLLY PARK {}", spring.number),
            "",
            "600.00",
        ),
    ]);
    import_as_finance(db, "s.csv", file).await.expect("import");
    let lines = bank::lines(db, &finance(), LineFilter::default(), &all())
        .await
        .expect("lines")
        .items;
    let (autumn_line, donor, spring_line) = (&lines[0], &lines[1], &lines[2]);

    // Confirmed twice at once, and again later: one receipt.
    let (who, at) = (finance(), clock());
    let (a, b) = tokio::join!(
        bank::confirm(db, &who, &at, autumn_line.id, Confirmation::default()),
        bank::confirm(db, &who, &at, autumn_line.id, Confirmation::default()),
    );
    let (a, b) = (a.expect("first"), b.expect("second"));
    assert_eq!(a.payment.id, b.payment.id);
    let again = bank::confirm(
        db,
        &finance(),
        &clock(),
        autumn_line.id,
        Confirmation::default(),
    )
    .await
    .expect("again");
    assert_eq!(again.payment.id, a.payment.id);
    assert_eq!(again.line.status, LineStatus::Confirmed);
    assert_eq!(again.line.payment, Some(a.payment.id));
    let receipts = receipts_of(db, holly.id).await;
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].method, ReceiptMethod::BankTransfer);
    assert_eq!(receipts[0].received_on, date(2026, 9, 10));
    assert_eq!(receipts[0].allocated, gbp(125_000));
    let paid = invoices::invoice(db, &finance(), autumn.id)
        .await
        .expect("invoice");
    assert_eq!(paid.status, InvoiceStatus::Paid);

    // More than is owed: the invoice is paid, the rest is the account's credit.
    let over = bank::confirm(
        db,
        &finance(),
        &clock(),
        spring_line.id,
        Confirmation::default(),
    )
    .await
    .expect("overpaid");
    assert_eq!(over.allocations.len(), 1);
    assert_eq!(over.allocations[0].amount, gbp(50_000));
    assert_eq!(over.payment.unallocated, gbp(10_000));

    // Nothing proposed: finance names the account; the invoice must be that account's.
    match bank::confirm(db, &finance(), &clock(), donor.id, Confirmation::default()).await {
        Err(DomainError::Invalid(p)) => {
            assert_eq!(
                (p[0].field.join("."), p[0].code),
                ("accountId".into(), ErrorCode::Required)
            );
        }
        other => panic!("expected accountId required, got {other:?}"),
    }
    assert_invalid(
        bank::confirm(
            db,
            &finance(),
            &clock(),
            donor.id,
            Confirmation {
                account: Some(holly.id),
                invoice: Some(fees.id),
            },
        )
        .await,
        "invoiceId",
        ErrorCode::Invalid,
    );
    let credit = bank::confirm(
        db,
        &finance(),
        &clock(),
        donor.id,
        Confirmation {
            account: Some(birch.id),
            invoice: None,
        },
    )
    .await
    .expect("as credit");
    assert!(credit.allocations.is_empty());
    assert_eq!(credit.payment.unallocated, gbp(2_000));
    // A receipt cannot be dismissed.
    assert_invalid(
        bank::dismiss(db, &finance(), &clock(), donor.id).await,
        "lineId",
        ErrorCode::Conflict,
    );
}

async fn proposals_are_confirmed_at_once_and_other_lines_dismissed(db: TestDb) {
    let db = db.conn();
    let (_, holly) = school_account(db, 100_001, "Holly Park Primary School").await;
    let (_, birch) = school_account(db, 100_002, "Birch Academy").await;
    let autumn = invoice(db, &holly, 125_000).await;
    let fees = invoice(db, &birch, 9_500).await;
    let file = lloyds(&[
        ("10/09/2026", &autumn.number, "", "1,250.00"),
        ("11/09/2026", "BIRCH ACADEMY", "", "95.00"),
        ("11/09/2026", "HSBC INTEREST", "", "0.42"),
    ]);
    let report = import_as_finance(db, "s.csv", file).await.expect("import");
    let interest = lines_with(db, LineStatus::Unmatched).await;
    let dismissed = bank::dismiss(db, &finance(), &clock(), interest[0].id)
        .await
        .expect("dismiss");
    assert_eq!(dismissed.status, LineStatus::Dismissed);
    let bulk = bank::confirm_proposed(db, &finance(), &clock(), Some(report.statement.id))
        .await
        .expect("bulk");
    assert_eq!(bulk.confirmed.len(), 2);
    assert!(bulk.skipped.is_empty());
    for (id, total) in [(autumn.id, 125_000), (fees.id, 9_500)] {
        let invoice = invoices::invoice(db, &finance(), id)
            .await
            .expect("invoice");
        assert_eq!(
            (invoice.status, invoice.paid),
            (InvoiceStatus::Paid, gbp(total))
        );
    }
    // Run again: nothing left to confirm, nothing paid twice.
    let bulk = bank::confirm_proposed(db, &finance(), &clock(), None)
        .await
        .expect("again");
    assert!(bulk.confirmed.is_empty());
    assert_eq!(receipts_of(db, holly.id).await.len(), 1);
}

async fn a_bad_statement_stores_nothing_and_says_where(db: TestDb) {
    let db = db.conn();
    let file =
        b"Date,Description,Amount\n31/02/2026,A,1.00\n05/09/2026,B,lots\n05/09/2026,C,2.00\n";
    match import_as_finance(db, "bad.csv", file.to_vec()).await {
        Err(DomainError::Invalid(problems)) => {
            let fields: Vec<String> = problems.iter().map(|p| p.field.join(".")).collect();
            assert_eq!(fields, ["file.2.Date", "file.3.Amount"]);
        }
        other => panic!("expected problems, got {other:?}"),
    }
    match import_as_finance(db, "x.csv", b"When,What\n1,2\n".to_vec()).await {
        Err(DomainError::Invalid(problems)) => assert_eq!(problems.len(), 3, "{problems:?}"),
        other => panic!("expected missing columns, got {other:?}"),
    }
    assert_invalid(
        import_as_finance(db, "e.csv", Vec::new()).await,
        "file",
        ErrorCode::Required,
    );
    let stored = bank::statements(db, &finance(), &all())
        .await
        .expect("list");
    assert!(stored.items.is_empty());
    assert!(
        bank::lines(db, &finance(), LineFilter::default(), &all())
            .await
            .expect("lines")
            .items
            .is_empty()
    );
}

async fn only_finance_and_admins_see_statements(db: TestDb) {
    let db = db.conn();
    let (school, holly) = school_account(db, 100_001, "Holly Park Primary School").await;
    invoice(db, &holly, 1_000).await;
    let file = lloyds(&[("10/09/2026", "HOLLY PARK", "", "10.00")]);
    import_as_finance(db, "s.csv", file.clone())
        .await
        .expect("import");
    let line = bank::lines(db, &finance(), LineFilter::default(), &all())
        .await
        .expect("lines")
        .items[0]
        .clone();
    let admin = user(Role::PartnershipAdmin, &[]);
    assert_eq!(
        bank::lines(db, &admin, LineFilter::default(), &all())
            .await
            .expect("admin")
            .items
            .len(),
        1
    );
    for actor in [
        user(Role::SchoolLeader, &[school]),
        user(Role::SchoolStaff, &[school]),
    ] {
        assert!(matches!(
            import_statement(db, &actor, &clock(), "s.csv", Cursor::new(file.clone())).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            bank::lines(db, &actor, LineFilter::default(), &all()).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            bank::confirm(db, &actor, &clock(), line.id, Confirmation::default()).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(
            bank::lines_by_ids(db, &actor, &[line.id])
                .await
                .expect("batch")
                .is_empty()
        );
    }
    assert_eq!(lines_with(db, LineStatus::Proposed).await.len(), 1);
}

/// A bank's CAMT.053 statement (ISO 20022 XML) comes in as its CSV export would: booked
/// credits each with their proposal, debits counted, pending entries left out; a malformed
/// one is refused whole, naming the entry.
async fn a_camt053_statement_comes_in_like_a_csv_one(db: TestDb) {
    let db = db.conn();
    let (_, holly) = school_account(db, 100_001, "Holly Park Primary School").await;
    let autumn = invoice(db, &holly, 125_000).await;
    let entry = |amount: &str, ind: &str, status: &str, payer: &str, text: &str| {
        format!(
            "<Ntry><Amt Ccy=\"GBP\">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts>{status}</Sts>\
             <BookgDt><Dt>2026-09-10</Dt></BookgDt><NtryDtls><TxDtls>\
             <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>\
             <RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>1</MsgId></GrpHdr><Stmt>{}{}{}{}</Stmt></BkToCstmrStmt></Document>",
        entry(
            "1250.00",
            "CRDT",
            "BOOK",
            "HOLLY PARK PRIMAR",
            &autumn.number.replace('-', " ")
        ),
        entry("20.00", "CRDT", "BOOK", "UNKNOWN DONOR", "GIFT"),
        entry("45.10", "DBIT", "BOOK", "BT GROUP PLC", "DD"),
        entry("99.00", "CRDT", "PDNG", "SOMEONE", "NOT YET"),
    );
    let report = import_as_finance(db, "sept.xml", xml.into_bytes())
        .await
        .expect("import");
    assert_eq!(
        (
            report.statement.lines_new,
            report.statement.lines_known,
            report.statement.lines_out
        ),
        (2, 0, 1)
    );
    assert_eq!((report.proposed, report.unmatched), (1, 1));
    let proposed = lines_with(db, LineStatus::Proposed).await;
    assert_eq!(proposed.len(), 1);
    assert_eq!(proposed[0].proposed_invoice, Some(autumn.id));
    assert_eq!(proposed[0].match_reason, Some(MatchReason::InvoiceNumber));
    assert_eq!(proposed[0].posted_on, date(2026, 9, 10));

    // A malformed statement is refused whole, naming the entry.
    let bad = "<Document><BkToCstmrStmt><Stmt><Ntry><Amt Ccy=\"EUR\">5.00</Amt>\
               <CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-09-11</Dt></BookgDt>\
               <AddtlNtryInf>X</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>";
    let err = import_as_finance(db, "bad.xml", bad.as_bytes().to_vec())
        .await
        .expect_err("refused");
    match err {
        DomainError::Invalid(errors) => {
            assert!(errors[0].message.starts_with("entry 1: "), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
}

testkit::db_tests!(
    a_camt053_statement_comes_in_like_a_csv_one,
    each_credit_comes_in_once_with_its_proposal,
    a_confirmed_line_is_one_receipt_paying_its_invoice,
    proposals_are_confirmed_at_once_and_other_lines_dismissed,
    a_bad_statement_stores_nothing_and_says_where,
    only_finance_and_admins_see_statements,
);
