//! Bringing a statement in: read, each money-in line fingerprinted and kept once, each new
//! line given its proposal ([`super::matching`]), all in one transaction.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::{
    Actor, BankLineId, BankStatementId, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId,
    Permission,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::entity::{lines, statements};
use super::matching::{Matcher, OpenInvoice};
use super::{LineStatus, Statement};
use crate::ledger::entity::{account_schools, accounts, invoices, number_series};
use crate::ledger::status::InvoiceStatus;

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    pub statement: Statement,
    /// New lines with a proposal.
    pub proposed: u32,
    /// New lines with none.
    pub unmatched: u32,
}

/// The longest file name kept.
const FILE_NAME_MAX: usize = 255;
/// Rows per statement: far beyond a month of any partnership's banking, and what keeps one
/// import one bounded transaction.
pub const MAX_LINES: usize = 20_000;

/// Reads `file` (a bank's CSV export, or its CAMT.053 XML statement) and brings in its
/// money-in lines not seen before, each with its proposal. All or nothing: a file with any problem stores nothing and says where.
pub async fn import_statement<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    file_name: &str,
    file: impl Read + Send + 'static,
) -> Result<ImportReport, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    // Held whole (the upload limit bounds it): a bank's export says nothing of its encoding,
    // so it is read as UTF-8 when it is valid UTF-8, else as Windows-1252.
    let read = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        let mut file = file;
        file.read_to_end(&mut bytes)?;
        let mut got = import_file::Collected::default();
        if bank_statement::camt::is_xml(&bytes) {
            bank_statement::camt::read(&bytes, &mut got);
        } else {
            bank_statement::read(import_file::open_sniffed(&bytes), &mut got);
        }
        Ok::<_, std::io::Error>(got)
    })
    .await
    .map_err(DomainError::internal)?
    .map_err(DomainError::internal)?;
    read.problems.finish()?;
    if read.rows.len() > MAX_LINES {
        return Err(DomainError::invalid(
            "file",
            ErrorCode::OutOfRange,
            format!(
                "{} lines; upload at most {MAX_LINES} at a time (a shorter period)",
                read.rows.len()
            ),
        ));
    }
    let file_name: String = file_name.trim().chars().take(FILE_NAME_MAX).collect();
    let file_name = if file_name.is_empty() {
        "statement.csv".to_owned()
    } else {
        file_name
    };
    let lines_out = read.rows.iter().filter(|l| l.amount_pence < 0).count();
    let incoming = fingerprinted(read.rows.into_iter().filter(|l| l.amount_pence > 0));
    let first_day = incoming.iter().map(|(l, _)| l.posted_on).min();
    let last_day = incoming.iter().map(|(l, _)| l.posted_on).max();

    let matcher = matcher(db).await?;
    let now = clock.now();
    let statement_id = BankStatementId::new();
    let txn = db.begin_write().await?;
    // Looked up inside the write transaction, so two uploads of one statement cannot both
    // take a line (the unique fingerprint is the backstop).
    let known = known_fingerprints(&txn, incoming.iter().map(|(_, f)| f.as_str())).await?;
    let fresh: Vec<_> = incoming
        .iter()
        .filter(|(_, f)| !known.contains(f.as_str()))
        .collect();
    let mut proposed = 0_u32;
    let mut rows = Vec::with_capacity(fresh.len());
    for (line, fingerprint) in &fresh {
        let proposal = matcher.propose(&line.description, line.amount_pence);
        proposed += u32::from(proposal.is_some());
        rows.push(lines::ActiveModel {
            id: Set(BankLineId::new().as_uuid()),
            statement_id: Set(statement_id.as_uuid()),
            line_no: Set(i32::try_from(line.line).unwrap_or(i32::MAX)),
            fingerprint: Set(fingerprint.clone()),
            posted_on: Set(line.posted_on),
            description: Set(line.description.clone()),
            amount_pence: Set(line.amount_pence),
            status: Set(if proposal.is_some() {
                LineStatus::Proposed
            } else {
                LineStatus::Unmatched
            }
            .as_str()
            .to_owned()),
            match_reason: Set(proposal.map(|p| p.reason.as_str().to_owned())),
            proposed_account_id: Set(proposal.map(|p| p.account.as_uuid())),
            proposed_invoice_id: Set(proposal.and_then(|p| p.invoice).map(|i| i.as_uuid())),
            payment_id: Set(None),
            resolved_at: Set(None),
            resolved_by: Set(None),
            created_at: Set(now),
        });
    }
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let statement = statements::ActiveModel {
        id: Set(statement_id.as_uuid()),
        file_name: Set(file_name),
        imported_at: Set(now),
        imported_by: Set(actor.as_user().map(|u| u.id.as_uuid())),
        lines_new: Set(count(fresh.len())),
        lines_known: Set(count(incoming.len() - fresh.len())),
        lines_out: Set(count(lines_out)),
        first_day: Set(first_day),
        last_day: Set(last_day),
    }
    .insert(&txn)
    .await?;
    // 15 columns a row: 1,000 rows stay under SQLite's bound-parameter limit.
    for chunk in rows.chunks(1_000) {
        lines::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    let new = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
    Ok(ImportReport {
        statement: Statement::from_row(statement),
        proposed,
        unmatched: new - proposed,
    })
}

/// Each line with its fingerprint: SHA-256 of day, amount, description (in capitals) and
/// how many identical lines came before it in this file — two £50 payments from one school
/// on one day are two lines, and a statement overlapping this one counts them alike.
fn fingerprinted(
    lines: impl Iterator<Item = bank_statement::Line>,
) -> Vec<(bank_statement::Line, String)> {
    let mut seen: HashMap<(NaiveDate, i64, String), u32> = HashMap::new();
    lines
        .map(|line| {
            let text = line.description.to_uppercase();
            let nth = seen
                .entry((line.posted_on, line.amount_pence, text.clone()))
                .or_default();
            *nth += 1;
            let digest = Sha256::digest(
                format!("{}|{}|{}|{}", line.posted_on, line.amount_pence, text, nth).as_bytes(),
            );
            let hex = digest.iter().fold(String::with_capacity(64), |mut s, b| {
                use std::fmt::Write as _;
                let _ = write!(s, "{b:02x}");
                s
            });
            (line, hex)
        })
        .collect()
}

async fn known_fingerprints<'a, C: ConnectionTrait>(
    db: &C,
    fingerprints: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashSet<String>, DomainError> {
    let all: Vec<&str> = fingerprints.collect();
    let mut known = std::collections::HashSet::new();
    for chunk in all.chunks(500) {
        let found: Vec<String> = lines::Entity::find()
            .select_only()
            .column(lines::Column::Fingerprint)
            .filter(lines::Column::Fingerprint.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        known.extend(found);
    }
    Ok(known)
}

/// The open invoices, the payers' names and the numbering's prefixes, indexed.
async fn matcher<C: ConnectionTrait>(db: &C) -> Result<Matcher, DomainError> {
    let open = [
        InvoiceStatus::Open,
        InvoiceStatus::PartiallyPaid,
        InvoiceStatus::Uncollectible,
    ];
    let rows = invoices::Entity::find()
        .filter(invoices::Column::Status.is_in(open.iter().map(|s| s.as_str())))
        .filter(
            Expr::col(invoices::Column::TotalPence)
                .sub(Expr::col(invoices::Column::PaidPence))
                .sub(Expr::col(invoices::Column::CreditedPence))
                .gt(0),
        )
        .all(db)
        .await?;
    let open: Vec<OpenInvoice> = rows
        .into_iter()
        .map(|r| OpenInvoice {
            id: InvoiceId::from_uuid(r.id),
            account_id: BillingAccountId::from_uuid(r.account_id),
            outstanding: r.total_pence - r.paid_pence - r.credited_pence,
            number: r.number,
            due_on: r.due_on,
        })
        .collect();
    let mut account_ids: Vec<Uuid> = open.iter().map(|i| i.account_id.as_uuid()).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let mut names: Vec<(BillingAccountId, String)> = Vec::new();
    for chunk in account_ids.chunks(500) {
        let accounts: Vec<(Uuid, String)> = accounts::Entity::find()
            .select_only()
            .column(accounts::Column::Id)
            .column(accounts::Column::Name)
            .filter(accounts::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        names.extend(
            accounts
                .into_iter()
                .map(|(id, name)| (BillingAccountId::from_uuid(id), name)),
        );
        let links: Vec<(Uuid, Uuid)> = account_schools::Entity::find()
            .select_only()
            .column(account_schools::Column::AccountId)
            .column(account_schools::Column::SchoolId)
            .filter(account_schools::Column::AccountId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        let school_ids: Vec<kernel::SchoolId> = links
            .iter()
            .map(|(_, s)| kernel::SchoolId::from_uuid(*s))
            .collect();
        let schools = membership::school::by_ids(db, &school_ids).await?;
        names.extend(links.iter().filter_map(|(account, school)| {
            schools
                .get(&kernel::SchoolId::from_uuid(*school))
                .map(|s| (BillingAccountId::from_uuid(*account), s.name.clone()))
        }));
    }
    let prefixes: Vec<String> = number_series::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.prefix)
        .collect();
    Ok(Matcher::new(open, &names, &prefixes))
}
