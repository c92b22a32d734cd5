//! Stripe's webhooks: verified, then stored and applied to the ledger in one transaction.
//!
//! **Stored and applied, or neither.** A delivery opens one transaction, inserts the event row
//! keyed by Stripe's event id (`ON CONFLICT DO NOTHING`), applies the event through the
//! ledger's functions (each one a savepoint of that transaction) and records the outcome, then
//! commits. Only then does the caller answer 2xx. If the database fails part way, nothing is
//! kept and the caller answers 5xx, so Stripe delivers the event again.
//!
//! **Once.** Two replicas receiving the same event both insert the same id: the second insert
//! waits for the first transaction and then inserts nothing, and that delivery is answered as a
//! replay (200). The ledger changes an event causes are also keyed by the *object* they are
//! about (the PaymentIntent, the charge and its refunded total, the invoice), not by the
//! event, so the same money reported by two events (`invoice.paid` and
//! `payment_intent.succeeded`) or in any order lands once.
//!
//! **A business refusal is kept, not retried forever.** When the ledger refuses an event's
//! effect for a reason finance must look at (an invoice that is not there, an amount it cannot
//! take: a `DomainError` other than `Internal`), the effect's savepoint is rolled back and the
//! event is stored FAILED with the reason, and answered 200: Stripe retrying for three days
//! would not change the answer. Finance sees it (`events_with_outcome`, GraphQL `stripeEvents`); once the
//! cause is fixed, resending the event from Stripe's dashboard applies it: a FAILED row is
//! taken up again by its next delivery, while APPLIED and IGNORED rows are replays.

mod entity;
pub mod signature;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use kernel::{Actor, Clock, DomainError, InvoiceId, Money};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait, TryInsertResult,
};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::ledger::accounts::BillingAccount;
use crate::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use crate::ledger::invoices::{self, Invoice};
use crate::ledger::payments::{
    self, NewPayment, Payment, ReceiptMethod, allocations_of_payments, payments_of_accounts,
};
use crate::ledger::refunds::{self, NewRefund};
use crate::ledger::{InvoiceStatus, accounts};
use crate::mirror::{self, PaymentState};
use crate::provider::IdempotencyKey;
use crate::provider::stripe::{META_ACCOUNT_ID, META_INVOICE_ID};

pub use signature::{DEFAULT_TOLERANCE_SECS, SignatureError, sign, verify};

/// Why a delivery was refused or failed.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// Forged, stale or unsigned: answer 400, nothing was stored.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// Signed but not a Stripe event: answer 400, nothing was stored.
    #[error("not a Stripe event: {0}")]
    Payload(String),
    /// The database failed while storing or applying it: nothing was kept; answer 5xx so
    /// that Stripe delivers it again.
    #[error(transparent)]
    Apply(#[from] DomainError),
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Received {
    /// Stored and applied now.
    Applied { detail: String },
    /// Stored; nothing in Trellis follows from it (an unknown type, someone else's object).
    Ignored { detail: String },
    /// Stored FAILED: the ledger refused its effect (the reason), nothing of it was applied.
    /// Finance investigates; a later delivery of the same event tries again.
    Failed { detail: String },
    /// Seen before: nothing done again.
    Replayed,
}

/// The parts of an event Trellis reads.
#[derive(Debug, Clone)]
struct Event {
    id: String,
    kind: String,
    created: i64,
    object: Value,
}

impl Event {
    fn parse(payload: &[u8]) -> Result<Self, WebhookError> {
        let value: Value =
            serde_json::from_slice(payload).map_err(|e| WebhookError::Payload(e.to_string()))?;
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let id = text("id").ok_or_else(|| WebhookError::Payload("no event id".into()))?;
        let kind = text("type").ok_or_else(|| WebhookError::Payload("no event type".into()))?;
        if !id.starts_with("evt_") || value.get("object").and_then(Value::as_str) != Some("event") {
            return Err(WebhookError::Payload("not an event object".into()));
        }
        let object = value
            .pointer("/data/object")
            .cloned()
            .ok_or_else(|| WebhookError::Payload("no data.object".into()))?;
        Ok(Self {
            id,
            kind,
            created: value.get("created").and_then(Value::as_i64).unwrap_or(0),
            object,
        })
    }

    fn str(&self, pointer: &str) -> Option<&str> {
        self.object.pointer(pointer).and_then(Value::as_str)
    }

    fn pence(&self, pointer: &str) -> i64 {
        self.object
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    /// A field that Stripe sends as an id or, expanded, as an object with an id.
    fn id_of(&self, pointer: &str) -> Option<String> {
        match self.object.pointer(pointer)? {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        }
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
    }

    /// The day the money moved, never after today (receipts cannot be dated in the future).
    fn day(&self, clock: &dyn Clock) -> NaiveDate {
        let today = clock.today();
        Utc.timestamp_opt(self.created, 0)
            .single()
            .map_or(today, |t: DateTime<Utc>| t.date_naive().min(today))
    }
}

/// Verifies, stores and applies one delivery of `POST /webhooks/stripe`, in one transaction.
pub async fn receive(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    webhook_secret: &str,
    signature_header: Option<&str>,
    payload: &[u8],
) -> Result<Received, WebhookError> {
    verify(
        payload,
        signature_header,
        webhook_secret,
        clock.now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    )?;
    let event = Event::parse(payload)?;
    let raw = String::from_utf8(payload.to_vec())
        .map_err(|_| WebhookError::Payload("not UTF-8".into()))?;

    let txn = db.begin().await.map_err(DomainError::from)?;
    if !claim(&txn, clock, &event, raw).await? {
        txn.rollback().await.map_err(DomainError::from)?;
        return Ok(Received::Replayed);
    }
    let attempt = txn.begin().await.map_err(DomainError::from)?;
    let received = match apply(&attempt, clock, &event).await {
        Ok(received) => {
            attempt.commit().await.map_err(DomainError::from)?;
            received
        }
        Err(err @ DomainError::Internal(_)) => {
            // Nothing is kept: Stripe's next delivery finds no row and applies it afresh.
            drop(attempt);
            txn.rollback().await.map_err(DomainError::from)?;
            return Err(err.into());
        }
        Err(refused) => {
            attempt.rollback().await.map_err(DomainError::from)?;
            tracing::warn!(event = %event.id, kind = %event.kind, error = %refused.chain(), "the ledger refused a Stripe event; stored as FAILED");
            Received::Failed {
                detail: refusal(&refused),
            }
        }
    };
    let (outcome, detail) = match &received {
        Received::Applied { detail } => ("APPLIED", detail.clone()),
        Received::Ignored { detail } => ("IGNORED", detail.clone()),
        Received::Failed { detail } => ("FAILED", detail.clone()),
        Received::Replayed => ("APPLIED", "already applied".to_owned()),
    };
    entity::Entity::update_many()
        .col_expr(entity::Column::Outcome, Expr::value(outcome))
        .col_expr(entity::Column::Detail, Expr::value(Some(detail)))
        .col_expr(entity::Column::AppliedAt, Expr::value(Some(clock.now())))
        .filter(entity::Column::Id.eq(event.id.as_str()))
        .exec(&txn)
        .await
        .map_err(DomainError::from)?;
    txn.commit().await.map_err(DomainError::from)?;
    Ok(received)
}

/// Takes the event for this delivery inside `txn`: `true` when it is new, or stored FAILED
/// (or RECEIVED, left by a replica of an earlier release that stored before applying) and so
/// to be applied now; `false` when it is settled (APPLIED, IGNORED) — a replay. A concurrent
/// delivery of the same event blocks here until the other transaction ends (the primary key on
/// PostgreSQL, the writer lock on SQLite) and then sees its outcome.
async fn claim<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    event: &Event,
    raw: String,
) -> Result<bool, DomainError> {
    let fresh = entity::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        object_id: Set(event.id_of("/id")),
        created_unix: Set(Some(event.created)),
        payload: Set(raw),
        received_at: Set(clock.now()),
        outcome: Set("RECEIVED".into()),
        detail: Set(None),
        applied_at: Set(None),
    };
    let inserted = entity::Entity::insert(fresh)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(true);
    }
    let retaken = entity::Entity::update_many()
        .col_expr(entity::Column::Outcome, Expr::value("RECEIVED"))
        .filter(entity::Column::Id.eq(event.id.as_str()))
        .filter(entity::Column::Outcome.is_in(["FAILED", "RECEIVED"]))
        .exec(txn)
        .await?;
    Ok(retaken.rows_affected == 1)
}

/// What finance reads about a refused event: the message and every field error.
fn refusal(err: &DomainError) -> String {
    match err {
        DomainError::Invalid(errors) => errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.chain(),
    }
}

fn applied(detail: impl Into<String>) -> Received {
    Received::Applied {
        detail: detail.into(),
    }
}

fn ignored(detail: impl Into<String>) -> Received {
    Received::Ignored {
        detail: detail.into(),
    }
}

async fn apply<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    match event.kind.as_str() {
        "invoice.finalized" => invoice_finalized(db, clock, event).await,
        "invoice.paid" => invoice_paid(db, clock, event).await,
        "invoice.payment_failed" => invoice_payment_failed(db, clock, event).await,
        "invoice.voided" => invoice_voided(db, clock, event).await,
        "payment_intent.succeeded" => {
            let Some(reference) = event.id_of("/id") else {
                return Ok(ignored("no PaymentIntent id"));
            };
            let amount = event.pence("/amount_received");
            intent_paid(db, clock, event, &reference, amount).await
        }
        "checkout.session.completed" => {
            if event.str("/payment_status") != Some("paid") {
                return Ok(ignored("the session is not paid yet"));
            }
            let Some(reference) = event
                .id_of("/payment_intent")
                .or_else(|| event.id_of("/id"))
            else {
                return Ok(ignored("no payment reference"));
            };
            let amount = event.pence("/amount_total");
            intent_paid(db, clock, event, &reference, amount).await
        }
        "payment_intent.payment_failed" => intent_failed(db, clock, event).await,
        "charge.refunded" => charge_refunded(db, clock, event).await,
        other => Ok(ignored(format!("{other} is not used by Trellis"))),
    }
}

/// The Trellis invoice a Stripe invoice mirrors: by its metadata, else by the stored mirror.
async fn trellis_invoice<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    event: &Event,
) -> Result<Option<Invoice>, DomainError> {
    let by_meta = event
        .meta(META_INVOICE_ID)
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(InvoiceId::from_uuid);
    let id = match by_meta {
        Some(id) => Some(id),
        None => match event.id_of("/id") {
            Some(reference) => mirror::mirror_by_provider_ref(db, &reference)
                .await?
                .map(|m| m.invoice_id),
            None => None,
        },
    };
    let Some(id) = id else {
        return Ok(None);
    };
    match invoices::invoice(db, &Actor::System, id).await {
        Ok(invoice) => Ok(Some(invoice)),
        Err(DomainError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

async fn invoice_finalized<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let Some(invoice) = trellis_invoice(db, event).await? else {
        return Ok(ignored("not a Trellis invoice"));
    };
    let Some(reference) = event.id_of("/id") else {
        return Ok(ignored("no invoice id"));
    };
    let hosted = event.str("/hosted_invoice_url").map(str::to_owned);
    mirror::adopt(
        db,
        clock,
        invoice.id,
        &reference,
        &event.id_of("/customer").unwrap_or_default(),
        hosted.clone(),
        event.str("/invoice_pdf").map(str::to_owned),
    )
    .await?;
    if invoice.provider_invoice_ref.is_none() {
        invoices::record_provider_invoice(
            db,
            &Actor::System,
            clock,
            invoice.id,
            &reference,
            hosted.as_deref(),
        )
        .await?;
    }
    Ok(applied(format!("{} is {reference}", invoice.number)))
}

/// The receipt for money Stripe took under `reference` (`pi_…`), recorded once: an existing
/// receipt with that provider reference is the receipt.
async fn stripe_receipt<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    account: &BillingAccount,
    reference: &str,
    amount: i64,
    day: NaiveDate,
) -> Result<Payment, DomainError> {
    let existing = payments_of_accounts(db, &[account.id])
        .await?
        .remove(&account.id)
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.provider_payment_ref.as_deref() == Some(reference));
    if let Some(existing) = existing {
        return Ok(existing);
    }
    payments::record_payment(
        db,
        &Actor::System,
        clock,
        NewPayment {
            account_id: account.id,
            method: ReceiptMethod::Card,
            reference: format!("Stripe {reference}"),
            received_on: day,
            amount: Money::from_pence(amount),
            provider_payment_ref: Some(reference.to_owned()),
            idempotency_key: Some(
                IdempotencyKey::derive("stripe_receipt", reference)
                    .as_str()
                    .to_owned(),
            ),
        },
    )
    .await
}

/// Allocates what is left of `payment` to `invoice`, once.
async fn settle<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    payment: &Payment,
    invoice: InvoiceId,
) -> Result<Money, DomainError> {
    let already = allocations_of_payments(db, &[payment.id])
        .await?
        .remove(&payment.id)
        .unwrap_or_default();
    if already.iter().any(|a| a.invoice_id == invoice) {
        return Ok(Money::from_pence(0));
    }
    let current = invoices::invoice(db, &Actor::System, invoice).await?;
    let amount = payment.unallocated.pence().min(current.outstanding.pence());
    if amount <= 0 {
        return Ok(Money::from_pence(0));
    }
    payments::allocate(
        db,
        &Actor::System,
        clock,
        payment.id,
        &[(invoice, Money::from_pence(amount))],
        Some(
            IdempotencyKey::derive("stripe_allocation", format!("{}:{invoice}", payment.id))
                .as_str(),
        ),
    )
    .await?;
    Ok(Money::from_pence(amount))
}

async fn invoice_paid<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let Some(invoice) = trellis_invoice(db, event).await? else {
        return Ok(ignored("not a Trellis invoice"));
    };
    let Some(stripe_invoice) = event.id_of("/id") else {
        return Ok(ignored("no invoice id"));
    };
    let amount = event.pence("/amount_paid");
    if amount <= 0 {
        return Ok(ignored("nothing was paid"));
    }
    // Paid by card or debit: the PaymentIntent; out of band: the invoice itself.
    let reference = event
        .id_of("/payment_intent")
        .unwrap_or_else(|| stripe_invoice.clone());
    let account = accounts::account(db, &Actor::System, invoice.account_id).await?;
    let payment = stripe_receipt(db, clock, &account, &reference, amount, event.day(clock)).await?;
    let allocated = settle(db, clock, &payment, invoice.id).await?;
    mirror::set_payment_state(db, clock, &stripe_invoice, PaymentState::Paid, None).await?;
    Ok(applied(format!(
        "{} paid {} by {reference}; {allocated} allocated",
        invoice.number,
        Money::from_pence(amount)
    )))
}

async fn invoice_payment_failed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let Some(reference) = event.id_of("/id") else {
        return Ok(ignored("no invoice id"));
    };
    let message = event
        .str("/last_finalization_error/message")
        .unwrap_or("the payment failed")
        .to_owned();
    if mirror::set_payment_state(
        db,
        clock,
        &reference,
        PaymentState::PaymentFailed,
        Some(message),
    )
    .await?
    {
        Ok(applied(format!("{reference}: payment failed")))
    } else {
        Ok(ignored("not a Trellis invoice"))
    }
}

async fn invoice_voided<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let Some(invoice) = trellis_invoice(db, event).await? else {
        return Ok(ignored("not a Trellis invoice"));
    };
    if matches!(invoice.status, InvoiceStatus::Void) {
        return Ok(applied(format!("{} was already void", invoice.number)));
    }
    if invoice.paid.pence() > 0 || invoice.credited.pence() > 0 {
        // Money has moved against it: finance decides (reconciliation shows the difference).
        return Ok(ignored(format!(
            "{} has payments or credits; not voided automatically",
            invoice.number
        )));
    }
    invoices::void(db, &Actor::System, clock, invoice.id, "voided at Stripe").await?;
    Ok(applied(format!("{} voided", invoice.number)))
}

/// A PaymentIntent or Checkout Session Trellis created (its metadata names the account).
async fn intent_paid<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
    reference: &str,
    amount: i64,
) -> Result<Received, DomainError> {
    let Some(account_id) = event
        .meta(META_ACCOUNT_ID)
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(kernel::BillingAccountId::from_uuid)
    else {
        // Invoice payments are recorded from invoice.paid, which names the invoice.
        return Ok(ignored("not a Trellis payment"));
    };
    if amount <= 0 {
        return Ok(ignored("nothing was received"));
    }
    let account = match accounts::account(db, &Actor::System, account_id).await {
        Ok(account) => account,
        Err(DomainError::NotFound { .. }) => return Ok(ignored("unknown billing account")),
        Err(err) => return Err(err),
    };
    let payment = stripe_receipt(db, clock, &account, reference, amount, event.day(clock)).await?;
    let invoice = event
        .meta(META_INVOICE_ID)
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(InvoiceId::from_uuid);
    let allocated = match invoice {
        Some(invoice) => settle(db, clock, &payment, invoice).await?,
        None => Money::from_pence(0),
    };
    Ok(applied(format!(
        "received {} by {reference}; {allocated} allocated",
        Money::from_pence(amount)
    )))
}

async fn intent_failed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let message = event
        .str("/last_payment_error/message")
        .unwrap_or("the payment failed")
        .to_owned();
    let invoice = event
        .meta(META_INVOICE_ID)
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(InvoiceId::from_uuid);
    let Some(invoice) = invoice else {
        return Ok(ignored(format!("not a Trellis invoice payment: {message}")));
    };
    let Some(found) = mirror::mirrored_invoices_by_ids(db, &[invoice])
        .await?
        .remove(&invoice)
    else {
        return Ok(ignored("the invoice is not mirrored"));
    };
    mirror::set_payment_state(
        db,
        clock,
        &found.provider_invoice_ref,
        PaymentState::PaymentFailed,
        Some(message.clone()),
    )
    .await?;
    Ok(applied(format!("payment failed: {message}")))
}

/// Money Stripe returned. The ledger refunds only account credit, so whatever of the refund
/// the receipt's unallocated part cannot cover is first credited on the invoice it paid: the
/// refund becomes a credit note plus a refund, as finance would have recorded it.
async fn charge_refunded<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let Some(charge) = event.id_of("/id") else {
        return Ok(ignored("no charge id"));
    };
    let intent = event.id_of("/payment_intent");
    let refunded_total = event.pence("/amount_refunded");
    let Some(customer) = event.id_of("/customer") else {
        return Ok(ignored("no customer"));
    };
    let Some(payment) = payment_by_reference(db, &customer, intent.as_deref(), &charge).await?
    else {
        return Ok(ignored("not a Trellis payment"));
    };
    let delta = refunded_total - payment.refunded.pence();
    if delta <= 0 {
        return Ok(applied("already recorded"));
    }
    let key_base = format!("{charge}:{refunded_total}");
    let shortfall = delta - payment.unallocated.pence();
    if shortfall > 0 {
        let allocations = allocations_of_payments(db, &[payment.id])
            .await?
            .remove(&payment.id)
            .unwrap_or_default();
        let Some(paid_invoice) = allocations.iter().find(|a| a.amount.pence() > 0) else {
            return Err(DomainError::invalid(
                "amountPence",
                kernel::ErrorCode::Conflict,
                format!(
                    "Stripe refunded {} of {} but Trellis holds no credit or allocation of it to release",
                    Money::from_pence(delta),
                    payment.reference
                ),
            ));
        };
        credit_notes::credit(
            db,
            &Actor::System,
            clock,
            NewCreditNote {
                invoice_id: paid_invoice.invoice_id,
                reason: format!("refunded by card ({charge})"),
                amount: CreditAmount::Amount(Money::from_pence(shortfall)),
                idempotency_key: Some(
                    IdempotencyKey::derive("stripe_refund_credit", &key_base)
                        .as_str()
                        .to_owned(),
                ),
            },
        )
        .await?;
    }
    let refund_ref = event.id_of("/refunds/data/0/id");
    refunds::refund(
        db,
        &Actor::System,
        clock,
        NewRefund {
            payment_id: payment.id,
            amount: Money::from_pence(delta),
            reason: format!("refunded at Stripe ({charge})"),
            refunded_on: event.day(clock),
            provider_refund_ref: refund_ref,
            idempotency_key: Some(
                IdempotencyKey::derive("stripe_refund", &key_base)
                    .as_str()
                    .to_owned(),
            ),
        },
    )
    .await?;
    Ok(applied(format!(
        "refunded {} of {}",
        Money::from_pence(delta),
        payment.reference
    )))
}

/// The receipt Stripe's PaymentIntent or charge was recorded as, found through the account
/// that owns the Stripe customer.
async fn payment_by_reference<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    customer: &str,
    intent: Option<&str>,
    charge: &str,
) -> Result<Option<Payment>, DomainError> {
    let Some(account) = mirror::account_of_customer(db, customer).await? else {
        return Ok(None);
    };
    Ok(payments_of_accounts(db, &[account])
        .await?
        .remove(&account)
        .unwrap_or_default()
        .into_iter()
        .find(|p| {
            let r = p.provider_payment_ref.as_deref();
            r == Some(charge) || (intent.is_some() && r == intent)
        }))
}

/// An event as stored, for finance and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub object_id: Option<String>,
    /// RECEIVED, APPLIED, IGNORED or FAILED.
    pub outcome: String,
    pub detail: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// The stored event `id`, if it was ever received.
pub async fn stored_event<C: ConnectionTrait>(
    db: &C,
    id: &str,
) -> Result<Option<StoredEvent>, DomainError> {
    Ok(entity::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(StoredEvent::from_row))
}

impl StoredEvent {
    fn from_row(row: entity::Model) -> Self {
        Self {
            id: row.id,
            event_type: row.event_type,
            object_id: row.object_id,
            outcome: row.outcome,
            detail: row.detail,
            received_at: row.received_at,
        }
    }
}

/// The most recent stored events with this outcome (e.g. FAILED: what the ledger refused),
/// newest first, at most 500 (ManageBilling: the webhook log is finance's).
pub async fn events_with_outcome<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    outcome: &str,
    limit: u64,
) -> Result<Vec<StoredEvent>, DomainError> {
    actor.require(kernel::Permission::ManageBilling)?;
    Ok(entity::Entity::find()
        .filter(entity::Column::Outcome.eq(outcome))
        .order_by_desc(entity::Column::ReceivedAt)
        .order_by_desc(entity::Column::Id)
        .limit(limit.min(500))
        .all(db)
        .await?
        .into_iter()
        .map(StoredEvent::from_row)
        .collect())
}
