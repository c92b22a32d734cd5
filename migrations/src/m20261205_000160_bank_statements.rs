//! Bank statements imported by finance (issue #17 item 3): each upload, and each money-in
//! line of it once, whatever statements overlap. A line is recorded as a receipt only when
//! finance confirms it — a proposed match (by an invoice number in its reference, or by the
//! exact amount outstanding and the payer's name) or an account finance chose — so a wrong
//! guess never puts money on the wrong account.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, date, date_null, integer, string_len, string_len_null, string_len_uniq,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BankStatements {
    Table,
    Id,
    FileName,
    ImportedAt,
    /// The user who uploaded it; null for an API key.
    ImportedBy,
    /// Money-in lines new to Trellis.
    LinesNew,
    /// Money-in lines an earlier statement already brought in.
    LinesKnown,
    /// Money-out lines, which are not receipts.
    LinesOut,
    FirstDay,
    LastDay,
}

#[derive(DeriveIden)]
enum BankStatementLines {
    Table,
    Id,
    StatementId,
    /// Its line in the file it first came in.
    LineNo,
    /// SHA-256 of day, amount, description and which of identical lines it is: the same
    /// transaction in an overlapping statement has the same one.
    Fingerprint,
    PostedOn,
    Description,
    AmountPence,
    /// PROPOSED, UNMATCHED, CONFIRMED or DISMISSED.
    Status,
    /// INVOICE_NUMBER or AMOUNT_AND_PAYER, with the proposal.
    MatchReason,
    ProposedAccountId,
    ProposedInvoiceId,
    /// The receipt it became.
    PaymentId,
    ResolvedAt,
    ResolvedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BankStatements::Table)
                    .col(uuid(BankStatements::Id).primary_key())
                    .col(string_len(BankStatements::FileName, 255))
                    .col(timestamp_with_time_zone(BankStatements::ImportedAt))
                    .col(uuid_null(BankStatements::ImportedBy))
                    .col(integer(BankStatements::LinesNew))
                    .col(integer(BankStatements::LinesKnown))
                    .col(integer(BankStatements::LinesOut))
                    .col(date_null(BankStatements::FirstDay))
                    .col(date_null(BankStatements::LastDay))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BankStatementLines::Table)
                    .col(uuid(BankStatementLines::Id).primary_key())
                    .col(uuid(BankStatementLines::StatementId))
                    .col(integer(BankStatementLines::LineNo))
                    .col(string_len_uniq(BankStatementLines::Fingerprint, 64))
                    .col(date(BankStatementLines::PostedOn))
                    .col(string_len(BankStatementLines::Description, 500))
                    .col(big_integer(BankStatementLines::AmountPence))
                    .col(string_len(BankStatementLines::Status, 16))
                    .col(string_len_null(BankStatementLines::MatchReason, 24))
                    .col(uuid_null(BankStatementLines::ProposedAccountId))
                    .col(uuid_null(BankStatementLines::ProposedInvoiceId))
                    .col(uuid_null(BankStatementLines::PaymentId).unique_key())
                    .col(timestamp_with_time_zone_null(
                        BankStatementLines::ResolvedAt,
                    ))
                    .col(uuid_null(BankStatementLines::ResolvedBy))
                    .col(timestamp_with_time_zone(BankStatementLines::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BankStatementLines::Table, BankStatementLines::StatementId)
                            .to(BankStatements::Table, BankStatements::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BankStatementLines::Table, BankStatementLines::PaymentId)
                            .to(Payments::Table, Payments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Finance's list: what is still to confirm, by day.
        manager
            .create_index(
                Index::create()
                    .name("idx_bank_statement_lines_status_day")
                    .table(BankStatementLines::Table)
                    .col(BankStatementLines::Status)
                    .col(BankStatementLines::PostedOn)
                    .col(BankStatementLines::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_bank_statement_lines_statement")
                    .table(BankStatementLines::Table)
                    .col(BankStatementLines::StatementId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_bank_statements_imported")
                    .table(BankStatements::Table)
                    .col(BankStatements::ImportedAt)
                    .col(BankStatements::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
