//! Stripe: where each issued invoice lives at Stripe (its hosted page and PDF), every webhook
//! event received (once per event id, so a replay is recognised), and the differences the
//! reconciliation found between the ledger and Stripe until finance resolves them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, integer, pk_uuid, string, string_null, string_uniq, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum StripeInvoices {
    Table,
    /// The Trellis invoice: one Stripe invoice each.
    InvoiceId,
    /// Stripe `in_…`.
    StripeInvoiceId,
    HostedUrl,
    PdfUrl,
    /// Stripe `cus_…` it was issued to.
    CustomerRef,
    /// The last payment attempt as Stripe reported it: NONE, PAYMENT_FAILED or PAID.
    PaymentState,
    /// Stripe's message when the last attempt failed (e.g. a declined card).
    PaymentError,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    /// Stripe `evt_…`: unique, so a replayed event is stored once.
    Id,
    EventType,
    /// The event's `data.object.id` (`in_…`, `pi_…`, `ch_…`, `cs_…`).
    ObjectId,
    /// When Stripe created the event (seconds since the epoch).
    CreatedUnix,
    Payload,
    ReceivedAt,
    /// APPLIED, IGNORED (an unknown or irrelevant type) or FAILED (applying it failed; Stripe
    /// retries and the next delivery tries again).
    Outcome,
    Detail,
    AppliedAt,
}

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    Id,
    StartedAt,
    StartedBy,
    FinishedAt,
    InvoicesCompared,
    DifferencesFound,
}

#[derive(DeriveIden)]
enum ReconciliationDifferences {
    Table,
    Id,
    RunId,
    /// MISSING_AT_STRIPE, MISSING_IN_TRELLIS, AMOUNT_MISMATCH, STATUS_MISMATCH, PAID_MISMATCH.
    Kind,
    InvoiceId,
    StripeInvoiceId,
    TrellisValue,
    StripeValue,
    Detail,
    FoundAt,
    ResolvedAt,
    ResolvedBy,
    ResolutionNote,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StripeInvoices::Table)
                    .col(uuid(StripeInvoices::InvoiceId).primary_key())
                    .col(string_uniq(StripeInvoices::StripeInvoiceId))
                    .col(text_null(StripeInvoices::HostedUrl))
                    .col(text_null(StripeInvoices::PdfUrl))
                    .col(string(StripeInvoices::CustomerRef))
                    .col(string(StripeInvoices::PaymentState).default("NONE"))
                    .col(text_null(StripeInvoices::PaymentError))
                    .col(timestamp_with_time_zone(StripeInvoices::CreatedAt))
                    .col(timestamp_with_time_zone(StripeInvoices::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stripe_invoices_invoice")
                            .from(StripeInvoices::Table, StripeInvoices::InvoiceId)
                            .to(Invoices::Table, Invoices::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_invoices_customer")
                    .table(StripeInvoices::Table)
                    .col(StripeInvoices::CustomerRef)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .col(string(StripeEvents::Id).primary_key())
                    .col(string(StripeEvents::EventType))
                    .col(string_null(StripeEvents::ObjectId))
                    .col(big_integer_null(StripeEvents::CreatedUnix))
                    .col(text(StripeEvents::Payload))
                    .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                    .col(string(StripeEvents::Outcome))
                    .col(text_null(StripeEvents::Detail))
                    .col(timestamp_with_time_zone_null(StripeEvents::AppliedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_events_object")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::ObjectId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReconciliationRuns::Table)
                    .col(pk_uuid(ReconciliationRuns::Id))
                    .col(timestamp_with_time_zone(ReconciliationRuns::StartedAt))
                    .col(uuid_null(ReconciliationRuns::StartedBy))
                    .col(timestamp_with_time_zone_null(
                        ReconciliationRuns::FinishedAt,
                    ))
                    .col(integer(ReconciliationRuns::InvoicesCompared).default(0))
                    .col(integer(ReconciliationRuns::DifferencesFound).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reconciliation_runs_started")
                    .table(ReconciliationRuns::Table)
                    .col(ReconciliationRuns::StartedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ReconciliationDifferences::Table)
                    .col(pk_uuid(ReconciliationDifferences::Id))
                    .col(uuid(ReconciliationDifferences::RunId))
                    .col(string(ReconciliationDifferences::Kind))
                    .col(uuid_null(ReconciliationDifferences::InvoiceId))
                    .col(string_null(ReconciliationDifferences::StripeInvoiceId))
                    .col(string_null(ReconciliationDifferences::TrellisValue))
                    .col(string_null(ReconciliationDifferences::StripeValue))
                    .col(text(ReconciliationDifferences::Detail))
                    .col(timestamp_with_time_zone(ReconciliationDifferences::FoundAt))
                    .col(timestamp_with_time_zone_null(
                        ReconciliationDifferences::ResolvedAt,
                    ))
                    .col(uuid_null(ReconciliationDifferences::ResolvedBy))
                    .col(text_null(ReconciliationDifferences::ResolutionNote))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reconciliation_differences_run")
                            .from(
                                ReconciliationDifferences::Table,
                                ReconciliationDifferences::RunId,
                            )
                            .to(ReconciliationRuns::Table, ReconciliationRuns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reconciliation_differences_run")
                    .table(ReconciliationDifferences::Table)
                    .col(ReconciliationDifferences::RunId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reconciliation_differences_open")
                    .table(ReconciliationDifferences::Table)
                    .col(ReconciliationDifferences::ResolvedAt)
                    .col(ReconciliationDifferences::FoundAt)
                    .to_owned(),
            )
            .await
    }
}
