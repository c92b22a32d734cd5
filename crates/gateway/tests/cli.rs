//! `trellis import bank-statement`: the real binary on a database testkit prepared (SQLite
//! and PostgreSQL), with a bank's CSV export as Lloyds writes it. Each money-in line is kept
//! once with its proposal, a statement imported again brings nothing in, and a bad file is
//! refused by line with nothing stored.

use std::path::Path;
use std::process::{Command, Output};

use kernel::Actor;
use testkit::TestDb;

/// Runs `trellis import bank-statement --file <file>` on `db`.
fn import(db: &TestDb, file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["import", "bank-statement", "--file"])
        .arg(file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRELLIS_DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("trellis runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn a_bank_statement_is_imported_from_the_command_line_once(db: TestDb) {
    let clock = kernel::SystemClock;
    membership::demo::seed(db.conn(), &clock)
        .await
        .expect("demo directory");
    billing::demo::seed(db.conn(), &clock)
        .await
        .expect("demo billing");
    let open = billing::ledger::invoices::invoices(
        db.conn(),
        &Actor::System,
        &billing::ledger::invoices::InvoiceFilter {
            status: vec![billing::ledger::InvoiceStatus::Open],
            ..billing::ledger::invoices::InvoiceFilter::default()
        },
        &membership::PageArgs::first(1),
    )
    .await
    .expect("invoices")
    .items
    .remove(0);
    let day = (chrono::Utc::now().date_naive() - chrono::Days::new(1))
        .format("%d/%m/%Y")
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("lloyds-december.csv");
    std::fs::write(
        &file,
        format!(
            "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\r\n\
             {day},BGC,'30-94-57,12345678,SCHOOL FEES {},,{},9000.00\r\n\
             {day},BGC,'30-94-57,12345678,HSBC INTEREST,,0.42,9000.42\r\n\
             {day},DD,'30-94-57,12345678,BT GROUP PLC,45.10,,8955.32\r\n",
            open.number.replace('-', " "),
            format_args!(
                "{}.{:02}",
                open.outstanding.pence() / 100,
                open.outstanding.pence() % 100
            ),
        ),
    )
    .expect("write");

    let first = import(&db, &file);
    let out = text(&first.stdout);
    assert!(first.status.success(), "{out}{}", text(&first.stderr));
    assert!(
        out.starts_with("lloyds-december.csv, ")
            && out.contains(
                ": 2 new money-in lines (1 with a proposed invoice, 1 unmatched), 0 already imported, 1 money-out lines not kept"
            ),
        "{out}"
    );
    let proposed = billing::ledger::bank::lines(
        db.conn(),
        &Actor::System,
        billing::ledger::bank::LineFilter::default(),
        &membership::PageArgs::first(10),
    )
    .await
    .expect("lines")
    .items;
    assert_eq!(proposed.len(), 2);
    assert!(
        proposed.iter().any(|l| l.proposed_invoice == Some(open.id)),
        "the line quoting {} is proposed to pay it",
        open.number
    );

    // The same statement again brings nothing in.
    let again = import(&db, &file);
    let out = text(&again.stdout);
    assert!(again.status.success(), "{out}{}", text(&again.stderr));
    assert!(
        out.contains(
            ": 0 new money-in lines (0 with a proposed invoice, 0 unmatched), 2 already imported"
        ),
        "{out}"
    );

    // A bad file: refused by line and column, nothing stored, a failing exit status.
    let stored = async || {
        billing::ledger::bank::statements(
            db.conn(),
            &Actor::System,
            &membership::PageArgs::first(10),
        )
        .await
        .expect("statements")
        .items
        .len()
    };
    let before = stored().await;
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "Date,Description,Amount\n31/02/2026,A,1.00\n05/09/2026,B,lots\n",
    )
    .expect("write");
    let refused = import(&db, &bad);
    let err = text(&refused.stderr);
    assert!(!refused.status.success(), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
    assert_eq!(stored().await, before, "the bad file stored nothing");
}

testkit::db_tests!(a_bank_statement_is_imported_from_the_command_line_once);
