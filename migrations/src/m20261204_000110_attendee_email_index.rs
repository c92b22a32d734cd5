//! A person's places, found by email (issue #23, "reports as files").
//!
//! A member of staff's CPD record lists every session they held a place on; places are
//! booked by attendee name and email, so the record looks attendees up by email. Without an
//! index that is a scan of every attendee the partnership ever booked.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TradedAttendees {
    Table,
    Email,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_traded_attendees_email")
                    .table(TradedAttendees::Table)
                    .col(TradedAttendees::Email)
                    .to_owned(),
            )
            .await
    }
}
