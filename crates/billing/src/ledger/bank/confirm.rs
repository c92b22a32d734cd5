//! Confirming a line into a receipt (and what it pays), once; dismissing one that is no
//! receipt; confirming every proposal at once.

use kernel::BeginWrite as _;
use kernel::{
    Actor, BankLineId, BankStatementId, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId,
    Money, PaymentId, Permission,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, TransactionSession,
    TransactionTrait,
};
use uuid::Uuid;

use super::entity::lines;
use super::{BankLine, LineStatus, MAX_LINES};
use crate::ledger::entity::invoices;
use crate::ledger::payments::{
    self, Allocation, NewPayment, Payment, ReceiptMethod, allocate_in, check, insert_receipt,
};
use crate::ledger::status::InvoiceStatus;
use crate::ledger::support::{lock_account, stored};

/// The longest receipt reference (`payments.reference`).
const REFERENCE_MAX: usize = 140;

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
    let payment = payments::payments_by_ids(&txn, &[payment.id])
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
    let payment = payments::payments_by_ids(db, &[payment_id])
        .await?
        .remove(&payment_id)
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let allocations = payments::allocations_of_payments(db, &[payment_id])
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
