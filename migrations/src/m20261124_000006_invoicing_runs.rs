//! Invoicing runs: one per academic year, so a finished run is never repeated and an
//! interrupted one is resumed (the invoices themselves are idempotent by account, year and
//! instalment; this row records that the year as a whole has been invoiced, by whom, and
//! what it produced).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, integer_uniq, pk_uuid, string, text, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InvoicingRuns {
    Table,
    Id,
    /// The starting calendar year of the academic year: 2026 is 2026/27. One run per year.
    AcademicYear,
    Status,
    StartedAt,
    StartedBy,
    CompletedAt,
    InvoicesCreated,
    InvoicesExisting,
    /// Total invoiced by the run, in pence.
    TotalPence,
    /// JSON array of the memberships left out and why (e.g. no billing account).
    Notes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvoicingRuns::Table)
                    .col(pk_uuid(InvoicingRuns::Id))
                    .col(integer_uniq(InvoicingRuns::AcademicYear))
                    .col(string(InvoicingRuns::Status))
                    .col(timestamp_with_time_zone(InvoicingRuns::StartedAt))
                    .col(uuid_null(InvoicingRuns::StartedBy))
                    .col(timestamp_with_time_zone_null(InvoicingRuns::CompletedAt))
                    .col(integer(InvoicingRuns::InvoicesCreated).default(0))
                    .col(integer(InvoicingRuns::InvoicesExisting).default(0))
                    .col(big_integer(InvoicingRuns::TotalPence).default(0))
                    .col(text(InvoicingRuns::Notes).default("[]"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invoicing_runs_started_by")
                            .from(InvoicingRuns::Table, InvoicingRuns::StartedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await
    }
}
