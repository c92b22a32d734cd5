//! `bookingUpdated`, over graphql-ws (`GET /graphql` with a WebSocket upgrade).

use async_graphql::{Context, ID, Subscription};
use futures::Stream;
use kernel::{DomainError, SchoolId};
use tokio::sync::broadcast::error::RecvError;

use super::types::BookingNode;
use crate::events::{Bus, Event};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{internal, to_graphql};
use crate::graphql::relay::expect_input;
use crate::metrics::Metrics;

#[derive(Default, Debug)]
pub struct TradedSubscription;

#[Subscription]
impl TradedSubscription {
    /// A school's booking changed, on any replica: booked, approved or declined, paid and
    /// confirmed, offered places from the waiting list (see `waitlist.hasOpenOffer`), the
    /// offer expired, cancelled, released unpaid, attended. The school's own people and
    /// partnership staff; another school is NOT_FOUND. Each booking is re-read under your
    /// own permissions when it arrives.
    async fn booking_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the school.")] school_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = BookingNode> + use<>> {
        let rc = ctx.trellis()?;
        let (db, actor) = (rc.db.clone(), rc.actor.clone());
        let school: SchoolId = expect_input(&school_id, "schoolId").map_err(to_graphql)?;
        if !traded::may_read_bookings(&actor, school) {
            return Err(to_graphql(DomainError::NotFound { entity: "School" }));
        }
        let bus = ctx
            .data::<Bus>()
            .map_err(|_| internal("event bus missing"))?;
        let receiver = bus.subscribe();
        let guard = ctx
            .data::<std::sync::Arc<Metrics>>()
            .ok()
            .map(Metrics::subscription_opened);
        Ok(futures::stream::unfold(
            (receiver, db, actor, guard),
            move |(mut receiver, db, actor, guard)| async move {
                loop {
                    let booking = match receiver.recv().await {
                        Ok(Event::BookingUpdated { booking, school: s }) if s == school => booking,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "bookingUpdated subscriber fell behind");
                            continue;
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    // The event names the booking only; what it now holds is read under the
                    // subscriber's own permissions (which may have changed since it subscribed).
                    match traded::booking(&db, &actor, booking).await {
                        Ok(found) if found.school_id == school => {
                            return Some((BookingNode(found), (receiver, db, actor, guard)));
                        }
                        Ok(_) | Err(DomainError::NotFound { .. } | DomainError::Forbidden(_)) => {}
                        Err(e) => {
                            tracing::error!(error = %e.chain(), "bookingUpdated re-read failed");
                        }
                    }
                }
            },
        ))
    }
}
