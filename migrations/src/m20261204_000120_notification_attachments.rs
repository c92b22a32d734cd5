//! A file attached to a message (issue #22, "invoice documents … ready to attach to the
//! invoice email").
//!
//! An invoice email carries the invoice as a PDF. The document is rendered when the message
//! is composed, in the transaction that stores it, and kept with the message: what was sent
//! is what is stored, a retried delivery sends the same bytes, and delivery needs no reads
//! of the ledger. Three nullable columns: the file's name, its media type and its bytes
//! (BLOB on SQLite, bytea on PostgreSQL). Calendar invitations keep their own `ics` column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{binary_null, string_len_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notifications {
    Table,
    AttachmentName,
    AttachmentType,
    Attachment,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for column in [
            string_len_null(Notifications::AttachmentName, 200),
            string_len_null(Notifications::AttachmentType, 100),
            binary_null(Notifications::Attachment),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
