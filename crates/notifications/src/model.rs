//! What a notification is: its category (what a person may mute), its delivery status, and
//! the message itself as it was rendered when the event was handled.

use chrono::{DateTime, Utc};
use kernel::{CorruptRow, DomainError, SchoolId, UserId};
use uuid::Uuid;

use crate::entity::notifications as rows;

/// What a message is about, as a person chooses what to hear of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Bookings confirmed, cancelled or placed on a waiting list, and sessions cancelled.
    Bookings,
    /// Places offered from a waiting list, and offers that lapsed.
    Waitlist,
    /// Staff requests waiting for a leader, and the leader's answer.
    Requests,
    /// Invoices issued to a billing account's contact, and card payments of them that failed.
    /// Not mutable: an account's contact must receive what the account is asked to pay, and
    /// hear when a payment they made did not go through.
    Invoices,
    /// Reminders of overdue invoices, to the account's contact. Not mutable, like invoices.
    Reminders,
    /// Payments received and what they paid, to the account's contact.
    Receipts,
    /// Renewals opened for next year and reminders before their notice date, to the school's
    /// leaders. Not mutable: a renewal nobody hears of lapses.
    Memberships,
    /// Peer-review visits scheduled (to the host's leaders and the team), reports ready to
    /// agree and reports published (to the host's leaders).
    PeerReview,
}

impl Category {
    pub const ALL: [Self; 8] = [
        Self::Bookings,
        Self::Waitlist,
        Self::Requests,
        Self::Invoices,
        Self::Reminders,
        Self::Receipts,
        Self::Memberships,
        Self::PeerReview,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Bookings => "BOOKINGS",
            Self::Waitlist => "WAITLIST",
            Self::Requests => "REQUESTS",
            Self::Invoices => "INVOICES",
            Self::Reminders => "REMINDERS",
            Self::Receipts => "RECEIPTS",
            Self::Memberships => "MEMBERSHIPS",
            Self::PeerReview => "PEER_REVIEW",
        }
    }

    #[must_use]
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == stored)
    }

    /// Whether a person may stop these emails. Money owed and renewals are never muted.
    #[must_use]
    pub const fn mutable(self) -> bool {
        !matches!(self, Self::Invoices | Self::Reminders | Self::Memberships)
    }
}

/// Where a message stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting to be sent — or kept, readable in the inbox and the outbox, when no SMTP server
    /// is configured (the embedded default).
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// The recipient muted its category: in their inbox, not emailed.
    Muted,
    /// Given up after a permanent refusal or too many attempts (`last_error` says why); an
    /// admin may retry it.
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sent, Self::Muted, Self::Dead];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Muted => "MUTED",
            Self::Dead => "DEAD",
        }
    }

    #[must_use]
    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == stored)
    }
}

/// A file attached to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// e.g. `invoice-TRL-2026-000101.pdf`.
    pub name: String,
    /// e.g. `application/pdf`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One message to one recipient, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    /// e.g. `booking.confirmed`, `invoice.overdue`.
    pub kind: String,
    pub category: Category,
    pub user_id: Option<UserId>,
    pub school_id: Option<SchoolId>,
    pub recipient_email: String,
    pub recipient_name: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// The calendar attachment, when the message carries one.
    pub ics: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Notification {
    pub(crate) fn from_row(row: rows::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!("notification {} {what}", row.id)))
        };
        Ok(Self {
            id: row.id,
            category: Category::parse(&row.category).ok_or_else(|| corrupt("category"))?,
            status: DeliveryStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            kind: row.kind,
            user_id: row.user_id.map(UserId::from_uuid),
            school_id: row.school_id.map(SchoolId::from_uuid),
            recipient_email: row.recipient_email,
            recipient_name: row.recipient_name,
            subject: row.subject,
            text_body: row.text_body,
            html_body: row.html_body,
            ics: row.ics,
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error,
            sent_at: row.sent_at,
            read_at: row.read_at,
            created_at: row.created_at,
        })
    }
}

/// Who a message is for: an email address, and the Trellis user behind it when there is one
/// (whose inbox it also reaches, and whose mutes apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub email: String,
    pub name: String,
    pub user_id: Option<UserId>,
}

/// A message rendered for one recipient, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: &'static str,
    pub category: Category,
    pub school_id: Option<SchoolId>,
    pub recipient: Recipient,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub ics: Option<String>,
    /// A file the message carries (an invoice as PDF), when it carries one.
    pub attachment: Option<Attachment>,
    /// The secret of the message's unsubscribe link, when it has one.
    pub unsubscribe_token: Option<String>,
}
