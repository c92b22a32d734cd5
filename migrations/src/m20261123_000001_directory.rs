//! The school directory: schools, their designations and inspections, partnerships and
//! their members.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, date, date_null, integer_null, json_null, pk_uuid, string, string_len_uniq,
    string_null, string_uniq, text, timestamp_with_time_zone, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
    Urn,
    Name,
    Phase,
    EstablishmentType,
    LocalAuthority,
    Postcode,
    NumberOnRoll,
    RollCensus,
    RollCensusDate,
    IsDemo,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SchoolDesignations {
    Table,
    SchoolId,
    Designation,
}

#[derive(DeriveIden)]
enum SchoolInspections {
    Table,
    Id,
    SchoolId,
    Framework,
    InspectedOn,
    OverallGrade,
    ReportCard,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Partnerships {
    Table,
    Id,
    Name,
    Kind,
    Area,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PartnershipMembers {
    Table,
    PartnershipId,
    SchoolId,
    Role,
    JoinedOn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schools::Table)
                    .col(pk_uuid(Schools::Id))
                    .col(string_len_uniq(Schools::Urn, 6))
                    .col(string(Schools::Name))
                    .col(string(Schools::Phase))
                    .col(string(Schools::EstablishmentType))
                    .col(string(Schools::LocalAuthority))
                    .col(string(Schools::Postcode))
                    .col(integer_null(Schools::NumberOnRoll))
                    .col(string_null(Schools::RollCensus))
                    .col(date_null(Schools::RollCensusDate))
                    .col(boolean(Schools::IsDemo).default(false))
                    .col(timestamp_with_time_zone(Schools::CreatedAt))
                    .col(timestamp_with_time_zone(Schools::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Keyset pagination of the directory is by (name, id).
        manager
            .create_index(
                Index::create()
                    .name("idx_schools_name_id")
                    .table(Schools::Table)
                    .col(Schools::Name)
                    .col(Schools::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schools_phase")
                    .table(Schools::Table)
                    .col(Schools::Phase)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schools_local_authority")
                    .table(Schools::Table)
                    .col(Schools::LocalAuthority)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SchoolDesignations::Table)
                    .col(uuid(SchoolDesignations::SchoolId))
                    .col(string(SchoolDesignations::Designation))
                    .primary_key(
                        Index::create()
                            .col(SchoolDesignations::SchoolId)
                            .col(SchoolDesignations::Designation),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_school_designations_school")
                            .from(SchoolDesignations::Table, SchoolDesignations::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // "Which schools are National Leaders of Education?"
        manager
            .create_index(
                Index::create()
                    .name("idx_school_designations_designation")
                    .table(SchoolDesignations::Table)
                    .col(SchoolDesignations::Designation)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SchoolInspections::Table)
                    .col(pk_uuid(SchoolInspections::Id))
                    .col(uuid(SchoolInspections::SchoolId))
                    .col(string(SchoolInspections::Framework))
                    .col(date(SchoolInspections::InspectedOn))
                    .col(string_null(SchoolInspections::OverallGrade))
                    .col(json_null(SchoolInspections::ReportCard))
                    .col(timestamp_with_time_zone(SchoolInspections::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_school_inspections_school")
                            .from(SchoolInspections::Table, SchoolInspections::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_school_inspections_school_date")
                    .table(SchoolInspections::Table)
                    .col(SchoolInspections::SchoolId)
                    .col(SchoolInspections::InspectedOn)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Partnerships::Table)
                    .col(pk_uuid(Partnerships::Id))
                    .col(string_uniq(Partnerships::Name))
                    .col(string(Partnerships::Kind))
                    .col(string(Partnerships::Area))
                    .col(text(Partnerships::Description))
                    .col(timestamp_with_time_zone(Partnerships::CreatedAt))
                    .col(timestamp_with_time_zone(Partnerships::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_partnerships_name_id")
                    .table(Partnerships::Table)
                    .col(Partnerships::Name)
                    .col(Partnerships::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnershipMembers::Table)
                    .col(uuid(PartnershipMembers::PartnershipId))
                    .col(uuid(PartnershipMembers::SchoolId))
                    .col(string(PartnershipMembers::Role))
                    .col(date_null(PartnershipMembers::JoinedOn))
                    .primary_key(
                        Index::create()
                            .col(PartnershipMembers::PartnershipId)
                            .col(PartnershipMembers::SchoolId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_partnership_members_partnership")
                            .from(PartnershipMembers::Table, PartnershipMembers::PartnershipId)
                            .to(Partnerships::Table, Partnerships::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_partnership_members_school")
                            .from(PartnershipMembers::Table, PartnershipMembers::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // School.partnerships looks members up by school.
        manager
            .create_index(
                Index::create()
                    .name("idx_partnership_members_school")
                    .table(PartnershipMembers::Table)
                    .col(PartnershipMembers::SchoolId)
                    .to_owned(),
            )
            .await?;
        // At most one lead school per partnership. Partial unique indexes read the same on
        // SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uniq_partnership_members_one_lead \
                 ON partnership_members (partnership_id) WHERE role = 'LEAD'",
            )
            .await?;
        Ok(())
    }
}
