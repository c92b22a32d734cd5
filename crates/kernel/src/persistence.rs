//! How every Trellis process opens its database and its write transactions, so that the
//! embedded default (SQLite) takes concurrent writers as PostgreSQL does.
//!
//! SQLite's default `BEGIN` is DEFERRED: the transaction reads under a shared lock and asks
//! for the write lock at its first write. If another connection wrote in between, SQLite
//! cannot upgrade the stale read and answers "database is locked" at once, without waiting
//! for the busy timeout; concurrent admin edits on the embedded default failed that way.
//! `BEGIN IMMEDIATE` takes the write lock up front, so writers queue on the busy timeout
//! instead. PostgreSQL ignores the mode; nested transactions are savepoints either way.
//! [`sqlite_options`] sets the rest: WAL so readers never wait for the writer, and a busy
//! timeout so a writer waits its turn.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait};

pub mod by_position;

/// How long a SQLite writer waits for another's lock before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// Sets the SQLite connection options of the service and the tests: WAL (readers run beside
/// the one writer), a busy timeout (a writer that finds the lock taken waits for it) and
/// NORMAL sync (durable in WAL mode except against power loss mid-checkpoint). No effect on
/// a PostgreSQL URL.
pub fn sqlite_options(options: &mut ConnectOptions) {
    options.map_sqlx_sqlite_opts(|sqlite| {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
    });
}

/// Begins a transaction that will write: every domain write path uses this, not `begin()`.
pub trait BeginWrite: TransactionTrait {
    /// `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL.
    fn begin_write<'a>(
        &'a self,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Transaction, DbErr>> + Send + 'a>>;
}

impl<T: TransactionTrait + ?Sized> BeginWrite for T {
    fn begin_write<'a>(
        &'a self,
    ) -> Pin<Box<dyn Future<Output = Result<Self::Transaction, DbErr>> + Send + 'a>> {
        self.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
    }
}

/// The `SELECT` list reading every column of `E`, joined as `alias`, as `{prefix}{column}`, so
/// that none collides with the other tables' own columns.
///
/// For a statement that reads a page and the record each row names (or a list and each
/// item's children) in one round trip instead of a page and then a batch: each domain keeps
/// its entities private and hands other crates this list and a decoder of its domain type.
#[must_use]
pub fn joined_select_list<E: sea_orm::EntityTrait>(alias: &str, prefix: &str) -> String {
    use sea_orm::{IdenStatic as _, Iterable as _};
    E::Column::iter()
        .map(|column| format!("{alias}.{0} AS {prefix}{0}", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
