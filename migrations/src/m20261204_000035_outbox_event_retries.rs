//! An outbox event whose messages cannot be made is set aside and tried again later, instead
//! of holding up every event behind it: it counts its attempts, keeps the last error, and
//! waits until `retry_at`. After the last attempt it is marked handled with its error kept,
//! for the logs and for whoever looks at the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text_null, timestamp_with_time_zone_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DomainEvents {
    Table,
    Attempts,
    LastError,
    RetryAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            integer(DomainEvents::Attempts).default(0).to_owned(),
            text_null(DomainEvents::LastError),
            timestamp_with_time_zone_null(DomainEvents::RetryAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DomainEvents::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
