//! Stripe, second part: finance lists the webhook events the ledger refused (by outcome), and
//! the reconciliation compares payments, refunds and payouts as well as invoices.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Outcome,
    ReceivedAt,
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
            .await
    }
}
