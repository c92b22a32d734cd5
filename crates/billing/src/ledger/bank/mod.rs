//! Bank statements: the money that reached the partnership's bank, brought in from the
//! statement finance downloads, each line once, and turned into receipts only when finance
//! says so.
//!
//! * **Import** ([`import_statement`]): the file is read by `bank_statement` (any UK bank's
//!   CSV export; every problem placed by line and column, and then nothing is stored). Each
//!   money-in line is identified by a fingerprint of its day, amount, description and which
//!   of identical lines it is, so re-uploading a statement, or one that overlaps, brings in
//!   only what is new. Money-out lines are counted, not kept: they are not receipts.
//! * **Proposals** ([`matching`]): a new line is proposed to pay an open invoice whose number
//!   is in its reference, else the one owing exactly its amount whose payer is named in it.
//! * **Confirming** ([`confirm`]): finance confirms the proposal, or names the account (and
//!   invoice) itself. In one transaction under the account's ledger lock the line becomes a
//!   receipt (`BANK_TRANSFER`, dated the day the bank took it) and, when an invoice is
//!   named, pays it (up to what is outstanding; the rest stays as the account's credit). A
//!   line is confirmed once however often or concurrently it is asked, and a line that is no
//!   receipt of ours (interest, a transfer between the partnership's own accounts) is
//!   dismissed instead ([`dismiss`]).
//!
//! Only finance and admins (`ManageBilling`) see or touch statements: a line names any
//! school's payment.

mod entity;
mod matching;

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, BankLineId, BankStatementId, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId,
    Money, PaymentId, Permission,
};
use membership::{Page, PageArgs, fetch_page};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use self::entity::{lines, statements};
use self::matching::{Matcher, OpenInvoice};
use super::entity::{account_schools, accounts, invoices, number_series};
use super::payments::{
    Allocation, NewPayment, Payment, ReceiptMethod, allocate_in, check, insert_receipt,
};
use super::status::InvoiceStatus;
use super::support::{lock_account, named_enum, stored};

pub use bank_statement::DESCRIPTION_MAX;

named_enum!(
    /// Where a money-in line stands.
    LineStatus {
        /// Trellis proposes what it pays; finance has not confirmed it yet.
        Proposed => "PROPOSED",
        /// Nothing to propose: finance names the account (and invoice).
        Unmatched => "UNMATCHED",
        /// A receipt now, and paying what finance confirmed.
        Confirmed => "CONFIRMED",
        /// Not a receipt of the partnership's (interest, an internal transfer).
        Dismissed => "DISMISSED",
    }
);

named_enum!(
    /// Why a line was proposed to pay an invoice.
    MatchReason {
        /// Its reference quotes the invoice's number.
        InvoiceNumber => "INVOICE_NUMBER",
        /// It is exactly what the invoice owes, from a payer named in it.
        AmountAndPayer => "AMOUNT_AND_PAYER",
    }
);

/// One uploaded statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub id: BankStatementId,
    pub file_name: String,
    pub imported_at: DateTime<Utc>,
    /// Money-in lines it brought in.
    pub lines_new: u32,
    /// Money-in lines an earlier statement had already brought in (not stored again).
    pub lines_known: u32,
    /// Money-out lines, which are not receipts.
    pub lines_out: u32,
    /// The days it covers.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

impl Statement {
    fn from_row(row: statements::Model) -> Self {
        let count = |n: i32| u32::try_from(n).unwrap_or(0);
        Self {
            id: BankStatementId::from_uuid(row.id),
            file_name: row.file_name,
            imported_at: row.imported_at,
            lines_new: count(row.lines_new),
            lines_known: count(row.lines_known),
            lines_out: count(row.lines_out),
            first_day: row.first_day,
            last_day: row.last_day,
        }
    }
}

/// One money-in line of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankLine {
    pub id: BankLineId,
    pub statement_id: BankStatementId,
    /// Its line in the file it came in.
    pub line: u32,
    pub posted_on: NaiveDate,
    pub description: String,
    pub amount: Money,
    pub status: LineStatus,
    pub match_reason: Option<MatchReason>,
    pub proposed_account: Option<BillingAccountId>,
    pub proposed_invoice: Option<InvoiceId>,
    /// The receipt it became, once confirmed.
    pub payment: Option<PaymentId>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl BankLine {
    /// The keyset sort key of line lists: by day, then id.
    #[must_use]
    pub fn sort_key(&self) -> (NaiveDate, Uuid) {
        (self.posted_on, self.id.as_uuid())
    }

    fn from_row(row: lines::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: BankLineId::from_uuid(row.id),
            statement_id: BankStatementId::from_uuid(row.statement_id),
            line: u32::try_from(row.line_no).unwrap_or(0),
            posted_on: row.posted_on,
            description: row.description,
            amount: Money::from_pence(row.amount_pence),
            status: stored("bank line status", &row.status)?,
            match_reason: row
                .match_reason
                .as_deref()
                .map(|r| stored("bank match reason", r))
                .transpose()?,
            proposed_account: row.proposed_account_id.map(BillingAccountId::from_uuid),
            proposed_invoice: row.proposed_invoice_id.map(InvoiceId::from_uuid),
            payment: row.payment_id.map(PaymentId::from_uuid),
            resolved_at: row.resolved_at,
        })
    }
}

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
/// The longest receipt reference (`payments.reference`).
const REFERENCE_MAX: usize = 140;
/// Rows per statement: far beyond a month of any partnership's banking, and what keeps one
/// import one bounded transaction.
pub const MAX_LINES: usize = 20_000;

/// Reads `file` (a bank's CSV export) and brings in its money-in lines not seen before, each
/// with its proposal. All or nothing: a file with any problem stores nothing and says where.
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
        bank_statement::read(import_file::open_sniffed(&bytes), &mut got);
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

/// Narrows line lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFilter {
    pub status: Option<LineStatus>,
    pub statement: Option<BankStatementId>,
}

/// A page of statement lines, by day.
pub async fn lines<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: LineFilter,
    args: &PageArgs<(NaiveDate, Uuid)>,
) -> Result<Page<BankLine>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut select = lines::Entity::find();
    if let Some(status) = filter.status {
        select = select.filter(lines::Column::Status.eq(status.as_str()));
    }
    if let Some(statement) = filter.statement {
        select = select.filter(lines::Column::StatementId.eq(statement.as_uuid()));
    }
    let page = fetch_page(db, select, lines::Column::PostedOn, lines::Column::Id, args).await?;
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(BankLine::from_row)
            .collect::<Result<_, _>>()?,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// A page of statements, oldest import first.
pub async fn statements<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    args: &PageArgs<(DateTime<Utc>, Uuid)>,
) -> Result<Page<Statement>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let page = fetch_page(
        db,
        statements::Entity::find(),
        statements::Column::ImportedAt,
        statements::Column::Id,
        args,
    )
    .await?;
    Ok(Page {
        items: page.items.into_iter().map(Statement::from_row).collect(),
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// Lines by id, as `actor` may see them (finance and admins only), for batch loading.
pub async fn lines_by_ids<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[BankLineId],
) -> Result<HashMap<BankLineId, BankLine>, DomainError> {
    if !actor.can(Permission::ManageBilling) {
        return Ok(HashMap::new());
    }
    lines::Entity::find()
        .filter(lines::Column::Id.is_in(ids.iter().map(BankLineId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| BankLine::from_row(r).map(|l| (l.id, l)))
        .collect()
}

/// Statements by id, as `actor` may see them (finance and admins only).
pub async fn statements_by_ids<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[BankStatementId],
) -> Result<HashMap<BankStatementId, Statement>, DomainError> {
    if !actor.can(Permission::ManageBilling) {
        return Ok(HashMap::new());
    }
    Ok(statements::Entity::find()
        .filter(statements::Column::Id.is_in(ids.iter().map(BankStatementId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let s = Statement::from_row(r);
            (s.id, s)
        })
        .collect())
}

/// What finance confirms a line as. With neither field, the line's proposal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// The account the money came from (implied by `invoice`).
    pub account: Option<BillingAccountId>,
    /// The invoice it pays; `None` leaves the whole receipt as the account's credit.
    pub invoice: Option<InvoiceId>,
}

/// A confirmed line: the receipt it became and what that paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub line: BankLine,
    pub payment: Payment,
    pub allocations: Vec<Allocation>,
}

/// Turns a line into a receipt on its account and, when an invoice is named, pays it (up to
/// what it owes). Once: a line already confirmed answers what it became, changing nothing.
pub async fn confirm<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    id: BankLineId,
    confirmation: Confirmation,
) -> Result<Confirmed, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let row = line_row(db, id).await?;
    if let Some(done) = already_confirmed(db, &row).await? {
        return Ok(done);
    }
    let (account, invoice) = target(db, &row, confirmation).await?;
    let reference: String = row.description.chars().take(REFERENCE_MAX).collect();
    let receipt = check(
        db,
        clock,
        &NewPayment {
            account_id: account,
            method: ReceiptMethod::BankTransfer,
            reference: if reference.trim().is_empty() {
                format!("bank statement line {}", row.line_no)
            } else {
                reference
            },
            received_on: row.posted_on,
            amount: Money::from_pence(row.amount_pence),
            provider_payment_ref: None,
            idempotency_key: None,
        },
    )
    .await?;

    let txn = db.begin_write().await?;
    lock_account(&txn, account).await?;
    let now = clock.now();
    // Taken first: a second confirmation, here or on another replica, finds it taken.
    let taken = lines::Entity::update_many()
        .col_expr(
            lines::Column::Status,
            Expr::value(LineStatus::Confirmed.as_str()),
        )
        .col_expr(lines::Column::ResolvedAt, Expr::value(now))
        .col_expr(
            lines::Column::ResolvedBy,
            Expr::value(actor.as_user().map(|u| u.id.as_uuid())),
        )
        .filter(lines::Column::Id.eq(id.as_uuid()))
        .filter(lines::Column::Status.is_in([
            LineStatus::Proposed.as_str(),
            LineStatus::Unmatched.as_str(),
        ]))
        .exec(&txn)
        .await?;
    if taken.rows_affected == 0 {
        txn.rollback().await?;
        let row = line_row(db, id).await?;
        return match already_confirmed(db, &row).await? {
            Some(done) => Ok(done),
            None => Err(not_open(&row)),
        };
    }
    let payment = insert_receipt(&txn, actor, clock, receipt).await?;
    lines::Entity::update_many()
        .col_expr(lines::Column::PaymentId, Expr::value(payment.id.as_uuid()))
        .filter(lines::Column::Id.eq(id.as_uuid()))
        .exec(&txn)
        .await?;
    let mut allocations = Vec::new();
    if let Some(invoice) = invoice {
        let owed = outstanding(&txn, invoice).await?;
        let part = std::cmp::min(owed, row.amount_pence);
        if part > 0 {
            allocations = allocate_in(
                &txn,
                actor,
                clock,
                payment.id,
                &[(invoice, Money::from_pence(part))],
            )
            .await?;
        }
    }
    let payment = super::payments::payments_by_ids(&txn, &[payment.id])
        .await?
        .remove(&payment.id)
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let line = BankLine::from_row(line_row(&txn, id).await?)?;
    txn.commit().await?;
    Ok(Confirmed {
        line,
        payment,
        allocations,
    })
}

/// Marks a line as no receipt of the partnership's. A confirmed line cannot be dismissed
/// (refund or re-allocate its receipt instead).
pub async fn dismiss<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    id: BankLineId,
) -> Result<BankLine, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let row = line_row(db, id).await?;
    let result = lines::Entity::update_many()
        .col_expr(
            lines::Column::Status,
            Expr::value(LineStatus::Dismissed.as_str()),
        )
        .col_expr(lines::Column::ResolvedAt, Expr::value(clock.now()))
        .col_expr(
            lines::Column::ResolvedBy,
            Expr::value(actor.as_user().map(|u| u.id.as_uuid())),
        )
        .filter(lines::Column::Id.eq(id.as_uuid()))
        .filter(lines::Column::Status.is_in([
            LineStatus::Proposed.as_str(),
            LineStatus::Unmatched.as_str(),
            LineStatus::Dismissed.as_str(),
        ]))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(not_open(&row));
    }
    BankLine::from_row(line_row(db, id).await?)
}

/// What confirming every proposed line did.
#[derive(Debug, Default)]
pub struct BulkConfirmed {
    pub confirmed: Vec<Confirmed>,
    /// Proposed lines left as they were, with why (e.g. the invoice was paid meanwhile).
    pub skipped: Vec<(BankLineId, DomainError)>,
}

/// Confirms every proposed line that names one invoice (of `statement`, or of all), each in
/// its own transaction, at most [`MAX_LINES`].
pub async fn confirm_proposed<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    statement: Option<BankStatementId>,
) -> Result<BulkConfirmed, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let mut select = lines::Entity::find()
        .select_only()
        .column(lines::Column::Id)
        .filter(lines::Column::Status.eq(LineStatus::Proposed.as_str()))
        .filter(lines::Column::ProposedInvoiceId.is_not_null());
    if let Some(statement) = statement {
        select = select.filter(lines::Column::StatementId.eq(statement.as_uuid()));
    }
    let ids: Vec<Uuid> = select
        .limit(u64::try_from(MAX_LINES).unwrap_or(u64::MAX))
        .into_tuple()
        .all(db)
        .await?;
    let mut out = BulkConfirmed::default();
    for id in ids {
        let id = BankLineId::from_uuid(id);
        match confirm(db, actor, clock, id, Confirmation::default()).await {
            Ok(done) => out.confirmed.push(done),
            Err(err @ DomainError::Invalid(_)) => out.skipped.push((id, err)),
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

async fn line_row<C: ConnectionTrait>(db: &C, id: BankLineId) -> Result<lines::Model, DomainError> {
    lines::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "BankStatementLine",
        })
}

fn not_open(row: &lines::Model) -> DomainError {
    DomainError::invalid(
        "lineId",
        ErrorCode::Conflict,
        format!("the line is {}", row.status.to_lowercase()),
    )
}

/// A confirmed line's receipt and allocations, as they are now.
async fn already_confirmed<C: ConnectionTrait>(
    db: &C,
    row: &lines::Model,
) -> Result<Option<Confirmed>, DomainError> {
    let Some(payment_id) = row.payment_id.map(PaymentId::from_uuid) else {
        return Ok(None);
    };
    let payment = super::payments::payments_by_ids(db, &[payment_id])
        .await?
        .remove(&payment_id)
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let allocations = super::payments::allocations_of_payments(db, &[payment_id])
        .await?
        .remove(&payment_id)
        .unwrap_or_default();
    Ok(Some(Confirmed {
        line: BankLine::from_row(row.clone())?,
        payment,
        allocations,
    }))
}

/// The account and invoice a confirmation names, checked: the invoice must be the
/// account's, and with neither named the proposal stands in.
async fn target<C: ConnectionTrait>(
    db: &C,
    row: &lines::Model,
    confirmation: Confirmation,
) -> Result<(BillingAccountId, Option<InvoiceId>), DomainError> {
    let (account, invoice) = match (confirmation.account, confirmation.invoice) {
        (None, None) => (
            row.proposed_account_id.map(BillingAccountId::from_uuid),
            row.proposed_invoice_id.map(InvoiceId::from_uuid),
        ),
        named => named,
    };
    let invoice_account = match invoice {
        Some(invoice) => Some(
            invoices::Entity::find_by_id(invoice.as_uuid())
                .one(db)
                .await?
                .map(|r| BillingAccountId::from_uuid(r.account_id))
                .ok_or_else(|| {
                    DomainError::invalid("invoiceId", ErrorCode::NotFound, "no such invoice")
                })?,
        ),
        None => None,
    };
    match (account, invoice_account) {
        (Some(a), Some(b)) if a != b => Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Invalid,
            "the invoice is not on that account",
        )),
        (Some(a), _) | (None, Some(a)) => Ok((a, invoice)),
        (None, None) => Err(DomainError::invalid(
            "accountId",
            ErrorCode::Required,
            "nothing was proposed for this line: name the account the money came from",
        )),
    }
}

async fn outstanding<C: ConnectionTrait>(db: &C, invoice: InvoiceId) -> Result<i64, DomainError> {
    let row = invoices::Entity::find_by_id(invoice.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| DomainError::invalid("invoiceId", ErrorCode::NotFound, "no such invoice"))?;
    let status: InvoiceStatus = stored("invoice status", &row.status)?;
    if !status.accepts_payment() {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            format!("{} is {status} and takes no more payment", row.number),
        ));
    }
    kernel::money::checked_left(
        "invoice outstanding",
        row.total_pence,
        row.paid_pence,
        row.credited_pence,
    )
}
