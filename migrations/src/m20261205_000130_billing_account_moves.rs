//! Moving a school to another billing account from a date (issue #22 item 3: a school joins
//! its trust's account, or leaves it).
//!
//! `billing_account_schools` keeps saying who pays *now*; this table is the history of moves
//! and the queue of moves still to come. A move dated today is applied at once; one dated
//! later waits as PENDING until the `apply-account-moves` job applies it on its date.
//!
//! At most one move per school may be pending. SQLite and PostgreSQL both have partial
//! indexes, but SeaORM's schema builder does not, so the rule is a unique index on
//! `pending_school_id`: the school's id while the move is PENDING and NULL afterwards (NULLs
//! never collide in a unique index on either database).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    date, string_len, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
    uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillingAccountMoves {
    Table,
    Id,
    SchoolId,
    FromAccountId,
    ToAccountId,
    /// The first day the new account pays.
    EffectiveFrom,
    /// PENDING, APPLIED, CANCELLED or FAILED.
    Status,
    /// The school's id while PENDING, else NULL: one pending move per school.
    PendingSchoolId,
    /// Why a pending move could not be applied on its date.
    FailureReason,
    CreatedAt,
    /// When it was applied, cancelled or failed.
    SettledAt,
}

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingAccountMoves::Table)
                    .col(uuid(BillingAccountMoves::Id).primary_key())
                    .col(uuid(BillingAccountMoves::SchoolId))
                    .col(uuid(BillingAccountMoves::FromAccountId))
                    .col(uuid(BillingAccountMoves::ToAccountId))
                    .col(date(BillingAccountMoves::EffectiveFrom))
                    .col(string_len(BillingAccountMoves::Status, 16))
                    .col(uuid_null(BillingAccountMoves::PendingSchoolId))
                    .col(text_null(BillingAccountMoves::FailureReason))
                    .col(timestamp_with_time_zone(BillingAccountMoves::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        BillingAccountMoves::SettledAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BillingAccountMoves::Table, BillingAccountMoves::SchoolId)
                            .to(Schools::Table, Schools::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                BillingAccountMoves::Table,
                                BillingAccountMoves::FromAccountId,
                            )
                            .to(BillingAccounts::Table, BillingAccounts::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BillingAccountMoves::Table, BillingAccountMoves::ToAccountId)
                            .to(BillingAccounts::Table, BillingAccounts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("billing_account_moves_one_pending")
                    .table(BillingAccountMoves::Table)
                    .col(BillingAccountMoves::PendingSchoolId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // An account's moves, in and out, for `BillingAccount.schoolMoves`.
        for (name, column) in [
            (
                "billing_account_moves_from",
                BillingAccountMoves::FromAccountId,
            ),
            ("billing_account_moves_to", BillingAccountMoves::ToAccountId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(BillingAccountMoves::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        // The job's sweep: pending moves due by today.
        manager
            .create_index(
                Index::create()
                    .name("billing_account_moves_due")
                    .table(BillingAccountMoves::Table)
                    .col(BillingAccountMoves::Status)
                    .col(BillingAccountMoves::EffectiveFrom)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
