//! What traded services tell the outbox (`kernel::outbox`), in the transaction of the change:
//! the notifications domain turns each into the messages people receive.
//!
//! Every event's subject is a booking; its row says the rest afterwards (status, terms,
//! offer expiry, closure note), so the events carry no detail of their own.

use chrono::{DateTime, Utc};
use kernel::outbox::{self, EventKind};
use kernel::{BookingId, DomainError};
use sea_orm::ConnectionTrait;

/// Records `kind` for `booking` in the caller's transaction.
pub(crate) async fn announce<C: ConnectionTrait>(
    txn: &C,
    kind: EventKind,
    booking: BookingId,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    outbox::record(txn, kind, booking.as_uuid(), serde_json::json!({}), now).await?;
    Ok(())
}

/// Announces how a booking that was just placed (or approved) stands: on the waiting list,
/// or confirmed — unless it waits for a card payment, whose arrival confirms it later
/// (`settlement::confirm_paid_bookings` announces that).
pub(crate) async fn announce_placed<C: ConnectionTrait>(
    txn: &C,
    booking: BookingId,
    held: bool,
    awaiting_card: bool,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    match (held, awaiting_card) {
        (false, _) => announce(txn, EventKind::BookingWaitlisted, booking, now).await,
        (true, false) => announce(txn, EventKind::BookingConfirmed, booking, now).await,
        (true, true) => Ok(()),
    }
}
