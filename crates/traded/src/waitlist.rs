//! The waiting list: bookings in status WAITLISTED, in the order they joined.
//!
//! Freed places are offered to the entries in order by [`crate::places`], holding them until
//! the offer expires. The school accepts — settling as a booking does — or declines;
//! [`expire_waitlist_offers`] (a scheduled job) passes unanswered offers on; an entry may
//! leave the list at any time. An expired or declined offer takes the entry off the list:
//! offering the same places to it again would only repeat the wait.

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::outbox::EventKind;
use kernel::{Actor, BookingId, Clock, DomainError, ErrorCode, Permission, Problems, SessionId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::book::{BookingOutcome, outcome};
use crate::bookings::Booking;
use crate::entity::bookings as rows;
use crate::history::{Action, audit, snapshot};
use crate::hold::{lock_booking, release_places};
use crate::lifecycle::{Target, close, own_booking, price, target};
use crate::places::{BookingChange, offer_free_places, offered_in_order};
use crate::settlement::{check_settlement, settle_in, start_card};
use crate::support::{optional_text, stored, to_u32};
use crate::types::{BookingStatus, ClosedReason, Settlement};
use billing::provider::PaymentProvider;

/// How a school takes up places offered from the waiting list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitlistAcceptance {
    /// `None`: the settlement the entry asked for when it joined.
    pub settlement: Option<Settlement>,
    /// `None`: the PO number the entry gave when it joined.
    pub po_number: Option<String>,
}

/// A waiting entry of the actor's school, checked to be on the list.
async fn own_entry(
    db: &DatabaseConnection,
    actor: &Actor,
    id: BookingId,
) -> Result<rows::Model, DomainError> {
    let row = own_booking(db, actor, Permission::BookTraded, id).await?;
    let status: BookingStatus = stored("booking status", &row.status)?;
    if status == BookingStatus::Waitlisted {
        Ok(row)
    } else {
        Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            format!("the booking is {status}, not on the waiting list"),
        ))
    }
}

fn open_offer(row: &rows::Model, now: DateTime<Utc>) -> bool {
    row.offer_expires_at.is_some_and(|expiry| now < expiry)
}

/// Takes up the places offered to a waiting entry: the school's leader, before the offer
/// expires. Settles exactly as a booking does (the places are already held for it).
pub async fn accept_waitlist_offer(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    id: BookingId,
    acceptance: WaitlistAcceptance,
) -> Result<BookingOutcome, DomainError> {
    let row = own_entry(db, actor, id).await?;
    let now = clock.now();
    let mut problems = Problems::new();
    if !open_offer(&row, now) {
        problems.add(
            "bookingId",
            ErrorCode::Conflict,
            if row.offer_expires_at.is_some() {
                "the offer has expired"
            } else {
                "no places have been offered to this entry yet"
            },
        );
    }
    let stored_settlement: Option<Settlement> = row
        .settlement
        .as_deref()
        .map(|s| stored("settlement", s))
        .transpose()?;
    let settlement = acceptance.settlement.or(stored_settlement);
    if settlement.is_none() {
        problems.add("settlement", ErrorCode::Required, "choose how to pay");
    }
    let po_number = match &acceptance.po_number {
        Some(po) => problems.check(optional_text("poNumber", Some(po), 50)),
        None => Some(row.po_number.clone()),
    };
    let school = kernel::SchoolId::from_uuid(row.school_id);
    // The booking deadline does not apply: the offer was made in time and is held for it.
    let mut ignored = Problems::new();
    let target = target(
        db,
        actor,
        &mut ignored,
        SessionId::from_uuid(row.session_id),
        now,
    )
    .await?;
    if target.is_none() {
        problems.add(
            "bookingId",
            ErrorCode::Conflict,
            "the session is no longer open for booking",
        );
    }
    let priced = match &target {
        Some(t) => problems.check(price(db, &t.service, &t.session, school).await?),
        None => None,
    };
    if let (Some(t), Some(p), Some(s)) = (&target, &priced, settlement) {
        check_settlement(
            db,
            &mut problems,
            provider,
            &t.service,
            school,
            s,
            p.gross(to_u32(row.places)),
        )
        .await?;
    }
    let (Target { session, service }, priced, settlement, po_number) =
        problems.finish_with((target, priced, settlement, po_number))?;

    let txn = db.begin_write().await?;
    let locked = lock_booking(&txn, id, row.version).await?;
    if !open_offer(&locked, clock.now()) {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            "the offer has expired",
        ));
    }
    let before = snapshot(&txn, id).await?;
    let mut active: rows::ActiveModel = locked.into();
    active.price_basis = Set(priced.basis.as_str().to_owned());
    active.unit_price_pence = Set(priced.unit.pence());
    active.vat_treatment = Set(priced.vat_treatment.as_str().to_owned());
    active.vat_rate_bp = Set(crate::support::to_i32(priced.vat_rate_bp));
    active.po_number = Set(po_number);
    active.booked_by = Set(crate::support::recorder(actor).map(|u| u.as_uuid()));
    active.offer_expires_at = Set(None);
    let updated = active.update(&txn).await?;
    let card = settle_in(&txn, clock, updated, &service, &session, settlement)
        .await?
        .card_invoice;
    audit(&txn, actor, clock, Action::WaitlistAccept, id, Some(before)).await?;
    crate::events::announce_placed(&txn, id, true, card.is_some(), clock.now()).await?;
    txn.commit().await?;
    let card_payment = match card {
        Some(invoice) => start_card(db, actor, clock, provider, id, invoice).await,
        None => None,
    };
    outcome(db, id, card_payment).await
}

/// Ends a waiting entry (declined offer, self-removal, expiry), gives back what it held and
/// passes the places on.
async fn end_entry(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    row: rows::Model,
    reason: ClosedReason,
) -> Result<BookingChange, DomainError> {
    let now = clock.now();
    let session = SessionId::from_uuid(row.session_id);
    let action = match reason {
        ClosedReason::OfferDeclined => Action::WaitlistDecline,
        ClosedReason::OfferExpired => Action::OfferExpired,
        _ => Action::WaitlistLeave,
    };
    let txn = db.begin_write().await?;
    let id = BookingId::from_uuid(row.id);
    let locked = lock_booking(&txn, id, row.version).await?;
    let before = snapshot(&txn, id).await?;
    let held = to_u32(locked.places_held);
    let closed = close(&txn, actor, now, locked, reason, None).await?;
    audit(&txn, actor, clock, action, id, Some(before)).await?;
    if matches!(
        reason,
        ClosedReason::OfferExpired | ClosedReason::OfferDeclined
    ) {
        crate::events::announce(&txn, EventKind::WaitlistOfferLapsed, id, now).await?;
    }
    release_places(&txn, session, held).await?;
    let offered = offer_free_places(&txn, clock, session, now).await?;
    txn.commit().await?;
    Ok(BookingChange {
        booking: Booking::from_row(closed)?,
        offered: offered_in_order(db, &offered).await?,
    })
}

/// Declines places offered from the waiting list; they go to the next entry.
pub async fn decline_waitlist_offer(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: BookingId,
) -> Result<BookingChange, DomainError> {
    let row = own_entry(db, actor, id).await?;
    if row.offer_expires_at.is_none() {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            "no places have been offered to this entry",
        ));
    }
    end_entry(db, actor, clock, row, ClosedReason::OfferDeclined).await
}

/// Takes an entry off the waiting list (with any places on offer to it, which pass on).
pub async fn leave_waitlist(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: BookingId,
) -> Result<BookingChange, DomainError> {
    let row = own_entry(db, actor, id).await?;
    end_entry(db, actor, clock, row, ClosedReason::LeftWaitlist).await
}

/// Passes on every waiting-list offer left unanswered past its expiry: for a scheduled job.
/// Returns each change (the expired entry and whoever was offered its places next).
pub async fn expire_waitlist_offers(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<Vec<BookingChange>, DomainError> {
    let now = clock.now();
    let expired = rows::Entity::find()
        .filter(rows::Column::Status.eq(BookingStatus::Waitlisted.as_str()))
        .filter(rows::Column::OfferExpiresAt.lte(now))
        .order_by_asc(rows::Column::OfferExpiresAt)
        .all(db)
        .await?;
    let mut changes = Vec::new();
    for row in expired {
        match end_entry(db, &Actor::System, clock, row, ClosedReason::OfferExpired).await {
            Ok(change) => changes.push(change),
            // Accepted or withdrawn meanwhile: nothing to expire.
            Err(DomainError::Invalid(_)) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(changes)
}
