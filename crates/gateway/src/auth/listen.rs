//! Hearing, on PostgreSQL, that a user or school link changed, to empty the
//! [`ActorCache`](super::cache::ActorCache).
//!
//! Migration `m20261206_000190_sign_in_changes` puts statement triggers on `users` and
//! `user_schools` that `pg_notify` [`CHANNEL`] as the change commits. Each replica LISTENs on
//! a connection of its own, outside the request pool (sqlx's `PgListener` would otherwise
//! hold one of the pool's connections for good). The connection is watched with
//! `try_recv`, which reports a lost connection instead of quietly reconnecting, so the
//! cache knows when it may have missed a notification.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use super::cache::ActorCache;

/// The NOTIFY channel of the triggers on `users` and `user_schools`.
pub const CHANNEL: &str = "trellis_sign_in";

/// How long to wait before listening again after the connection was lost.
const RETRY: Duration = Duration::from_secs(1);

/// Starts hearing changes for `cache`. The first LISTEN is done before this returns, so the
/// cache serves from the first request; a failure here leaves the cache off (every request
/// reads its user) and is returned for the caller to log.
pub async fn start(db: &DatabaseConnection, cache: Arc<ActorCache>) -> Result<(), sea_orm::DbErr> {
    let main = db.get_postgres_connection_pool().clone();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with((*main.connect_options()).clone());
    let listener = listen(&pool)
        .await
        .map_err(|e| sea_orm::DbErr::Custom(format!("cannot LISTEN for sign-in changes: {e}")))?;
    cache.hearing(true);
    tokio::spawn(async move {
        // Until the app's pool closes (shutdown, or the end of a test).
        tokio::select! {
            () = main.close_event() => {}
            () = watch(&pool, listener, &cache) => {}
        }
        cache.hearing(false);
        pool.close().await;
    });
    Ok(())
}

async fn listen(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Empties the cache on every notification; stops it serving while the connection is down.
async fn watch(pool: &PgPool, mut listener: PgListener, cache: &ActorCache) {
    loop {
        match listener.try_recv().await {
            Ok(Some(_)) => {
                cache.forget_all();
                continue;
            }
            Ok(None) => tracing::warn!("lost the connection hearing sign-in changes"),
            Err(e) => tracing::warn!(error = %e, "lost the connection hearing sign-in changes"),
        }
        cache.hearing(false);
        drop(listener);
        listener = loop {
            tokio::time::sleep(RETRY).await;
            match listen(pool).await {
                Ok(listener) => break listener,
                Err(e) => tracing::warn!(error = %e, "cannot LISTEN for sign-in changes yet"),
            }
        };
        cache.hearing(true);
        tracing::info!("hearing sign-in changes again");
    }
}
