//! Cancellations: by the school under the session's policy, or by the provider (everyone gets
//! everything back). The places freed go to the waiting list in the same transaction.
//!
//! What the policy's terms mean per settlement:
//!
//! * **OFFER** — the policy is applied in allowance units, not money
//!   ([`CancellationPolicy::unit_terms`](crate::CancellationPolicy::unit_terms)): a free
//!   cancellation reverses the whole usage, a late one reverses the units the late fee does
//!   not keep (`offer::reverse_usage_part`), one within the no-refund window keeps them all.
//!   The booking records the units kept and returned; its money fee and refund are zero.
//! * **INVOICE** — `billing::charges::cancel_charge` with the fee (net of VAT): a pending
//!   charge is withdrawn or reduced to the fee, an invoiced one credited for the rest.
//! * **CARD** — unpaid: the invoice is voided (billing refuses if money moved meanwhile; then
//!   the booking counts as paid). Paid: a credit note for the refundable part is raised inside
//!   the cancellation's transaction, and the money goes back to the card after the commit
//!   ([`complete_card_refunds`] retries any that did not), with idempotency keys derived from
//!   the booking so nothing is refunded twice.

use billing::ledger::credit_notes::{CreditAmount, NewCreditNote};
use billing::ledger::{InvoiceStatus, NewRefund};
use billing::provider::{IdempotencyKey, PaymentCancel, PaymentProvider, RefundPayment};
use chrono::{DateTime, Duration, Utc};
use kernel::BeginWrite as _;
use kernel::outbox::EventKind;
use kernel::{
    Actor, BookingId, Clock, DomainError, ErrorCode, InvoiceId, Money, OfferEntryId, Permission,
    RefundId, SessionId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};

use crate::bookings::{self, Booking, not_found};
use crate::entity::{bookings as rows, sessions as session_rows};
use crate::history::{Action, audit, snapshot};
use crate::hold::{lock_booking, release_places};
use crate::lifecycle::{close, own_booking};
use crate::places::{BookingChange, offer_free_places, offered_in_order};
use crate::policy::{CancellationBand, CancellationPolicy, CancellationTerms, UnitTerms};
use crate::sessions::Session;
use crate::settlement::confirm_paid_bookings;
use crate::support::{days_until, optional_text, stored, to_u32};
use crate::types::{BookingStatus, ClosedReason, RefundState, SessionStatus, Settlement};

const REASON_MAX: usize = 1000;

/// A session cancelled by its provider, and every booking that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChange {
    pub session: Session,
    pub bookings: Vec<Booking>,
}

/// What the booking is refunded, by settlement, after [`CancellationTerms`] on its gross
/// (money settlements) or [`UnitTerms`] on its places (OFFER, whose money terms are zero).
struct Plan {
    terms: CancellationTerms,
    units: Option<UnitTerms>,
    settlement: Option<Settlement>,
}

impl Plan {
    /// Nothing kept, nothing given back in money (an unpaid booking, or one paid in units).
    const fn no_money(band: CancellationBand) -> CancellationTerms {
        CancellationTerms {
            band,
            fee: Money::zero(),
            refund: Money::zero(),
        }
    }
}

/// Gives up on the card payment of a booking awaiting it: calls off the payment at the
/// provider, then voids the unpaid invoice. `Ok(false)` when the invoice turns out paid (or
/// part paid): the caller treats the booking as paid. A payment the provider says is already
/// completing is a CONFLICT on `field`: its webhook will confirm the booking shortly, and
/// voiding now would leave the school paying for places it no longer holds.
pub(crate) async fn void_unpaid(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    row: &rows::Model,
    field: &str,
) -> Result<bool, DomainError> {
    let Some(invoice_id) = row.invoice_id.map(InvoiceId::from_uuid) else {
        return Ok(true);
    };
    let invoice = billing::ledger::invoices::invoices_by_ids(db, &[invoice_id])
        .await?
        .remove(&invoice_id)
        .ok_or(DomainError::NotFound { entity: "Invoice" })?;
    match invoice.status {
        InvoiceStatus::Void => Ok(true),
        InvoiceStatus::Open if !invoice.paid.is_positive() => {
            if let Some(payment_ref) = row.payment_ref.as_deref()
                && billing::mirror::cancel_card_payment(provider, payment_ref).await?
                    == PaymentCancel::Completed
            {
                return Err(DomainError::invalid(
                    field,
                    ErrorCode::Conflict,
                    "the card payment is completing; the booking will be confirmed shortly",
                ));
            }
            billing::ledger::invoices::void(
                db,
                &Actor::System,
                clock,
                invoice_id,
                "the booking was cancelled before it was paid",
            )
            .await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Settles the money of a cancelled booking inside the cancellation's transaction; returns
/// the CARD refund still to make after the commit.
async fn unwind<C>(
    txn: &C,
    clock: &dyn Clock,
    row: &rows::Model,
    plan: &Plan,
    reason: &str,
) -> Result<Option<Money>, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let booking = Booking::from_row(row.clone())?;
    let held = matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::PendingPayment
    );
    if !held {
        return Ok(None);
    }
    match plan.settlement {
        Some(Settlement::Offer) => {
            if let Some(units) = plan.units
                && units.returned > 0
                && let Some(usage) = row.offer_entry_id.map(OfferEntryId::from_uuid)
            {
                offer::reverse_usage_part(
                    txn,
                    &Actor::System,
                    clock,
                    usage,
                    i64::from(units.returned),
                    Some(reason.to_owned()),
                )
                .await?;
            }
            Ok(None)
        }
        Some(Settlement::Invoice) if booking.gross().is_positive() => {
            let net_terms = plan_terms_on(plan, booking.net());
            billing::charges::cancel_charge(
                txn,
                &Actor::System,
                clock,
                booking.id.as_uuid(),
                net_terms.fee,
                reason,
            )
            .await?;
            Ok(None)
        }
        Some(Settlement::Card) if booking.status == BookingStatus::Confirmed => {
            let (Some(invoice), true) = (booking.invoice_id, plan.terms.refund.is_positive())
            else {
                return Ok(None);
            };
            billing::ledger::credit_notes::credit(
                txn,
                &Actor::System,
                clock,
                NewCreditNote {
                    invoice_id: invoice,
                    reason: format!("booking cancelled: {reason}"),
                    amount: CreditAmount::Amount(plan.terms.refund),
                    idempotency_key: Some(
                        IdempotencyKey::derive("booking_cancel_credit", booking.id)
                            .as_str()
                            .to_owned(),
                    ),
                },
            )
            .await?;
            Ok(Some(plan.terms.refund))
        }
        _ => Ok(None),
    }
}

/// The same band applied to another amount (the net, for invoice charges).
fn plan_terms_on(plan: &Plan, amount: Money) -> CancellationTerms {
    let fee = match plan.terms.band {
        CancellationBand::Free => 0,
        CancellationBand::NoRefund => amount.pence(),
        CancellationBand::Late => {
            let gross = plan.terms.fee.pence() + plan.terms.refund.pence();
            if gross == 0 {
                0
            } else {
                let share = i128::from(amount.pence()) * i128::from(plan.terms.fee.pence());
                i64::try_from((share + i128::from(gross) / 2) / i128::from(gross)).unwrap_or(0)
            }
        }
    };
    CancellationTerms {
        band: plan.terms.band,
        fee: Money::from_pence(fee),
        refund: Money::from_pence(amount.pence() - fee),
    }
}

/// Cancels a booking (or withdraws a request or a waiting-list entry) for the school: its
/// leader, before the session starts. The session's policy decides what comes back; the
/// places freed are offered to the waiting list. For card bookings the refund is made after
/// the commit (`refund_state` says whether it is done).
pub async fn cancel_booking(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    id: BookingId,
    reason: Option<String>,
) -> Result<BookingChange, DomainError> {
    let mut row = own_booking(db, actor, Permission::BookTraded, id).await?;
    let reason = optional_text("reason", reason.as_deref(), REASON_MAX)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let now = clock.now();
    let session = Session::from_row(
        crate::sessions::load_row(db, SessionId::from_uuid(row.session_id))
            .await?
            .ok_or_else(not_found)?,
    )?;
    let status: BookingStatus = stored("booking status", &row.status)?;
    if matches!(
        status,
        BookingStatus::Cancelled | BookingStatus::Attended | BookingStatus::NoShow
    ) {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            format!("a {status} booking cannot be cancelled"),
        ));
    }
    if session.has_started(now) {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            "the session has started: a booking cannot be cancelled once it has begun",
        ));
    }
    if status == BookingStatus::PendingPayment
        && let Some(invoice) = row.invoice_id.map(InvoiceId::from_uuid)
        && !void_unpaid(db, clock, provider, &row, "bookingId").await?
    {
        // Paid meanwhile: confirm it and cancel it as the paid booking it is.
        confirm_paid_bookings(db, clock, &[invoice]).await?;
        row = bookings::load_row(db, id).await?.ok_or_else(not_found)?;
    }
    let booking = Booking::from_row(row.clone())?;
    let unpaid = booking.status == BookingStatus::PendingPayment;
    let days_before = days_until(now, session.starts_at);
    let (terms, units) = if unpaid {
        // Nothing was paid and the invoice is void: nothing to keep or give back.
        (Plan::no_money(CancellationBand::Free), None)
    } else if booking.settlement == Some(Settlement::Offer) {
        // Paid in allowance units: the policy is applied to the units, never to money.
        let units = session.policy.unit_terms(days_before, booking.places);
        (Plan::no_money(units.band), Some(units))
    } else {
        (session.policy.terms(days_before, booking.gross()), None)
    };
    let plan = Plan {
        terms,
        units,
        settlement: booking.settlement,
    };
    let closure = match booking.status {
        BookingStatus::Waitlisted => ClosedReason::LeftWaitlist,
        _ => ClosedReason::CancelledBySchool,
    };
    let text = reason
        .clone()
        .unwrap_or_else(|| "cancelled by the school".to_owned());

    let txn = db.begin_write().await?;
    let locked = lock_booking(&txn, id, row.version).await?;
    let before = snapshot(&txn, id).await?;
    let refund_due = unwind(&txn, clock, &locked, &plan, &text).await?;
    let held = to_u32(locked.places_held);
    let was_settled = matches!(
        booking.status,
        BookingStatus::Confirmed | BookingStatus::PendingPayment
    );
    let closed = close(&txn, actor, now, locked, closure, reason).await?;
    let closed = record_terms(
        &txn,
        closed,
        was_settled.then_some((plan.terms, plan.units)),
        refund_due,
    )
    .await?;
    audit(&txn, actor, clock, Action::Cancel, id, Some(before)).await?;
    crate::events::announce(&txn, EventKind::BookingCancelled, id, now).await?;
    release_places(&txn, session.id, held).await?;
    let offered = offer_free_places(&txn, clock, session.id, now).await?;
    txn.commit().await?;

    let mut booking = Booking::from_row(closed)?;
    if refund_due.is_some() {
        booking = refund_card(db, clock, provider, booking).await;
    }
    Ok(BookingChange {
        booking,
        offered: offered_in_order(db, &offered).await?,
    })
}

/// Records the fee kept and what is given back on a closed booking: money, and for OFFER
/// bookings the allowance units.
async fn record_terms<C: ConnectionTrait>(
    txn: &C,
    row: rows::Model,
    terms: Option<(CancellationTerms, Option<UnitTerms>)>,
    refund_due: Option<Money>,
) -> Result<rows::Model, DomainError> {
    let Some((terms, units)) = terms else {
        return Ok(row);
    };
    let mut active: rows::ActiveModel = row.into();
    active.cancellation_fee_pence = Set(Some(terms.fee.pence()));
    active.refund_pence = Set(Some(terms.refund.pence()));
    if let Some(units) = units {
        active.cancellation_units_kept = Set(Some(stored_units(units.kept)?));
        active.cancellation_units_returned = Set(Some(stored_units(units.returned)?));
    }
    if refund_due.is_some() {
        active.refund_state = Set(Some(RefundState::Pending.as_str().to_owned()));
    }
    Ok(active.update(txn).await?)
}

fn stored_units(units: u32) -> Result<i32, DomainError> {
    i32::try_from(units).map_err(|_| {
        DomainError::internal(kernel::CorruptRow(format!(
            "{units} allowance units do not fit a booking"
        )))
    })
}

/// Returns a cancelled card booking's refund to the card: finds the receipt that paid its
/// invoice (the credit note has released the money to it), asks the provider to refund, and
/// records the refund in the ledger, each step idempotent by a key from the booking. On
/// failure the booking stays `refund_state = PENDING` for [`complete_card_refunds`].
async fn refund_card(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    booking: Booking,
) -> Booking {
    match try_refund_card(db, clock, provider, &booking).await {
        Ok(done) => done,
        Err(err) => {
            tracing::warn!(booking = %booking.id, error = %err.chain(), "card refund not made yet");
            booking
        }
    }
}

async fn try_refund_card(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    booking: &Booking,
) -> Result<Booking, DomainError> {
    let (Some(invoice), Some(amount)) = (booking.invoice_id, booking.refund) else {
        return Ok(booking.clone());
    };
    let allocations = billing::ledger::payments::allocations_of_invoices(db, &[invoice])
        .await?
        .remove(&invoice)
        .unwrap_or_default();
    let payment_id = allocations
        .iter()
        .find(|a| a.amount.is_positive())
        .map(|a| a.payment_id)
        .ok_or_else(|| {
            DomainError::internal(kernel::CorruptRow(format!(
                "paid booking {} has no receipt to refund",
                booking.id
            )))
        })?;
    let payment = billing::ledger::payments::payments_by_ids(db, &[payment_id])
        .await?
        .remove(&payment_id)
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    let reason = format!("booking {} cancelled", booking.id);
    let refunded = provider
        .refund(RefundPayment {
            refund_id: RefundId::from_uuid(booking.id.as_uuid()),
            payment_id,
            payment_ref: payment.provider_payment_ref.clone(),
            amount,
            reason: reason.clone(),
            idempotency_key: IdempotencyKey::derive("booking_refund", booking.id),
        })
        .await
        .map_err(DomainError::internal)?;
    let recorded = billing::ledger::refunds::refund(
        db,
        &Actor::System,
        clock,
        NewRefund {
            payment_id,
            amount,
            reason,
            refunded_on: clock.today(),
            provider_refund_ref: Some(refunded.refund_ref),
            idempotency_key: Some(
                IdempotencyKey::derive("booking_refund_ledger", booking.id)
                    .as_str()
                    .to_owned(),
            ),
        },
    )
    .await;
    if let Err(err) = recorded {
        // The provider's refund webhook may have recorded it first.
        let again = billing::ledger::payments::payments_by_ids(db, &[payment_id])
            .await?
            .remove(&payment_id);
        if again.is_none_or(|p| p.refunded.pence() < amount.pence()) {
            return Err(err);
        }
    }
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, booking.id).await?;
    rows::Entity::update_many()
        .col_expr(
            rows::Column::RefundState,
            Expr::value(RefundState::Done.as_str()),
        )
        .col_expr(rows::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(rows::Column::Id.eq(booking.id.as_uuid()))
        .exec(&txn)
        .await?;
    // Made by Trellis after the cancellation committed, whoever cancelled.
    audit(
        &txn,
        &Actor::System,
        clock,
        Action::Refunded,
        booking.id,
        Some(before),
    )
    .await?;
    txn.commit().await?;
    Booking::from_row(
        bookings::load_row(db, booking.id)
            .await?
            .ok_or_else(not_found)?,
    )
}

/// Makes the card refunds of cancelled bookings that could not be made when they were
/// cancelled (the provider was down): for a scheduled job. Returns the bookings refunded.
pub async fn complete_card_refunds(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
) -> Result<Vec<Booking>, DomainError> {
    let pending = rows::Entity::find()
        .filter(rows::Column::RefundState.eq(RefundState::Pending.as_str()))
        .order_by_asc(rows::Column::UpdatedAt)
        .all(db)
        .await?;
    let mut done = Vec::new();
    for row in pending {
        let booking = Booking::from_row(row)?;
        match try_refund_card(db, clock, provider, &booking).await {
            Ok(refunded) => done.push(refunded),
            Err(err) => {
                tracing::warn!(booking = %booking.id, error = %err.chain(), "card refund still not made");
            }
        }
    }
    Ok(done)
}

/// Cancels a session: its provider (partnership admins). Every booking gets everything
/// back — allowance reversed, charges withdrawn or fully credited, card payments refunded —
/// and requests and waiting-list entries are closed. Refused once the session has started.
pub async fn cancel_session(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    id: SessionId,
    reason: &str,
) -> Result<SessionChange, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let reason = kernel::required_text("reason", reason, REASON_MAX)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let now = clock.now();
    let session = Session::from_row(crate::sessions::load_row(db, id).await?.ok_or(
        DomainError::NotFound {
            entity: "TradedSession",
        },
    )?)?;
    if session.status == SessionStatus::Cancelled {
        return Err(DomainError::invalid(
            "sessionId",
            ErrorCode::Conflict,
            "the session is already cancelled",
        ));
    }
    if session.has_started(now) {
        return Err(DomainError::invalid(
            "sessionId",
            ErrorCode::Conflict,
            "the session has started and cannot be cancelled",
        ));
    }
    // Unpaid card invoices are voided first (billing's own transactions); one that turns
    // out paid is confirmed and refunded in full with the rest.
    let live = live_bookings(db, id).await?;
    for row in &live {
        if row.status == BookingStatus::PendingPayment.as_str()
            && let Some(invoice) = row.invoice_id.map(InvoiceId::from_uuid)
            && !void_unpaid(db, clock, provider, row, "sessionId").await?
        {
            confirm_paid_bookings(db, clock, &[invoice]).await?;
        }
    }

    let txn = db.begin_write().await?;
    let marked = session_rows::Entity::update_many()
        .col_expr(
            session_rows::Column::Status,
            Expr::value(SessionStatus::Cancelled.as_str()),
        )
        .col_expr(session_rows::Column::CancelledAt, Expr::value(now))
        .col_expr(
            session_rows::Column::CancelledReason,
            Expr::value(reason.clone()),
        )
        .col_expr(session_rows::Column::UpdatedAt, Expr::value(now))
        .filter(session_rows::Column::Id.eq(id.as_uuid()))
        .filter(session_rows::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(DomainError::invalid(
            "sessionId",
            ErrorCode::Conflict,
            "the session is already cancelled",
        ));
    }
    let mut refunds = Vec::new();
    let mut changed = Vec::new();
    for row in live_bookings(&txn, id).await? {
        let booking = Booking::from_row(row.clone())?;
        let locked = lock_booking(&txn, booking.id, row.version).await?;
        let before = snapshot(&txn, booking.id).await?;
        let unpaid = booking.status == BookingStatus::PendingPayment;
        let (terms, units) = if booking.settlement == Some(Settlement::Offer) {
            // Everything back in units; nothing was paid in money.
            (
                Plan::no_money(CancellationBand::Free),
                Some(CancellationPolicy::all_units_back(booking.places)),
            )
        } else {
            let refund = if unpaid {
                Money::zero()
            } else {
                booking.gross()
            };
            (
                CancellationTerms {
                    band: CancellationBand::Free,
                    fee: Money::zero(),
                    refund,
                },
                None,
            )
        };
        let plan = Plan {
            terms,
            units,
            settlement: booking.settlement,
        };
        let text = format!("session cancelled by the provider: {reason}");
        let refund_due = unwind(&txn, clock, &locked, &plan, &text).await?;
        let held = to_u32(locked.places_held);
        let settled = matches!(
            booking.status,
            BookingStatus::Confirmed | BookingStatus::PendingPayment
        );
        let closed = close(
            &txn,
            actor,
            now,
            locked,
            ClosedReason::SessionCancelled,
            Some(reason.clone()),
        )
        .await?;
        let closed =
            record_terms(&txn, closed, settled.then_some((terms, units)), refund_due).await?;
        audit(
            &txn,
            actor,
            clock,
            Action::SessionCancelled,
            booking.id,
            Some(before),
        )
        .await?;
        crate::events::announce(&txn, EventKind::SessionCancelled, booking.id, now).await?;
        release_places(&txn, id, held).await?;
        if refund_due.is_some() {
            refunds.push(BookingId::from_uuid(closed.id));
        }
        changed.push(Booking::from_row(closed)?);
    }
    txn.commit().await?;
    for booking in &mut changed {
        if refunds.contains(&booking.id) {
            *booking = refund_card(db, clock, provider, booking.clone()).await;
        }
    }
    let session = Session::from_row(crate::sessions::load_row(db, id).await?.ok_or(
        DomainError::NotFound {
            entity: "TradedSession",
        },
    )?)?;
    Ok(SessionChange {
        session,
        bookings: changed,
    })
}

async fn live_bookings<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
) -> Result<Vec<rows::Model>, DomainError> {
    Ok(rows::Entity::find()
        .filter(rows::Column::SessionId.eq(session.as_uuid()))
        .filter(rows::Column::Status.ne(BookingStatus::Cancelled.as_str()))
        .order_by_asc(rows::Column::Id)
        .all(db)
        .await?)
}

/// When the policy's free cancellation ends for a session, for portals ("free until …").
#[must_use]
pub fn free_cancellation_until(session: &Session) -> DateTime<Utc> {
    session.starts_at - chrono::Duration::days(i64::from(session.policy.free_until_days))
}

/// Gives up on card bookings whose payment has not arrived within `older_than` of the
/// booking entering PENDING_PAYMENT: for a scheduled job. The unpaid invoice is voided
/// through billing first (billing refuses when money moved, and then the booking is left
/// alone — or confirmed, if the invoice turns out paid); then the booking is cancelled
/// (UNPAID), its places freed and offered to the waiting list. Rerunnable: a booking whose
/// invoice was voided by an interrupted run is cancelled by the next. Returns every booking
/// it changed (cancelled, confirmed, or offered places).
pub async fn release_unpaid_bookings(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    older_than: Duration,
) -> Result<Vec<Booking>, DomainError> {
    let cutoff = clock.now() - older_than;
    let stale = rows::Entity::find()
        .filter(rows::Column::Status.eq(BookingStatus::PendingPayment.as_str()))
        .filter(rows::Column::UpdatedAt.lt(cutoff))
        .order_by_asc(rows::Column::UpdatedAt)
        .all(db)
        .await?;
    let mut changed = Vec::new();
    for row in stale {
        let Some(invoice_id) = row.invoice_id.map(InvoiceId::from_uuid) else {
            continue;
        };
        match void_unpaid(db, clock, provider, &row, "bookingId").await {
            Ok(true) => {}
            Ok(false) => {
                // Paid after all: confirmed if in full; part paid is finance's call.
                changed.extend(confirm_paid_bookings(db, clock, &[invoice_id]).await?);
                continue;
            }
            Err(err) => {
                // The payment is completing, or the provider or the void failed: the next
                // sweep looks again.
                tracing::warn!(booking = %row.id, error = %err.chain(), "unpaid booking not released");
                continue;
            }
        }
        let txn = db.begin_write().await?;
        let locked = match lock_booking(&txn, BookingId::from_uuid(row.id), row.version).await {
            Ok(locked) => locked,
            Err(DomainError::Invalid(_)) => continue,
            Err(err) => return Err(err),
        };
        let id = BookingId::from_uuid(locked.id);
        let before = snapshot(&txn, id).await?;
        let held = u32::try_from(locked.places_held).unwrap_or(0);
        let session = kernel::SessionId::from_uuid(locked.session_id);
        let closed = close(
            &txn,
            &Actor::System,
            clock.now(),
            locked,
            ClosedReason::Unpaid,
            Some("the card payment never completed".to_owned()),
        )
        .await?;
        audit(
            &txn,
            &Actor::System,
            clock,
            Action::Released,
            id,
            Some(before),
        )
        .await?;
        release_places(&txn, session, held).await?;
        let offered = offer_free_places(&txn, clock, session, clock.now()).await?;
        txn.commit().await?;
        changed.push(Booking::from_row(closed)?);
        changed.extend(offered_in_order(db, &offered).await?);
    }
    Ok(changed)
}
