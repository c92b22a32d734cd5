//! Invoices and credit notes as documents, on real databases: what a school's finance office
//! reads on them (read back by a PDF reader), and who may have one.

use crate::ledger_support;

use billing::ledger::document::{Letterhead, credit_note_document, invoice_document};
use billing::ledger::{
    CreditAmount, Instalment, NewCreditNote, VatTreatment, credit_notes, issue_invoice,
};
use kernel::{DomainError, Role};
use ledger_support::*;
use testkit::TestDb;

fn text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text")
}

fn letterhead() -> Letterhead {
    Letterhead::from_parts(
        "Haringey Education Partnership",
        Some("48 Station Road, London, N22 7TY"),
        Some("GB 123 4567 89"),
        (
            Some("Haringey Education Partnership"),
            Some("20-45-77"),
            Some("73215588"),
        ),
    )
    .expect("letterhead")
}

async fn an_invoice_document_prints_what_finance_needs_to_pay_it(db: TestDb) {
    let db = db.conn();
    let (school, account) = school_account(db, 100_001, "Alder Primary School").await;
    let standard = billing::ledger::NewInvoiceLine {
        description: "Data protection officer service".to_owned(),
        vat_treatment: VatTreatment::Standard,
        vat_rate_bp: 2000,
        ..line(50_000)
    };
    let mut input = new_invoice(&account, Instalment::Autumn, vec![line(120_000), standard]);
    input.po_number = Some("PO-7781".to_owned());
    let issued = issue_invoice(db, &finance(), &clock(), input)
        .await
        .expect("issue")
        .invoice;

    // The school's own people and finance; another school's leader learns nothing.
    let other = user(Role::SchoolLeader, &[kernel::SchoolId::new()]);
    assert!(matches!(
        invoice_document(db, &other, issued.id).await,
        Err(DomainError::NotFound { .. })
    ));
    invoice_document(db, &user(Role::SchoolLeader, &[school]), issued.id)
        .await
        .expect("the school's own");
    let document = invoice_document(db, &finance(), issued.id)
        .await
        .expect("finance");
    let printed = text(&document.pdf(&letterhead()));
    for expected in [
        "Invoice TRL-2026-000001",
        "Haringey Education Partnership",
        "GB123456789",
        "Alder Primary School",
        "Pat Bursar",
        "N22 6HH",
        "PO-7781",
        "15 October 2026",
        "Autumn",
        "Data protection officer service",
        "Exempt",
        "20%",
        // 1,200.00 exempt + 500.00 + 100.00 VAT.
        "£1,800.00",
        "£100.00",
        "20-45-77",
        "73215588",
        "quoting TRL-2026-000001 as the reference",
    ] {
        assert!(printed.contains(expected), "{expected} in {printed}");
    }

    // Credited in part: the credit note is its own document, and the invoice says what is
    // left to pay.
    let note = credit_notes::credit(
        db,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued.id,
            reason: "Service started in November".to_owned(),
            amount: CreditAmount::Amount(gbp(30_000)),
            idempotency_key: None,
        },
    )
    .await
    .expect("credit");
    assert!(matches!(
        credit_note_document(db, &other, note.id).await,
        Err(DomainError::NotFound { .. })
    ));
    let printed = text(
        &credit_note_document(db, &finance(), note.id)
            .await
            .expect("credit note")
            .pdf(&letterhead()),
    );
    let title = format!("Credit note {}", note.number);
    for expected in [
        title.as_str(),
        "Credits invoice",
        "TRL-2026-000001",
        "Service started in November",
        "£300.00",
    ] {
        assert!(printed.contains(expected), "{expected} in {printed}");
    }
    let printed = text(
        &invoice_document(db, &finance(), issued.id)
            .await
            .expect("again")
            .pdf(&letterhead()),
    );
    assert!(printed.contains("Credited"), "{printed}");
    assert!(
        printed.contains("£1,500.00"),
        "amount due after the credit: {printed}"
    );

    // Without bank details the document says whom to ask.
    let bare = Letterhead::named("Hertfordshire cluster");
    assert_eq!(
        Letterhead::from_parts("Hertfordshire cluster", None, None, (None, None, None)),
        Ok(bare.clone())
    );
    let printed = text(&document.pdf(&bare));
    assert!(
        printed.contains("contact Hertfordshire cluster's finance team"),
        "{printed}"
    );
    assert!(!printed.contains("VAT registration"), "{printed}");
}

testkit::db_tests!(an_invoice_document_prints_what_finance_needs_to_pay_it);
