//! A booking paid from the core offer is cancelled in allowance units, not money: it
//! remembers how many units its cancellation kept and how many went back to the allowance
//! (its money fee and refund stay zero).
//!
//! OFFER bookings cancelled before this migration recorded their money price as fee or
//! refund; they are restated in units from the ledger: a usage reversed gave every unit back,
//! one not reversed kept them all (that was the only choice before).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::integer_null;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TradedBookings {
    Table,
    /// OFFER cancellations: units that stay used under the policy; null otherwise.
    CancellationUnitsKept,
    /// OFFER cancellations: units reversed back into the allowance; null otherwise.
    CancellationUnitsReturned,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            TradedBookings::CancellationUnitsKept,
            TradedBookings::CancellationUnitsReturned,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(TradedBookings::Table)
                        .add_column(integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE traded_bookings SET \
               cancellation_units_kept = CASE WHEN EXISTS (SELECT 1 FROM offer_ledger_entries e \
                 WHERE e.reversal_of = traded_bookings.offer_entry_id) THEN 0 ELSE places END, \
               cancellation_units_returned = CASE WHEN EXISTS (SELECT 1 FROM offer_ledger_entries e \
                 WHERE e.reversal_of = traded_bookings.offer_entry_id) THEN places ELSE 0 END, \
               cancellation_fee_pence = 0, refund_pence = 0 \
             WHERE settlement = 'OFFER' AND refund_pence IS NOT NULL \
               AND offer_entry_id IS NOT NULL",
        )
        .await?;
        Ok(())
    }
}
