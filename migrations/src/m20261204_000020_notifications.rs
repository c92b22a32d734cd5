//! Notifications: the transactional outbox of domain events, the messages made from them,
//! what each user has muted, and the secret calendar feed URLs.
//!
//! `domain_events` is written by the domains in the same transaction as the change it
//! describes (ids only, like the live `EventBus`), so an event exists exactly when its change
//! committed. The notifications worker turns each into `notifications` rows — one per
//! recipient, unique per (`dedupe_key`, `recipient_email`) so a retried fan-out never makes a
//! second — and delivers them over SMTP, claiming rows in the database so that one replica
//! sends each.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, string, string_len, string_len_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DomainEvents {
    Table,
    /// UUIDv7: events are handled in the order they were written.
    Id,
    /// What happened, e.g. `booking.confirmed`.
    Kind,
    /// The id of what it happened to (a booking, an invoice…).
    Subject,
    /// Facts that are not on the subject's row afterwards, as JSON (`{}` for most).
    Detail,
    OccurredAt,
    /// When the notifications worker made its messages; NULL while pending.
    HandledAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    /// The event id, or a key of its own for messages no event causes (overdue reminders).
    DedupeKey,
    /// The kind of message, e.g. `booking.confirmed`.
    Kind,
    /// The category a user may mute, e.g. `BOOKINGS`.
    Category,
    /// The Trellis user it is for, when the recipient is one (their in-app inbox).
    UserId,
    /// The school it concerns, when it concerns one.
    SchoolId,
    RecipientEmail,
    RecipientName,
    Subject,
    TextBody,
    HtmlBody,
    /// An iCalendar attachment (`invite.ics`), when the message carries one.
    Ics,
    /// The secret in the message's unsubscribe link (URL-safe base64 of 32 random bytes), for
    /// a user's message in a category they may mute.
    UnsubscribeToken,
    /// PENDING (waiting to be sent, or kept when no SMTP is configured), SENT, MUTED (the
    /// user muted its category: in the inbox, not emailed), DEAD (gave up: see `last_error`).
    Status,
    Attempts,
    NextAttemptAt,
    /// A worker's claim: the row is being sent until then. Lapses if the worker dies.
    ClaimedUntil,
    ClaimToken,
    LastError,
    SentAt,
    ReadAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationMutes {
    Table,
    UserId,
    Category,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CalendarFeeds {
    Table,
    Id,
    /// SCHOOL or USER.
    OwnerKind,
    OwnerId,
    /// SHA-256 of the secret in the URL, hex: the URL is shown once.
    TokenHash,
    Active,
    CreatedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DomainEvents::Table)
                    .col(uuid(DomainEvents::Id).primary_key())
                    .col(string_len(DomainEvents::Kind, 64))
                    .col(uuid(DomainEvents::Subject))
                    .col(text(DomainEvents::Detail))
                    .col(timestamp_with_time_zone(DomainEvents::OccurredAt))
                    .col(timestamp_with_time_zone_null(DomainEvents::HandledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_domain_events_pending")
                    .table(DomainEvents::Table)
                    .col(DomainEvents::HandledAt)
                    .col(DomainEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(uuid(Notifications::Id).primary_key())
                    .col(string_len(Notifications::DedupeKey, 120))
                    .col(string_len(Notifications::Kind, 64))
                    .col(string_len(Notifications::Category, 32))
                    .col(uuid_null(Notifications::UserId))
                    .col(uuid_null(Notifications::SchoolId))
                    .col(string_len(Notifications::RecipientEmail, 254))
                    .col(string(Notifications::RecipientName))
                    .col(string(Notifications::Subject))
                    .col(text(Notifications::TextBody))
                    .col(text(Notifications::HtmlBody))
                    .col(text_null(Notifications::Ics))
                    .col(string_len_null(Notifications::UnsubscribeToken, 64).unique_key())
                    .col(string_len(Notifications::Status, 16))
                    .col(integer(Notifications::Attempts))
                    .col(timestamp_with_time_zone(Notifications::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Notifications::ClaimedUntil))
                    .col(uuid_null(Notifications::ClaimToken))
                    .col(text_null(Notifications::LastError))
                    .col(timestamp_with_time_zone_null(Notifications::SentAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_notifications_dedupe_recipient",
                vec![Notifications::DedupeKey, Notifications::RecipientEmail],
                true,
            ),
            (
                "ix_notifications_due",
                vec![Notifications::Status, Notifications::NextAttemptAt],
                false,
            ),
            (
                "ix_notifications_user",
                vec![Notifications::UserId, Notifications::Id],
                false,
            ),
            (
                "ix_notifications_claim",
                vec![Notifications::ClaimToken],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Notifications::Table);
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(NotificationMutes::Table)
                    .col(uuid(NotificationMutes::UserId))
                    .col(string_len(NotificationMutes::Category, 32))
                    .col(timestamp_with_time_zone(NotificationMutes::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(NotificationMutes::UserId)
                            .col(NotificationMutes::Category),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CalendarFeeds::Table)
                    .col(uuid(CalendarFeeds::Id).primary_key())
                    .col(string_len(CalendarFeeds::OwnerKind, 8))
                    .col(uuid(CalendarFeeds::OwnerId))
                    .col(string_len(CalendarFeeds::TokenHash, 64).unique_key())
                    .col(boolean(CalendarFeeds::Active))
                    .col(timestamp_with_time_zone(CalendarFeeds::CreatedAt))
                    .col(timestamp_with_time_zone_null(CalendarFeeds::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_calendar_feeds_owner")
                    .table(CalendarFeeds::Table)
                    .col(CalendarFeeds::OwnerKind)
                    .col(CalendarFeeds::OwnerId)
                    .to_owned(),
            )
            .await
    }
}
