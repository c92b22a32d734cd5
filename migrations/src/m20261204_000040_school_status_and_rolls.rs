//! What the GIAS and census imports keep (issue #17).
//!
//! * A school's **status** as the DfE's register gives it (`OPEN`, `OPEN_PROPOSED_TO_CLOSE`,
//!   `PROPOSED_TO_OPEN`, `CLOSED`) and the day it closed: an establishment that closes is
//!   flagged, never deleted, so its memberships, invoices and reviews keep their school.
//! * **Roll history**: one row per school, census and census date. `schools.number_on_roll`
//!   (with its census and date) stays the current roll every reader uses — the newest
//!   census — and the history keeps the others (an October and a January roll side by side).
//!   Rolls recorded before this migration become the first history rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    date, date_null, integer, pk_uuid, string, string_len, timestamp_with_time_zone, uuid,
};
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
    Status,
    ClosedOn,
}

#[derive(DeriveIden)]
enum SchoolRolls {
    Table,
    Id,
    SchoolId,
    Census,
    CensusDate,
    NumberOnRoll,
    /// Who recorded it: `MANUAL` (schoolCreate/schoolUpdate), `GIAS`, `CENSUS_IMPORT`.
    Source,
    RecordedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Schools::Table)
                    .add_column(string_len(Schools::Status, 32).default("OPEN"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Schools::Table)
                    .add_column(date_null(Schools::ClosedOn))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SchoolRolls::Table)
                    .col(pk_uuid(SchoolRolls::Id))
                    .col(uuid(SchoolRolls::SchoolId))
                    .col(string(SchoolRolls::Census))
                    .col(date(SchoolRolls::CensusDate))
                    .col(integer(SchoolRolls::NumberOnRoll))
                    .col(string(SchoolRolls::Source))
                    .col(timestamp_with_time_zone(SchoolRolls::RecordedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_school_rolls_school")
                            .from(SchoolRolls::Table, SchoolRolls::SchoolId)
                            .to(Schools::Table, Schools::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One roll per school and census day: a re-import of the same census replaces it.
        manager
            .create_index(
                Index::create()
                    .name("uq_school_rolls_school_census_date")
                    .table(SchoolRolls::Table)
                    .col(SchoolRolls::SchoolId)
                    .col(SchoolRolls::Census)
                    .col(SchoolRolls::CensusDate)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The roll as it stood becomes the first history row. Ids are derived from the
        // school's (a roll per school existed at most once), so the statement is the same
        // SQL on both backends.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO school_rolls \
                   (id, school_id, census, census_date, number_on_roll, source, recorded_at) \
                 SELECT id, id, roll_census, roll_census_date, number_on_roll, 'MANUAL', updated_at \
                 FROM schools \
                 WHERE number_on_roll IS NOT NULL AND roll_census IS NOT NULL \
                   AND roll_census_date IS NOT NULL",
            )
            .await?;
        Ok(())
    }
}
