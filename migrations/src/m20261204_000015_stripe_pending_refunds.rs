//! Stripe events in any order: a refund that arrives before the payment it refunds is kept
//! PENDING and applied when that payment's event comes. Each event remembers the PaymentIntent
//! its money belongs to, so the payment's event finds the refunds waiting for it; and a
//! refund finds its receipt by the provider's reference alone (one indexed read), whichever
//! account it is on.
//!
//! `stripe_events.outcome` is free text: PENDING needs no change to the column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    /// The PaymentIntent (`pi_…`) the event's money belongs to, when it names one.
    PaymentRef,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    ProviderPaymentRef,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(StripeEvents::Table)
                    .add_column(string_null(StripeEvents::PaymentRef))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_stripe_events_payment_ref")
                    .table(StripeEvents::Table)
                    .col(StripeEvents::PaymentRef)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_payments_provider_payment_ref")
                    .table(Payments::Table)
                    .col(Payments::ProviderPaymentRef)
                    .to_owned(),
            )
            .await
    }
}
