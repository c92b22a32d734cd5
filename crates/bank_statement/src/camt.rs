//! ISO 20022 CAMT.053 (`BkToCstmrStmt`), the bank-to-customer statement UK banks offer as XML
//! beside CSV: each booked entry (`Ntry`) becomes a [`Line`] like a CSV row does.
//!
//! Only what a receipt needs is read, by element name (any `camt.053.001.*` version, namespace
//! ignored): the amount and its currency (`Amt@Ccy`, pounds only), credit or debit
//! (`CdtDbtInd`), the booking day (`BookgDt`, else the value day `ValDt`, as `Dt` or `DtTm`),
//! and what says who paid and why — the debtor's name (`RltdPties/Dbtr[/Pty]/Nm`), the
//! unstructured remittance lines (`RmtInf/Ustrd`), the end-to-end id and the entry's own
//! `AddtlNtryInf`. Entries not yet booked (`Sts` PDNG or INFO) are left out. Problems name the
//! entry by its position (`entry 3`), since an XML file's lines say little.

use chrono::NaiveDate;
use import_file::{BATCH, LineProblem, Progress, Sink};
use kernel::ErrorCode;
use kernel::money::MAX_INPUT_PENCE;
use serde::Deserialize;

use crate::{DESCRIPTION_MAX, Line, parse_pence};

#[derive(Debug, Deserialize)]
struct Document {
    #[serde(rename = "BkToCstmrStmt")]
    statement: Option<BankToCustomer>,
}

#[derive(Debug, Deserialize)]
struct BankToCustomer {
    #[serde(rename = "Stmt", default)]
    statements: Vec<Statement>,
}

#[derive(Debug, Deserialize)]
struct Statement {
    #[serde(rename = "Ntry", default)]
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(rename = "Amt")]
    amount: Option<Amount>,
    #[serde(rename = "CdtDbtInd")]
    direction: Option<String>,
    /// `BOOK`, `PDNG` or `INFO` (an element with a `Cd` child from version .08).
    #[serde(rename = "Sts")]
    status: Option<Status>,
    #[serde(rename = "BookgDt")]
    booked: Option<Day>,
    #[serde(rename = "ValDt")]
    value: Option<Day>,
    #[serde(rename = "AddtlNtryInf")]
    information: Option<String>,
    #[serde(rename = "NtryDtls", default)]
    details: Vec<EntryDetails>,
}

#[derive(Debug, Deserialize)]
struct Amount {
    #[serde(rename = "@Ccy")]
    currency: Option<String>,
    #[serde(rename = "$text")]
    value: String,
}

/// `<Sts>BOOK</Sts>` up to version .07, `<Sts><Cd>BOOK</Cd></Sts>` from .08.
#[derive(Debug, Deserialize)]
struct Status {
    #[serde(rename = "$text")]
    text: Option<String>,
    #[serde(rename = "Cd")]
    code: Option<String>,
}

impl Status {
    fn booked(&self) -> bool {
        self.code
            .as_deref()
            .or(self.text.as_deref())
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("BOOK"))
    }
}

#[derive(Debug, Deserialize)]
struct Day {
    #[serde(rename = "Dt")]
    date: Option<String>,
    #[serde(rename = "DtTm")]
    date_time: Option<String>,
}

impl Day {
    fn day(&self) -> Option<NaiveDate> {
        if let Some(d) = &self.date {
            return NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").ok();
        }
        let dt = self.date_time.as_deref()?.trim();
        NaiveDate::parse_from_str(dt.get(..10)?, "%Y-%m-%d").ok()
    }
}

#[derive(Debug, Deserialize)]
struct EntryDetails {
    #[serde(rename = "TxDtls", default)]
    transactions: Vec<Transaction>,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    #[serde(rename = "Refs")]
    references: Option<References>,
    #[serde(rename = "RltdPties")]
    parties: Option<Parties>,
    #[serde(rename = "RmtInf")]
    remittance: Option<Remittance>,
}

#[derive(Debug, Deserialize)]
struct References {
    #[serde(rename = "EndToEndId")]
    end_to_end: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Parties {
    #[serde(rename = "Dbtr")]
    debtor: Option<Party>,
}

/// A party: `Nm` directly (up to version .07) or inside `Pty` (from .08).
#[derive(Debug, Deserialize)]
struct Party {
    #[serde(rename = "Nm")]
    name: Option<String>,
    #[serde(rename = "Pty")]
    party: Option<Box<Party>>,
}

impl Party {
    fn name(&self) -> Option<&str> {
        self.name
            .as_deref()
            .or_else(|| self.party.as_deref().and_then(Party::name))
    }
}

#[derive(Debug, Deserialize)]
struct Remittance {
    #[serde(rename = "Ustrd", default)]
    unstructured: Vec<String>,
}

/// Whether `bytes` look like XML (after a byte-order mark and whitespace), not CSV.
#[must_use]
pub fn is_xml(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<')
}

/// Reads a CAMT.053 statement. The whole document is parsed first (a statement is bounded by
/// the upload limit): a file that is not one is a single problem, and an entry that cannot be
/// read is a problem naming it; the rest go to `tx` in batches.
pub fn read(bytes: &[u8], tx: &mut impl Sink<Line>) {
    let Ok(text) = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)) else {
        tx.problem(problem(0, "the XML is not UTF-8"));
        return;
    };
    let document: Document = match quick_xml::de::from_str(text) {
        Ok(document) => document,
        Err(err) => {
            tx.problem(problem(0, format!("not a CAMT.053 statement: {err}")));
            return;
        }
    };
    let Some(statement) = document.statement else {
        tx.problem(problem(0, "not a CAMT.053 statement: no BkToCstmrStmt"));
        return;
    };
    let mut batch = Vec::new();
    let mut read = 0_u64;
    for entry in statement.statements.iter().flat_map(|s| &s.entries) {
        read += 1;
        match line(read, entry) {
            Ok(Some(line)) => batch.push(line),
            Ok(None) => {}
            Err(p) => {
                if !tx.problem(p) {
                    return;
                }
            }
        }
        if batch.len() == BATCH
            && !tx.rows(std::mem::take(&mut batch), Progress { rows_read: read })
        {
            return;
        }
    }
    if read == 0 {
        tx.problem(problem(0, "the statement has no entries"));
        return;
    }
    tx.rows(batch, Progress { rows_read: read });
}

fn problem(entry: u64, message: impl Into<String>) -> LineProblem {
    let message = message.into();
    LineProblem::new(
        0,
        None,
        ErrorCode::Invalid,
        if entry == 0 {
            message
        } else {
            format!("entry {entry}: {message}")
        },
    )
}

/// One entry as a line; `None` for one not booked yet.
fn line(n: u64, entry: &Entry) -> Result<Option<Line>, LineProblem> {
    if entry.status.as_ref().is_some_and(|s| !s.booked()) {
        return Ok(None);
    }
    let amount = entry
        .amount
        .as_ref()
        .ok_or_else(|| problem(n, "no amount (Amt)"))?;
    if amount
        .currency
        .as_deref()
        .is_some_and(|c| !c.trim().eq_ignore_ascii_case("GBP"))
    {
        return Err(problem(
            n,
            format!(
                "amount in {}; only pounds are read",
                amount.currency.as_deref().unwrap_or_default().trim()
            ),
        ));
    }
    let pence = parse_pence(&amount.value)
        .filter(|p| *p > 0 && *p <= MAX_INPUT_PENCE)
        .ok_or_else(|| {
            problem(
                n,
                format!("amount {:?} is not a sum of money", amount.value),
            )
        })?;
    let sign = match entry.direction.as_deref().map(str::trim) {
        Some("CRDT") => 1,
        Some("DBIT") => -1,
        _ => return Err(problem(n, "CdtDbtInd is neither CRDT nor DBIT")),
    };
    let posted_on = entry
        .booked
        .as_ref()
        .and_then(Day::day)
        .or_else(|| entry.value.as_ref().and_then(Day::day))
        .ok_or_else(|| problem(n, "no booking day (BookgDt or ValDt)"))?;
    let mut said: Vec<&str> = Vec::new();
    for tx in entry.details.iter().flat_map(|d| &d.transactions) {
        if let Some(name) = tx
            .parties
            .as_ref()
            .and_then(|p| p.debtor.as_ref())
            .and_then(Party::name)
        {
            said.push(name);
        }
        if let Some(r) = &tx.remittance {
            said.extend(r.unstructured.iter().map(String::as_str));
        }
        if let Some(id) = tx.references.as_ref().and_then(|r| r.end_to_end.as_deref())
            && !id.trim().eq_ignore_ascii_case("NOTPROVIDED")
        {
            said.push(id);
        }
    }
    if let Some(info) = &entry.information {
        said.push(info);
    }
    let description: String = said
        .iter()
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" / ")
        .chars()
        .take(DESCRIPTION_MAX)
        .collect();
    if description.is_empty() {
        return Err(problem(
            n,
            "nothing says who paid (no Nm, Ustrd or AddtlNtryInf)",
        ));
    }
    Ok(Some(Line {
        line: n,
        posted_on,
        description,
        amount_pence: sign * pence,
    }))
}
