//! The event bus over PostgreSQL LISTEN/NOTIFY.
//!
//! Each replica keeps one dedicated connection LISTENing on [`CHANNEL`] (sqlx's `PgListener`,
//! opened with the pool's own connect options) and rebroadcasts what arrives to its local
//! subscribers; publishing is `pg_notify` through the pool. A replica hears its own
//! notifications too, so local subscribers are served by the same path as remote ones.
//! Needs a session-level connection: behind PgBouncer, use session pooling.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::sync::broadcast;

use super::{CAPACITY, Event, EventBus};
use crate::metrics::Metrics;

/// The NOTIFY channel every replica listens on.
pub const CHANNEL: &str = "trellis_events";

#[derive(Debug)]
pub struct PgBus {
    db: DatabaseConnection,
    sender: broadcast::Sender<Event>,
    metrics: Arc<Metrics>,
}

impl PgBus {
    /// Starts listening (the first LISTEN happens before this returns, so nothing published
    /// afterwards is missed) and relays notifications in a background task.
    pub async fn start(db: &DatabaseConnection, metrics: Arc<Metrics>) -> Result<Self, DbErr> {
        let pool = db.get_postgres_connection_pool();
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(|e| DbErr::Custom(format!("cannot LISTEN for events: {e}")))?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(|e| DbErr::Custom(format!("cannot LISTEN for events: {e}")))?;
        let sender = broadcast::channel(CAPACITY).0;
        tokio::spawn(relay(listener, sender.clone(), metrics.clone()));
        Ok(Self {
            db: db.clone(),
            sender,
            metrics,
        })
    }
}

/// Forwards notifications to local subscribers until the process ends. sqlx reconnects (and
/// re-LISTENs) after a lost connection; what was notified in between is lost, which
/// subscribers tolerate because they re-read state rather than replay deltas.
async fn relay(mut listener: PgListener, sender: broadcast::Sender<Event>, metrics: Arc<Metrics>) {
    loop {
        match listener.recv().await {
            Ok(notification) => match serde_json::from_str::<Event>(notification.payload()) {
                Ok(event) => {
                    metrics.event_received();
                    let _ = sender.send(event);
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an event this build cannot read"),
            },
            Err(e) => {
                tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl EventBus for PgBus {
    fn publish(&self, event: Event) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let payload = match serde_json::to_string(&event) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode an event");
                    return;
                }
            };
            let notify = Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            );
            match self.db.execute_raw(notify).await {
                Ok(_) => self.metrics.event_published(),
                Err(e) => tracing::error!(error = %e, "cannot publish an event"),
            }
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
