//! Memberships: the tiers a partnership offers, each school's membership per academic year,
//! and the principles a school signs up to. Also whether a school has a sixth form, which the
//! fee engine needs (Haringey caps sixth-form secondaries higher).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, date, date_null, integer, pk_uuid, string, string_null, string_uniq, text,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
    HasSixthForm,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MembershipTiers {
    Table,
    Id,
    Code,
    Name,
    Description,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    SchoolId,
    /// The starting calendar year of the academic year: 2026 is 2026/27.
    AcademicYear,
    TierId,
    Status,
    StartsOn,
    EndsOn,
    /// Renewals only: the date by which the school must confirm or decline.
    NoticeBy,
    /// Renewals only: the membership this one was pre-filled from.
    RenewedFrom,
    DecidedAt,
    DecidedBy,
    CancelledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MembershipPrinciples {
    Table,
    MembershipId,
    Principle,
    AcceptedBy,
    AcceptedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Schools::Table)
                    .add_column(boolean(Schools::HasSixthForm).default(false))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MembershipTiers::Table)
                    .col(pk_uuid(MembershipTiers::Id))
                    // Stable upper-case handle, e.g. FULL or ASSOCIATE.
                    .col(string_uniq(MembershipTiers::Code))
                    .col(string(MembershipTiers::Name))
                    .col(text(MembershipTiers::Description).default(""))
                    .col(boolean(MembershipTiers::Active).default(true))
                    .col(timestamp_with_time_zone(MembershipTiers::CreatedAt))
                    .col(timestamp_with_time_zone(MembershipTiers::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(pk_uuid(Memberships::Id))
                    .col(uuid(Memberships::SchoolId))
                    .col(integer(Memberships::AcademicYear))
                    .col(uuid(Memberships::TierId))
                    .col(string(Memberships::Status))
                    .col(date(Memberships::StartsOn))
                    .col(date(Memberships::EndsOn))
                    .col(date_null(Memberships::NoticeBy))
                    .col(uuid_null(Memberships::RenewedFrom))
                    .col(timestamp_with_time_zone_null(Memberships::DecidedAt))
                    .col(uuid_null(Memberships::DecidedBy))
                    .col(string_null(Memberships::CancelledReason))
                    .col(timestamp_with_time_zone(Memberships::CreatedAt))
                    .col(timestamp_with_time_zone(Memberships::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_school")
                            .from(Memberships::Table, Memberships::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_tier")
                            .from(Memberships::Table, Memberships::TierId)
                            .to(MembershipTiers::Table, MembershipTiers::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_renewed_from")
                            .from(Memberships::Table, Memberships::RenewedFrom)
                            .to(Memberships::Table, Memberships::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_decided_by")
                            .from(Memberships::Table, Memberships::DecidedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // One membership per school per year; also the lookup "this school's memberships".
        manager
            .create_index(
                Index::create()
                    .name("uq_memberships_school_year")
                    .table(Memberships::Table)
                    .col(Memberships::SchoolId)
                    .col(Memberships::AcademicYear)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // "Every membership of 2026/27", in a stable keyset order, optionally by status.
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_year_status")
                    .table(Memberships::Table)
                    .col(Memberships::AcademicYear)
                    .col(Memberships::Status)
                    .col(Memberships::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_memberships_tier")
                    .table(Memberships::Table)
                    .col(Memberships::TierId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MembershipPrinciples::Table)
                    .col(uuid(MembershipPrinciples::MembershipId))
                    .col(string(MembershipPrinciples::Principle))
                    .col(uuid_null(MembershipPrinciples::AcceptedBy))
                    .col(timestamp_with_time_zone(MembershipPrinciples::AcceptedAt))
                    .primary_key(
                        Index::create()
                            .col(MembershipPrinciples::MembershipId)
                            .col(MembershipPrinciples::Principle),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_membership_principles_membership")
                            .from(
                                MembershipPrinciples::Table,
                                MembershipPrinciples::MembershipId,
                            )
                            .to(Memberships::Table, Memberships::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_membership_principles_user")
                            .from(
                                MembershipPrinciples::Table,
                                MembershipPrinciples::AcceptedBy,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
