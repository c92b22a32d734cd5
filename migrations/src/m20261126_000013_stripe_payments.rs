//! Stripe, second part: finance lists the webhook events the ledger refused (by outcome); the
//! reconciliation compares payments, refunds and payouts as well as invoices, and keeps each
//! payout with the balance transactions it paid out, tied to the receipts they were.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, date, integer, string, string_null, timestamp_with_time_zone, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Outcome,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum ReconciliationRuns {
    Table,
    PaymentsCompared,
    PayoutsCompared,
}

#[derive(DeriveIden)]
enum ReconciliationDifferences {
    Table,
    /// The provider object a payment-side difference is about (`pi_…`, `ch_…`, `po_…`).
    ProviderRef,
    /// The Trellis receipt concerned, when there is one.
    PaymentId,
}

#[derive(DeriveIden)]
enum StripePayouts {
    Table,
    /// Stripe `po_…`.
    PayoutRef,
    AmountPence,
    Currency,
    ArrivalOn,
    /// paid, pending, in_transit, failed, canceled.
    Status,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StripePayoutLines {
    Table,
    /// Stripe `txn_…`: one line per balance transaction.
    TransactionRef,
    PayoutRef,
    /// charge, refund, payment, adjustment, … (Stripe's `type`).
    Kind,
    /// The charge or refund behind it (`ch_…`, `re_…`).
    SourceRef,
    AmountPence,
    FeePence,
    NetPence,
    /// The Trellis receipt (for a charge) or the receipt refunded (for a refund).
    PaymentId,
    RefundId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_events_outcome")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::Outcome)
                    .col(StripeEvents::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE.
        for column in [
            integer(ReconciliationRuns::PaymentsCompared)
                .default(0)
                .to_owned(),
            integer(ReconciliationRuns::PayoutsCompared)
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ReconciliationRuns::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            string_null(ReconciliationDifferences::ProviderRef),
            uuid_null(ReconciliationDifferences::PaymentId),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ReconciliationDifferences::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(StripePayouts::Table)
                    .col(string(StripePayouts::PayoutRef).primary_key())
                    .col(big_integer(StripePayouts::AmountPence))
                    .col(string(StripePayouts::Currency))
                    .col(date(StripePayouts::ArrivalOn))
                    .col(string(StripePayouts::Status))
                    .col(timestamp_with_time_zone(StripePayouts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_payouts_arrival")
                    .table(StripePayouts::Table)
                    .col(StripePayouts::ArrivalOn)
                    .col(StripePayouts::PayoutRef)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripePayoutLines::Table)
                    .col(string(StripePayoutLines::TransactionRef).primary_key())
                    .col(string(StripePayoutLines::PayoutRef))
                    .col(string(StripePayoutLines::Kind))
                    .col(string_null(StripePayoutLines::SourceRef))
                    .col(big_integer(StripePayoutLines::AmountPence))
                    .col(big_integer(StripePayoutLines::FeePence))
                    .col(big_integer(StripePayoutLines::NetPence))
                    .col(uuid_null(StripePayoutLines::PaymentId))
                    .col(uuid_null(StripePayoutLines::RefundId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_stripe_payout_lines_payout")
                            .from(StripePayoutLines::Table, StripePayoutLines::PayoutRef)
                            .to(StripePayouts::Table, StripePayouts::PayoutRef)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_payout_lines_payout")
                    .table(StripePayoutLines::Table)
                    .col(StripePayoutLines::PayoutRef)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_payout_lines_payment")
                    .table(StripePayoutLines::Table)
                    .col(StripePayoutLines::PaymentId)
                    .to_owned(),
            )
            .await
    }
}
