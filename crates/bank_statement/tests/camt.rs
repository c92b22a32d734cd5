//! CAMT.053 statements read into the same lines as a CSV export.

use bank_statement::{Line, camt};
use chrono::NaiveDate;
use import_file::Collected;

fn read(xml: &str) -> Collected<Line> {
    let mut got = Collected::default();
    camt::read(xml.as_bytes(), &mut got);
    got
}

/// The lines of a statement that must read without a problem.
fn read_clean(xml: &str) -> Vec<Line> {
    let got = read(xml);
    assert!(
        got.problems.listed().is_empty(),
        "{:?}",
        got.problems.listed()
    );
    got.rows
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("day")
}

#[test]
fn a_statement_becomes_its_booked_entries() {
    let xml = include_str!("fixtures/camt053.xml");
    assert!(camt::is_xml(xml.as_bytes()));
    assert_eq!(
        read_clean(xml),
        vec![
            Line {
                line: 1,
                posted_on: day(1),
                description: "MOSS HALL INFANT SCHOOL / SCHOOL FEES TRL 2026 000003".into(),
                amount_pence: 162_134,
            },
            Line {
                line: 2,
                posted_on: day(1),
                description: "HSBC INTEREST".into(),
                amount_pence: 42,
            },
            Line {
                line: 3,
                posted_on: day(1),
                description: "BT GROUP PLC".into(),
                amount_pence: -4_510,
            },
        ],
        "the pending entry is left out"
    );
}

#[test]
fn a_version_8_party_and_a_byte_order_mark_are_read() {
    let xml = "\u{feff}<?xml version=\"1.0\"?>
<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt><Stmt><Ntry>
  <Amt Ccy=\"GBP\">1,000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
  <BookgDt><Dt>2026-12-03</Dt></BookgDt>
  <NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>HOLLY  PARK
  PRIMARY</Nm></Pty></Dbtr></RltdPties></TxDtls></NtryDtls>
</Ntry></Stmt></BkToCstmrStmt></Document>";
    assert!(camt::is_xml(xml.as_bytes()));
    let rows = read_clean(xml);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].description, "HOLLY PARK PRIMARY");
    assert_eq!(rows[0].amount_pence, 100_000);
    assert_eq!(rows[0].posted_on, day(3));
}

#[test]
fn bad_entries_are_named_and_other_files_refused() {
    let entry = |amount: &str, ccy: &str, ind: &str, date: &str| {
        format!(
            "<Ntry><Amt Ccy=\"{ccy}\">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>\
             <BookgDt><Dt>{date}</Dt></BookgDt><AddtlNtryInf>X</AddtlNtryInf></Ntry>"
        )
    };
    let xml = format!(
        "<Document><BkToCstmrStmt><Stmt>{}{}{}{}{}</Stmt></BkToCstmrStmt></Document>",
        entry("10.00", "GBP", "CRDT", "2026-12-01"),
        entry("10.00", "EUR", "CRDT", "2026-12-01"),
        entry("lots", "GBP", "CRDT", "2026-12-01"),
        entry("10.00", "GBP", "SIDEWAYS", "2026-12-01"),
        entry("10.00", "GBP", "CRDT", "2026-02-31"),
    );
    let got = read(&xml);
    let messages: Vec<&str> = got
        .problems
        .listed()
        .iter()
        .map(|p| p.message.as_str())
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    for (n, what) in [
        (2, "EUR"),
        (3, "lots"),
        (4, "CdtDbtInd"),
        (5, "booking day"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with(&format!("entry {n}: ")) && m.contains(what)),
            "entry {n} ({what}): {messages:?}"
        );
    }

    for not_camt in [
        "<html><body>hello</body></html>",
        "<Document><BkToCstmrStmt></BkToCstmrStmt></Document>",
        "<Document><unclosed>",
    ] {
        let got = read(not_camt);
        assert!(got.rows.is_empty());
        assert_eq!(got.problems.listed().len(), 1, "{not_camt}");
    }
    assert!(!camt::is_xml(b"Date,Description,Amount\n"));
}
