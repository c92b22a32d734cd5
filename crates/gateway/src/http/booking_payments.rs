//! What a Stripe event means for traded bookings: a card booking whose invoice the event
//! paid is confirmed, and its school hears of it (`bookingUpdated`).

use kernel::{DomainError, InvoiceId};

use crate::app::AppState;
use crate::events::Event;

/// Confirms the card bookings of `invoice` — the Trellis invoice a stored Stripe event's
/// object names in its metadata (`billing::stripe_events::Delivery::invoice`; the
/// PaymentIntents Trellis starts for card bookings carry it) — once it is paid, and announces
/// them. Runs on every accepted delivery, replays included: confirming is idempotent, and a
/// redelivery finishes what a failure here left undone.
pub async fn confirm_paid(state: &AppState, invoice: Option<InvoiceId>) -> Result<(), DomainError> {
    let Some(invoice) = invoice else {
        return Ok(());
    };
    let confirmed =
        traded::confirm_paid_bookings(&state.db, state.clock.as_ref(), &[invoice]).await?;
    for booking in confirmed {
        state
            .events
            .publish(Event::BookingUpdated {
                booking: booking.id,
                school: booking.school_id,
            })
            .await;
    }
    Ok(())
}
