//! Idempotency keys belong to their caller: the key's identity becomes (scope, caller, key),
//! so one caller replaying another's key gets a fresh request, never the other's result.
//!
//! A primary key cannot be altered in place on SQLite, so the table is rebuilt on both
//! backends: a new table with the caller column and the wider key, the rows copied with the
//! caller `system` (nobody recorded who sent them), the old table dropped and the new one
//! renamed into its place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, text, timestamp_with_time_zone};
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    Request,
    Result,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeysNew {
    Table,
    Scope,
    /// `kernel::Actor::caller_id` of who sent the key: `user:<id>`, `api_key:<id>`,
    /// `system`, or `trellis` for keys derived from Trellis's own ids.
    Caller,
    Key,
    Request,
    Result,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// In one transaction on SQLite too (sea-orm-migration uses one only on PostgreSQL by
    /// default): the rebuild is four statements, and without a transaction they ran on
    /// different pooled connections, where the rename could still see the dropped table
    /// ("already another table … named idempotency_keys"), and a crash between the drop and
    /// the rename would have lost the table.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeysNew::Table)
                    .col(string(IdempotencyKeysNew::Scope))
                    .col(string(IdempotencyKeysNew::Caller))
                    .col(string(IdempotencyKeysNew::Key))
                    .col(text(IdempotencyKeysNew::Request))
                    .col(text(IdempotencyKeysNew::Result))
                    .col(timestamp_with_time_zone(IdempotencyKeysNew::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_idempotency_keys_caller")
                            .col(IdempotencyKeysNew::Scope)
                            .col(IdempotencyKeysNew::Caller)
                            .col(IdempotencyKeysNew::Key),
                    )
                    .to_owned(),
            )
            .await?;
        let copy = Query::insert()
            .into_table(IdempotencyKeysNew::Table)
            .columns([
                IdempotencyKeysNew::Scope,
                IdempotencyKeysNew::Caller,
                IdempotencyKeysNew::Key,
                IdempotencyKeysNew::Request,
                IdempotencyKeysNew::Result,
                IdempotencyKeysNew::CreatedAt,
            ])
            .select_from(
                Query::select()
                    .column(IdempotencyKeys::Scope)
                    .expr(Expr::val("system"))
                    .column(IdempotencyKeys::Key)
                    .column(IdempotencyKeys::Request)
                    .column(IdempotencyKeys::Result)
                    .column(IdempotencyKeys::CreatedAt)
                    .from(IdempotencyKeys::Table)
                    .to_owned(),
            )
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .to_owned();
        manager.get_connection().execute(&copy).await?;
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        manager
            .rename_table(
                Table::rename()
                    .table(IdempotencyKeysNew::Table, IdempotencyKeys::Table)
                    .to_owned(),
            )
            .await
    }
}
