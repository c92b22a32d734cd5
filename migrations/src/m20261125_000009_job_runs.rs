//! Scheduled jobs' runs: one row per job and time slot, claimed by whichever replica inserts
//! it first. The unique (job, slot) key is what makes a tick that several replicas reach at
//! once run exactly once, on PostgreSQL and on SQLite alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    pk_auto, string, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Id,
    /// The job's stable name, e.g. `lapse-unanswered-renewals`.
    Job,
    /// The slot the run belongs to: the start of its interval, RFC 3339 UTC.
    Slot,
    /// Which process ran it (host and pid), for operators reading the table.
    Runner,
    StartedAt,
    FinishedAt,
    /// RUNNING, SUCCEEDED or FAILED.
    Outcome,
    /// What the job did, or why it failed.
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(JobRuns::Table)
                    .col(pk_auto(JobRuns::Id))
                    .col(string(JobRuns::Job))
                    .col(string(JobRuns::Slot))
                    .col(string(JobRuns::Runner))
                    .col(timestamp_with_time_zone(JobRuns::StartedAt))
                    .col(timestamp_with_time_zone_null(JobRuns::FinishedAt))
                    .col(string(JobRuns::Outcome))
                    .col(text_null(JobRuns::Detail))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_job_runs_job_slot")
                    .table(JobRuns::Table)
                    .col(JobRuns::Job)
                    .col(JobRuns::Slot)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
