//! The waiting list: bookings in status WAITLISTED, in the order they joined.
//!
//! Whenever places are freed (a cancellation, an unpaid booking released, an offer declined
//! or expired, capacity added) they are offered, in the same transaction, to the waiting
//! entries in order: each entry that fits is offered its places, which are held for it until
//! the offer expires (the session's `waitlist_offer_hours`, never past the start). The school
//! accepts — settling as a booking does — or declines; [`expire_waitlist_offers`] (a
//! scheduled job) passes unanswered offers on; an entry may leave the list at any time.
//!
//! **Fairness.** First come, first offered; but a group entry that does not fit the places
//! free keeps its place in the queue without blocking smaller entries behind it — otherwise
//! one entry for six would leave a single freed place unused until the session starts. The
//! group is offered places as soon as enough are free at once (and freed places are offered
//! before new bookings can take them, since they are held the moment they are offered).
//! An expired or declined offer takes the entry off the list: offering the same places to it
//! again would only repeat the wait.

use chrono::{DateTime, Duration, Utc};
use kernel::BeginWrite as _;
use kernel::outbox::EventKind;
use kernel::{Actor, BookingId, Clock, DomainError, ErrorCode, Permission, Problems, SessionId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::book::{BookingOutcome, Target, close, outcome, own_booking, price, target};
use crate::bookings::{Booking, bookings_by_ids};
use crate::entity::{bookings as rows, sessions};
use crate::history::{Action, audit, snapshot};
use crate::hold::{lock_booking, release_places, take_places};
use crate::settlement::{check_settlement, settle_in, start_card};
use crate::support::{optional_text, stored, to_u32};
use crate::types::{BookingStatus, ClosedReason, SessionStatus, Settlement};
use billing::provider::PaymentProvider;

/// A booking that changed, and the waiting-list entries offered the places it freed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingChange {
    pub booking: Booking,
    /// Entries that were offered places as a result: each school should hear of it.
    pub offered: Vec<Booking>,
}

/// How a school takes up places offered from the waiting list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaitlistAcceptance {
    /// `None`: the settlement the entry asked for when it joined.
    pub settlement: Option<Settlement>,
    /// `None`: the PO number the entry gave when it joined.
    pub po_number: Option<String>,
}

/// Offers the session's free places to waiting entries in order, holding them; returns the
/// entries offered. Runs inside the transaction that freed the places; each offer is in its
/// entry's trail as the system's (whoever freed the places did not choose who gets them).
pub(crate) async fn offer_free_places<C: ConnectionTrait>(
    txn: &C,
    clock: &dyn Clock,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<Vec<BookingId>, DomainError> {
    let Some(session) = sessions::Entity::find_by_id(session_id.as_uuid())
        .one(txn)
        .await?
    else {
        return Ok(Vec::new());
    };
    if session.status != SessionStatus::Scheduled.as_str() || now >= session.starts_at {
        return Ok(Vec::new());
    }
    let mut free = to_u32(session.capacity).saturating_sub(to_u32(session.places_taken));
    if free == 0 {
        return Ok(Vec::new());
    }
    let waiting = rows::Entity::find()
        .filter(rows::Column::SessionId.eq(session_id.as_uuid()))
        .filter(rows::Column::Status.eq(BookingStatus::Waitlisted.as_str()))
        .filter(rows::Column::OfferExpiresAt.is_null())
        .order_by_asc(rows::Column::WaitlistedAt)
        .order_by_asc(rows::Column::Id)
        .all(txn)
        .await?;
    let expires =
        (now + Duration::hours(i64::from(session.waitlist_offer_hours))).min(session.starts_at);
    let mut offered = Vec::new();
    for entry in waiting {
        let places = to_u32(entry.places);
        if places == 0 || places > free {
            continue;
        }
        if !take_places(txn, session_id, places).await? {
            break;
        }
        let id = BookingId::from_uuid(entry.id);
        let locked = lock_booking(txn, id, entry.version).await?;
        let before = snapshot(txn, id).await?;
        let mut active: rows::ActiveModel = locked.into();
        active.places_held = Set(entry.places);
        active.offered_at = Set(Some(now));
        active.offer_expires_at = Set(Some(expires));
        active.updated_at = Set(now);
        active.update(txn).await?;
        audit(
            txn,
            &Actor::System,
            clock,
            Action::Offered,
            id,
            Some(before),
        )
        .await?;
        crate::events::announce(txn, EventKind::WaitlistPlaceOffered, id, now).await?;
        offered.push(id);
        free -= places;
        if free == 0 {
            break;
        }
    }
    Ok(offered)
}

/// The bookings offered places, in the order they were offered them (queue order).
pub(crate) async fn offered_in_order(
    db: &DatabaseConnection,
    ids: &[BookingId],
) -> Result<Vec<Booking>, DomainError> {
    let mut found = bookings_by_ids(db, ids).await?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
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
