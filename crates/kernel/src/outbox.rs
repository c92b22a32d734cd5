//! The transactional outbox: how a domain says "this happened" so that people can be told.
//!
//! A domain calls [`record`] inside the transaction that makes the change, so the event
//! exists exactly when the change committed — never an email about a booking that rolled
//! back, never a booking nobody hears of because the process died after the commit. The
//! event names its subject by id only; whoever handles it (the `notifications` domain) reads
//! the subject afterwards under its own rules, as the live `EventBus` subscribers do. What the
//! subject's row no longer shows afterwards (a decline reason, the refund of one cancellation)
//! goes in `detail`.
//!
//! The kinds are listed here, in the shared vocabulary, so that a producer and the consumer
//! cannot disagree on a spelling; what each means is documented where it is produced.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use uuid::Uuid;

/// Everything a domain announces through the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A booking now holds its places (booked, approved, or a waiting-list offer accepted).
    BookingConfirmed,
    /// A booking joined the session's waiting list.
    BookingWaitlisted,
    /// A waiting-list entry was offered places, until its offer expires.
    WaitlistPlaceOffered,
    /// A waiting-list offer lapsed unanswered (or was declined) and passed on.
    WaitlistOfferLapsed,
    /// A member of staff asked for places; the school's leaders decide.
    BookingRequested,
    /// A leader declined a staff request (`detail.reason`).
    BookingRequestDeclined,
    /// A booking was cancelled by its school.
    BookingCancelled,
    /// The provider cancelled a session: one event per booking it held.
    SessionCancelled,
    /// An invoice was issued to a billing account.
    InvoiceIssued,
    /// A receipt was allocated to invoices (`detail.allocations`: the allocation ids).
    ReceiptAllocated,
    /// A card payment of an invoice failed at the payment provider (`detail.reason`: the
    /// provider's message, which a later report may overwrite on the invoice's mirror).
    CardPaymentFailed,
    /// A renewal for next year was opened for a school (the subject is the new PENDING
    /// membership); its leaders answer by the notice date.
    RenewalOpened,
    /// A school was credited for time it gave (the subject is the credit's receipt;
    /// `detail.minutes`, `detail.ratePencePerHour` and `detail.description` say what for).
    TimeCredited,
    /// A peer review's visit was scheduled: its host's leaders and its team hear the dates.
    ReviewScheduled,
    /// A peer review's report was drafted: the host's leaders read and agree it.
    ReviewReportReady,
    /// A host published its agreed report to the partnership.
    ReviewPublished,
}

impl EventKind {
    pub const ALL: [Self; 16] = [
        Self::BookingConfirmed,
        Self::BookingWaitlisted,
        Self::WaitlistPlaceOffered,
        Self::WaitlistOfferLapsed,
        Self::BookingRequested,
        Self::BookingRequestDeclined,
        Self::BookingCancelled,
        Self::SessionCancelled,
        Self::InvoiceIssued,
        Self::ReceiptAllocated,
        Self::CardPaymentFailed,
        Self::RenewalOpened,
        Self::TimeCredited,
        Self::ReviewScheduled,
        Self::ReviewReportReady,
        Self::ReviewPublished,
    ];

    /// The stored spelling (`domain_events.kind`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BookingConfirmed => "booking.confirmed",
            Self::BookingWaitlisted => "booking.waitlisted",
            Self::WaitlistPlaceOffered => "waitlist.offered",
            Self::WaitlistOfferLapsed => "waitlist.lapsed",
            Self::BookingRequested => "booking.requested",
            Self::BookingRequestDeclined => "booking.declined",
            Self::BookingCancelled => "booking.cancelled",
            Self::SessionCancelled => "session.cancelled",
            Self::InvoiceIssued => "invoice.issued",
            Self::ReceiptAllocated => "receipt.allocated",
            Self::CardPaymentFailed => "invoice.card_payment_failed",
            Self::RenewalOpened => "membership.renewal_opened",
            Self::TimeCredited => "billing.time_credited",
            Self::ReviewScheduled => "review.scheduled",
            Self::ReviewReportReady => "review.report_ready",
            Self::ReviewPublished => "review.published",
        }
    }

    /// The kind a stored spelling names, if any.
    #[must_use]
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == stored)
    }
}

/// Records that `kind` happened to `subject`, in the caller's transaction.
///
/// # Errors
/// The database's, which should fail the caller's transaction with it.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    kind: EventKind,
    subject: Uuid,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "INSERT INTO domain_events (id, kind, subject, detail, occurred_at, handled_at) \
             VALUES ($1, $2, $3, $4, $5, NULL)"
        }
        _ => {
            "INSERT INTO domain_events (id, kind, subject, detail, occurred_at, handled_at) \
             VALUES (?, ?, ?, ?, ?, NULL)"
        }
    };
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql,
        [
            Value::from(Uuid::now_v7()),
            Value::from(kind.as_str()),
            Value::from(subject),
            Value::from(detail.to_string()),
            Value::from(at),
        ],
    ))
    .await?;
    Ok(())
}

/// Records that `kind` happened to each of `subjects`, in the caller's transaction: one
/// statement per 200 events, for changes that touch a whole year's schools at once.
///
/// # Errors
/// The database's, which should fail the caller's transaction with it.
pub async fn record_many<C: ConnectionTrait>(
    conn: &C,
    kind: EventKind,
    subjects: &[Uuid],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    const CHUNK: usize = 200;
    let backend = conn.get_database_backend();
    for chunk in subjects.chunks(CHUNK) {
        let mut sql = String::from(
            "INSERT INTO domain_events (id, kind, subject, detail, occurred_at, handled_at) VALUES ",
        );
        let mut values = Vec::with_capacity(chunk.len() * 5);
        for (i, subject) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            match backend {
                sea_orm::DbBackend::Postgres => {
                    let n = i * 5;
                    let _ = write!(
                        sql,
                        "(${}, ${}, ${}, ${}, ${}, NULL)",
                        n + 1,
                        n + 2,
                        n + 3,
                        n + 4,
                        n + 5
                    );
                }
                _ => sql.push_str("(?, ?, ?, ?, ?, NULL)"),
            }
            values.extend([
                Value::from(Uuid::now_v7()),
                Value::from(kind.as_str()),
                Value::from(*subject),
                Value::from("{}"),
                Value::from(at),
            ]);
        }
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn every_kind_reads_back_from_its_spelling() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("booking.exploded"), None);
    }
}
