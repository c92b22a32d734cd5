//! The ledger export's three layouts read back with a CSV parser: headers, totals against
//! the documents the test raised, allocations, quoting and who sees what.

use crate::ledger_support;

use billing::ledger::accounts::{self, AccountKind, BillingAccount};
use billing::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use billing::ledger::invoices::{self, Invoice};
use billing::ledger::payments::{NewPayment, ReceiptMethod};
use billing::ledger::refunds::NewRefund;
use billing::ledger::{
    ExportLayout, Instalment, VatTreatment, allocate, export_csv, issue_invoice, record_payment,
    refund,
};
use kernel::{Actor, Role};
use ledger_support::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

const TRICKY: &str = "Phonics CPD, \"day 1\"\nwith lunch";

/// Pounds text (`-12.34`) as pence.
fn pence(text: &str) -> i64 {
    let (sign, digits) = text.strip_prefix('-').map_or((1, text), |rest| (-1, rest));
    let (whole, frac) = digits.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{text}");
    sign * (whole.parse::<i64>().expect("pounds") * 100 + frac.parse::<i64>().expect("pence"))
}

struct Parsed {
    header: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Parsed {
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }

    fn sum(&self, name: &str, keep: impl Fn(&csv::StringRecord) -> bool) -> i64 {
        let c = self.col(name);
        self.rows
            .iter()
            .filter(|r| keep(r))
            .map(|r| pence(&r[c]))
            .sum()
    }
}

async fn export(db: &DatabaseConnection, actor: &Actor, layout: ExportLayout) -> Parsed {
    let text = export_csv(db, actor, year(), layout).await.expect("export");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader.records().collect::<Result<_, _>>().expect("rows");
    Parsed { header, rows }
}

struct World {
    own_school: kernel::SchoolId,
    own: BillingAccount,
    trust: BillingAccount,
    invoices: Vec<Invoice>,
    /// Net and VAT credited, in pence.
    credited: (i64, i64),
    received: i64,
    refunded: i64,
}

async fn world(conn: &DatabaseConnection) -> World {
    let (own_school, own) = school_account(conn, 330_001, "Alder Primary").await;
    let b = school(conn, 330_002, "Birch Primary").await;
    let c = school(conn, 330_003, "Cedar Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Birch, Cedar & Co Trust", &[b, c]),
    )
    .await
    .expect("trust");
    let (_, other) = school_account(conn, 330_004, "Damson Primary").await;

    let mut course = line(10_000);
    course.description = TRICKY.into();
    course.vat_treatment = VatTreatment::Standard;
    course.vat_rate_bp = 2_000;
    course.cfr_code = Some("E27".into());
    let mut first = new_invoice(&own, Instalment::Annual, vec![line(50_000), course]);
    first.po_number = Some("PO-77".into());
    let mut for_birch = line(20_000);
    for_birch.school_id = Some(b);
    let mut issued = Vec::new();
    for input in [
        first,
        new_invoice(&own, Instalment::None, vec![line(30_000)]),
        new_invoice(&trust, Instalment::None, vec![for_birch]),
        new_invoice(&other, Instalment::None, vec![line(7_000)]),
    ] {
        issued.push(
            issue_invoice(conn, &finance(), &clock(), input)
                .await
                .expect("issue")
                .invoice,
        );
    }

    let receipt = record_payment(
        conn,
        &finance(),
        &clock(),
        NewPayment {
            account_id: own.id,
            method: ReceiptMethod::BankTransfer,
            reference: "ALDER 2026".into(),
            received_on: date(2026, 9, 15),
            amount: gbp(72_000),
            provider_payment_ref: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt");
    allocate(
        conn,
        &finance(),
        &clock(),
        receipt.id,
        &[(issued[0].id, gbp(62_000)), (issued[1].id, gbp(10_000))],
        None,
    )
    .await
    .expect("allocate");
    let lines = invoices::lines_of_invoices(conn, &[issued[0].id])
        .await
        .expect("lines");
    // Crediting a paid line releases the money back to the receipt, which is refunded.
    let note = credit_notes::credit(
        conn,
        &finance(),
        &clock(),
        NewCreditNote {
            invoice_id: issued[0].id,
            reason: "half the course".into(),
            amount: CreditAmount::Lines(vec![(lines[&issued[0].id][1].id, gbp(6_000))]),
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
            amount: gbp(6_000),
            reason: "half the course".into(),
            refunded_on: date(2026, 9, 15),
            provider_refund_ref: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("refund");
    World {
        own_school,
        own,
        trust,
        invoices: issued,
        credited: (note.net.pence(), note.vat.pence()),
        received: 72_000,
        refunded: 6_000,
    }
}

impl World {
    fn invoiced(&self) -> (i64, i64) {
        (
            self.invoices.iter().map(|i| i.net.pence()).sum(),
            self.invoices.iter().map(|i| i.vat.pence()).sum(),
        )
    }
}

async fn ledger_layout_has_the_accountants_columns(db: TestDb) {
    let conn = db.conn();
    let w = world(conn).await;
    let csv = export(conn, &finance(), ExportLayout::Ledger).await;
    assert_eq!(
        csv.header[13..],
        [
            "due_date",
            "vat_rate",
            "vat_treatment",
            "po_number",
            "urn",
            "account_code",
            "allocated_to"
        ]
    );
    assert_eq!(csv.header[0], "type");
    let kind = csv.col("type");
    let is = |k: &'static str| move |r: &csv::StringRecord| &r[kind] == k;
    let (net, vat) = w.invoiced();
    let (cnet, cvat) = w.credited;
    assert_eq!(
        csv.sum("net", |r| !r[csv.col("net")].is_empty()),
        net - cnet
    );
    assert_eq!(
        csv.sum("vat", |r| !r[csv.col("vat")].is_empty()),
        vat - cvat
    );
    assert_eq!(
        csv.sum("gross", |_| true),
        net + vat - cnet - cvat + w.received - w.refunded
    );
    assert_eq!(csv.sum("gross", is("PAYMENT")), w.received);

    let course = csv
        .rows
        .iter()
        .find(|r| &r[csv.col("description")] == TRICKY)
        .expect("the description round-trips");
    let get = |r: &csv::StringRecord, c: &str| r[csv.col(c)].to_owned();
    assert_eq!(get(course, "due_date"), "2026-10-15");
    assert_eq!(get(course, "vat_rate"), "20.00");
    assert_eq!(get(course, "vat_treatment"), "STANDARD");
    assert_eq!(get(course, "po_number"), "PO-77");
    assert_eq!(get(course, "urn"), "330001");
    assert_eq!(get(course, "account_code"), "330001");
    let exempt = csv
        .rows
        .iter()
        .find(|r| &r[csv.col("number")] == w.invoices[1].number.as_str())
        .expect("second invoice");
    assert_eq!(
        (get(exempt, "vat_rate"), get(exempt, "vat_treatment")),
        (String::new(), "EXEMPT".to_owned())
    );
    let birch = csv
        .rows
        .iter()
        .find(|r| &r[csv.col("number")] == w.invoices[2].number.as_str())
        .expect("trust invoice");
    assert_eq!(get(birch, "urn"), "330002", "the line's school");
    let code = get(birch, "account_code");
    assert!(
        code.len() == 8 && code.starts_with('T'),
        "a trust's code: {code}"
    );
    let hex = w.trust.id.as_uuid().simple().to_string().to_uppercase();
    assert_eq!(code[1..], hex[..7]);

    let credit = csv
        .rows
        .iter()
        .find(|r| is("CREDIT_NOTE_LINE")(r))
        .expect("credit");
    assert_eq!(
        (get(credit, "vat_rate"), get(credit, "vat_treatment")),
        ("20.00".to_owned(), "STANDARD".to_owned())
    );
    let payment = csv.rows.iter().find(|r| is("PAYMENT")(r)).expect("payment");
    assert_eq!(get(payment, "urn"), "330001");
    assert_eq!(
        get(payment, "allocated_to"),
        format!(
            "{}:{};{}:100.00",
            w.invoices[0].number,
            "560.00", // 620 allocated, 60 released by the credit note
            w.invoices[1].number
        )
    );

    // A school leader sees their own account's rows only.
    let own = export(
        conn,
        &user(Role::SchoolLeader, &[w.own_school]),
        ExportLayout::Ledger,
    )
    .await;
    let account = own.col("account_id");
    assert!(!own.rows.is_empty());
    assert!(
        own.rows
            .iter()
            .all(|r| &r[account] == w.own.id.to_string().as_str())
    );
}

async fn xero_layout_reads_back_and_adds_up(db: TestDb) {
    let conn = db.conn();
    let w = world(conn).await;
    let csv = export(conn, &finance(), ExportLayout::Xero).await;
    assert_eq!(
        csv.header,
        [
            "*ContactName",
            "EmailAddress",
            "POAddressLine1",
            "POAddressLine2",
            "POAddressLine3",
            "POAddressLine4",
            "POCity",
            "PORegion",
            "POPostalCode",
            "POCountry",
            "*InvoiceNumber",
            "Reference",
            "*InvoiceDate",
            "*DueDate",
            "Total",
            "InventoryItemCode",
            "*Description",
            "*Quantity",
            "*UnitAmount",
            "Discount",
            "*AccountCode",
            "*TaxType",
            "TaxAmount",
            "TrackingName1",
            "TrackingOption1",
            "TrackingName2",
            "TrackingOption2",
            "Currency",
            "BrandingTheme",
        ]
    );
    let (q, u) = (csv.col("*Quantity"), csv.col("*UnitAmount"));
    let net: i64 = csv
        .rows
        .iter()
        .map(|r| r[q].parse::<i64>().expect("quantity") * pence(&r[u]))
        .sum();
    let (inet, ivat) = w.invoiced();
    let (cnet, cvat) = w.credited;
    assert_eq!(net, inet - cnet);
    assert_eq!(csv.sum("TaxAmount", |_| true), ivat - cvat);
    let credit_rows: Vec<_> = csv.rows.iter().filter(|r| &r[q] == "-1").collect();
    assert_eq!(credit_rows.len(), 1);
    assert_eq!(&credit_rows[0][csv.col("*InvoiceNumber")], "CN-2026-000001");
    assert_eq!(
        &credit_rows[0][csv.col("Reference")],
        w.invoices[0].number.as_str()
    );
    let course = csv
        .rows
        .iter()
        .find(|r| &r[csv.col("*Description")] == TRICKY)
        .expect("the description round-trips");
    assert_eq!(&course[csv.col("*TaxType")], "20% (VAT on Income)");
    assert_eq!(&course[csv.col("*DueDate")], "15/10/2026");
    assert_eq!(&course[csv.col("Reference")], "PO-77");
    assert_eq!(&course[csv.col("*AccountCode")], "200");
    assert_eq!(
        (
            &course[csv.col("TrackingName1")],
            &course[csv.col("TrackingOption1")]
        ),
        ("CFR", "E27")
    );
    assert!(
        csv.rows
            .iter()
            .any(|r| &r[csv.col("*TaxType")] == "Exempt Income")
    );
    assert!(
        csv.rows
            .iter()
            .any(|r| &r[csv.col("*ContactName")] == "Birch, Cedar & Co Trust")
    );

    let own = export(
        conn,
        &user(Role::SchoolLeader, &[w.own_school]),
        ExportLayout::Xero,
    )
    .await;
    let name = own.col("*ContactName");
    assert!(!own.rows.is_empty());
    assert!(own.rows.iter().all(|r| &r[name] == "Alder Primary"));
}

async fn sage_layout_reads_back_and_adds_up(db: TestDb) {
    let conn = db.conn();
    let w = world(conn).await;
    let csv = export(conn, &finance(), ExportLayout::Sage50).await;
    assert_eq!(
        csv.header,
        [
            "Type",
            "Account Reference",
            "Nominal A/C Ref",
            "Department Code",
            "Date",
            "Reference",
            "Details",
            "Net Amount",
            "Tax Code",
            "Tax Amount",
            "Exchange Rate",
            "Extra Reference",
            "User Name",
            "Project Refn",
            "Cost Code Refn",
        ]
    );
    let kind = csv.col("Type");
    let is = |k: &'static str| move |r: &csv::StringRecord| &r[kind] == k;
    let (inet, ivat) = w.invoiced();
    let (cnet, cvat) = w.credited;
    assert_eq!(csv.sum("Net Amount", is("SI")), inet);
    assert_eq!(csv.sum("Tax Amount", is("SI")), ivat);
    assert_eq!(csv.sum("Net Amount", is("SC")), cnet);
    assert_eq!(csv.sum("Tax Amount", is("SC")), cvat);
    assert_eq!(csv.sum("Net Amount", is("SA")), w.received);
    assert_eq!(csv.sum("Net Amount", is("SP")), w.refunded);
    let reference = csv.col("Account Reference");
    assert!(
        csv.rows
            .iter()
            .all(|r| (1..=8).contains(&r[reference].len())
                && r[reference] == r[reference].to_uppercase())
    );
    let course = csv
        .rows
        .iter()
        .find(|r| is("SI")(r) && &r[csv.col("Tax Code")] == "T1")
        .expect("the course line");
    assert_eq!(
        &course[csv.col("Details")],
        TRICKY.replace('\n', " "),
        "kept whole, on one line"
    );
    assert_eq!(&course[reference], "330001");
    assert!(
        chrono::NaiveDate::parse_from_str(&course[csv.col("Date")], "%d/%m/%Y").is_ok(),
        "dd/mm/yyyy"
    );
    assert_eq!(&course[csv.col("Extra Reference")], "PO-77");
    assert!(
        csv.rows
            .iter()
            .any(|r| is("SI")(r) && &r[csv.col("Tax Code")] == "T2")
    );
    let receipt = csv.rows.iter().find(|r| is("SA")(r)).expect("receipt");
    assert_eq!(&receipt[csv.col("Tax Code")], "T9");
    assert!(receipt[csv.col("Details")].contains(w.invoices[1].number.as_str()));

    let own = export(
        conn,
        &user(Role::SchoolLeader, &[w.own_school]),
        ExportLayout::Sage50,
    )
    .await;
    assert!(!own.rows.is_empty());
    assert!(own.rows.iter().all(|r| &r[reference] == "330001"));
}

testkit::db_tests!(
    ledger_layout_has_the_accountants_columns,
    xero_layout_reads_back_and_adds_up,
    sage_layout_reads_back_and_adds_up,
);
