//! One pass of the notifications worker, as the gateway's loop runs it: handle every pending
//! event, then send what is due (when a transport is configured).

use kernel::{Clock, DomainError};
use sea_orm::DatabaseConnection;

use crate::compose::MessageSettings;
use crate::delivery::{Delivered, DeliveryPolicy, deliver_due};
use crate::fanout::{FanOut, fan_out};
use crate::transport::Transport;

/// Events handled per fan-out transaction.
const EVENT_BATCH: u64 = 100;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub fanned_out: FanOut,
    pub delivered: Delivered,
}

/// Drains the outbox of events, then sends due messages until none is left (or a batch
/// claims nothing, e.g. another replica holds them).
pub async fn run_pass(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    transport: Option<&dyn Transport>,
    policy: &DeliveryPolicy,
) -> Result<Pass, DomainError> {
    let mut pass = Pass::default();
    loop {
        let done = fan_out(db, clock, settings, EVENT_BATCH).await?;
        pass.fanned_out.events += done.events;
        pass.fanned_out.messages += done.messages;
        pass.fanned_out.set_aside += done.set_aside;
        pass.fanned_out.waiting += done.waiting;
        if ((done.events + done.set_aside + done.waiting) as u64) < EVENT_BATCH {
            break;
        }
    }
    if let Some(transport) = transport {
        loop {
            let done = deliver_due(db, clock, settings, transport, policy).await?;
            pass.delivered.sent += done.sent;
            pass.delivered.retrying += done.retrying;
            pass.delivered.dead += done.dead;
            if done.claimed() == 0 || done.sent == 0 {
                break;
            }
        }
    }
    Ok(pass)
}
