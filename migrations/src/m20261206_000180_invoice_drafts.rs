//! Draft invoicing runs (issue #17 item 4): finance prepares the year's membership invoices
//! as drafts, reviews and adjusts them (leaves a school out, adds a purchase-order number or a
//! discount), then issues them. No invoice number is taken until issue.
//!
//! A draft is the planned invoice of one account for one instalment, as the run would issue
//! it: its lines as JSON, each with finance's adjustments beside the price the run worked out
//! (so the review shows both). One row per (year, account, instalment), as invoices are unique
//! per the same three. The run row itself says DRAFT until finance issues it.
//!
//! Scheduled instalments gain a purchase-order number, so one finance put on a spring or
//! summer draft is on the invoice issued in that term.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    date, integer, string_len, string_len_null, text, timestamp_with_time_zone, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvoiceDrafts {
    Table,
    Id,
    AcademicYear,
    AccountId,
    /// ANNUAL, AUTUMN, SPRING or SUMMER.
    Instalment,
    /// Its place in the run's plan: the order finance reviews drafts in, and the page key.
    Position,
    /// As planned, counted from the day the drafts were prepared; moved on at issue by the
    /// days the review took, so the payment terms run from the invoice's date.
    DueOn,
    PoNumber,
    /// The lines with finance's adjustments (JSON).
    Lines,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ScheduledInstalments {
    Table,
    PoNumber,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvoiceDrafts::Table)
                    .col(uuid(InvoiceDrafts::Id).primary_key())
                    .col(integer(InvoiceDrafts::AcademicYear))
                    .col(uuid(InvoiceDrafts::AccountId))
                    .col(string_len(InvoiceDrafts::Instalment, 16))
                    .col(integer(InvoiceDrafts::Position))
                    .col(date(InvoiceDrafts::DueOn))
                    .col(string_len_null(InvoiceDrafts::PoNumber, 50))
                    .col(text(InvoiceDrafts::Lines))
                    .col(timestamp_with_time_zone(InvoiceDrafts::CreatedAt))
                    .col(timestamp_with_time_zone(InvoiceDrafts::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(InvoiceDrafts::Table, InvoiceDrafts::AccountId)
                            .to(BillingAccounts::Table, BillingAccounts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_invoice_drafts_year_account_instalment")
                    .table(InvoiceDrafts::Table)
                    .col(InvoiceDrafts::AcademicYear)
                    .col(InvoiceDrafts::AccountId)
                    .col(InvoiceDrafts::Instalment)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // A year's drafts in review order: the list, its pages, and the issue.
        manager
            .create_index(
                Index::create()
                    .name("idx_invoice_drafts_year_position")
                    .table(InvoiceDrafts::Table)
                    .col(InvoiceDrafts::AcademicYear)
                    .col(InvoiceDrafts::Position)
                    .col(InvoiceDrafts::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ScheduledInstalments::Table)
                    .add_column(string_len_null(ScheduledInstalments::PoNumber, 50))
                    .to_owned(),
            )
            .await
    }
}
