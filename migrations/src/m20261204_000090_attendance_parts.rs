//! Registers per session part (issue #23, item 6).
//!
//! A session of several parts (a two-day course) was marked once, so a certificate could be
//! issued after the first day. The register now holds one mark per attendee and part,
//! `traded_attendance_parts` (`part` is the 0-based index into the session's `parts`), and
//! `traded_attendees.parts_attended` counts the parts an attendee was marked present at, so
//! a certificate can be decided from the attendee row alone. `traded_attendees.attendance`
//! stays as the summary every reader already uses (ATTENDED once present at any part).
//!
//! Marks taken before this migration were per session: each becomes the same mark for every
//! part of its session. Counting a session's parts reads its JSON `parts` array, the one
//! place where the SQL differs: `json_array_length(parts)` on SQLite,
//! `json_array_length(parts::json)` on PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string_len, timestamp_with_time_zone, uuid, uuid_null};
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TradedAttendanceParts {
    Table,
    AttendeeId,
    SessionId,
    Part,
    Attendance,
    MarkedAt,
    MarkedBy,
}

#[derive(DeriveIden)]
enum TradedAttendees {
    Table,
    Id,
    PartsAttended,
}

/// Sessions have at most this many parts (`traded::sessions::MAX_PARTS`).
const MAX_PARTS: usize = 20;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TradedAttendanceParts::Table)
                    .col(uuid(TradedAttendanceParts::AttendeeId))
                    .col(uuid(TradedAttendanceParts::SessionId))
                    .col(integer(TradedAttendanceParts::Part))
                    .col(string_len(TradedAttendanceParts::Attendance, 16))
                    .col(timestamp_with_time_zone(TradedAttendanceParts::MarkedAt))
                    .col(uuid_null(TradedAttendanceParts::MarkedBy))
                    .primary_key(
                        Index::create()
                            .col(TradedAttendanceParts::AttendeeId)
                            .col(TradedAttendanceParts::Part),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_traded_attendance_parts_attendee")
                            .from(
                                TradedAttendanceParts::Table,
                                TradedAttendanceParts::AttendeeId,
                            )
                            .to(TradedAttendees::Table, TradedAttendees::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_traded_attendance_parts_session")
                    .table(TradedAttendanceParts::Table)
                    .col(TradedAttendanceParts::SessionId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(TradedAttendees::Table)
                    .add_column(integer(TradedAttendees::PartsAttended).default(0))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        let count = match db.get_database_backend() {
            DatabaseBackend::Postgres => "json_array_length(s.parts::json)",
            _ => "json_array_length(s.parts)",
        };
        let numbers = (0..MAX_PARTS)
            .map(|i| format!("({i})"))
            .collect::<Vec<_>>()
            .join(", ");
        db.execute_unprepared(&format!(
            "WITH n(i) AS (VALUES {numbers}) \
             INSERT INTO traded_attendance_parts \
               (attendee_id, session_id, part, attendance, marked_at, marked_by) \
             SELECT a.id, a.session_id, n.i, a.attendance, \
                    COALESCE(a.attendance_marked_at, a.updated_at), a.attendance_marked_by \
             FROM traded_attendees a \
             JOIN traded_sessions s ON s.id = a.session_id \
             JOIN n ON n.i < {count} \
             WHERE a.attendance IS NOT NULL"
        ))
        .await?;
        db.execute_unprepared(
            "UPDATE traded_attendees SET parts_attended = \
               (SELECT COUNT(*) FROM traded_attendance_parts p \
                WHERE p.attendee_id = traded_attendees.id AND p.attendance = 'ATTENDED')",
        )
        .await?;
        Ok(())
    }
}
