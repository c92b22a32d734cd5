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

mod confirm;
mod entity;
mod import;
mod matching;

pub use confirm::{BulkConfirmed, Confirmation, Confirmed, confirm, confirm_proposed, dismiss};
pub use import::{ImportReport, MAX_LINES, import_statement};

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{
    Actor, BankLineId, BankStatementId, BillingAccountId, DomainError, InvoiceId, Money, PaymentId,
    Permission,
};
use membership::{Page, PageArgs, fetch_page};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use self::entity::{lines, statements};
use super::support::{named_enum, stored};

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
