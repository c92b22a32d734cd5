//! The core offer: what membership includes (offer items), how much of each a school gets
//! per year, tier and phase (item quantities), and each school's entitlement kept as a
//! ledger of grants, usages, reversals, adjustments, cash-ins and draw-forwards.
//!
//! **Units.** Quantities are whole units of the item's unit (visits, places, hours, days,
//! items), stored as signed `BIGINT`: the units are chosen so that nothing is used in
//! fractions (a half-day partner visit is one VISIT, support is logged in whole HOURS).
//! Pro-rata grants for mid-year joiners are rounded half-up to whole units.
//!
//! **Ledger, not counter.** What is left is the sum of an entitlement's entries, never a
//! stored total. `offer_entitlements` holds one row per school, item and year: it marks that
//! the entitlement was derived (so a rerun grants nothing twice), says whether it is
//! unlimited, and is the row every writer locks (`version = version + 1`) before reading the
//! sum, so concurrent usages cannot overdraw on PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, date, integer, integer_null, pk_uuid, string,
    string_null, string_uniq, text, text_null, timestamp_with_time_zone, uuid, uuid_null,
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
enum MembershipTiers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OfferItems {
    Table,
    Id,
    /// Stable upper-case handle, unique across the partnership's catalogue.
    Code,
    Name,
    Description,
    /// VISITS, PLACES, HOURS, DAYS or ITEMS.
    Unit,
    /// The traded price of the equivalent service per unit: what one unit is worth.
    UnitValuePence,
    /// Mid-year joiners get the share of whole months left.
    ProRata,
    AllowsOverdraft,
    /// Null: cannot be cashed in; otherwise the most units a school may cash in per year.
    CashInLimit,
    /// Null: cannot be drawn forward; otherwise the largest share (percent) of next year's
    /// allowance a school may draw into this year.
    DrawForwardPercent,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OfferItemQuantities {
    Table,
    Id,
    ItemId,
    AcademicYear,
    TierId,
    /// A school phase, or `ALL` for every phase (a phase-specific row wins).
    Phase,
    /// Null: unlimited.
    Quantity,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OfferEntitlements {
    Table,
    Id,
    SchoolId,
    MembershipId,
    ItemId,
    AcademicYear,
    Unlimited,
    /// Bumped by every writer as its lock; carries no meaning of its own.
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OfferLedgerEntries {
    Table,
    Id,
    EntitlementId,
    SchoolId,
    MembershipId,
    ItemId,
    AcademicYear,
    /// GRANT, USAGE, REVERSAL, ADJUSTMENT, CASH_IN or DRAW_FORWARD.
    Kind,
    /// Signed whole units: what the entry adds to (or takes from) the remaining allowance.
    Quantity,
    OccurredOn,
    /// AUTUMN, SPRING or SUMMER (the billing convention of `kernel::Term`).
    Term,
    /// Where it came from, e.g. a booking id or a visit note reference.
    Reference,
    Reason,
    /// Reversals only: the usage given back. Unique, so a usage is reversed at most once.
    ReversalOf,
    RecordedBy,
    CreatedAt,
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index).await
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfferItems::Table)
                    .col(pk_uuid(OfferItems::Id))
                    .col(string_uniq(OfferItems::Code))
                    .col(string(OfferItems::Name))
                    .col(text(OfferItems::Description).default(""))
                    .col(string(OfferItems::Unit))
                    .col(big_integer(OfferItems::UnitValuePence))
                    .col(boolean(OfferItems::ProRata).default(false))
                    .col(boolean(OfferItems::AllowsOverdraft).default(false))
                    .col(big_integer_null(OfferItems::CashInLimit))
                    .col(integer_null(OfferItems::DrawForwardPercent))
                    .col(boolean(OfferItems::Active).default(true))
                    .col(timestamp_with_time_zone(OfferItems::CreatedAt))
                    .col(timestamp_with_time_zone(OfferItems::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The catalogue is listed by name.
        index(
            manager,
            "idx_offer_items_name",
            OfferItems::Table,
            vec![OfferItems::Name.into_iden(), OfferItems::Id.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OfferItemQuantities::Table)
                    .col(pk_uuid(OfferItemQuantities::Id))
                    .col(uuid(OfferItemQuantities::ItemId))
                    .col(integer(OfferItemQuantities::AcademicYear))
                    .col(uuid(OfferItemQuantities::TierId))
                    .col(string(OfferItemQuantities::Phase))
                    .col(big_integer_null(OfferItemQuantities::Quantity))
                    .col(timestamp_with_time_zone(OfferItemQuantities::CreatedAt))
                    .col(timestamp_with_time_zone(OfferItemQuantities::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_offer_item_quantities_item",
                        (OfferItemQuantities::Table, OfferItemQuantities::ItemId),
                        (OfferItems::Table, OfferItems::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_item_quantities_tier",
                        (OfferItemQuantities::Table, OfferItemQuantities::TierId),
                        (MembershipTiers::Table, MembershipTiers::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One quantity per item, year, tier and phase; also "an item's quantities".
        index(
            manager,
            "uq_offer_item_quantities",
            OfferItemQuantities::Table,
            vec![
                OfferItemQuantities::ItemId.into_iden(),
                OfferItemQuantities::AcademicYear.into_iden(),
                OfferItemQuantities::TierId.into_iden(),
                OfferItemQuantities::Phase.into_iden(),
            ],
            true,
        )
        .await?;
        // Derivation reads a year's quantities.
        index(
            manager,
            "idx_offer_item_quantities_year_tier",
            OfferItemQuantities::Table,
            vec![
                OfferItemQuantities::AcademicYear.into_iden(),
                OfferItemQuantities::TierId.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OfferEntitlements::Table)
                    .col(pk_uuid(OfferEntitlements::Id))
                    .col(uuid(OfferEntitlements::SchoolId))
                    .col(uuid(OfferEntitlements::MembershipId))
                    .col(uuid(OfferEntitlements::ItemId))
                    .col(integer(OfferEntitlements::AcademicYear))
                    .col(boolean(OfferEntitlements::Unlimited).default(false))
                    .col(big_integer(OfferEntitlements::Version).default(0))
                    .col(timestamp_with_time_zone(OfferEntitlements::CreatedAt))
                    .col(timestamp_with_time_zone(OfferEntitlements::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_offer_entitlements_school",
                        (OfferEntitlements::Table, OfferEntitlements::SchoolId),
                        (Schools::Table, Schools::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_entitlements_membership",
                        (OfferEntitlements::Table, OfferEntitlements::MembershipId),
                        (Memberships::Table, Memberships::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_entitlements_item",
                        (OfferEntitlements::Table, OfferEntitlements::ItemId),
                        (OfferItems::Table, OfferItems::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // One entitlement per school, item and year (derivation is idempotent on it); also
        // the lookup of every writer and of "this school's offer for 2026/27".
        index(
            manager,
            "uq_offer_entitlements_school_item_year",
            OfferEntitlements::Table,
            vec![
                OfferEntitlements::SchoolId.into_iden(),
                OfferEntitlements::ItemId.into_iden(),
                OfferEntitlements::AcademicYear.into_iden(),
            ],
            true,
        )
        .await?;
        index(
            manager,
            "idx_offer_entitlements_year_school",
            OfferEntitlements::Table,
            vec![
                OfferEntitlements::AcademicYear.into_iden(),
                OfferEntitlements::SchoolId.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_offer_entitlements_item_year",
            OfferEntitlements::Table,
            vec![
                OfferEntitlements::ItemId.into_iden(),
                OfferEntitlements::AcademicYear.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_offer_entitlements_membership",
            OfferEntitlements::Table,
            vec![OfferEntitlements::MembershipId.into_iden()],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OfferLedgerEntries::Table)
                    .col(pk_uuid(OfferLedgerEntries::Id))
                    .col(uuid(OfferLedgerEntries::EntitlementId))
                    .col(uuid(OfferLedgerEntries::SchoolId))
                    .col(uuid(OfferLedgerEntries::MembershipId))
                    .col(uuid(OfferLedgerEntries::ItemId))
                    .col(integer(OfferLedgerEntries::AcademicYear))
                    .col(string(OfferLedgerEntries::Kind))
                    .col(big_integer(OfferLedgerEntries::Quantity))
                    .col(date(OfferLedgerEntries::OccurredOn))
                    .col(string(OfferLedgerEntries::Term))
                    .col(string_null(OfferLedgerEntries::Reference))
                    .col(text_null(OfferLedgerEntries::Reason))
                    .col(uuid_null(OfferLedgerEntries::ReversalOf))
                    .col(uuid_null(OfferLedgerEntries::RecordedBy))
                    .col(timestamp_with_time_zone(OfferLedgerEntries::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_offer_ledger_entries_entitlement",
                        (OfferLedgerEntries::Table, OfferLedgerEntries::EntitlementId),
                        (OfferEntitlements::Table, OfferEntitlements::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_ledger_entries_school",
                        (OfferLedgerEntries::Table, OfferLedgerEntries::SchoolId),
                        (Schools::Table, Schools::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_ledger_entries_membership",
                        (OfferLedgerEntries::Table, OfferLedgerEntries::MembershipId),
                        (Memberships::Table, Memberships::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_ledger_entries_item",
                        (OfferLedgerEntries::Table, OfferLedgerEntries::ItemId),
                        (OfferItems::Table, OfferItems::Id),
                    ))
                    .foreign_key(&mut fk(
                        "fk_offer_ledger_entries_reversal_of",
                        (OfferLedgerEntries::Table, OfferLedgerEntries::ReversalOf),
                        (OfferLedgerEntries::Table, OfferLedgerEntries::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_offer_ledger_entries_recorded_by")
                            .from(OfferLedgerEntries::Table, OfferLedgerEntries::RecordedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // A usage is reversed at most once, even by two concurrent requests. NULLs (every
        // entry that is not a reversal) do not collide on either backend.
        index(
            manager,
            "uq_offer_ledger_entries_reversal_of",
            OfferLedgerEntries::Table,
            vec![OfferLedgerEntries::ReversalOf.into_iden()],
            true,
        )
        .await?;
        // Balances and the newest-first ledger page of one entitlement.
        index(
            manager,
            "idx_offer_ledger_entries_entitlement_created",
            OfferLedgerEntries::Table,
            vec![
                OfferLedgerEntries::EntitlementId.into_iden(),
                OfferLedgerEntries::CreatedAt.into_iden(),
                OfferLedgerEntries::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // A school's ledger for a year (dashboard, value statement), per item.
        index(
            manager,
            "idx_offer_ledger_entries_school_year_item",
            OfferLedgerEntries::Table,
            vec![
                OfferLedgerEntries::SchoolId.into_iden(),
                OfferLedgerEntries::AcademicYear.into_iden(),
                OfferLedgerEntries::ItemId.into_iden(),
                OfferLedgerEntries::CreatedAt.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_offer_ledger_entries_item_year",
            OfferLedgerEntries::Table,
            vec![
                OfferLedgerEntries::ItemId.into_iden(),
                OfferLedgerEntries::AcademicYear.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_offer_ledger_entries_membership",
            OfferLedgerEntries::Table,
            vec![OfferLedgerEntries::MembershipId.into_iden()],
            false,
        )
        .await?;
        Ok(())
    }
}
