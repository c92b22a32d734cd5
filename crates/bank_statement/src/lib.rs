//! A bank statement export, read: what every UK bank's online banking gives as CSV.
//!
//! Banks agree on nothing but the idea — Lloyds writes `Transaction Date`, `Transaction
//! Description`, `Debit Amount`, `Credit Amount`; Barclays `Date`, `Memo`, `Amount` (signed);
//! Nationwide `Date`, `Description`, `Paid out`, `Paid in` with pound signs; NatWest `Date`,
//! `Description`, `Value` — so columns are found by any of the names in [`DATE`],
//! [`DESCRIPTION`], [`SIGNED`], [`PAID_IN`] and [`PAID_OUT`], case ignored. The file is
//! decoded, split and numbered by [`import_file`] like every other import, and each line
//! becomes a [`Line`]: its day, what the bank says about it, and its amount in pence, money
//! in positive. Amounts are read as decimals (never through floating point), to the penny.
//!
//! Banks that offer ISO 20022 XML give the same lines as a CAMT.053 statement, read by
//! [`camt`] into the same [`Line`]s.
//!
//! What a line *means* — whose money it is, which invoice it pays, whether it was imported
//! before — is `billing::bank`'s.

use std::io::Read;

pub mod camt;

use chrono::NaiveDate;
use import_file::{
    BATCH, LineProblem, Progress, Sink, encoding_problem, next_row, position, read_header,
};
use kernel::ErrorCode;
use kernel::money::MAX_INPUT_PENCE;

/// Names of the column holding the day the money moved, most specific first.
pub const DATE: &[&str] = &["Transaction Date", "Posting Date", "Posted Date", "Date"];
/// Names of the columns saying who paid and why; every one present is read and joined, so
/// a bank that splits the payer's name from their reference loses neither.
pub const DESCRIPTION: &[&str] = &[
    "Counter Party",
    "Payee",
    "Name",
    "Transaction Description",
    "Description",
    "Details",
    "Narrative",
    "Memo",
    "Reference",
];
/// Names of a single signed amount column (money in positive).
pub const SIGNED: &[&str] = &["Amount", "Value", "Amount (GBP)"];
/// Names of the money-in column, when a bank splits the amount in two.
pub const PAID_IN: &[&str] = &["Credit Amount", "Paid in", "Money In", "Credit", "In"];
/// Names of the money-out column.
pub const PAID_OUT: &[&str] = &["Debit Amount", "Paid out", "Money Out", "Debit", "Out"];

/// The longest description kept; a bank's own fields are far shorter.
pub const DESCRIPTION_MAX: usize = 500;

/// One line of the statement, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line of the file, for problems found later and for finance to find it.
    pub line: u64,
    pub posted_on: NaiveDate,
    /// The description columns joined with ` / `, whitespace collapsed.
    pub description: String,
    /// Pence; money in is positive, money out negative, never zero.
    pub amount_pence: i64,
}

/// Where the amount is.
#[derive(Debug, Clone, Copy)]
enum Amount {
    Signed(Column),
    Split {
        paid_in: Option<Column>,
        paid_out: Option<Column>,
    },
}

/// A column's position and the name it was found by (problems name it as the file does).
type Column = (usize, &'static str);

/// Reads a statement: a header row naming a date column, at least one description column
/// and the amount (signed, or paid in and/or paid out), then a line per transaction. Blank
/// lines and lines with no amount (a balance carried forward) are skipped.
pub fn read<R: Read>(mut reader: csv::Reader<R>, tx: &mut impl Sink<Line>) {
    let Some(header) = read_header(&mut reader, tx) else {
        return;
    };
    let Some((date_col, text_cols, amount)) = columns(&header, tx) else {
        return;
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    let mut rows_read = 0_u64;
    while let Some(line) = next_row(&mut reader, &mut record, &mut rows_read, tx) {
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match read_line(line, &record, date_col, &text_cols, amount) {
            Ok(Some(row)) => batch.push(row),
            Ok(None) => {}
            Err(problems) => {
                for p in problems {
                    if !tx.problem(p) {
                        return;
                    }
                }
            }
        }
        if batch.len() == BATCH && !tx.rows(std::mem::take(&mut batch), Progress { rows_read }) {
            return;
        }
    }
    tx.rows(batch, Progress { rows_read });
}

fn first_of(header: &csv::StringRecord, names: &[&'static str]) -> Option<Column> {
    names
        .iter()
        .find_map(|name| position(header, name).map(|i| (i, *name)))
}

/// The header's columns, or `None` with every missing one reported on line 1.
fn columns<T>(
    header: &csv::StringRecord,
    tx: &mut impl Sink<T>,
) -> Option<(Column, Vec<Column>, Amount)> {
    let date = first_of(header, DATE);
    let text: Vec<Column> = DESCRIPTION
        .iter()
        .filter_map(|name| position(header, name).map(|i| (i, *name)))
        .collect();
    let paid_in = first_of(header, PAID_IN);
    let paid_out = first_of(header, PAID_OUT);
    let amount = match (first_of(header, SIGNED), paid_in, paid_out) {
        (_, Some(_), _) | (_, _, Some(_)) => Some(Amount::Split { paid_in, paid_out }),
        (Some(signed), None, None) => Some(Amount::Signed(signed)),
        (None, None, None) => None,
    };
    let mut missing = |names: &[&str], what: &str| {
        tx.problem(LineProblem::new(
            1,
            names.first().copied(),
            ErrorCode::Required,
            format!(
                "no {what} column: the header row needs one of {}",
                names.join(", ")
            ),
        ));
    };
    if date.is_none() {
        missing(DATE, "date");
    }
    if text.is_empty() {
        missing(DESCRIPTION, "description");
    }
    if amount.is_none() {
        missing(
            &[SIGNED, PAID_IN].concat(),
            "amount (a signed amount, or paid in and paid out)",
        );
    }
    Some((date?, (!text.is_empty()).then_some(text)?, amount?))
}

/// One line, or its problems; `Ok(None)` for a line with no money (a balance line).
fn read_line(
    line: u64,
    record: &csv::StringRecord,
    (date_col, date_name): Column,
    text_cols: &[Column],
    amount: Amount,
) -> Result<Option<Line>, Vec<LineProblem>> {
    let cell = |i: usize| record.get(i).unwrap_or_default().trim();
    let mut problems = Vec::new();
    let raw_date = cell(date_col);
    let posted_on = parse_day(raw_date);
    if posted_on.is_none() {
        problems.push(LineProblem::new(
            line,
            Some(date_name),
            if raw_date.is_empty() {
                ErrorCode::Required
            } else {
                ErrorCode::Invalid
            },
            format!("{raw_date:?} is not a date (dd/mm/yyyy, yyyy-mm-dd or 05 Dec 2026)"),
        ));
    }
    let mut parts = Vec::new();
    for &(i, name) in text_cols {
        let text = cell(i);
        if let Some(why) = encoding_problem(text) {
            problems.push(LineProblem::new(line, Some(name), ErrorCode::Invalid, why));
        }
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
    }
    let description: String = parts
        .join(" / ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(DESCRIPTION_MAX)
        .collect();
    let pence = match amount {
        Amount::Signed((i, name)) => pence_in(line, cell(i), name, &mut problems),
        Amount::Split { paid_in, paid_out } => {
            let credit = paid_in.and_then(|(i, name)| pence_in(line, cell(i), name, &mut problems));
            let debit = paid_out.and_then(|(i, name)| pence_in(line, cell(i), name, &mut problems));
            match (credit, debit) {
                (Some(c), Some(d)) if c != 0 && d != 0 => {
                    problems.push(LineProblem::new(
                        line,
                        paid_in.map(|(_, name)| name),
                        ErrorCode::Conflict,
                        "money both in and out on one line",
                    ));
                    None
                }
                (Some(c), _) if c != 0 => Some(c.abs()),
                (_, Some(d)) if d != 0 => Some(-d.abs()),
                (c, d) => c.or(d),
            }
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    match (posted_on, pence) {
        (Some(posted_on), Some(amount_pence)) if amount_pence != 0 => Ok(Some(Line {
            line,
            posted_on,
            description,
            amount_pence,
        })),
        _ => Ok(None),
    }
}

/// An amount cell in pence: `None` (no problem) when empty; a problem when it is not money
/// or beyond what one payment can be.
fn pence_in(line: u64, raw: &str, column: &str, problems: &mut Vec<LineProblem>) -> Option<i64> {
    if raw.is_empty() {
        return None;
    }
    match parse_pence(raw) {
        Some(p) if p.abs() <= MAX_INPUT_PENCE => Some(p),
        Some(_) => {
            problems.push(LineProblem::new(
                line,
                Some(column),
                ErrorCode::OutOfRange,
                format!("{raw:?} is more than one payment can be"),
            ));
            None
        }
        None => {
            problems.push(LineProblem::new(
                line,
                Some(column),
                ErrorCode::Invalid,
                format!("{raw:?} is not an amount of money (e.g. 1,234.50)"),
            ));
            None
        }
    }
}

/// Pence from a bank's way of writing money: `1,234.50`, `£1234.5`, `-12.00`, `(12.00)`,
/// `12.00 CR`, `12.00 DR`, `GBP 3.20`. At most two decimal places; no floating point.
#[must_use]
pub fn parse_pence(raw: &str) -> Option<i64> {
    let mut text = raw.trim();
    let mut negative = false;
    if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        negative = true;
        text = inner.trim();
    }
    for (suffix, debit) in [("CR", false), ("DR", true)] {
        if let Some(rest) = text
            .strip_suffix(suffix)
            .or_else(|| text.strip_suffix(&suffix.to_ascii_lowercase()))
        {
            negative |= debit;
            text = rest.trim();
        }
    }
    // One sign at most, before or after the currency: `-£12.00`, `£-12.00`, `GBP -3`.
    let mut signs = 0;
    let mut take_sign = |text: &mut &str| {
        if let Some(rest) = text.strip_prefix('-') {
            negative = !negative;
            signs += 1;
            *text = rest.trim();
        } else if let Some(rest) = text.strip_prefix('+') {
            signs += 1;
            *text = rest.trim();
        }
    };
    take_sign(&mut text);
    if let Some(rest) = text.strip_prefix('£').or_else(|| text.strip_prefix("GBP")) {
        text = rest.trim();
    }
    take_sign(&mut text);
    if signs > 1 {
        return None;
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: String = whole.chars().filter(|c| *c != ',').collect();
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || fraction.len() > 2
        || whole.len() > 15
    {
        return None;
    }
    let pounds: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let pence: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    let total = pounds.checked_mul(100)?.checked_add(pence)?;
    Some(if negative { -total } else { total })
}

/// A day as banks write it: `05/12/2026`, `05-12-2026`, `2026-12-05`, `05 Dec 2026`,
/// `05/12/26`.
#[must_use]
pub fn parse_day(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    import_file::parse_date(raw)
        .or_else(|| NaiveDate::parse_from_str(raw, "%d %b %Y").ok())
        .or_else(|| NaiveDate::parse_from_str(raw, "%d-%b-%Y").ok())
        .or_else(|| NaiveDate::parse_from_str(raw, "%d/%m/%y").ok())
}

#[cfg(test)]
mod tests {
    use import_file::{Collected, open_sniffed};

    use super::*;

    fn read_all(text: &[u8]) -> Collected<Line> {
        let mut got = Collected::default();
        read(open_sniffed(text), &mut got);
        got
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("day")
    }

    #[test]
    fn amounts_are_read_to_the_penny() {
        for (raw, pence) in [
            ("1,234.50", 123_450),
            ("£1234.5", 123_450),
            ("-12.00", -1_200),
            ("(12.00)", -1_200),
            ("-£12.00", -1_200),
            ("12.00 DR", -1_200),
            ("12.00 CR", 1_200),
            ("GBP 3.20", 320),
            ("0.07", 7),
            (".5", 50),
            ("7", 700),
        ] {
            assert_eq!(parse_pence(raw), Some(pence), "{raw}");
        }
        for raw in [
            "",
            "abc",
            "1.234",
            "1.2.3",
            "£",
            "1e5",
            "--1",
            "99999999999999999999",
        ] {
            assert_eq!(parse_pence(raw), None, "{raw}");
        }
    }

    #[test]
    fn lloyds_split_columns() {
        let got = read_all(
            b"Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\r\n\
              05/12/2026,BGC,'30-94-57,12345678,HOLLY PARK PRIMARY TRL-2026-000012,,\"1,250.00\",9000.00\r\n\
              04/12/2026,DD,'30-94-57,12345678,BT GROUP PLC,45.10,,7750.00\r\n",
        );
        assert!(got.problems.is_empty(), "{:?}", got.problems.listed());
        assert_eq!(
            got.rows,
            [
                Line {
                    line: 2,
                    posted_on: day(2026, 12, 5),
                    description: "HOLLY PARK PRIMARY TRL-2026-000012".into(),
                    amount_pence: 125_000,
                },
                Line {
                    line: 3,
                    posted_on: day(2026, 12, 4),
                    description: "BT GROUP PLC".into(),
                    amount_pence: -4_510,
                },
            ]
        );
    }

    #[test]
    fn barclays_signed_amount_and_nationwide_pounds() {
        let got = read_all(
            b"Number,Date,Account,Amount,Subcategory,Memo\n\
              ,05/12/2026,20-00-00 1234,312.40,Credit,ALDER SCHOOL    INV 26    \n",
        );
        assert_eq!(got.rows[0].amount_pence, 31_240);
        assert_eq!(got.rows[0].description, "ALDER SCHOOL INV 26");
        let got = read_all(
            b"Date,Transaction type,Description,Paid out,Paid in,Balance\n\
              05 Dec 2026,Bank credit,Birch Academy,,\xa395.00,\xa31000.00\n",
        );
        assert!(got.problems.is_empty(), "{:?}", got.problems.listed());
        assert_eq!(got.rows[0].amount_pence, 9_500);
        assert_eq!(got.rows[0].posted_on, day(2026, 12, 5));
    }

    #[test]
    fn every_problem_is_placed_by_line_and_column() {
        let got = read_all(
            b"Date,Description,Amount\n\
              31/02/2026,A,1.00\n\
              05/12/2026,B,lots\n\
              05/12/2026,C,1.005\n\
              05/12/2026,Balance brought forward,\n",
        );
        assert!(got.rows.is_empty());
        let placed: Vec<(u64, Option<&str>, ErrorCode)> = got
            .problems
            .listed()
            .iter()
            .map(|p| (p.line, p.column.as_deref(), p.code))
            .collect();
        assert_eq!(
            placed,
            [
                (2, Some("Date"), ErrorCode::Invalid),
                (3, Some("Amount"), ErrorCode::Invalid),
                (4, Some("Amount"), ErrorCode::Invalid),
            ]
        );
    }

    #[test]
    fn a_header_without_the_needed_columns_says_which() {
        let got = read_all(b"When,What\n05/12/2026,x\n");
        let columns: Vec<Option<&str>> = got
            .problems
            .listed()
            .iter()
            .map(|p| p.column.as_deref())
            .collect();
        assert_eq!(
            columns,
            [
                Some("Transaction Date"),
                Some("Counter Party"),
                Some("Amount")
            ]
        );
        assert!(got.rows.is_empty());
    }

    #[test]
    fn money_both_in_and_out_is_a_conflict() {
        let got = read_all(b"Date,Description,Paid in,Paid out\n05/12/2026,X,1.00,2.00\n");
        assert_eq!(got.problems.listed()[0].code, ErrorCode::Conflict);
    }

    #[test]
    fn utf8_without_a_byte_order_mark_is_read_as_utf8() {
        let got =
            read_all("Date,Description,Amount\n05/12/2026,École Saint-Thérèse,£95.00\n".as_bytes());
        assert!(got.problems.is_empty(), "{:?}", got.problems.listed());
        assert_eq!(got.rows[0].description, "École Saint-Thérèse");
        assert_eq!(got.rows[0].amount_pence, 9_500);
    }

    #[test]
    fn windows_1252_descriptions_are_decoded() {
        let got = read_all(b"Date,Description,Amount\n05/12/2026,St Mary\x92s C of E,10.00\n");
        assert_eq!(got.rows[0].description, "St Mary\u{2019}s C of E");
    }
}
