//! Payments received and their allocation to invoices.
//!
//! A receipt (one BACS payment often settles several invoices) is recorded once, then
//! allocated. Its identity is `amount = allocated + refunded + unallocated`; the unallocated
//! part is the account's credit. Allocations never exceed what is left on the receipt nor
//! what is outstanding on an invoice: both are checked under the account's ledger lock, and
//! the receipt's running total is moreover updated with a conditional `UPDATE … WHERE
//! amount - allocated - refunded >= x`, so even a writer that skipped the lock could not
//! over-allocate.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::money::{checked_left, checked_sum_i64};
use kernel::{
    Actor, AllocationId, BillingAccountId, Clock, CreditNoteId, DomainError, ErrorCode, InvoiceId,
    Money, PaymentId, Permission, Problems,
};
use membership::{Page, PageArgs};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use super::accounts::{schools_of_account, visible_account_ids};
use super::audit::{self, AuditEntity};
use super::entity::{accounts, allocations, invoices, payments};
use super::idempotency::{Caller, Keyed, Remembered};
use super::invoices::{Invoice, apply_money};
use super::status::InvoiceStatus;
use super::support::{
    Sight, lock_account, named_enum, optional_text, positive, required_text, stored,
};
use membership::fetch_page;

named_enum!(
    /// How money arrived.
    ReceiptMethod {
        BankTransfer => "BANK_TRANSFER",
        Bacs => "BACS",
        Card => "CARD",
        Cheque => "CHEQUE",
        /// No money arrived: the partnership credits the account, e.g. for school-to-school
        /// support it provided. Allocated to invoices like any receipt.
        Credit => "CREDIT",
    }
);

/// A sort key of (date, id): receipts are listed by the day they arrived.
pub type DateKey = (chrono::NaiveDate, uuid::Uuid);

/// Money received from an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    pub id: PaymentId,
    pub account_id: BillingAccountId,
    pub method: ReceiptMethod,
    /// The payer's reference as it appears on the bank statement.
    pub reference: String,
    pub received_on: NaiveDate,
    pub amount: Money,
    pub allocated: Money,
    pub refunded: Money,
    /// `amount - allocated - refunded`: account credit.
    pub unallocated: Money,
    /// The provider's id (e.g. Stripe `pi_…`), for card payments.
    pub provider_payment_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    /// The keyset sort key of payment lists.
    #[must_use]
    pub fn sort_key(&self) -> DateKey {
        (self.received_on, self.id.as_uuid())
    }

    pub(crate) fn from_row(row: payments::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: PaymentId::from_uuid(row.id),
            account_id: BillingAccountId::from_uuid(row.account_id),
            method: stored("receipt method", &row.method)?,
            amount: Money::from_pence(row.amount_pence),
            allocated: Money::from_pence(row.allocated_pence),
            refunded: Money::from_pence(row.refunded_pence),
            unallocated: Money::from_pence(checked_left(
                "receipt unallocated",
                row.amount_pence,
                row.allocated_pence,
                row.refunded_pence,
            )?),
            reference: row.reference,
            received_on: row.received_on,
            provider_payment_ref: row.provider_payment_ref,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Part of a payment applied to an invoice. Negative amounts are releases: a credit note on
/// a paid invoice handed that much back to the receipt (see [`super::credit_notes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub id: AllocationId,
    pub payment_id: PaymentId,
    pub invoice_id: InvoiceId,
    pub amount: Money,
    /// Set on releases: the credit note that caused it.
    pub credit_note_id: Option<CreditNoteId>,
    pub created_at: DateTime<Utc>,
}

impl Allocation {
    pub(crate) fn from_row(row: &allocations::Model) -> Self {
        Self {
            id: AllocationId::from_uuid(row.id),
            payment_id: PaymentId::from_uuid(row.payment_id),
            invoice_id: InvoiceId::from_uuid(row.invoice_id),
            amount: Money::from_pence(row.amount_pence),
            credit_note_id: row.credit_note_id.map(CreditNoteId::from_uuid),
            created_at: row.created_at,
        }
    }
}

/// A receipt to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPayment {
    pub account_id: BillingAccountId,
    pub method: ReceiptMethod,
    pub reference: String,
    pub received_on: NaiveDate,
    pub amount: Money,
    pub provider_payment_ref: Option<String>,
    /// Repeats with the same key and the same request return the first payment.
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

/// Narrows payment lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    pub account_id: Option<BillingAccountId>,
    /// Only receipts with money not yet allocated or refunded.
    pub unallocated_only: bool,
}

/// Records a receipt. Idempotent by `idempotency_key`, which is the caller's own: another
/// caller's same key records a receipt of its own.
pub async fn record_payment<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewPayment,
) -> Result<Payment, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    record(db, actor, Caller::Actor(actor), clock, input).await
}

/// Records a receipt whose `idempotency_key` Trellis derived from its own ids (e.g. the
/// support request a credit pays for): the key is shared by every caller, so the receipt is
/// recorded once whoever asks.
pub async fn record_payment_once<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewPayment,
) -> Result<Payment, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    record(db, actor, Caller::Trellis, clock, input).await
}

async fn record<C>(
    db: &C,
    actor: &Actor,
    caller: Caller<'_>,
    clock: &dyn Clock,
    input: NewPayment,
) -> Result<Payment, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let keyed = Keyed::new(
        "payment.record",
        caller,
        input.idempotency_key.as_deref(),
        &input,
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return first_payment(db, &ids).await;
    }
    let checked = check(db, clock, &input).await?;

    let txn = db.begin_write().await?;
    lock_account(&txn, input.account_id).await?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return first_payment(db, &ids).await;
    }
    let payment = insert_receipt(&txn, actor, clock, checked).await?;
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed
            .remember(&txn, &[payment.id.as_uuid()], clock.now())
            .await?
    {
        txn.rollback().await?;
        let ids = keyed
            .replay(db)
            .await?
            .ok_or(DomainError::NotFound { entity: "Payment" })?;
        return first_payment(db, &ids).await;
    }
    txn.commit().await?;
    Ok(payment)
}

/// A receipt whose fields passed [`check`].
#[derive(Debug)]
pub(crate) struct CheckedPayment {
    account_id: BillingAccountId,
    method: ReceiptMethod,
    reference: String,
    received_on: NaiveDate,
    amount: i64,
    provider_ref: Option<String>,
}

/// Checks a receipt's fields (every problem at once) and that its account exists.
pub(crate) async fn check<C: ConnectionTrait>(
    db: &C,
    clock: &dyn Clock,
    input: &NewPayment,
) -> Result<CheckedPayment, DomainError> {
    let mut problems = Problems::new();
    let amount = problems.check(positive("amountPence", input.amount));
    let reference = problems.check(required_text("reference", &input.reference, 140));
    let provider_ref = problems.check(optional_text(
        "providerPaymentRef",
        input.provider_payment_ref.as_deref(),
        255,
    ));
    problems.check(kernel::dates::in_window("receivedOn", input.received_on));
    if input.received_on > clock.today() {
        problems.add(
            "receivedOn",
            ErrorCode::OutOfRange,
            "a receipt cannot be dated in the future",
        );
    }
    if accounts::Entity::find_by_id(input.account_id.as_uuid())
        .one(db)
        .await?
        .is_none()
    {
        problems.add("accountId", ErrorCode::NotFound, "no such billing account");
    }
    let (amount, reference, provider_ref) =
        problems.finish_with((amount, reference, provider_ref))?;
    Ok(CheckedPayment {
        account_id: input.account_id,
        method: input.method,
        reference,
        received_on: input.received_on,
        amount,
        provider_ref,
    })
}

/// Inserts a checked receipt and its audit entry, in the caller's transaction, which holds
/// the account's ledger lock.
pub(crate) async fn insert_receipt<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    receipt: CheckedPayment,
) -> Result<Payment, DomainError> {
    let now = clock.now();
    let id = PaymentId::new();
    let row = payments::ActiveModel {
        id: Set(id.as_uuid()),
        account_id: Set(receipt.account_id.as_uuid()),
        method: Set(receipt.method.as_str().to_owned()),
        reference: Set(receipt.reference),
        received_on: Set(receipt.received_on),
        amount_pence: Set(receipt.amount),
        allocated_pence: Set(0),
        refunded_pence: Set(0),
        provider_payment_ref: Set(receipt.provider_ref),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    let payment = Payment::from_row(row)?;
    audit::record(
        txn,
        actor,
        clock,
        "payment.record",
        (AuditEntity::Payment, id.as_uuid()),
        None::<&()>,
        Some(&payment),
    )
    .await?;
    Ok(payment)
}

async fn first_payment<C: ConnectionTrait>(db: &C, ids: &[Uuid]) -> Result<Payment, DomainError> {
    let id = ids
        .first()
        .copied()
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let row = payments::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    Payment::from_row(row)
}

/// Allocations by id, oldest first (one statement).
pub async fn allocations_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[Uuid],
) -> Result<Vec<Allocation>, DomainError> {
    let rows = allocations::Entity::find()
        .filter(allocations::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(allocations::Column::Id)
        .all(db)
        .await?;
    Ok(rows.iter().map(Allocation::from_row).collect())
}

/// Adds `delta` to a receipt's allocated total only if that leaves its unallocated part at
/// least zero; `false` when it would not.
pub(crate) async fn add_allocated<C: ConnectionTrait>(
    txn: &C,
    payment: Uuid,
    delta: i64,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let unallocated = Expr::col(payments::Column::AmountPence)
        .sub(Expr::col(payments::Column::AllocatedPence))
        .sub(Expr::col(payments::Column::RefundedPence));
    let result = payments::Entity::update_many()
        .col_expr(
            payments::Column::AllocatedPence,
            Expr::col(payments::Column::AllocatedPence).add(delta),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment))
        .filter(unallocated.gte(delta))
        .filter(
            Expr::col(payments::Column::AllocatedPence)
                .add(delta)
                .gte(0),
        )
        .exec(txn)
        .await?;
    Ok(result.rows_affected == 1)
}

#[derive(Serialize)]
struct AllocateRequest<'a> {
    payment_id: PaymentId,
    allocations: &'a [(InvoiceId, Money)],
}

/// Applies a receipt to one or several invoices of its account. Idempotent by key.
pub async fn allocate<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    payment_id: PaymentId,
    split: &[(InvoiceId, Money)],
    idempotency_key: Option<&str>,
) -> Result<Vec<Allocation>, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let keyed = Keyed::new(
        "payment.allocate",
        Caller::Actor(actor),
        idempotency_key,
        &AllocateRequest {
            payment_id,
            allocations: split,
        },
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return allocations_by_ids(db, &ids).await;
    }
    let mut problems = Problems::new();
    if split.is_empty() {
        problems.add(
            "allocations",
            ErrorCode::Required,
            "allocate to at least one invoice",
        );
    }
    for (i, (invoice, amount)) in split.iter().enumerate() {
        problems.check(positive(&format!("allocations.{i}.amountPence"), *amount));
        if split[..i].iter().any(|(other, _)| other == invoice) {
            problems.add(
                &format!("allocations.{i}.invoiceId"),
                ErrorCode::Invalid,
                "each invoice may appear once",
            );
        }
    }
    problems.finish()?;
    let payment = payments::Entity::find_by_id(payment_id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| DomainError::invalid("paymentId", ErrorCode::NotFound, "no such payment"))?;

    let txn = db.begin_write().await?;
    lock_account(&txn, BillingAccountId::from_uuid(payment.account_id)).await?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return allocations_by_ids(db, &ids).await;
    }
    let created = allocate_in(&txn, actor, clock, payment_id, split).await?;
    let ids: Vec<Uuid> = created.iter().map(|a| a.id.as_uuid()).collect();
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed.remember(&txn, &ids, clock.now()).await?
    {
        txn.rollback().await?;
        let ids = keyed.replay(db).await?.ok_or(DomainError::NotFound {
            entity: "Allocation",
        })?;
        return allocations_by_ids(db, &ids).await;
    }
    txn.commit().await?;
    Ok(created)
}

/// [`allocate`]'s work inside the caller's transaction, which holds the payer's ledger
/// lock: every part checked against the invoice and the receipt, the money moved, audited,
/// and the contact told (outbox). Also how a confirmed bank statement line pays its invoice
/// in the same transaction that records it (`crate::bank`).
pub(crate) async fn allocate_in<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    payment_id: PaymentId,
    split: &[(InvoiceId, Money)],
) -> Result<Vec<Allocation>, DomainError> {
    let payment = payments::Entity::find_by_id(payment_id.as_uuid())
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::invalid("paymentId", ErrorCode::NotFound, "no such payment"))?;
    let rows = invoices::Entity::find()
        .filter(invoices::Column::Id.is_in(split.iter().map(|(i, _)| i.as_uuid())))
        .all(txn)
        .await?;
    let mut problems = Problems::new();
    let mut targets = Vec::new();
    for (i, (invoice_id, amount)) in split.iter().enumerate() {
        let field = |name: &str| format!("allocations.{i}.{name}");
        let Some(row) = rows
            .iter()
            .find(|r| r.id == invoice_id.as_uuid() && r.account_id == payment.account_id)
        else {
            problems.add(
                &field("invoiceId"),
                ErrorCode::NotFound,
                "no such invoice on this payer's account",
            );
            continue;
        };
        let status: InvoiceStatus = stored("invoice status", &row.status)?;
        let outstanding = checked_left(
            "invoice outstanding",
            row.total_pence,
            row.paid_pence,
            row.credited_pence,
        )?;
        if status == InvoiceStatus::Void {
            problems.add(
                &field("invoiceId"),
                ErrorCode::Conflict,
                format!("{} is void and cannot be paid", row.number),
            );
        } else if !status.accepts_payment() {
            problems.add(
                &field("invoiceId"),
                ErrorCode::Conflict,
                format!("{} is {status} and takes no more payment", row.number),
            );
        } else if amount.pence() > outstanding {
            problems.add(
                &field("amountPence"),
                ErrorCode::OutOfRange,
                format!(
                    "more than the {} outstanding on {}",
                    Money::from_pence(outstanding),
                    row.number
                ),
            );
        } else {
            targets.push((row.clone(), amount.pence()));
        }
    }
    // Each part is at most £10,000,000, but a request may carry many: summed checked.
    let total = checked_sum_i64("allocations", split.iter().map(|(_, m)| m.pence()))?;
    let unallocated = checked_left(
        "receipt unallocated",
        payment.amount_pence,
        payment.allocated_pence,
        payment.refunded_pence,
    )?;
    if total > unallocated {
        problems.add(
            "allocations",
            ErrorCode::OutOfRange,
            format!(
                "allocating {} but only {} of the receipt is unallocated",
                Money::from_pence(total),
                Money::from_pence(unallocated)
            ),
        );
    }
    problems.finish()?;

    let now = clock.now();
    let before = Payment::from_row(payment.clone())?;
    if !add_allocated(txn, payment.id, total, now).await? {
        return Err(DomainError::invalid(
            "allocations",
            ErrorCode::OutOfRange,
            "the receipt has too little left to allocate",
        ));
    }
    let mut created = Vec::new();
    for (row, amount) in targets {
        let id = AllocationId::new();
        let allocation = allocations::ActiveModel {
            id: Set(id.as_uuid()),
            payment_id: Set(payment.id),
            invoice_id: Set(row.id),
            amount_pence: Set(amount),
            credit_note_id: Set(None),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
        let invoice_before = Invoice::from_row(row.clone())?;
        let invoice_after = Invoice::from_row(apply_money(txn, row, amount, 0, now).await?)?;
        audit::record(
            txn,
            actor,
            clock,
            "invoice.allocate",
            (AuditEntity::Invoice, invoice_after.id.as_uuid()),
            Some(&invoice_before),
            Some(&invoice_after),
        )
        .await?;
        created.push(Allocation::from_row(&allocation));
    }
    let after_row = payments::Entity::find_by_id(payment.id)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let after = Payment::from_row(after_row)?;
    audit::record(
        txn,
        actor,
        clock,
        "payment.allocate",
        (AuditEntity::Payment, payment.id),
        Some(&before),
        Some(&serde_json::json!({ "payment": &after, "allocations": &created })),
    )
    .await?;
    let ids: Vec<Uuid> = created.iter().map(|a| a.id.as_uuid()).collect();
    // The account's contact is told what the money paid (notifications).
    kernel::outbox::record(
        txn,
        kernel::outbox::EventKind::ReceiptAllocated,
        payment.id,
        serde_json::json!({ "allocations": &ids }),
        now,
    )
    .await?;
    Ok(created)
}

async fn visible<C: ConnectionTrait>(
    db: &C,
    sight: &Sight,
    account: Uuid,
) -> Result<bool, DomainError> {
    Ok(match sight {
        Sight::All => true,
        Sight::Schools(_) => sight.sees(&schools_of_account(db, account).await?),
    })
}

/// One payment, if the actor may see it.
pub async fn payment<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: PaymentId,
) -> Result<Payment, DomainError> {
    let sight = Sight::of(actor)?;
    let row = payments::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    if !visible(db, &sight, row.account_id).await? {
        return Err(DomainError::NotFound { entity: "Payment" });
    }
    Payment::from_row(row)
}

/// A page of the payments the actor may see, by date received.
pub async fn payments<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &PaymentFilter,
    args: &PageArgs<DateKey>,
) -> Result<Page<Payment>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select = payments::Entity::find();
    if let Some(ids) = visible_account_ids(db, &sight).await? {
        select = select.filter(payments::Column::AccountId.is_in(ids));
    }
    if let Some(account) = filter.account_id {
        select = select.filter(payments::Column::AccountId.eq(account.as_uuid()));
    }
    if filter.unallocated_only {
        select = select.filter(
            Expr::col(payments::Column::AmountPence)
                .sub(Expr::col(payments::Column::AllocatedPence))
                .sub(Expr::col(payments::Column::RefundedPence))
                .gt(0),
        );
    }
    let page = fetch_page(
        db,
        select,
        payments::Column::ReceivedOn,
        payments::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(Payment::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// Payments by id, for batch loading.
pub async fn payments_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[PaymentId],
) -> Result<HashMap<PaymentId, Payment>, DomainError> {
    let rows = payments::Entity::find()
        .filter(payments::Column::Id.is_in(ids.iter().map(PaymentId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|r| Payment::from_row(r).map(|p| (p.id, p)))
        .collect()
}

/// Each payment's allocations (and releases), oldest first, for batch loading.
pub async fn allocations_of_payments<C: ConnectionTrait>(
    db: &C,
    ids: &[PaymentId],
) -> Result<HashMap<PaymentId, Vec<Allocation>>, DomainError> {
    let rows = allocations::Entity::find()
        .filter(allocations::Column::PaymentId.is_in(ids.iter().map(PaymentId::as_uuid)))
        .order_by_asc(allocations::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<PaymentId, Vec<Allocation>> = HashMap::new();
    for row in rows {
        let a = Allocation::from_row(&row);
        out.entry(a.payment_id).or_default().push(a);
    }
    Ok(out)
}

/// Each invoice's allocations (and releases), oldest first, for batch loading.
pub async fn allocations_of_invoices<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Vec<Allocation>>, DomainError> {
    let rows = allocations::Entity::find()
        .filter(allocations::Column::InvoiceId.is_in(ids.iter().map(InvoiceId::as_uuid)))
        .order_by_asc(allocations::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<InvoiceId, Vec<Allocation>> = HashMap::new();
    for row in rows {
        let a = Allocation::from_row(&row);
        out.entry(a.invoice_id).or_default().push(a);
    }
    Ok(out)
}

/// Each account's payments by date received, for batch loading.
pub async fn payments_of_accounts<C: ConnectionTrait>(
    db: &C,
    accounts: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, Vec<Payment>>, DomainError> {
    let rows = payments::Entity::find()
        .filter(payments::Column::AccountId.is_in(accounts.iter().map(BillingAccountId::as_uuid)))
        .order_by_asc(payments::Column::ReceivedOn)
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<BillingAccountId, Vec<Payment>> = HashMap::new();
    for row in rows {
        let p = Payment::from_row(row)?;
        out.entry(p.account_id).or_default().push(p);
    }
    Ok(out)
}

/// The receipts recorded under any of these provider references (`pi_…`, `ch_…`), on any
/// account: how a provider's refund finds the payment it returns. One indexed read.
pub(crate) async fn payments_by_provider_refs<C: ConnectionTrait>(
    db: &C,
    refs: &[&str],
) -> Result<Vec<Payment>, DomainError> {
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    payments::Entity::find()
        .filter(payments::Column::ProviderPaymentRef.is_in(refs.iter().copied()))
        .order_by_asc(payments::Column::ReceivedOn)
        .order_by_asc(payments::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Payment::from_row)
        .collect()
}
