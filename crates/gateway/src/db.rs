//! Opening the database and bringing its schema to this build's.

use migration::{MigrationStatus, Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database: {0}")]
    Connect(#[source] DbErr),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] DbErr),
    #[error(
        "the database was migrated by a newer Trellis (it has {0:?}, which this build does not know); \
         run the matching release or restore a backup"
    )]
    Ahead(Vec<String>),
    #[error(
        "the database is missing migrations {0:?}; run `trellis migrate` (or the migration job) first"
    )]
    Behind(Vec<String>),
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
const POOL_PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(30);

/// Opens a pool on `url`.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbError> {
    let mut options = ConnectOptions::new(url.to_owned());
    // Statement logging goes through our own tracing spans instead.
    options.sqlx_logging(false);
    // sqlx pings a pooled connection on every checkout by default: a round trip before every
    // statement outside a transaction. Only a connection idle long enough for a server, proxy
    // or firewall to have dropped it is pinged now; a hot one is handed out as it is.
    options.test_before_acquire_if_idle_for(POOL_PING_AFTER_IDLE);
    if url.starts_with("sqlite:") {
        // One writer at a time is SQLite's model; a small pool avoids lock contention.
        options.max_connections(8).min_connections(1);
        // WAL, a busy timeout, and writes that begin IMMEDIATE: concurrent writers queue
        // instead of failing with "database is locked" (see `kernel::persistence`).
        kernel::persistence::sqlite_options(&mut options);
    } else {
        options.max_connections(20).min_connections(2);
    }
    Database::connect(options).await.map_err(DbError::Connect)
}

/// Applies pending migrations (when `auto_migrate`) and refuses a schema that does not match.
pub async fn prepare(db: &DatabaseConnection, auto_migrate: bool) -> Result<(), DbError> {
    match migration::status(db).await.map_err(DbError::Migrate)? {
        MigrationStatus::Current => Ok(()),
        MigrationStatus::Ahead(names) => Err(DbError::Ahead(names)),
        MigrationStatus::Behind(_) if auto_migrate => {
            Migrator::up(db, None).await.map_err(DbError::Migrate)?;
            tracing::info!("database migrated");
            Ok(())
        }
        MigrationStatus::Behind(names) => Err(DbError::Behind(names)),
    }
}
