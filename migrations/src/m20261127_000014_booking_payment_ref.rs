//! A card booking remembers the payment it started (Stripe: the PaymentIntent), so a booking
//! released unpaid or cancelled can call that payment off: otherwise the school could still
//! complete it and pay for places it no longer holds.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TradedBookings {
    Table,
    /// What the payment provider called the card payment (`pi_…`); null until one starts.
    PaymentRef,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(TradedBookings::Table)
                    .add_column(string_null(TradedBookings::PaymentRef))
                    .to_owned(),
            )
            .await
    }
}
