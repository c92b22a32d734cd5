//! What a Stripe event means for traded bookings: a card booking whose invoice the event
//! paid is confirmed, and its school hears of it (`bookingUpdated`).

use billing::provider::stripe::META_INVOICE_ID;
use kernel::{DomainError, InvoiceId};
use serde_json::Value;

use crate::app::AppState;
use crate::events::Event;

/// The Trellis invoice a Stripe event's object names in its metadata (the PaymentIntents
/// Trellis starts for card bookings carry it).
fn invoice_of(body: &[u8]) -> Option<InvoiceId> {
    let event: Value = serde_json::from_slice(body).ok()?;
    event
        .pointer(&format!("/data/object/metadata/{META_INVOICE_ID}"))
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<uuid::Uuid>().ok())
        .map(InvoiceId::from_uuid)
}

/// Confirms the card bookings paid by the stored event `body` and announces them. Runs on
/// every accepted delivery, replays included: confirming is idempotent, and a redelivery
/// finishes what a failure here left undone.
pub async fn confirm_paid(state: &AppState, body: &[u8]) -> Result<(), DomainError> {
    let Some(invoice) = invoice_of(body) else {
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
