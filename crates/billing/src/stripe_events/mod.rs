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
//! cause is fixed, resending the event from Stripe's dashboard applies it: every row but an
//! APPLIED one is taken up again by its next delivery (FAILED, PENDING, IGNORED — what was not
//! applied may be now); an APPLIED row is a replay, never applied twice.
//!
//! **Read strictly.** Every field an effect needs is read as the type Stripe documents; a
//! missing or malformed one (an amount that is absent, a string, negative) is a refusal stored
//! FAILED with the field named, never a default. Trellis keeps its ledger in the partnership's
//! currency (`kernel::Currency`, GBP): an object in any other currency is refused whole —
//! nothing of it is applied — and kept FAILED with the currency named, for finance.
//!
//! **Any order.** A refund (`charge.refunded`) whose payment Trellis has not recorded yet is
//! stored PENDING. When the payment's event is applied, the refunds pending for its
//! PaymentIntent or charge are applied in the same transaction; a redelivery of the refund
//! applies it as well. On PostgreSQL a refund and its payment take one advisory lock on the
//! PaymentIntent, so neither misses the other when they arrive together.
//!
//! **A NUL in any string is refused** (400, nothing stored) before the database sees it:
//! PostgreSQL cannot store one, and a 5xx would have Stripe deliver it again for days.

mod entity;

// The wire format (signature header, event JSON and its field readers) is pure and lives in
// `stripe_webhook`, a crate light enough to fuzz; this module stores and applies events.
use stripe_webhook::Event;
pub use stripe_webhook::signature;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{Actor, BeginWrite as _, Clock, DomainError, InvoiceId, Money};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement, TransactionSession, TransactionTrait,
    TryInsertResult,
};
use serde::Serialize;
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
    /// Stored PENDING: a refund of a payment Trellis has not recorded yet. Applied when the
    /// payment's event is, or when this event is delivered again.
    Pending { detail: String },
    /// Seen before and applied: nothing done again.
    Replayed,
}

impl Received {
    /// The stored outcome and detail.
    fn stored(&self) -> (&'static str, String) {
        match self {
            Self::Applied { detail } => ("APPLIED", detail.clone()),
            Self::Ignored { detail } => ("IGNORED", detail.clone()),
            Self::Failed { detail } => ("FAILED", detail.clone()),
            Self::Pending { detail } => ("PENDING", detail.clone()),
            Self::Replayed => ("APPLIED", "already applied".to_owned()),
        }
    }
}

/// A delivery taken in: what became of it, and what the caller may need of the event without
/// reading it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub received: Received,
    /// When Stripe created the event (seconds since the epoch), if it said.
    pub created: Option<i64>,
    /// The Trellis invoice the event's object names in its metadata (the PaymentIntents
    /// Trellis starts for card bookings carry one), whatever the outcome.
    pub invoice: Option<InvoiceId>,
}

/// Verifies, stores and applies one delivery of `POST /webhooks/stripe`, in one transaction.
pub async fn receive(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    webhook_secret: &str,
    signature_header: Option<&str>,
    payload: &[u8],
) -> Result<Delivery, WebhookError> {
    verify(
        payload,
        signature_header,
        webhook_secret,
        clock.now().timestamp(),
        DEFAULT_TOLERANCE_SECS,
    )?;
    let event = Event::parse(payload).map_err(|e| WebhookError::Payload(e.to_string()))?;
    let raw = String::from_utf8(payload.to_vec())
        .map_err(|_| WebhookError::Payload("not UTF-8".into()))?;
    let delivery = |received| Delivery {
        received,
        created: event.created,
        invoice: event
            .meta(META_INVOICE_ID)
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
            .map(InvoiceId::from_uuid),
    };

    let txn = db.begin_write().await.map_err(DomainError::from)?;
    if !claim(&txn, clock, &event, raw).await? {
        txn.rollback().await.map_err(DomainError::from)?;
        return Ok(delivery(Received::Replayed));
    }
    let received = attempt(&txn, clock, &event).await?;
    if let Received::Failed { detail } = &received {
        tracing::warn!(event = %event.id, kind = %event.kind, reason = %detail, "a Stripe event was refused; stored as FAILED");
    }
    record(&txn, clock, &event.id, &received).await?;
    txn.commit().await.map_err(DomainError::from)?;
    Ok(delivery(received))
}

/// Applies `event` in a savepoint of `txn`: kept if applied (or pending, or ignored), rolled
/// back and reported as `Failed` if the ledger refused it; an internal failure is returned (the
/// caller keeps nothing).
async fn attempt<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let savepoint = txn.begin().await?;
    match apply(&savepoint, clock, event).await {
        Ok(received) => {
            savepoint.commit().await?;
            Ok(received)
        }
        Err(err @ DomainError::Internal(_)) => {
            // Nothing is kept: Stripe's next delivery finds no row and applies it afresh.
            drop(savepoint);
            Err(err)
        }
        Err(refused) => {
            savepoint.rollback().await?;
            Ok(Received::Failed {
                detail: refusal(&refused),
            })
        }
    }
}

/// Stores what became of the event `id`.
async fn record<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    id: &str,
    received: &Received,
) -> Result<(), DomainError> {
    let (outcome, detail) = received.stored();
    entity::Entity::update_many()
        .col_expr(entity::Column::Outcome, Expr::value(outcome))
        .col_expr(entity::Column::Detail, Expr::value(Some(detail)))
        .col_expr(entity::Column::AppliedAt, Expr::value(Some(clock.now())))
        .filter(entity::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes the event for this delivery inside `txn`: `true` when it is new, or stored but not
/// applied (FAILED, PENDING, IGNORED, or RECEIVED — left by a replica of an earlier release
/// that stored before applying) and so to be applied now; `false` when it is APPLIED — a
/// replay. A concurrent delivery of the same event blocks here until the other transaction
/// ends (the primary key on PostgreSQL, the writer lock on SQLite) and then sees its outcome.
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
        created_unix: Set(event.created),
        payload: Set(raw),
        received_at: Set(clock.now()),
        outcome: Set("RECEIVED".into()),
        detail: Set(None),
        applied_at: Set(None),
        payment_ref: Set(event.payment_ref()),
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
        // Rows stored before events remembered their PaymentIntent learn it now.
        .col_expr(entity::Column::PaymentRef, Expr::value(event.payment_ref()))
        .filter(entity::Column::Id.eq(event.id.as_str()))
        .filter(entity::Column::Outcome.ne("APPLIED"))
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

fn pending(detail: impl Into<String>) -> Received {
    Received::Pending {
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
        // Stripe sends both for one payment; the receipt is keyed by the payment, so it lands once.
        "invoice.paid" | "invoice.payment_succeeded" => invoice_paid(db, clock, event).await,
        "invoice.payment_failed" => invoice_payment_failed(db, clock, event).await,
        "invoice.voided" => invoice_voided(db, clock, event).await,
        "payment_intent.succeeded" => {
            let reference = event.required_str("/id")?.to_owned();
            let amount = event.amount("/amount_received")?;
            let charge = event.id_of("/latest_charge");
            intent_paid(db, clock, event, &reference, charge.as_deref(), amount).await
        }
        "checkout.session.completed" => {
            if event.required_str("/payment_status")? != "paid" {
                event.refuse_other_currency()?;
                return Ok(ignored("the session is not paid yet"));
            }
            let amount = event.amount("/amount_total")?;
            let reference = match event.id_of("/payment_intent") {
                Some(intent) => intent,
                None => event.required_str("/id")?.to_owned(),
            };
            intent_paid(db, clock, event, &reference, None, amount).await
        }
        "payment_intent.payment_failed" => intent_failed(db, clock, event).await,
        "charge.refunded" => charge_refunded(db, clock, event).await,
        other => Ok(ignored(format!("{other} is not used by Trellis"))),
    }
}

/// On PostgreSQL, serialises the events about one payment (`pi_…`, or `ch_…` without one)
/// until the transaction ends: a refund and the payment it refunds, delivered together, each
/// see the other's row once the first commits, so the refund is never left pending by a race.
/// Keys are taken in sorted order. SQLite has one writer at a time already.
async fn lock_payments<C: ConnectionTrait>(db: &C, refs: &[&str]) -> Result<(), DomainError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut keys: Vec<&str> = refs.iter().copied().filter(|r| !r.is_empty()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        db.query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [format!("stripe_payment:{key}").into()],
        ))
        .await?;
    }
    Ok(())
}

/// The Trellis invoice a Stripe invoice mirrors: by its metadata, else by the stored mirror.
async fn trellis_invoice<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    event: &Event,
) -> Result<Option<Invoice>, DomainError> {
    let by_meta = event.meta_id(META_INVOICE_ID)?.map(InvoiceId::from_uuid);
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
    let reference = event.required_str("/id")?.to_owned();
    event.refuse_other_currency()?;
    let Some(invoice) = trellis_invoice(db, event).await? else {
        return Ok(ignored("not a Trellis invoice"));
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
    amount: Money,
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
            amount,
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
    let stripe_invoice = event.required_str("/id")?.to_owned();
    let amount = event.amount("/amount_paid")?;
    let Some(invoice) = trellis_invoice(db, event).await? else {
        return Ok(ignored("not a Trellis invoice"));
    };
    if !amount.is_positive() {
        // Stripe marks an invoice paid with nothing taken when a balance covered it.
        return Ok(ignored("Stripe took nothing for it (amount_paid is 0)"));
    }
    // Paid by card or debit: the PaymentIntent; out of band: the invoice itself.
    let reference = event
        .id_of("/payment_intent")
        .unwrap_or_else(|| stripe_invoice.clone());
    let charge = event.id_of("/charge");
    lock_payments(db, &[reference.as_str(), charge.as_deref().unwrap_or("")]).await?;
    let account = accounts::account(db, &Actor::System, invoice.account_id).await?;
    let payment =
        stripe_receipt(db, clock, &account, &reference, amount, event.day(clock)?).await?;
    let allocated = settle(db, clock, &payment, invoice.id).await?;
    mirror::set_payment_state(db, clock, &stripe_invoice, PaymentState::Paid, None).await?;
    let refunds =
        pending_refunds_applied(db, clock, &[Some(reference.as_str()), charge.as_deref()]).await?;
    Ok(applied(format!(
        "{} paid {amount} by {reference}; {allocated} allocated{refunds}",
        invoice.number,
    )))
}

async fn invoice_payment_failed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let reference = event.required_str("/id")?.to_owned();
    event.refuse_other_currency()?;
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
    event.required_str("/id")?;
    event.refuse_other_currency()?;
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
    charge: Option<&str>,
    amount: Money,
) -> Result<Received, DomainError> {
    let Some(account_id) = event
        .meta_id(META_ACCOUNT_ID)?
        .map(kernel::BillingAccountId::from_uuid)
    else {
        // Invoice payments are recorded from invoice.paid, which names the invoice.
        return Ok(ignored("not a Trellis payment"));
    };
    if !amount.is_positive() {
        return Ok(ignored("Stripe received nothing (the amount is 0)"));
    }
    let invoice = event.meta_id(META_INVOICE_ID)?.map(InvoiceId::from_uuid);
    let day = event.day(clock)?;
    let account = match accounts::account(db, &Actor::System, account_id).await {
        Ok(account) => account,
        Err(DomainError::NotFound { .. }) => return Ok(ignored("unknown billing account")),
        Err(err) => return Err(err),
    };
    lock_payments(db, &[reference, charge.unwrap_or("")]).await?;
    let payment = stripe_receipt(db, clock, &account, reference, amount, day).await?;
    let allocated = match invoice {
        Some(invoice) => settle(db, clock, &payment, invoice).await?,
        None => Money::from_pence(0),
    };
    let refunds = pending_refunds_applied(db, clock, &[Some(reference), charge]).await?;
    Ok(applied(format!(
        "received {amount} by {reference}; {allocated} allocated{refunds}"
    )))
}

async fn intent_failed<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    event.refuse_other_currency()?;
    let message = event
        .str("/last_payment_error/message")
        .unwrap_or("the payment failed")
        .to_owned();
    let Some(invoice) = event.meta_id(META_INVOICE_ID)?.map(InvoiceId::from_uuid) else {
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
/// refund becomes a credit note plus a refund, as finance would have recorded it. A refund of
/// a payment Trellis has not recorded yet is PENDING: the payment's event applies it.
async fn charge_refunded<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    event: &Event,
) -> Result<Received, DomainError> {
    let charge = event.required_str("/id")?.to_owned();
    let refunded_total = event.amount("/amount_refunded")?.pence();
    let day = event.day(clock)?;
    let intent = event.id_of("/payment_intent");
    lock_payments(db, &[intent.as_deref().unwrap_or(&charge)]).await?;
    let Some(payment) = payment_by_reference(db, intent.as_deref(), &charge).await? else {
        return Ok(pending(format!(
            "no Trellis payment for {} yet; applied when its payment arrives",
            intent.as_deref().unwrap_or(&charge)
        )));
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
            // Never before the receipt: Stripe may date the payment's event after the refund's.
            refunded_on: day.max(payment.received_on),
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

/// The receipt Stripe's PaymentIntent or charge was recorded as, on whichever account.
async fn payment_by_reference<C: ConnectionTrait>(
    db: &C,
    intent: Option<&str>,
    charge: &str,
) -> Result<Option<Payment>, DomainError> {
    let refs: Vec<&str> = intent.into_iter().chain([charge]).collect();
    let found = payments::payments_by_provider_refs(db, &refs).await?;
    // The PaymentIntent's receipt first: it is what Trellis records card payments under.
    Ok(found
        .iter()
        .find(|p| intent.is_some() && p.provider_payment_ref.as_deref() == intent)
        .or_else(|| found.first())
        .cloned())
}

/// Applies the refunds stored PENDING for a payment just recorded under one of `refs`
/// (its PaymentIntent, its charge), oldest first, each in a savepoint of the payment's
/// transaction and stored with its own outcome. Returns a note for the payment's detail.
async fn pending_refunds_applied<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    clock: &dyn Clock,
    refs: &[Option<&str>],
) -> Result<String, DomainError> {
    let refs: Vec<&str> = refs.iter().flatten().copied().collect();
    if refs.is_empty() {
        return Ok(String::new());
    }
    let mut waiting = entity::Entity::find()
        .filter(entity::Column::Outcome.eq("PENDING"))
        .filter(entity::Column::EventType.eq("charge.refunded"))
        .filter(
            Condition::any()
                .add(entity::Column::PaymentRef.is_in(refs.iter().copied()))
                .add(entity::Column::ObjectId.is_in(refs.iter().copied())),
        )
        .order_by_asc(entity::Column::CreatedUnix)
        .order_by_asc(entity::Column::Id);
    if db.get_database_backend() == DbBackend::Postgres {
        // A row locked here is a redelivery of that refund being taken up right now: it
        // holds the row and waits for this payment's lock, and applies the refund once this
        // commits. Waiting for it instead would deadlock.
        waiting = waiting.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let waiting = waiting.all(db).await?;
    let mut notes = Vec::new();
    for row in waiting {
        let received = match Event::parse(row.payload.as_bytes()) {
            Ok(refund) => {
                // `charge_refunded` directly rather than `attempt`: a refund applies no
                // further pending events, and the async call graph stays acyclic.
                let savepoint = db.begin().await?;
                match charge_refunded(&savepoint, clock, &refund).await {
                    Ok(received) => {
                        savepoint.commit().await?;
                        received
                    }
                    Err(err @ DomainError::Internal(_)) => return Err(err),
                    Err(refused) => {
                        savepoint.rollback().await?;
                        Received::Failed {
                            detail: refusal(&refused),
                        }
                    }
                }
            }
            Err(err) => Received::Failed {
                detail: err.to_string(),
            },
        };
        if let Received::Failed { detail } = &received {
            tracing::warn!(event = %row.id, reason = %detail, "a pending Stripe refund was refused when its payment arrived; stored as FAILED");
        }
        record(db, clock, &row.id, &received).await?;
        let (outcome, _) = received.stored();
        notes.push(format!("{} {}", row.id, outcome.to_ascii_lowercase()));
    }
    Ok(if notes.is_empty() {
        String::new()
    } else {
        format!("; pending refunds: {}", notes.join(", "))
    })
}

/// An event as stored, for finance and tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub object_id: Option<String>,
    /// RECEIVED, APPLIED, IGNORED, FAILED or PENDING.
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
