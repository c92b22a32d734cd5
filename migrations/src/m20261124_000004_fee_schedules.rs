//! Fee schedules: the fee rules for one academic year and membership tier, kept as data (a
//! versioned JSON document the billing crate validates) so a partnership can change its
//! pricing each year without a release.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, pk_uuid, string, text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum MembershipTiers {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum FeeSchedules {
    Table,
    Id,
    /// The starting calendar year of the academic year: 2026 is 2026/27.
    AcademicYear,
    TierId,
    Name,
    /// `billing::fees::FeeRules` as JSON, with its own `version` field.
    Rules,
    /// ANNUAL or TERMLY.
    BillingFrequency,
    PaymentTermsDays,
    /// Set once the year has been invoiced against this schedule; the rules are then frozen.
    LockedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeeSchedules::Table)
                    .col(pk_uuid(FeeSchedules::Id))
                    .col(integer(FeeSchedules::AcademicYear))
                    .col(uuid(FeeSchedules::TierId))
                    .col(string(FeeSchedules::Name))
                    .col(text(FeeSchedules::Rules))
                    .col(string(FeeSchedules::BillingFrequency).check(
                        Expr::col(FeeSchedules::BillingFrequency).is_in(["ANNUAL", "TERMLY"]),
                    ))
                    .col(
                        integer(FeeSchedules::PaymentTermsDays)
                            .check(Expr::col(FeeSchedules::PaymentTermsDays).gte(0)),
                    )
                    .col(timestamp_with_time_zone_null(FeeSchedules::LockedAt))
                    .col(timestamp_with_time_zone(FeeSchedules::CreatedAt))
                    .col(timestamp_with_time_zone(FeeSchedules::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fee_schedules_tier")
                            .from(FeeSchedules::Table, FeeSchedules::TierId)
                            .to(MembershipTiers::Table, MembershipTiers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // One schedule per year and tier; also serves "this year's schedules" (leading column).
        manager
            .create_index(
                Index::create()
                    .name("uq_fee_schedules_year_tier")
                    .table(FeeSchedules::Table)
                    .col(FeeSchedules::AcademicYear)
                    .col(FeeSchedules::TierId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The foreign key's lookup: deleting a tier checks for schedules that use it.
        manager
            .create_index(
                Index::create()
                    .name("idx_fee_schedules_tier")
                    .table(FeeSchedules::Table)
                    .col(FeeSchedules::TierId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
