//! Refunds: money returned to an account out of a receipt's *unallocated* part.
//!
//! Refunds never touch invoices: to refund money that paid an invoice, first raise a credit
//! note, which releases that much back to the receipt (see [`super::credit_notes`]). So a
//! refund only ever turns account credit into money out, and the invoice identity
//! `invoiced = paid + credited + outstanding` is untouched by it; the receipt identity
//! `received = allocated + refunded + unallocated` records it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::money::checked_left;
use kernel::{
    Actor, BillingAccountId, Clock, DomainError, ErrorCode, Money, PaymentId, Permission, Problems,
    RefundId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditEntity};
use super::entity::{payments, refunds};
use super::idempotency::{Caller, Keyed, Remembered};
use super::payments::Payment;
use super::support::{lock_account, optional_text, positive, required_text};

/// Money returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub account_id: BillingAccountId,
    pub amount: Money,
    pub reason: String,
    pub refunded_on: NaiveDate,
    /// The provider's id (e.g. Stripe `re_…`).
    pub provider_refund_ref: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Refund {
    pub(crate) fn from_row(row: refunds::Model) -> Self {
        Self {
            id: RefundId::from_uuid(row.id),
            payment_id: PaymentId::from_uuid(row.payment_id),
            account_id: BillingAccountId::from_uuid(row.account_id),
            amount: Money::from_pence(row.amount_pence),
            reason: row.reason,
            refunded_on: row.refunded_on,
            provider_refund_ref: row.provider_refund_ref,
            created_at: row.created_at,
        }
    }
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewRefund {
    pub payment_id: PaymentId,
    pub amount: Money,
    pub reason: String,
    pub refunded_on: NaiveDate,
    pub provider_refund_ref: Option<String>,
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

async fn first_refund<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<Refund, DomainError> {
    let id = ids
        .first()
        .copied()
        .ok_or(DomainError::NotFound { entity: "Refund" })?;
    refunds::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Refund::from_row)
        .ok_or(DomainError::NotFound { entity: "Refund" })
}

/// Refunds part or all of a receipt's unallocated money. Idempotent by key.
pub async fn refund<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewRefund,
) -> Result<Refund, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let keyed = Keyed::new(
        "payment.refund",
        Caller::Actor(actor),
        input.idempotency_key.as_deref(),
        &input,
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return first_refund(db, &ids).await;
    }
    let mut problems = Problems::new();
    let amount = problems.check(positive("amountPence", input.amount));
    let reason = problems.check(required_text("reason", &input.reason, 500));
    let provider_ref = problems.check(optional_text(
        "providerRefundRef",
        input.provider_refund_ref.as_deref(),
        255,
    ));
    problems.check(kernel::dates::in_window("refundedOn", input.refunded_on));
    if input.refunded_on > clock.today() {
        problems.add(
            "refundedOn",
            ErrorCode::OutOfRange,
            "a refund cannot be dated in the future",
        );
    }
    let payment = payments::Entity::find_by_id(input.payment_id.as_uuid())
        .one(db)
        .await?;
    if payment.is_none() {
        problems.add("paymentId", ErrorCode::NotFound, "no such payment");
    }
    let (amount, reason, provider_ref, payment) =
        problems.finish_with((amount, reason, provider_ref, payment))?;

    let txn = db.begin_write().await?;
    lock_account(&txn, BillingAccountId::from_uuid(payment.account_id)).await?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return first_refund(db, &ids).await;
    }
    let payment = payments::Entity::find_by_id(payment.id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    if input.refunded_on < payment.received_on {
        return Err(DomainError::invalid(
            "refundedOn",
            ErrorCode::OutOfRange,
            "a refund cannot predate the receipt",
        ));
    }
    let unallocated = checked_left(
        "receipt unallocated",
        payment.amount_pence,
        payment.allocated_pence,
        payment.refunded_pence,
    )?;
    if amount > unallocated {
        return Err(DomainError::invalid(
            "amountPence",
            ErrorCode::OutOfRange,
            format!(
                "only {} of this receipt is unallocated; credit the invoice first to refund money that paid it",
                Money::from_pence(unallocated)
            ),
        ));
    }
    let now = clock.now();
    let before = Payment::from_row(payment.clone())?;
    let updated = payments::Entity::update_many()
        .col_expr(
            payments::Column::RefundedPence,
            Expr::col(payments::Column::RefundedPence).add(amount),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment.id))
        .filter(
            Expr::col(payments::Column::AmountPence)
                .sub(Expr::col(payments::Column::AllocatedPence))
                .sub(Expr::col(payments::Column::RefundedPence))
                .gte(amount),
        )
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(DomainError::invalid(
            "amountPence",
            ErrorCode::OutOfRange,
            "the receipt has too little unallocated",
        ));
    }
    let id = RefundId::new();
    let row = refunds::ActiveModel {
        id: Set(id.as_uuid()),
        payment_id: Set(payment.id),
        account_id: Set(payment.account_id),
        amount_pence: Set(amount),
        reason: Set(reason),
        refunded_on: Set(input.refunded_on),
        provider_refund_ref: Set(provider_ref),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed.remember(&txn, &[id.as_uuid()], now).await?
    {
        txn.rollback().await?;
        let ids = keyed
            .replay(db)
            .await?
            .ok_or(DomainError::NotFound { entity: "Refund" })?;
        return first_refund(db, &ids).await;
    }
    let refund = Refund::from_row(row);
    let after = Payment::from_row(
        payments::Entity::find_by_id(payment.id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound { entity: "Payment" })?,
    )?;
    audit::record(
        &txn,
        actor,
        clock,
        "refund.create",
        (AuditEntity::Refund, id.as_uuid()),
        None::<&()>,
        Some(&refund),
    )
    .await?;
    audit::record(
        &txn,
        actor,
        clock,
        "payment.refund",
        (AuditEntity::Payment, payment.id),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(refund)
}

/// Each payment's refunds, oldest first, for batch loading.
pub async fn refunds_of_payments<C: ConnectionTrait>(
    db: &C,
    ids: &[PaymentId],
) -> Result<HashMap<PaymentId, Vec<Refund>>, DomainError> {
    let rows = refunds::Entity::find()
        .filter(refunds::Column::PaymentId.is_in(ids.iter().map(PaymentId::as_uuid)))
        .order_by_asc(refunds::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<PaymentId, Vec<Refund>> = HashMap::new();
    for row in rows {
        let r = Refund::from_row(row);
        out.entry(r.payment_id).or_default().push(r);
    }
    Ok(out)
}
