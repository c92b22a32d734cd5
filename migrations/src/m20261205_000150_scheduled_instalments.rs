//! Membership instalments issued on their own dates (issue #22 item 7): the invoicing run
//! issues the autumn instalment and plans the spring and summer ones, which the
//! `issue-scheduled-instalments` job issues on the first day of their terms, so each is dated
//! when it is billed (and the summer instalment falls in the next financial year).
//!
//! A row is the planned invoice of one account for one instalment: its lines as the run
//! priced them (JSON), frozen at the run like the fee schedule it was priced from. One row
//! per (account, year, instalment), as invoices are unique per the same three.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    date, integer, string_len, text, text_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ScheduledInstalments {
    Table,
    Id,
    AccountId,
    AcademicYear,
    /// AUTUMN, SPRING or SUMMER.
    Instalment,
    /// The first day of the term: when the job issues it.
    IssueOn,
    /// As the run planned it; moved later if the job issues late, to keep the payment terms.
    DueOn,
    /// The invoice lines, JSON.
    Lines,
    /// PENDING, ISSUED or CANCELLED (every line's membership ended before it was issued).
    Status,
    InvoiceId,
    /// What the job changed from the plan (lines moved to a new payer, ended memberships).
    Note,
    CreatedAt,
    SettledAt,
}

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScheduledInstalments::Table)
                    .col(uuid(ScheduledInstalments::Id).primary_key())
                    .col(uuid(ScheduledInstalments::AccountId))
                    .col(integer(ScheduledInstalments::AcademicYear))
                    .col(string_len(ScheduledInstalments::Instalment, 16))
                    .col(date(ScheduledInstalments::IssueOn))
                    .col(date(ScheduledInstalments::DueOn))
                    .col(text(ScheduledInstalments::Lines))
                    .col(string_len(ScheduledInstalments::Status, 16))
                    .col(uuid_null(ScheduledInstalments::InvoiceId))
                    .col(text_null(ScheduledInstalments::Note))
                    .col(timestamp_with_time_zone(ScheduledInstalments::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        ScheduledInstalments::SettledAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScheduledInstalments::Table, ScheduledInstalments::AccountId)
                            .to(BillingAccounts::Table, BillingAccounts::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_scheduled_instalments_account_year_instalment")
                    .table(ScheduledInstalments::Table)
                    .col(ScheduledInstalments::AccountId)
                    .col(ScheduledInstalments::AcademicYear)
                    .col(ScheduledInstalments::Instalment)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The job's sweep, and a year's list.
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_instalments_due")
                    .table(ScheduledInstalments::Table)
                    .col(ScheduledInstalments::Status)
                    .col(ScheduledInstalments::IssueOn)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_instalments_year")
                    .table(ScheduledInstalments::Table)
                    .col(ScheduledInstalments::AcademicYear)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
