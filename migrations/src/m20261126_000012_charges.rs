//! Booking charges waiting for a school's consolidated termly invoice, and the purchase-order
//! number each invoice line can carry of its own (a termly invoice bills many bookings, each
//! with the PO the school raised for it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, date, integer, pk_uuid, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InvoiceLines {
    Table,
    Id,
    PoNumber,
}

#[derive(DeriveIden)]
enum CreditNotes {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BillingCharges {
    Table,
    Id,
    AccountId,
    SchoolId,
    /// The traded booking it bills: one charge per booking (no foreign key, the booking
    /// lives in another domain's tables).
    BookingId,
    AcademicYear,
    /// AUTUMN, SPRING or SUMMER: the termly invoice it goes on.
    Term,
    OccurredOn,
    Description,
    Quantity,
    UnitPence,
    VatTreatment,
    VatRateBp,
    NetPence,
    VatPence,
    TotalPence,
    CfrCode,
    PoNumber,
    /// PENDING, INVOICED or WITHDRAWN.
    Status,
    InvoiceId,
    InvoiceLineId,
    CancelledAt,
    /// The net fee the cancellation kept (zero when withdrawn for free).
    CancellationFeePence,
    CancellationReason,
    /// The credit note a cancellation after invoicing raised.
    CreditNoteId,
    CreatedByKind,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

fn fk(
    name: &str,
    from: impl IntoIden,
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(BillingCharges::Table, from)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    cols: Vec<BillingCharges>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(BillingCharges::Table);
    if unique {
        index.unique();
    }
    for col in cols {
        index.col(col);
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InvoiceLines::Table)
                    .add_column(string_null(InvoiceLines::PoNumber))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BillingCharges::Table)
                    .col(pk_uuid(BillingCharges::Id))
                    .col(uuid(BillingCharges::AccountId))
                    .col(uuid(BillingCharges::SchoolId))
                    .col(uuid(BillingCharges::BookingId))
                    .col(integer(BillingCharges::AcademicYear))
                    .col(string(BillingCharges::Term))
                    .col(date(BillingCharges::OccurredOn))
                    .col(text(BillingCharges::Description))
                    .col(big_integer(BillingCharges::Quantity))
                    .col(big_integer(BillingCharges::UnitPence))
                    .col(string(BillingCharges::VatTreatment))
                    .col(integer(BillingCharges::VatRateBp))
                    .col(big_integer(BillingCharges::NetPence))
                    .col(big_integer(BillingCharges::VatPence))
                    .col(big_integer(BillingCharges::TotalPence))
                    .col(string_null(BillingCharges::CfrCode))
                    .col(string_null(BillingCharges::PoNumber))
                    .col(string(BillingCharges::Status))
                    .col(uuid_null(BillingCharges::InvoiceId))
                    .col(uuid_null(BillingCharges::InvoiceLineId))
                    .col(timestamp_with_time_zone_null(BillingCharges::CancelledAt))
                    .col(big_integer_null(BillingCharges::CancellationFeePence))
                    .col(text_null(BillingCharges::CancellationReason))
                    .col(uuid_null(BillingCharges::CreditNoteId))
                    .col(string(BillingCharges::CreatedByKind))
                    .col(uuid_null(BillingCharges::CreatedBy))
                    .col(timestamp_with_time_zone(BillingCharges::CreatedAt))
                    .col(timestamp_with_time_zone(BillingCharges::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_billing_charges_account",
                        BillingCharges::AccountId,
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_billing_charges_school",
                        BillingCharges::SchoolId,
                        (Schools::Table, Schools::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_billing_charges_invoice",
                        BillingCharges::InvoiceId,
                        (Invoices::Table, Invoices::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_billing_charges_invoice_line",
                        BillingCharges::InvoiceLineId,
                        (InvoiceLines::Table, InvoiceLines::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_billing_charges_credit_note",
                        BillingCharges::CreditNoteId,
                        (CreditNotes::Table, CreditNotes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // The idempotency of add_charge, and charges_by_bookings.
        index(
            manager,
            "ux_billing_charges_booking",
            vec![BillingCharges::BookingId],
            true,
        )
        .await?;
        // Issuing a term (status + year + term, grouped per account) and finance's pending
        // list in (occurred_on, id) order.
        index(
            manager,
            "ix_billing_charges_term",
            vec![
                BillingCharges::Status,
                BillingCharges::AcademicYear,
                BillingCharges::Term,
                BillingCharges::OccurredOn,
                BillingCharges::Id,
            ],
            false,
        )
        .await?;
        // An account's pending charges (BillingAccount.pendingCharges, a head's list).
        index(
            manager,
            "ix_billing_charges_account",
            vec![
                BillingCharges::AccountId,
                BillingCharges::Status,
                BillingCharges::OccurredOn,
                BillingCharges::Id,
            ],
            false,
        )
        .await?;
        index(
            manager,
            "ix_billing_charges_school",
            vec![
                BillingCharges::SchoolId,
                BillingCharges::Status,
                BillingCharges::OccurredOn,
            ],
            false,
        )
        .await?;
        index(
            manager,
            "ix_billing_charges_invoice",
            vec![BillingCharges::InvoiceId],
            false,
        )
        .await?;
        index(
            manager,
            "ix_billing_charges_invoice_line",
            vec![BillingCharges::InvoiceLineId],
            false,
        )
        .await?;
        index(
            manager,
            "ix_billing_charges_credit_note",
            vec![BillingCharges::CreditNoteId],
            false,
        )
        .await
    }
}
