//! Change events, fanned out to every replica so a subscription on one sees a change made
//! through another.
//!
//! Events carry ids only: a subscriber re-reads the record under its own caller's
//! permissions, so nothing readable travels through the bus and a stale or forged payload
//! can reveal nothing. The gateway publishes after a domain service returned (its
//! transaction committed); the domains never see the bus.
//!
//! Two implementations of [`EventBus`]: [`postgres::PgBus`] through PostgreSQL's
//! LISTEN/NOTIFY (no infrastructure beyond the database the replicas already share), and
//! [`LocalBus`], an in-process broadcast for SQLite, which is one process by nature.

pub mod postgres;

use std::fmt::Debug;
use std::sync::Arc;

use futures::future::BoxFuture;
use kernel::{BillingAccountId, BookingId, InvoiceId, SchoolId};
use sea_orm::{DatabaseConnection, DbBackend};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::metrics::Metrics;

/// Events a subscriber may lag behind by before it is told it missed some.
const CAPACITY: usize = 1024;

/// Something changed; ids only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// An invoice's status, paid or credited amount changed.
    InvoiceUpdated {
        invoice: InvoiceId,
        account: BillingAccountId,
    },
    /// A school's booking changed (booked, approved, offered places, confirmed, cancelled…).
    BookingUpdated {
        booking: BookingId,
        school: SchoolId,
    },
}

/// Publishes events to, and receives them from, every replica.
pub trait EventBus: Send + Sync + Debug {
    /// Sends `event` to every subscriber on every replica, this one included. Best effort:
    /// a failure is logged, never returned, because the change it reports has committed.
    fn publish(&self, event: Event) -> BoxFuture<'_, ()>;

    /// Every event published from now on, by any replica.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}

/// The bus as the app and the resolvers hold it.
pub type Bus = Arc<dyn EventBus>;

/// The in-process bus: for SQLite, and for tests.
#[derive(Debug)]
pub struct LocalBus {
    sender: broadcast::Sender<Event>,
    metrics: Arc<Metrics>,
}

impl LocalBus {
    #[must_use]
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            metrics,
        }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: Event) -> BoxFuture<'_, ()> {
        self.metrics.event_published();
        self.metrics.event_received();
        // No receivers is not an error: nobody is subscribed right now.
        let _ = self.sender.send(event);
        Box::pin(async {})
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// The bus for `db`'s backend: LISTEN/NOTIFY on PostgreSQL, in-process on SQLite.
pub async fn connect(
    db: &DatabaseConnection,
    metrics: Arc<Metrics>,
) -> Result<Bus, sea_orm::DbErr> {
    Ok(match db.get_database_backend() {
        DbBackend::Postgres => Arc::new(postgres::PgBus::start(db, metrics).await?),
        _ => Arc::new(LocalBus::new(metrics)),
    })
}

/// Publishes through the bus in the GraphQL context, if there is one (the SDL export has none).
pub async fn publish(ctx: &async_graphql::Context<'_>, events: impl IntoIterator<Item = Event>) {
    if let Ok(bus) = ctx.data::<Bus>() {
        for event in events {
            bus.publish(event).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_ids_only() {
        let event = Event::InvoiceUpdated {
            invoice: InvoiceId::new(),
            account: BillingAccountId::new(),
        };
        let json = serde_json::to_string(&event).expect("serialises");
        assert!(
            json.starts_with(r#"{"kind":"invoice_updated","invoice":""#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Event>(&json).expect("parses"), event);
    }

    #[tokio::test]
    async fn the_local_bus_delivers_to_every_subscriber() {
        let bus = LocalBus::new(Arc::new(Metrics::new()));
        let (mut a, mut b) = (bus.subscribe(), bus.subscribe());
        let event = Event::InvoiceUpdated {
            invoice: InvoiceId::new(),
            account: BillingAccountId::new(),
        };
        bus.publish(event).await;
        assert_eq!(a.recv().await.expect("a"), event);
        assert_eq!(b.recv().await.expect("b"), event);
    }
}
