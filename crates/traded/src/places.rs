//! Freed places go to the waiting list first.
//!
//! Whenever places are freed (a cancellation, an unpaid booking released, an offer declined
//! or expired, capacity added) they are offered, in the same transaction, to the waiting
//! entries in order: each entry that fits is offered its places, which are held for it until
//! the offer expires (the session's `waitlist_offer_hours`, never past the start).
//!
//! **Fairness.** First come, first offered; but a group entry that does not fit the places
//! free keeps its place in the queue without blocking smaller entries behind it — otherwise
//! one entry for six would leave a single freed place unused until the session starts. The
//! group is offered places as soon as enough are free at once (and freed places are offered
//! before new bookings can take them, since they are held the moment they are offered).

use chrono::{DateTime, Duration, Utc};
use kernel::outbox::EventKind;
use kernel::{Actor, BookingId, Clock, DomainError, SessionId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::bookings::{Booking, bookings_by_ids};
use crate::entity::{bookings as rows, sessions};
use crate::history::{Action, audit, snapshot};
use crate::hold::{lock_booking, take_places};
use crate::support::to_u32;
use crate::types::{BookingStatus, SessionStatus};

/// A booking that changed, and the waiting-list entries offered the places it freed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingChange {
    pub booking: Booking,
    /// Entries that were offered places as a result: each school should hear of it.
    pub offered: Vec<Booking>,
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
