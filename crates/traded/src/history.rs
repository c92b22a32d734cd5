//! A booking's history in the audit trail (`kernel::audit`): who booked, approved, paid,
//! replaced an attendee, marked the register or cancelled, and when, with the booking before
//! and after each change.
//!
//! Every write to a booking records one entry in the transaction of the change, so the change
//! and its entry commit or vanish together. The actions are the variants of [`Action`]; the
//! system's own steps (card payments landing, unpaid bookings released, waiting-list offers
//! made or lapsing, card refunds completed) are recorded as [`Actor::System`].

use std::collections::HashMap;

use kernel::{Actor, BookingId, Clock, DomainError};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

use crate::bookings::{
    Attendee, Booking, attendees_of_bookings, bookings_by_ids, load_row, not_found,
};

/// How bookings are named in the audit trail.
pub const AUDIT_ENTITY: &str = "BOOKING";

/// What was done to a booking, as its trail names it (`Entry::action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A leader booked places (confirmed, awaiting card payment, or on the waiting list).
    Create,
    /// A member of staff asked for places, for their leader to approve.
    Request,
    /// A leader approved a request (settled, or put on the waiting list when full).
    Approve,
    /// A leader declined a request.
    Decline,
    /// Someone else took an attendee's place.
    Substitute,
    /// The school cancelled the booking, or withdrew its request or waiting-list entry.
    Cancel,
    /// The provider cancelled the session: everything back.
    SessionCancelled,
    /// A card payment was started (or resumed) for the booking.
    CardPayment,
    /// The card payment landed: the booking is confirmed (the system).
    Paid,
    /// The card payment never came: the booking was released (the system).
    Released,
    /// Places freed on the session were offered to this waiting-list entry (the system).
    Offered,
    /// The school accepted a waiting-list offer: the booking is settled.
    WaitlistAccept,
    /// The school declined a waiting-list offer.
    WaitlistDecline,
    /// The school left the waiting list.
    WaitlistLeave,
    /// A waiting-list offer lapsed unanswered (the system).
    OfferExpired,
    /// The provider marked the register for one of the booking's attendees.
    Attendance,
    /// A cancelled card booking's refund went back to the card (the system).
    Refunded,
}

impl Action {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "booking.create",
            Self::Request => "booking.request",
            Self::Approve => "booking.approve",
            Self::Decline => "booking.decline",
            Self::Substitute => "booking.substitute",
            Self::Cancel => "booking.cancel",
            Self::SessionCancelled => "booking.session_cancelled",
            Self::CardPayment => "booking.card_payment",
            Self::Paid => "booking.paid",
            Self::Released => "booking.released",
            Self::Offered => "booking.waitlist_offer",
            Self::WaitlistAccept => "booking.waitlist_accept",
            Self::WaitlistDecline => "booking.waitlist_decline",
            Self::WaitlistLeave => "booking.waitlist_leave",
            Self::OfferExpired => "booking.waitlist_expire",
            Self::Attendance => "booking.attendance",
            Self::Refunded => "booking.refund",
        }
    }
}

/// What the trail keeps of a booking at each change: the booking as readers see it (status,
/// places, price, settlement, PO, closure, fee, refund and units) and its attendees (names,
/// substitutions, the register's summary). The card payment's Stripe reference is left out:
/// the provider may read the trail and `Booking` never shows them the reference, so the trail
/// must not either (the ledger's payment records carry it for finance). The row's version and
/// the attendees' live-email index are bookkeeping and left out too.
#[derive(Debug, Serialize)]
pub(crate) struct Snapshot {
    booking: Booking,
    attendees: Vec<Attendee>,
}

/// The booking as `db` (usually the change's transaction) sees it now.
pub(crate) async fn snapshot<C: ConnectionTrait>(
    db: &C,
    id: BookingId,
) -> Result<Snapshot, DomainError> {
    let row = load_row(db, id).await?.ok_or_else(not_found)?;
    Ok(Snapshot {
        booking: Booking::from_row(row)?,
        attendees: attendees_of_bookings(db, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
    })
}

/// Several bookings as `db` sees them now, in two statements however many.
pub(crate) async fn snapshots<C: ConnectionTrait>(
    db: &C,
    ids: &[BookingId],
) -> Result<HashMap<BookingId, Snapshot>, DomainError> {
    let mut attendees = attendees_of_bookings(db, ids).await?;
    Ok(bookings_by_ids(db, ids)
        .await?
        .into_iter()
        .map(|(id, booking)| {
            let attendees = attendees.remove(&id).unwrap_or_default();
            (id, Snapshot { booking, attendees })
        })
        .collect())
}

/// [`audit`] for several bookings changed alike in `txn` (a register marked): their
/// snapshots after are read together and the entries written in one statement.
pub(crate) async fn audit_many<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: Action,
    before: &HashMap<BookingId, Snapshot>,
) -> Result<(), DomainError> {
    let mut ids: Vec<BookingId> = before.keys().copied().collect();
    ids.sort_unstable();
    let after = snapshots(txn, &ids).await?;
    kernel::audit::record_many(
        txn,
        actor,
        clock,
        action.as_str(),
        AUDIT_ENTITY,
        ids.iter()
            .filter_map(|id| Some((id.as_uuid(), before.get(id), Some(after.get(id)?)))),
    )
    .await
}

/// Writes the trail entry of a change made in `txn`: the booking as `before` (`None` when the
/// change created it) and as the transaction leaves it.
pub(crate) async fn audit<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: Action,
    id: BookingId,
    before: Option<Snapshot>,
) -> Result<(), DomainError> {
    let after = snapshot(txn, id).await?;
    kernel::audit::record(
        txn,
        actor,
        clock,
        action.as_str(),
        (AUDIT_ENTITY, id.as_uuid()),
        before.as_ref(),
        Some(&after),
    )
    .await
}

/// The booking's history, oldest change first. For whoever may read the booking (its
/// school's people, partnership staff, the provider of its session:
/// [`crate::bookings::booking`]); `NotFound` for anyone else, as if it did not exist.
pub async fn history(
    db: &DatabaseConnection,
    actor: &Actor,
    id: BookingId,
) -> Result<Vec<kernel::audit::Entry>, DomainError> {
    crate::bookings::booking(db, actor, id).await?;
    kernel::audit::trail(db, AUDIT_ENTITY, id.as_uuid()).await
}
