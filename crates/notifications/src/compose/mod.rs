//! From domain events to drafts: who hears of each event, and what they read.
//!
//! Each event names its subject by id; the subject is read now, in one batch per kind of
//! subject for the whole batch of events (a fixed number of statements however many events),
//! and the messages say what the subject's row says. A subject that no longer exists, or an
//! event kind this build does not know, makes no message: that is logged, and the event is
//! still marked handled so that one bad event never holds up the queue.

pub(crate) mod billing;
pub(crate) mod membership;
mod reviews;
mod traded;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use kernel::DomainError;
use kernel::outbox::EventKind;
use serde::Serialize;
use uuid::Uuid;

use crate::entity::domain_events;
use crate::model::{Category, Draft, Recipient};
use crate::templates::{self, Frame};

/// How messages present themselves: set once from the gateway's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettings {
    /// The partnership's name, as messages sign off.
    pub partnership: String,
    /// The From address (also the calendar invitations' organizer).
    pub from_address: String,
    /// Where Trellis is reached from outside (`https://trellis.example.org`), for the links
    /// in messages: unsubscribe, calendar feeds.
    pub public_url: String,
    /// Who issues invoices, as the invoice attached to an invoice email prints it.
    pub letterhead: ::billing::ledger::document::Letterhead,
    /// Set when issued invoices are mirrored to a payment provider: how long an invoice's
    /// email waits for the provider's hosted payment page. The mirror follows the issue by
    /// moments (a whole run's by minutes), and an email sent before it would say "pay by bank
    /// transfer" with no link; past the wait (the provider down, the mirror failing) the email
    /// goes without the link rather than not at all.
    pub payment_link_wait: Option<chrono::Duration>,
}

impl MessageSettings {
    /// The link that stops a message's category for its recipient.
    #[must_use]
    pub fn unsubscribe_url(&self, token: &str) -> String {
        format!(
            "{}/notifications/unsubscribe/{token}",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// An event from the outbox, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub id: Uuid,
    pub kind: Option<EventKind>,
    pub stored_kind: String,
    pub subject: Uuid,
    /// What the subject's row does not say afterwards (`{}` for most events).
    pub detail: serde_json::Value,
    /// Earlier passes that failed to make its messages.
    pub attempts: i32,
    /// When the change it reports was committed.
    pub occurred_at: DateTime<Utc>,
}

impl From<domain_events::Model> for Event {
    fn from(row: domain_events::Model) -> Self {
        Self {
            id: row.id,
            kind: EventKind::parse(&row.kind),
            stored_kind: row.kind,
            subject: row.subject,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
            attempts: row.attempts,
            occurred_at: row.occurred_at,
        }
    }
}

/// Each event's drafts by event id, from `compose`, which answers `None` when the event's
/// subject (a `noun`, for the log) cannot be read now: that event makes no message and a
/// warning, and is still handled (see the module docs). Every composer ends in this loop.
fn each_event<F>(
    events: &[&Event],
    noun: &str,
    mut compose: F,
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError>
where
    F: FnMut(&Event) -> Result<Option<Vec<Draft>>, DomainError>,
{
    let mut out = HashMap::with_capacity(events.len());
    for event in events {
        let drafts = compose(event)?.unwrap_or_else(|| {
            tracing::warn!(event = %event.id, subject = %event.subject, kind = %event.stored_kind, "outbox event whose {noun} cannot be read: no message");
            Vec::new()
        });
        out.insert(event.id, drafts);
    }
    Ok(out)
}

/// What composing a batch of events made.
#[derive(Debug, Default)]
pub(crate) struct Composed {
    /// The drafts of each event handled now, by event id (an event with no message maps to
    /// none).
    pub drafts: HashMap<Uuid, Vec<Draft>>,
    /// Events whose messages are better made a little later — an invoice email waiting for
    /// its payment link: neither handled nor failed, looked at again shortly.
    pub waiting: HashSet<Uuid>,
}

/// The drafts of every event that is ready, and the events that wait.
pub(crate) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[Event],
    now: DateTime<Utc>,
    today: chrono::NaiveDate,
) -> Result<Composed, DomainError> {
    let mut out: HashMap<Uuid, Vec<Draft>> = HashMap::new();
    let (mut bookings, mut money, mut memberships, mut peer_reviews) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for event in events {
        match event.kind {
            None => {
                tracing::warn!(event = %event.id, kind = %event.stored_kind, "outbox event of a kind this build does not know: no message");
                out.insert(event.id, Vec::new());
            }
            Some(
                EventKind::InvoiceIssued
                | EventKind::ReceiptAllocated
                | EventKind::CardPaymentFailed
                | EventKind::TimeCredited,
            ) => money.push(event),
            Some(EventKind::RenewalOpened) => memberships.push(event),
            Some(
                EventKind::ReviewScheduled
                | EventKind::ReviewReportReady
                | EventKind::ReviewPublished,
            ) => peer_reviews.push(event),
            Some(_) => bookings.push(event),
        }
    }
    let waiting = billing::awaiting_payment_link(db, settings, &money, now).await?;
    money.retain(|e| !waiting.contains(&e.id));
    out.extend(traded::compose(db, settings, &bookings).await?);
    out.extend(billing::compose(db, settings, &money).await?);
    out.extend(membership::compose(db, settings, &memberships, today).await?);
    out.extend(reviews::compose(db, settings, &peer_reviews).await?);
    Ok(Composed {
        drafts: out,
        waiting,
    })
}

/// Builds one draft: renders `template` for `recipient` with `facts`.
#[allow(
    clippy::too_many_arguments,
    reason = "what a message is, who it is for and what it says"
)]
pub(crate) fn draft(
    settings: &MessageSettings,
    kind: EventKind,
    category: Category,
    school_id: Option<kernel::SchoolId>,
    recipient: Recipient,
    subject: String,
    template: &str,
    facts: &impl Serialize,
) -> Result<Draft, DomainError> {
    // A user may stop a mutable category from any of its emails, by the link alone.
    let unsubscribe_token =
        (recipient.user_id.is_some() && category.mutable()).then(crate::secret::token);
    let unsubscribe_url = unsubscribe_token
        .as_ref()
        .map(|token| settings.unsubscribe_url(token));
    let frame = Frame {
        subject: &subject,
        recipient: &recipient.name,
        partnership: &settings.partnership,
        category_label: category_label(category),
        unsubscribe_url: unsubscribe_url.as_deref(),
    };
    let (text, html) = templates::render(template, &frame, facts).map_err(DomainError::internal)?;
    Ok(Draft {
        kind: kind.as_str(),
        category,
        school_id,
        recipient,
        subject,
        text,
        html,
        ics: None,
        attachment: None,
        unsubscribe_token,
    })
}

/// How a category reads in "Stop emails about …".
#[must_use]
pub const fn category_label(category: Category) -> &'static str {
    match category {
        Category::Bookings => "bookings",
        Category::Waitlist => "waiting lists",
        Category::Requests => "booking requests",
        Category::Invoices => "invoices",
        Category::Reminders => "payment reminders",
        Category::Receipts => "payments received",
        Category::Memberships => "membership renewals",
        Category::PeerReview => "peer reviews",
    }
}
