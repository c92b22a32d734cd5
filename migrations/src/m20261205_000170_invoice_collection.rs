//! How each invoice is collected (issue #16): sent to the payer, or charged by card when a
//! traded booking was made.
//!
//! With Stripe configured, an invoice that is sent is mirrored as a hosted Stripe invoice, and
//! its email waits for the hosted page's link. A card booking's invoice is paid through a
//! PaymentIntent instead: it must never become a second, payable Stripe invoice, and its email
//! has no link to wait for. Until now only the booking knew which was which; the ledger needs
//! to know it to mirror and to notify correctly.
//!
//! Existing invoices are SEND unless a card booking names them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::string_len;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    Collection,
}

#[derive(DeriveIden)]
enum TradedBookings {
    Table,
    InvoiceId,
    Settlement,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Invoices::Table)
                    .add_column(string_len(Invoices::Collection, 16).default("SEND"))
                    .to_owned(),
            )
            .await?;
        let card_invoices = Query::select()
            .column(TradedBookings::InvoiceId)
            .from(TradedBookings::Table)
            .and_where(Expr::col(TradedBookings::Settlement).eq("CARD"))
            .and_where(Expr::col(TradedBookings::InvoiceId).is_not_null())
            .to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(Invoices::Table)
                    .value(Invoices::Collection, "CARD")
                    .and_where(Expr::col(Invoices::Id).in_subquery(card_invoices))
                    .to_owned(),
            )
            .await
    }
}
