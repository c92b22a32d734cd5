//! Paying for a booking, chosen per booking:
//!
//! * **OFFER** — the service's core-offer item pays: `offer::record_usage` runs inside the
//!   booking's transaction (a savepoint), one unit per place. If the allowance has run out
//!   the whole booking fails and nothing is held.
//! * **INVOICE** — one charge per booking on the school's consolidated termly invoice,
//!   through `billing::charges`, inside the booking's transaction.
//! * **CARD** — a one-off invoice for the booking is issued inside the transaction and the
//!   booking waits in PENDING_PAYMENT holding its places; after the commit the PaymentIntent
//!   is started (never inside a transaction). When the payment lands (a webhook applied by
//!   billing), [`confirm_paid_bookings`] confirms it; [`crate::cancellation::release_unpaid_bookings`] gives up
//!   on payments that never come, calling the PaymentIntent off first so the school cannot
//!   pay for places it no longer holds (one already completing keeps its booking).
//!
//! Settling twice is refused: a settled booking is CONFLICT for every payment entry point.

use billing::ledger::InvoiceStatus;
use billing::ledger::invoices::{
    Instalment, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine,
};
use billing::provider::{PaymentProvider, ProviderPayment};
use kernel::BeginWrite as _;
use kernel::{
    Actor, BookingId, Clock, DomainError, ErrorCode, FieldError, InvoiceId, Money, Permission,
    Problems, SchoolId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};

use crate::bookings::Booking;
use crate::catalogue::Service;
use crate::entity::bookings as rows;
use crate::history::{Action, audit, snapshot};
use crate::lifecycle::own_booking;
use crate::sessions::Session;
use crate::support::stored;
use crate::types::{BookingStatus, Settlement};

/// A card payment in progress: what the portal needs to complete it with Stripe.js.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPayment {
    pub booking_id: BookingId,
    /// The one-off invoice the card pays.
    pub invoice_id: InvoiceId,
    pub payment: ProviderPayment,
}

impl CardPayment {
    /// The PaymentIntent's client secret, when the payer must act.
    #[must_use]
    pub fn client_secret(&self) -> Option<&str> {
        match &self.payment.outcome {
            billing::provider::PaymentOutcome::RequiresAction { client_secret } => {
                Some(client_secret)
            }
            _ => None,
        }
    }
}

/// Checks that `settlement` can pay for this booking, before anything is written: CARD only
/// where `provider` takes cards (a payment nobody can complete would hold places for
/// nothing), INVOICE and CARD only for a school with a billing account.
pub(crate) async fn check_settlement(
    db: &DatabaseConnection,
    problems: &mut Problems,
    provider: &dyn PaymentProvider,
    service: &Service,
    school: SchoolId,
    settlement: Settlement,
    gross: Money,
) -> Result<(), DomainError> {
    if settlement == Settlement::Card && !provider.takes_cards() {
        problems.add(
            "settlement",
            ErrorCode::Invalid,
            "card payment is not available: no payment provider is configured; choose INVOICE \
             (or OFFER where the core offer pays)",
        );
    }
    match settlement {
        Settlement::Offer => {
            if service.offer_item_id.is_none() {
                problems.add(
                    "settlement",
                    ErrorCode::Invalid,
                    "this service cannot be paid for from the core offer",
                );
            }
        }
        Settlement::Invoice | Settlement::Card => {
            if gross.is_positive()
                && billing::ledger::accounts::account_for_school(db, school)
                    .await?
                    .is_none()
            {
                problems.add(
                    "settlement",
                    ErrorCode::Conflict,
                    "the school has no billing account to invoice: ask the partnership's finance team",
                );
            }
        }
    }
    Ok(())
}

/// What settling wrote.
#[derive(Debug)]
pub(crate) struct Settled {
    /// The invoice to start a card payment for, after the commit.
    pub(crate) card_invoice: Option<InvoiceId>,
}

/// An error of the settlement's own service, reported on `settlement` (its message says what
/// ran out), so the gateway's userError points at the choice the school can change.
fn on_settlement(err: DomainError) -> DomainError {
    match err {
        DomainError::Invalid(fields) => DomainError::Invalid(
            fields
                .into_iter()
                .map(|f| FieldError::new("settlement", f.code, f.message))
                .collect(),
        ),
        other => other,
    }
}

/// Settles a booking that holds its places, inside its transaction; updates the row with
/// what paid (usage, invoice) and the status that follows.
pub(crate) async fn settle_in<C>(
    txn: &C,
    clock: &dyn Clock,
    row: rows::Model,
    service: &Service,
    session: &Session,
    settlement: Settlement,
) -> Result<Settled, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let booking = Booking::from_row(row.clone())?;
    let mut active: rows::ActiveModel = row.into();
    active.settlement = Set(Some(settlement.as_str().to_owned()));
    let mut card_invoice = None;
    let status = match settlement {
        Settlement::Offer => {
            let item = service.offer_item_id.ok_or_else(|| {
                DomainError::invalid(
                    "settlement",
                    ErrorCode::Invalid,
                    "this service cannot be paid for from the core offer",
                )
            })?;
            let usage = offer::record_usage(
                txn,
                &Actor::System,
                clock,
                offer::NewUsage {
                    school_id: booking.school_id,
                    item_id: item,
                    quantity: i64::from(booking.places),
                    occurred_on: session.starts_at.date_naive(),
                    reference: Some(format!("booking {}", booking.id)),
                    reason: Some(service.title.clone()),
                },
            )
            .await
            .map_err(on_settlement)?;
            active.offer_entry_id = Set(Some(usage.id.as_uuid()));
            BookingStatus::Confirmed
        }
        Settlement::Invoice => {
            if booking.gross().is_positive() {
                billing::charges::add_charge(
                    txn,
                    &Actor::System,
                    clock,
                    billing::charges::NewCharge {
                        school_id: booking.school_id,
                        booking_id: booking.id.as_uuid(),
                        occurred_on: session.starts_at.date_naive(),
                        description: line_description(service, session, booking.places),
                        quantity: booking.places,
                        unit_amount: booking.unit_price,
                        vat_treatment: booking.vat_treatment,
                        vat_rate_bp: booking.vat_rate_bp,
                        cfr_code: service.cfr_code.clone(),
                        po_number: booking.po_number.clone(),
                    },
                )
                .await
                .map_err(on_settlement)?;
            }
            BookingStatus::Confirmed
        }
        Settlement::Card if booking.gross().is_positive() => {
            let account = billing::ledger::accounts::account_for_school(txn, booking.school_id)
                .await?
                .ok_or_else(|| {
                    DomainError::invalid(
                        "settlement",
                        ErrorCode::Conflict,
                        "the school has no billing account to invoice",
                    )
                })?;
            let issued = billing::ledger::issue_invoice(
                txn,
                &Actor::System,
                clock,
                NewInvoice {
                    account_id: account.id,
                    year: session.academic_year,
                    instalment: Instalment::None,
                    due_on: clock.today(),
                    lines: vec![NewInvoiceLine {
                        description: line_description(service, session, booking.places),
                        quantity: booking.places,
                        unit_amount: booking.unit_price,
                        vat_treatment: booking.vat_treatment,
                        vat_rate_bp: booking.vat_rate_bp,
                        cfr_code: service.cfr_code.clone(),
                        school_id: Some(booking.school_id),
                        membership_id: None,
                        booking_id: Some(booking.id.as_uuid()),
                    }],
                    po_number: booking.po_number.clone(),
                    source: InvoiceSource::Booking,
                    collection: InvoiceCollection::Card,
                },
            )
            .await
            .map_err(on_settlement)?;
            active.invoice_id = Set(Some(issued.invoice.id.as_uuid()));
            card_invoice = Some(issued.invoice.id);
            BookingStatus::PendingPayment
        }
        // Nothing to pay: a free place.
        Settlement::Card => BookingStatus::Confirmed,
    };
    active.status = Set(status.as_str().to_owned());
    active.updated_at = Set(clock.now());
    active.update(txn).await?;
    Ok(Settled { card_invoice })
}

/// How a booking reads on an invoice: the service, its first day, and the places.
pub(crate) fn line_description(service: &Service, session: &Session, places: u32) -> String {
    let plural = if places == 1 { "place" } else { "places" };
    format!(
        "{} ({}), {} — {places} {plural}",
        service.title,
        service.code,
        session.starts_at.format("%-d %B %Y")
    )
}

/// The idempotency key of a booking's card payment: a retry is the same PaymentIntent.
fn card_key(booking: BookingId) -> String {
    format!("booking-{booking}")
}

/// Records which provider payment a card booking started, so a release or cancellation can
/// call it off, and who started it (the booking's trail). Leaves the version and `updated_at`
/// alone: resuming a payment must not extend how long the booking holds its places.
async fn remember_payment(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    booking: BookingId,
    payment_ref: &str,
) -> Result<(), DomainError> {
    let txn = db.begin_write().await?;
    let before = snapshot(&txn, booking).await?;
    rows::Entity::update_many()
        .col_expr(rows::Column::PaymentRef, Expr::value(payment_ref))
        .filter(rows::Column::Id.eq(booking.as_uuid()))
        .exec(&txn)
        .await?;
    audit(
        &txn,
        actor,
        clock,
        Action::CardPayment,
        booking,
        Some(before),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Starts the card payment after the booking committed. A provider failure is logged and
/// reported as `None`: the booking stands (PENDING_PAYMENT) and the school retries with
/// [`pay_booking_by_card`], which reuses the same PaymentIntent.
pub(crate) async fn start_card(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    booking: BookingId,
    invoice: InvoiceId,
) -> Option<CardPayment> {
    match billing::mirror::start_card_payment(
        db,
        actor,
        clock,
        provider,
        invoice,
        &card_key(booking),
    )
    .await
    {
        Ok(payment) => {
            if let Err(err) =
                remember_payment(db, actor, clock, booking, &payment.payment_ref).await
            {
                tracing::warn!(%booking, error = %err.chain(), "card payment not remembered");
            }
            Some(CardPayment {
                booking_id: booking,
                invoice_id: invoice,
                payment,
            })
        }
        Err(err) => {
            tracing::warn!(%booking, error = %err.chain(), "card payment not started");
            None
        }
    }
}

/// Starts (or resumes) the card payment of a booking awaiting it: the booking school's
/// leader. A booking already settled is CONFLICT: nothing is paid twice.
pub async fn pay_booking_by_card(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    id: BookingId,
) -> Result<CardPayment, DomainError> {
    let row = own_booking(db, actor, Permission::BookTraded, id).await?;
    if !provider.takes_cards() {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Invalid,
            "card payment is not available: no payment provider is configured; pay the \
             booking's invoice by transfer",
        ));
    }
    let status: BookingStatus = stored("booking status", &row.status)?;
    let invoice = match (status, row.invoice_id) {
        (BookingStatus::PendingPayment, Some(invoice)) => InvoiceId::from_uuid(invoice),
        (BookingStatus::Confirmed | BookingStatus::Attended | BookingStatus::NoShow, _) => {
            return Err(DomainError::invalid(
                "bookingId",
                ErrorCode::Conflict,
                "the booking is already settled",
            ));
        }
        _ => {
            return Err(DomainError::invalid(
                "bookingId",
                ErrorCode::Conflict,
                format!("a {status} booking has nothing to pay by card"),
            ));
        }
    };
    let payment =
        billing::mirror::start_card_payment(db, actor, clock, provider, invoice, &card_key(id))
            .await?;
    remember_payment(db, actor, clock, id, &payment.payment_ref).await?;
    Ok(CardPayment {
        booking_id: id,
        invoice_id: invoice,
        payment,
    })
}

/// Confirms bookings awaiting card payment whose invoice is now PAID. Idempotent: the gateway
/// calls it after applying a payment webhook, with the invoices the webhook touched. Returns
/// the bookings it confirmed.
pub async fn confirm_paid_bookings(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    invoices: &[InvoiceId],
) -> Result<Vec<Booking>, DomainError> {
    if invoices.is_empty() {
        return Ok(Vec::new());
    }
    let waiting = rows::Entity::find()
        .filter(rows::Column::InvoiceId.is_in(invoices.iter().map(InvoiceId::as_uuid)))
        .filter(rows::Column::Status.eq(BookingStatus::PendingPayment.as_str()))
        .all(db)
        .await?;
    let paid = billing::ledger::invoices::invoices_by_ids(db, invoices).await?;
    let mut confirmed = Vec::new();
    for row in waiting {
        let Some(invoice) = row.invoice_id.map(InvoiceId::from_uuid) else {
            continue;
        };
        if paid.get(&invoice).map(|i| i.status) != Some(InvoiceStatus::Paid) {
            continue;
        }
        // The confirmation, its announcement and its trail entry commit together.
        let id = kernel::BookingId::from_uuid(row.id);
        let txn = db.begin_write().await?;
        let before = snapshot(&txn, id).await?;
        let changed = rows::Entity::update_many()
            .col_expr(
                rows::Column::Status,
                Expr::value(BookingStatus::Confirmed.as_str()),
            )
            .col_expr(rows::Column::UpdatedAt, Expr::value(clock.now()))
            .col_expr(
                rows::Column::Version,
                Expr::col(rows::Column::Version).add(1),
            )
            .filter(rows::Column::Id.eq(row.id))
            .filter(rows::Column::Status.eq(BookingStatus::PendingPayment.as_str()))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 1 {
            audit(&txn, &Actor::System, clock, Action::Paid, id, Some(before)).await?;
            crate::events::announce(
                &txn,
                kernel::outbox::EventKind::BookingConfirmed,
                id,
                clock.now(),
            )
            .await?;
        }
        txn.commit().await?;
        if changed.rows_affected == 1
            && let Some(updated) = rows::Entity::find_by_id(row.id).one(db).await?
        {
            confirmed.push(Booking::from_row(updated)?);
        }
    }
    Ok(confirmed)
}
