//! The money ledger: billing accounts and the schools they pay for, gap-free number series,
//! invoices and their lines, credit notes, payments and their allocations, refunds, the
//! audit trail and idempotency keys.
//!
//! Amounts are integer pence (`BIGINT`). Each invoice and payment also carries its running
//! totals (paid, credited, allocated, refunded) so that "what is left" is a column compared in
//! a conditional check under the account's lock, not a sum recomputed by every writer.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, date, integer, json_null, pk_uuid, string, string_null, string_uniq, text,
    text_null, timestamp_with_time_zone, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum BillingAccounts {
    Table,
    Id,
    Kind,
    Name,
    ContactName,
    ContactEmail,
    /// The address lines as a JSON array of strings.
    AddressLines,
    Postcode,
    DefaultMethod,
    ProviderCustomerRef,
    /// Bumped by every money mutation of the account: the row lock that serialises them.
    LedgerVersion,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BillingAccountSchools {
    Table,
    SchoolId,
    AccountId,
}

#[derive(DeriveIden)]
enum NumberSeries {
    Table,
    Series,
    Prefix,
}

#[derive(DeriveIden)]
enum NumberCounters {
    Table,
    Series,
    AcademicYear,
    LastNumber,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Id,
    Number,
    AccountId,
    AcademicYear,
    Instalment,
    Status,
    Source,
    NetPence,
    VatPence,
    TotalPence,
    PaidPence,
    CreditedPence,
    DueOn,
    IssuedAt,
    PoNumber,
    ProviderInvoiceRef,
    HostedUrl,
    StatusReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InvoiceLines {
    Table,
    Id,
    InvoiceId,
    Position,
    Description,
    Quantity,
    UnitPence,
    NetPence,
    VatTreatment,
    VatRateBp,
    VatPence,
    CfrCode,
    SchoolId,
    MembershipId,
    BookingId,
}

#[derive(DeriveIden)]
enum CreditNotes {
    Table,
    Id,
    Number,
    InvoiceId,
    AccountId,
    AcademicYear,
    Reason,
    NetPence,
    VatPence,
    TotalPence,
    ReleasedPence,
    IssuedAt,
}

#[derive(DeriveIden)]
enum CreditNoteLines {
    Table,
    Id,
    CreditNoteId,
    InvoiceLineId,
    Position,
    Description,
    NetPence,
    VatPence,
    CfrCode,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    AccountId,
    Method,
    Reference,
    ReceivedOn,
    AmountPence,
    AllocatedPence,
    RefundedPence,
    ProviderPaymentRef,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Allocations {
    Table,
    Id,
    PaymentId,
    InvoiceId,
    /// Negative when a credit note released part of an earlier allocation.
    AmountPence,
    CreditNoteId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    Id,
    PaymentId,
    AccountId,
    AmountPence,
    Reason,
    RefundedOn,
    ProviderRefundRef,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    Action,
    Entity,
    EntityId,
    Before,
    After,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    Request,
    /// JSON array of the ids the first request created.
    Result,
    CreatedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    manager.create_index(index).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BillingAccounts::Table)
                    .col(pk_uuid(BillingAccounts::Id))
                    .col(string(BillingAccounts::Kind))
                    .col(string(BillingAccounts::Name))
                    .col(string(BillingAccounts::ContactName))
                    .col(string(BillingAccounts::ContactEmail))
                    .col(text(BillingAccounts::AddressLines))
                    .col(string(BillingAccounts::Postcode))
                    .col(string(BillingAccounts::DefaultMethod))
                    .col(string_null(BillingAccounts::ProviderCustomerRef))
                    .col(big_integer(BillingAccounts::LedgerVersion).default(0))
                    .col(timestamp_with_time_zone(BillingAccounts::CreatedAt))
                    .col(timestamp_with_time_zone(BillingAccounts::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Keyset listing by (name, id).
        index(
            manager,
            "idx_billing_accounts_name_id",
            BillingAccounts::Table,
            vec![
                BillingAccounts::Name.into_iden(),
                BillingAccounts::Id.into_iden(),
            ],
        )
        .await?;

        // The school id is the primary key: a school is billed through exactly one account.
        manager
            .create_table(
                Table::create()
                    .table(BillingAccountSchools::Table)
                    .col(pk_uuid(BillingAccountSchools::SchoolId))
                    .col(uuid(BillingAccountSchools::AccountId))
                    .foreign_key(&mut fk(
                        "fk_billing_account_schools_school",
                        (
                            BillingAccountSchools::Table,
                            BillingAccountSchools::SchoolId,
                        ),
                        (Schools::Table, Schools::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_billing_account_schools_account",
                        (
                            BillingAccountSchools::Table,
                            BillingAccountSchools::AccountId,
                        ),
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_billing_account_schools_account",
            BillingAccountSchools::Table,
            vec![BillingAccountSchools::AccountId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(NumberSeries::Table)
                    .col(string(NumberSeries::Series).primary_key())
                    .col(string(NumberSeries::Prefix))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(NumberSeries::Table)
                    .columns([NumberSeries::Series, NumberSeries::Prefix])
                    .values_panic(["INVOICE".into(), "TRL".into()])
                    .values_panic(["CREDIT_NOTE".into(), "CN".into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NumberCounters::Table)
                    .col(string(NumberCounters::Series))
                    .col(integer(NumberCounters::AcademicYear))
                    .col(big_integer(NumberCounters::LastNumber).default(0))
                    .primary_key(
                        Index::create()
                            .col(NumberCounters::Series)
                            .col(NumberCounters::AcademicYear),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invoices::Table)
                    .col(pk_uuid(Invoices::Id))
                    .col(string_uniq(Invoices::Number))
                    .col(uuid(Invoices::AccountId))
                    .col(integer(Invoices::AcademicYear))
                    .col(string(Invoices::Instalment))
                    .col(string(Invoices::Status))
                    .col(string(Invoices::Source))
                    .col(big_integer(Invoices::NetPence))
                    .col(big_integer(Invoices::VatPence))
                    .col(big_integer(Invoices::TotalPence))
                    .col(big_integer(Invoices::PaidPence).default(0))
                    .col(big_integer(Invoices::CreditedPence).default(0))
                    .col(date(Invoices::DueOn))
                    .col(timestamp_with_time_zone(Invoices::IssuedAt))
                    .col(string_null(Invoices::PoNumber))
                    .col(string_null(Invoices::ProviderInvoiceRef))
                    .col(text_null(Invoices::HostedUrl))
                    .col(text_null(Invoices::StatusReason))
                    .col(timestamp_with_time_zone(Invoices::CreatedAt))
                    .col(timestamp_with_time_zone(Invoices::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_invoices_account",
                        (Invoices::Table, Invoices::AccountId),
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A rerun of the invoicing run never duplicates a membership instalment; ad-hoc and
        // booking invoices (instalment NONE) are outside the rule. Same SQL on both backends.
        manager
            .create_index(
                Index::create()
                    .name("uq_invoices_account_year_instalment")
                    .table(Invoices::Table)
                    .col(Invoices::AccountId)
                    .col(Invoices::AcademicYear)
                    .col(Invoices::Instalment)
                    .unique()
                    .and_where(Expr::col(Invoices::Instalment).ne("NONE"))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_invoices_account_issued",
            Invoices::Table,
            vec![
                Invoices::AccountId.into_iden(),
                Invoices::IssuedAt.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_invoices_status_due",
            Invoices::Table,
            vec![Invoices::Status.into_iden(), Invoices::DueOn.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_invoices_year_number",
            Invoices::Table,
            vec![
                Invoices::AcademicYear.into_iden(),
                Invoices::Number.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(InvoiceLines::Table)
                    .col(pk_uuid(InvoiceLines::Id))
                    .col(uuid(InvoiceLines::InvoiceId))
                    .col(integer(InvoiceLines::Position))
                    .col(text(InvoiceLines::Description))
                    .col(big_integer(InvoiceLines::Quantity))
                    .col(big_integer(InvoiceLines::UnitPence))
                    .col(big_integer(InvoiceLines::NetPence))
                    .col(string(InvoiceLines::VatTreatment))
                    .col(integer(InvoiceLines::VatRateBp))
                    .col(big_integer(InvoiceLines::VatPence))
                    .col(string_null(InvoiceLines::CfrCode))
                    .col(uuid_null(InvoiceLines::SchoolId))
                    .col(uuid_null(InvoiceLines::MembershipId))
                    .col(uuid_null(InvoiceLines::BookingId))
                    .foreign_key(&mut fk(
                        "fk_invoice_lines_invoice",
                        (InvoiceLines::Table, InvoiceLines::InvoiceId),
                        (Invoices::Table, Invoices::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoice_lines_school",
                        (InvoiceLines::Table, InvoiceLines::SchoolId),
                        (Schools::Table, Schools::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_invoice_lines_membership",
                        (InvoiceLines::Table, InvoiceLines::MembershipId),
                        (Memberships::Table, Memberships::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_invoice_lines_invoice",
            InvoiceLines::Table,
            vec![
                InvoiceLines::InvoiceId.into_iden(),
                InvoiceLines::Position.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_invoice_lines_school",
            InvoiceLines::Table,
            vec![InvoiceLines::SchoolId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_invoice_lines_membership",
            InvoiceLines::Table,
            vec![InvoiceLines::MembershipId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CreditNotes::Table)
                    .col(pk_uuid(CreditNotes::Id))
                    .col(string_uniq(CreditNotes::Number))
                    .col(uuid(CreditNotes::InvoiceId))
                    .col(uuid(CreditNotes::AccountId))
                    .col(integer(CreditNotes::AcademicYear))
                    .col(text(CreditNotes::Reason))
                    .col(big_integer(CreditNotes::NetPence))
                    .col(big_integer(CreditNotes::VatPence))
                    .col(big_integer(CreditNotes::TotalPence))
                    .col(big_integer(CreditNotes::ReleasedPence))
                    .col(timestamp_with_time_zone(CreditNotes::IssuedAt))
                    .foreign_key(&mut fk(
                        "fk_credit_notes_invoice",
                        (CreditNotes::Table, CreditNotes::InvoiceId),
                        (Invoices::Table, Invoices::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_credit_notes_account",
                        (CreditNotes::Table, CreditNotes::AccountId),
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_credit_notes_invoice",
            CreditNotes::Table,
            vec![CreditNotes::InvoiceId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_credit_notes_account_year",
            CreditNotes::Table,
            vec![
                CreditNotes::AccountId.into_iden(),
                CreditNotes::AcademicYear.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_credit_notes_year_number",
            CreditNotes::Table,
            vec![
                CreditNotes::AcademicYear.into_iden(),
                CreditNotes::Number.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(CreditNoteLines::Table)
                    .col(pk_uuid(CreditNoteLines::Id))
                    .col(uuid(CreditNoteLines::CreditNoteId))
                    .col(uuid(CreditNoteLines::InvoiceLineId))
                    .col(integer(CreditNoteLines::Position))
                    .col(text(CreditNoteLines::Description))
                    .col(big_integer(CreditNoteLines::NetPence))
                    .col(big_integer(CreditNoteLines::VatPence))
                    .col(string_null(CreditNoteLines::CfrCode))
                    .foreign_key(&mut fk(
                        "fk_credit_note_lines_note",
                        (CreditNoteLines::Table, CreditNoteLines::CreditNoteId),
                        (CreditNotes::Table, CreditNotes::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_credit_note_lines_invoice_line",
                        (CreditNoteLines::Table, CreditNoteLines::InvoiceLineId),
                        (InvoiceLines::Table, InvoiceLines::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_credit_note_lines_note",
            CreditNoteLines::Table,
            vec![
                CreditNoteLines::CreditNoteId.into_iden(),
                CreditNoteLines::Position.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_credit_note_lines_invoice_line",
            CreditNoteLines::Table,
            vec![CreditNoteLines::InvoiceLineId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Payments::Table)
                    .col(pk_uuid(Payments::Id))
                    .col(uuid(Payments::AccountId))
                    .col(string(Payments::Method))
                    .col(string(Payments::Reference))
                    .col(date(Payments::ReceivedOn))
                    .col(big_integer(Payments::AmountPence))
                    .col(big_integer(Payments::AllocatedPence).default(0))
                    .col(big_integer(Payments::RefundedPence).default(0))
                    .col(string_null(Payments::ProviderPaymentRef))
                    .col(timestamp_with_time_zone(Payments::CreatedAt))
                    .col(timestamp_with_time_zone(Payments::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_payments_account",
                        (Payments::Table, Payments::AccountId),
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_payments_account_received",
            Payments::Table,
            vec![
                Payments::AccountId.into_iden(),
                Payments::ReceivedOn.into_iden(),
            ],
        )
        .await?;
        index(
            manager,
            "idx_payments_received",
            Payments::Table,
            vec![Payments::ReceivedOn.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Allocations::Table)
                    .col(pk_uuid(Allocations::Id))
                    .col(uuid(Allocations::PaymentId))
                    .col(uuid(Allocations::InvoiceId))
                    .col(big_integer(Allocations::AmountPence))
                    .col(uuid_null(Allocations::CreditNoteId))
                    .col(timestamp_with_time_zone(Allocations::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_allocations_payment",
                        (Allocations::Table, Allocations::PaymentId),
                        (Payments::Table, Payments::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_allocations_invoice",
                        (Allocations::Table, Allocations::InvoiceId),
                        (Invoices::Table, Invoices::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_allocations_credit_note",
                        (Allocations::Table, Allocations::CreditNoteId),
                        (CreditNotes::Table, CreditNotes::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_allocations_payment",
            Allocations::Table,
            vec![Allocations::PaymentId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_allocations_invoice",
            Allocations::Table,
            vec![Allocations::InvoiceId.into_iden()],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refunds::Table)
                    .col(pk_uuid(Refunds::Id))
                    .col(uuid(Refunds::PaymentId))
                    .col(uuid(Refunds::AccountId))
                    .col(big_integer(Refunds::AmountPence))
                    .col(text(Refunds::Reason))
                    .col(date(Refunds::RefundedOn))
                    .col(string_null(Refunds::ProviderRefundRef))
                    .col(timestamp_with_time_zone(Refunds::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_refunds_payment",
                        (Refunds::Table, Refunds::PaymentId),
                        (Payments::Table, Payments::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_refunds_account",
                        (Refunds::Table, Refunds::AccountId),
                        (BillingAccounts::Table, BillingAccounts::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_refunds_payment",
            Refunds::Table,
            vec![Refunds::PaymentId.into_iden()],
        )
        .await?;
        index(
            manager,
            "idx_refunds_account_date",
            Refunds::Table,
            vec![
                Refunds::AccountId.into_iden(),
                Refunds::RefundedOn.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEntries::Table)
                    .col(pk_uuid(AuditEntries::Id))
                    .col(timestamp_with_time_zone(AuditEntries::At))
                    .col(string(AuditEntries::ActorKind))
                    .col(uuid_null(AuditEntries::ActorId))
                    .col(string(AuditEntries::Action))
                    .col(string(AuditEntries::Entity))
                    .col(uuid(AuditEntries::EntityId))
                    .col(json_null(AuditEntries::Before))
                    .col(json_null(AuditEntries::After))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_audit_entries_entity",
            AuditEntries::Table,
            vec![
                AuditEntries::Entity.into_iden(),
                AuditEntries::EntityId.into_iden(),
                AuditEntries::Id.into_iden(),
            ],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(string(IdempotencyKeys::Scope))
                    .col(string(IdempotencyKeys::Key))
                    .col(text(IdempotencyKeys::Request))
                    .col(text(IdempotencyKeys::Result))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
