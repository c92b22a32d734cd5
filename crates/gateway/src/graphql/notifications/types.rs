//! Messages, preferences and calendar feeds as the API shows them.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::{CalendarFeedId, NotificationId};
use notifications::feeds::{Feed, FeedOwner};
use notifications::inbox::Preference;
use notifications::{Category, DeliveryStatus, Notification};

use crate::graphql::relay::GlobalId as _;

/// What a message is about, as a person chooses what to hear of.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "NotificationCategory")]
pub enum CategoryValue {
    /// Bookings confirmed, cancelled or waiting-listed, and sessions cancelled.
    Bookings,
    /// Places offered from a waiting list, and offers that lapsed.
    Waitlist,
    /// Staff requests waiting for a leader, and the leader's answer.
    Requests,
    /// Invoices issued to a billing account's contact, and card payments of them that failed
    /// (cannot be muted).
    Invoices,
    /// Reminders of overdue invoices (cannot be muted).
    Reminders,
    /// Payments received and the invoices they paid.
    Receipts,
    /// Renewals opened for next year, and reminders before their notice date (cannot be
    /// muted).
    Memberships,
    /// Peer-review visits scheduled, reports ready to agree and reports published.
    PeerReview,
}

impl From<Category> for CategoryValue {
    fn from(c: Category) -> Self {
        match c {
            Category::Bookings => Self::Bookings,
            Category::Waitlist => Self::Waitlist,
            Category::Requests => Self::Requests,
            Category::Invoices => Self::Invoices,
            Category::Reminders => Self::Reminders,
            Category::Receipts => Self::Receipts,
            Category::Memberships => Self::Memberships,
            Category::PeerReview => Self::PeerReview,
        }
    }
}

impl From<CategoryValue> for Category {
    fn from(c: CategoryValue) -> Self {
        match c {
            CategoryValue::Bookings => Self::Bookings,
            CategoryValue::Waitlist => Self::Waitlist,
            CategoryValue::Requests => Self::Requests,
            CategoryValue::Invoices => Self::Invoices,
            CategoryValue::Reminders => Self::Reminders,
            CategoryValue::Receipts => Self::Receipts,
            CategoryValue::Memberships => Self::Memberships,
            CategoryValue::PeerReview => Self::PeerReview,
        }
    }
}

/// Where a message stands in the outbox.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatusValue {
    /// Waiting to be sent, or kept when no SMTP server is configured.
    Pending,
    /// Accepted by the SMTP server.
    Sent,
    /// Its category is muted by the recipient: in their inbox, not emailed.
    Muted,
    /// Given up (see `lastError`); an admin may retry it.
    Dead,
}

impl From<DeliveryStatus> for DeliveryStatusValue {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Sent => Self::Sent,
            DeliveryStatus::Muted => Self::Muted,
            DeliveryStatus::Dead => Self::Dead,
        }
    }
}

impl From<DeliveryStatusValue> for DeliveryStatus {
    fn from(s: DeliveryStatusValue) -> Self {
        match s {
            DeliveryStatusValue::Pending => Self::Pending,
            DeliveryStatusValue::Sent => Self::Sent,
            DeliveryStatusValue::Muted => Self::Muted,
            DeliveryStatusValue::Dead => Self::Dead,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotificationNode(pub Notification);

/// One message to one person: what their inbox shows and what was emailed.
#[async_graphql::Object(name = "Notification")]
impl NotificationNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    async fn id(&self) -> ID {
        NotificationId::from_uuid(self.0.id).to_global()
    }

    /// What happened, e.g. `booking.confirmed`, `invoice.issued`, `invoice.overdue`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// What the message is about, as preferences group messages.
    async fn category(&self) -> CategoryValue {
        self.0.category.into()
    }

    /// The email's subject line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The plain-text body.
    async fn text(&self) -> &str {
        &self.0.text_body
    }

    /// The HTML body, with every value from users escaped.
    async fn html(&self) -> &str {
        &self.0.html_body
    }

    /// The calendar attachment (iCalendar), when the message carries an invitation or a
    /// cancellation.
    async fn calendar(&self) -> Option<&str> {
        self.0.ics.as_deref()
    }

    /// Who it was for.
    async fn recipient_email(&self) -> &str {
        &self.0.recipient_email
    }

    /// The name the message is addressed to.
    async fn recipient_name(&self) -> &str {
        &self.0.recipient_name
    }

    /// Whether it waits, was sent, or was given up after failing.
    async fn status(&self) -> DeliveryStatusValue {
        self.0.status.into()
    }

    /// Sending attempts made so far.
    async fn attempts(&self) -> i32 {
        crate::graphql::int::saturating(self.0.attempts)
    }

    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// When the SMTP server accepted it; null until then (or when no SMTP server is configured).
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }

    /// When its recipient marked it read; null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.0.read_at
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// One category as the viewer has it.
#[derive(SimpleObject, Debug)]
pub struct NotificationPreference {
    /// The kind of message.
    pub category: CategoryValue,
    /// Emails of this category are not sent (they still reach the inbox).
    pub muted: bool,
    /// Whether it may be muted: invoices and payment reminders may not.
    pub mutable: bool,
}

impl From<Preference> for NotificationPreference {
    fn from(p: Preference) -> Self {
        Self {
            category: p.category.into(),
            muted: p.muted,
            mutable: p.mutable,
        }
    }
}

/// A secret calendar feed URL. The URL itself is shown once, when the feed is created.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub struct CalendarFeed {
    /// Global id: opaque and stable.
    pub id: ID,
    /// Whether it still works; a revoked feed answers 404.
    pub active: bool,
    /// When it was first recorded in Trellis.
    pub created_at: DateTime<Utc>,
    /// When the feed was revoked; its URL answers nothing since. Null while active.
    pub revoked_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub owner: FeedOwner,
}

#[ComplexObject]
impl CalendarFeed {
    /// The school whose confirmed sessions it lists; null for a person's own feed.
    async fn school_id(&self) -> Option<ID> {
        match self.owner {
            FeedOwner::School(id) => Some(id.to_global()),
            FeedOwner::User(_) => None,
        }
    }

    /// The person whose sessions it lists; null for a school's feed.
    async fn user_id(&self, _ctx: &Context<'_>) -> Option<ID> {
        match self.owner {
            FeedOwner::User(id) => Some(id.to_global()),
            FeedOwner::School(_) => None,
        }
    }
}

impl From<Feed> for CalendarFeed {
    fn from(feed: Feed) -> Self {
        Self {
            id: CalendarFeedId::from_uuid(feed.id).to_global(),
            active: feed.active,
            created_at: feed.created_at,
            revoked_at: feed.revoked_at,
            owner: feed.owner,
        }
    }
}
